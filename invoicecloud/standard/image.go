package standard

import (
	"context"

	"rimflow/invoicecloud"
)

// CreateScanTask: the [assumed] erpBillPush, for this client's enterprise.
func (c *Client) CreateScanTask(ctx context.Context, requestID string, req invoicecloud.ScanTaskRequest) (invoicecloud.ScanTask, error) {
	if err := invoicecloud.ValidateScanTask(invoicecloud.CallErpBillPush, requestID, req, false); err != nil {
		return invoicecloud.ScanTask{}, err
	}
	tin, err := c.tin(invoicecloud.CallErpBillPush, req.BillTaxNo)
	if err != nil {
		return invoicecloud.ScanTask{}, err
	}
	req.BillTaxNo = tin
	var out invoicecloud.ScanTask
	err = c.call(ctx, invoicecloud.CallErpBillPush, c.cfg.Paths.ImagePush,
		invoicecloud.ScanTaskBody{RequestID: requestID, Tin: tin, ScanTaskRequest: req}, &out)
	return out, err
}

// ScanResult: the [assumed] operate queryBillStatus.
func (c *Client) ScanResult(ctx context.Context, requestID string, q invoicecloud.ScanQuery) (invoicecloud.ScanResult, error) {
	if err := invoicecloud.ValidateScanQuery(invoicecloud.CallQueryBillStatus, requestID, q); err != nil {
		return invoicecloud.ScanResult{}, err
	}
	tin, err := c.tin(invoicecloud.CallQueryBillStatus, q.BillTaxNo)
	if err != nil {
		return invoicecloud.ScanResult{}, err
	}
	var out invoicecloud.ScanResult
	err = c.call(ctx, invoicecloud.CallQueryBillStatus, c.cfg.Paths.ImageOperate,
		invoicecloud.ScanQueryBody{OperateType: "queryBillStatus", RequestID: requestID, Tin: tin, Data: q}, &out)
	return out, err
}

// ScanPoints: the [assumed] operate Config.ScanPointsOperate, for this client's enterprise.
func (c *Client) ScanPoints(ctx context.Context, requestID string) ([]invoicecloud.ScanPoint, error) {
	var out invoicecloud.ScanPointsAnswer
	err := c.call(ctx, invoicecloud.CallQueryScanPoints, c.cfg.Paths.ImageOperate,
		invoicecloud.ScanPointsBody{OperateType: c.cfg.ScanPointsOperate, RequestID: requestID, Tin: c.cfg.TaxNo}, &out)
	return out.ScanPoints, err
}
