package workflows

import (
	"strings"

	"go.temporal.io/sdk/workflow"
)

// What a bill counts, through the SDK's workflow metrics handler: it records nothing while a
// history replays, so a counter counts each thing once however often the bill is replayed, and it
// adds no command to the history. The worker exports them on its /metrics with the SDK's tags
// (namespace, task_queue, workflow_type). Labels take only the values named here.
const (
	// MetricDeliveries counts deliveries a bill received, by via (socket, poll, erp, push, other)
	// and outcome (new: it brought invoices the bill did not hold; duplicate: dropped).
	MetricDeliveries = "rimflow_bill_deliveries_total"
	// MetricFailures counts steps that parked a bill in failed (NeedsAttention), by step.
	MetricFailures = "rimflow_bill_failures_total"
	// MetricCompensationsRefused counts compensations the cloud refused for good, by step
	// (compensate:unbind, compensate:release): the bill waits in failed for ops.
	MetricCompensationsRefused = "rimflow_bill_compensations_refused_total"
)

func countDelivery(ctx workflow.Context, via string, duplicate bool) {
	switch via {
	case ViaSocket, ViaPoll, ViaERP, ViaPush:
	default:
		via = "other" // a signal sent by hand may name anything
	}
	outcome := "new"
	if duplicate {
		outcome = "duplicate"
	}
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"via": via, "outcome": outcome}).Counter(MetricDeliveries).Inc(1)
}

func countFailure(ctx workflow.Context, step string) {
	h := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"step": step})
	h.Counter(MetricFailures).Inc(1)
	if strings.HasPrefix(step, compensatePrefix) {
		h.Counter(MetricCompensationsRefused).Inc(1)
	}
}
