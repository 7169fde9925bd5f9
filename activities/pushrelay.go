package activities

import (
	"context"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
)

// pushRelayClient sends relayed pushes; the activity's StartToClose bounds it as well.
var pushRelayClient = &http.Client{Timeout: 20 * time.Second}

// RelayPush sends one recorded push to the enterprise's image system (its imageSystem's push
// address), sealed again with a fresh timestamp; it fails, to be retried, until the image system
// answers success. Each attempt is counted (rimflow_push_relays_total) and a failing one logged
// without the push's content.
func (a *Activities) RelayPush(ctx context.Context, in calls.RelayPush) error {
	e, err := a.enterprise(in)
	if err != nil {
		return err
	}
	img, push := e.Spec.Image, e.Spec.Push
	if img == nil || img.Push != enterprises.PushRelay || push == nil {
		// Retried, not dropped: the registry may be reloaded with the relay back.
		return temporal.NewApplicationErrorWithOptions("enterprise "+in.TaxNo+" does not relay pushes now (imageSystem.push is not relay): the push waits for it",
			"PushRelayOff", temporal.ApplicationErrorOptions{Details: []any{map[string]string{"field": "imageSystem.push"}}})
	}
	body, err := invoicecloud.SealPush(*push, in.Push, time.Now())
	if err != nil {
		return temporal.NewNonRetryableApplicationError("push "+in.MsgID+": "+err.Error(), "BadPush", nil)
	}
	err = invoicecloud.SendPush(ctx, pushRelayClient, img.RelayURL(), body)
	a.Metrics.PushRelayAttempt(in.TaxNo, in.MsgID, err)
	if err != nil {
		activity.GetLogger(ctx).Warn("push relay to the image system failed: retrying", "enterprise", in.TaxNo, "msgId", in.MsgID,
			"attempt", activity.GetInfo(ctx).Attempt, "err", invoicecloud.Redact(err.Error()))
		return err
	}
	return nil
}
