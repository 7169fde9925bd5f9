package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
)

// EnqueueDeduction hands a bill's deductible invoices to the batch workflow of its tax number and
// period, starting that workflow if it is not running (signal-with-start). A retried call signals
// again; the batch workflow ignores a bill it already holds. Returns the batch workflow's ID.
func (a *Activities) EnqueueDeduction(ctx context.Context, in calls.EnqueueInput) (string, error) {
	if a.Temporal == nil {
		return "", temporal.NewNonRetryableApplicationError("no Temporal client configured for EnqueueDeduction", "Configuration", errors.New("activities.Activities.Temporal is nil"))
	}
	id := calls.DeductionWorkflowID(in.TaxNo, in.Period)
	opts := client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: activity.GetInfo(ctx).TaskQueue,
	}
	start := calls.DeductionBatchInput{
		TaxNo:         in.TaxNo,
		Period:        in.Period,
		BatchSize:     a.DeductionBatchSize,
		Interval:      calls.Duration(a.DeductionInterval),
		ContinueAfter: a.DeductionContinueAfter,
	}
	_, err := a.Temporal.SignalWithStartWorkflow(ctx, id, calls.SignalDeductionAdd, in.Add, opts, calls.DeductionWorkflowName, start)
	if err != nil {
		return "", err
	}
	return id, nil
}
