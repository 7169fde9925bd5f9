package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/internal/voice"
)

// UpdateBill sends a bill an update on behalf of another workflow (a voucher set holding its
// bills and telling them its outcome) and answers the bill's state. The update is signed with the
// worker's voice keys, as the API signs its own (internal/voice): the bill believes it, where the
// same update sent from Temporal Web is the ops path. The bill's refusal, or a bill that does not
// run, is final (calls.ErrTypeBillRefused, naming why); anything else (Temporal unreachable) is
// retried.
func (a *Activities) UpdateBill(ctx context.Context, in calls.BillUpdateInput) (json.RawMessage, error) {
	if a.Temporal == nil {
		return nil, temporal.NewNonRetryableApplicationError("no Temporal client configured for UpdateBill", "Configuration", errors.New("activities.Activities.Temporal is nil"))
	}
	sig, err := a.Voice.Sign(in.WorkflowID, in.Update, in.UpdateID, in.Arg)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidUpdate", nil)
	}
	ctx = voice.WithSignature(ctx, sig)
	handle, err := a.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: in.WorkflowID, UpdateID: in.UpdateID, UpdateName: in.Update,
		Args: []any{in.Arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var out json.RawMessage
	if err == nil {
		err = handle.Get(ctx, &out)
	}
	var nf *serviceerror.NotFound
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		return out, nil
	case errors.As(err, &nf):
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no running bill %s (none, or it has ended)", in.WorkflowID), calls.ErrTypeBillRefused, nil)
	case errors.As(err, &app):
		return nil, temporal.NewNonRetryableApplicationError(app.Message(), calls.ErrTypeBillRefused, nil)
	}
	return nil, err
}
