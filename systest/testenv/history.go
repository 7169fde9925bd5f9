package testenv

import (
	"context"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"rimflow/activities/calls"
	"rimflow/workflows"
)

// DeliverySignals reads a bill's history (its current run) from Temporal and returns every
// delivery signal in it, decoded: what a watcher, the ERP or a push got recorded, before any
// worker has run the bill. Payloads must be in clear (the default data converter).
func DeliverySignals(tb testing.TB, ctx context.Context, c client.Client, workflowID string) []calls.Delivery {
	tb.Helper()
	var out []calls.Delivery
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			tb.Fatalf("history of %s: %v", workflowID, err)
		}
		sig := ev.GetWorkflowExecutionSignaledEventAttributes()
		if sig == nil || sig.GetSignalName() != workflows.SignalDelivery {
			continue
		}
		var d calls.Delivery
		if err := converter.GetDefaultDataConverter().FromPayloads(sig.GetInput(), &d); err != nil {
			tb.Fatalf("history of %s: a delivery signal: %v", workflowID, err)
		}
		out = append(out, d)
	}
	return out
}
