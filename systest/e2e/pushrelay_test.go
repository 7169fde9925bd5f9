package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/enterprises"
	"rimflow/internal/metrics"
	"rimflow/workflows"
)

// The image system's push, end to end through the devstack. The demo enterprises say what feeds
// their image system: the ultimate one's gets the cloud's push directly (rimflow receives none),
// the standard one's gets it from rimflow, which receives the push (AWS收票推送), records it in
// the bill and relays it to the image system's push address. While the image system refuses, the
// relay retries and shows failing (rimflow_push_relays_total{outcome="failed"},
// rimflow_push_relays_failing); once it accepts, the bill's pushes arrive in the order they were
// recorded.
func TestPushRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	reg := prometheus.NewRegistry()
	env := newE2EWith(t, ctx, func(o *harness.Options) { o.Worker.Activities.Metrics = metrics.NewWorker(reg, 100) })
	std, ult := env.enterprise(t, harness.DemoStandardTaxNo), env.enterprise(t, harness.DemoTaxNo)
	if !std.Push || std.ImagePush != enterprises.PushRelay || ult.Push || ult.ImagePush != enterprises.PushDirect {
		t.Fatalf("push topologies: standard push %v image %q, ultimate push %v image %q; want rimflow relaying the standard one's, the cloud pushing the ultimate one's image system directly",
			std.Push, std.ImagePush, ult.Push, ult.ImagePush)
	}
	if err := env.stack.Sim.SetFaults(simulator.Faults{ErrorRate: 1, MessageTypes: []string{simulator.ImagePushFault}}); err != nil {
		t.Fatal(err)
	}
	b := env.startImageBill(t, "E2E-RELAY", harness.DemoStandardTaxNo, workflows.ImageBasic, false)

	// Two imports, one after the other: two pushes the bill records in this order.
	var msgIDs []string
	var serials [][]string
	for i := 1; i <= 2; i++ {
		var res simulator.CollectResult
		env.call(t, "POST", env.stack.CloudURL()+"/__sim/collect", map[string]any{"url": b.start.Collect.PC, "count": 1}, &res)
		if len(res.Delivered) != 1 || res.MsgID == "" {
			t.Fatalf("collect %d: %+v", i, res)
		}
		msgIDs = append(msgIDs, res.MsgID)
		serials = append(serials, []string{res.Delivered[0].SerialNo})
		eventually(t, fmt.Sprintf("push %s recorded by rimflow", res.MsgID), func() bool {
			return slices.ContainsFunc(env.stack.Sim.Pushes(), func(p simulator.PushView) bool { return p.MsgID == res.MsgID && p.Delivered })
		})
	}
	env.waitFor(t, b.ref(), "both pushed invoices in the bill", func(st workflows.BillState) bool { return st.InvoiceCount == 2 })

	// The image system refuses: the relay retries, visibly.
	eventually(t, "the relay failing in the metrics", func() bool {
		return metricValue(t, reg, "rimflow_push_relays_total", "enterprise", harness.DemoStandardTaxNo) >= 1 &&
			metricValue(t, reg, "rimflow_push_relays_total", "outcome", "failed") >= 1 &&
			metricValue(t, reg, "rimflow_push_relays_failing", "", "") >= 1
	})
	if got := billImagePushes(env.stack.Sim, b.id); len(got) != 0 {
		t.Fatalf("the image system refused, yet has %+v", got)
	}

	env.stack.Sim.ClearFaults()
	eventually(t, "both pushes at the image system", func() bool { return len(billImagePushes(env.stack.Sim, b.id)) == 2 })
	got := billImagePushes(env.stack.Sim, b.id)
	for i, p := range got {
		if p.MsgID != msgIDs[i] || !slices.Equal(p.SerialNos, serials[i]) || p.TaxNo != harness.DemoStandardTaxNo {
			t.Fatalf("image system's pushes %+v; want msgIds %v with serials %v, in that order", got, msgIDs, serials)
		}
	}
	eventually(t, "the relay no longer failing", func() bool {
		return metricValue(t, reg, "rimflow_push_relays_failing", "", "") == 0 &&
			metricValue(t, reg, "rimflow_push_relays_total", "outcome", "relayed") == 2
	})
}

// billImagePushes are the pushes the simulator's image system received for the bill OA/id.
func billImagePushes(sim *simulator.Sim, id string) []simulator.ImagePushView {
	var out []simulator.ImagePushView
	for _, p := range sim.ImagePushes() {
		if p.Resource == "OA" && p.BillID == id {
			out = append(out, p)
		}
	}
	return out
}

// metricValue sums the samples of the metric family name whose label has value (label "": all).
func metricValue(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if label == "" || slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == label && l.GetValue() == value }) {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// eventually polls ok for at most 60 s.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 60s", what)
		}
		time.Sleep(150 * time.Millisecond)
	}
}
