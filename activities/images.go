package activities

import (
	"context"

	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// CreateScanTask creates the bill's scan task in its enterprise's image system (erpBillPush): the
// scanning post then scans the paper (basic, match), or the submitter's uploads are the images.
func (a *Activities) CreateScanTask(ctx context.Context, in calls.ScanTaskInput) (invoicecloud.ScanTask, error) {
	e, err := a.enterprise(in)
	if err != nil {
		return invoicecloud.ScanTask{}, err
	}
	task, err := e.Images.CreateScanTask(ctx, in.RequestID, in.Request)
	return task, classify(ctx, e, err)
}

// ErrorTypeScanPending is AwaitScan's answer while the task waits for the scanning post: the
// activity's retry policy asks again later, so a scan that takes days costs no workflow history.
const ErrorTypeScanPending = "ScanPending"

// AwaitScan asks how the bill's scan task stands (queryBillStatus) and answers once it has an
// outcome (stored, matched, mismatch); while it is pending it fails retryably.
func (a *Activities) AwaitScan(ctx context.Context, in calls.ScanQueryInput) (invoicecloud.ScanResult, error) {
	e, err := a.enterprise(in)
	if err != nil {
		return invoicecloud.ScanResult{}, err
	}
	res, err := e.Images.ScanResult(ctx, in.RequestID, in.Query)
	if err != nil {
		return invoicecloud.ScanResult{}, classify(ctx, e, err)
	}
	if !res.Done() {
		return invoicecloud.ScanResult{}, temporal.NewApplicationErrorWithOptions("the scan task "+res.TaskNo+" waits for the scanning post",
			ErrorTypeScanPending, temporal.ApplicationErrorOptions{Category: temporal.ApplicationErrorCategoryBenign})
	}
	return res, nil
}
