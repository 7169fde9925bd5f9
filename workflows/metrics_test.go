package workflows_test

import (
	"testing"

	"rimflow/workflows"
)

// The bill counts its deliveries (new and dropped duplicates, by via), its failures and its
// refused compensations through the SDK's workflow metrics handler.
func TestBillCountsDeliveriesFailuresAndRefusedCompensations(t *testing.T) {
	h := newHarness(t)
	h.failNext("Unbind", nonRetryable("2008", "billDelete: the bill has a voucher"))
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() { h.deliver(workflows.ViaERP, inv("S1", "001", "10", "1", false)) }, // already bound: dropped
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "duplicate bill"}) },
		func() {
			h.update(workflows.UpdateResolve, workflows.ResolveRequest{By: "ops-li", Reason: "voucher posted by mistake", Done: "released in the vendor console"})
		},
	)
	h.run(bill(workflows.Options{}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{workflows.MetricDeliveries, map[string]string{"via": "socket", "outcome": "new"}, 1},
		{workflows.MetricDeliveries, map[string]string{"via": "erp", "outcome": "duplicate"}, 1},
		{workflows.MetricDeliveries, map[string]string{"outcome": "duplicate", "via": "socket"}, 0},
		{workflows.MetricFailures, map[string]string{"step": "compensate:unbind"}, 1},
		{workflows.MetricCompensationsRefused, map[string]string{"step": "compensate:unbind"}, 1},
	} {
		if got := counterValue(t, h, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// counterValue sums the counter name's series whose labels include labels.
func counterValue(t *testing.T, h *harness, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := h.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
