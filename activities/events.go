package activities

import (
	"context"
	"encoding/json"
	"errors"

	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
)

// DeliverEvent sends one of a bill's events to the webhooks configured for its resource (signed;
// see internal/webhooks). A webhook that does not answer 2xx fails it, and the retry policy sends
// it again until the ERP takes it: the bill's events arrive at least once, in order.
func (a *Activities) DeliverEvent(ctx context.Context, in calls.EventInput) error {
	body, err := json.Marshal(in.Event)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("event does not encode: "+err.Error(), "InvalidEvent", nil)
	}
	err = a.Webhooks.Deliver(ctx, in.Event.Resource, in.Event.ID, body)
	// The webhooks the ERP's clients registered through the API get it too, journaled first: its
	// resource sequence goes in the body, so a client can replay from it (internal/webhooks).
	registered, regErr := a.Registered.Deliver(ctx, in.Event.Resource, in.Event.ID, body)
	err = errors.Join(err, regErr)
	if a.Webhooks.Has(in.Event.Resource) || registered { // a resource without a webhook is no delivery
		a.Metrics.WebhookAttempt(in.Event.Resource, in.Event.ID, in.Event.At, err)
	}
	if err != nil {
		return temporal.NewApplicationError("webhook: "+err.Error(), "WebhookRefused")
	}
	return nil
}
