package apiit

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"rimflow/api"
	"rimflow/workflows"
)

// The bill gauges come from Temporal's visibility store: a collecting bill and a failed one
// (its step named) are counted, a closed one is not, and the overdue series exist at zero.
func TestBillCountsFromVisibility(t *testing.T) {
	s := newStack(t, "it-token")
	if code := s.call(t, "POST", "/v1/bills", bill("CNT-1"), nil); code != http.StatusCreated {
		t.Fatalf("start CNT-1: %d", code)
	}
	s.sim(t, "/__sim/faults", map[string]any{"errorRate": 1, "messageTypes": []string{"getEventCode"},
		"refuseCode": "1001", "refuseField": "billTaxNo"})
	code := s.call(t, "POST", "/v1/bills", bill("CNT-2"), nil)
	s.sim(t, "/__sim/faults", map[string]any{})
	if code != http.StatusBadGateway {
		t.Fatalf("start CNT-2 against a refusing cloud: %d", code)
	}
	if code := s.call(t, "POST", "/v1/bills", bill("CNT-3"), nil); code != http.StatusCreated {
		t.Fatalf("start CNT-3: %d", code)
	}
	if code := s.call(t, "POST", "/v1/bills/OA/CNT-3/cancel", map[string]string{"reason": "test"}, nil); code != http.StatusOK {
		t.Fatalf("cancel CNT-3: %d", code)
	}
	s.waitStage(t, "OA/CNT-3", workflows.StageCancelled)

	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go api.CountBills(ctx, api.BillCountOptions{Client: s.client, Namespace: s.ns, Registry: reg, Every: 200 * time.Millisecond})

	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"rimflow_bills", map[string]string{"stage": "collecting", "enterprise": "*"}, 1},
		{"rimflow_bills", map[string]string{"stage": "failed", "enterprise": "*"}, 1},
		{"rimflow_bills", map[string]string{"stage": "awaiting_finance", "enterprise": "*"}, 0},
		{"rimflow_bills_overdue", map[string]string{"stage": "collecting", "enterprise": "*"}, 0},
		{"rimflow_bills_needing_attention", map[string]string{"kind": "bill", "failed_step": "getEventCode", "enterprise": "*"}, 1},
	}
	// Visibility is eventually consistent: count again until it agrees; the bound only stops a hung test.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var wrong []string
		for _, w := range want {
			if got, ok := gaugeValue(t, reg, w.name, w.labels); !ok || got != w.value {
				wrong = append(wrong, w.name)
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			fams, _ := reg.Gather()
			t.Fatalf("bill gauges never agreed (%v): %v", wrong, fams)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
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
			if len(have) != len(labels) {
				continue
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}
