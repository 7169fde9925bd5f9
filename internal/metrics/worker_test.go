package metrics

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestWorkerWatchersAndWebhookBacklog(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := NewWorker(reg, 50)
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return now }

	done1, done2 := w.WatchStarted(), w.WatchStarted()
	done1()
	check := func(name string, want float64) {
		t.Helper()
		if got := gaugeOf(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("rimflow_watchers_live", 1)
	check("rimflow_watchers_max", 50)
	done2()
	check("rimflow_watchers_live", 0)

	refused := errors.New("HTTP 500")
	w.WebhookAttempt("OA", "e1", now.Add(-3*time.Minute), refused)
	w.WebhookAttempt("OA", "e2", now.Add(-time.Minute), refused)
	w.WebhookAttempt("OA", "e1", now.Add(-3*time.Minute), refused)
	check("rimflow_webhook_backlog_events", 2)
	check("rimflow_webhook_oldest_undelivered_age_seconds", 180)
	w.WebhookAttempt("OA", "e1", now.Add(-3*time.Minute), nil)
	check("rimflow_webhook_backlog_events", 1)
	check("rimflow_webhook_oldest_undelivered_age_seconds", 60)
	for outcome, want := range map[string]float64{"failed": 3, "ok": 1} {
		var m dto.Metric
		if err := w.deliveries.WithLabelValues("OA", outcome).Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != want {
			t.Errorf("%s deliveries = %v, want %v", outcome, got, want)
		}
	}
	// Not attempted here for longer than its retries' spacing allows: another worker has it.
	now = now.Add(webhookForgetAfter + time.Second)
	check("rimflow_webhook_backlog_events", 0)
	check("rimflow_webhook_oldest_undelivered_age_seconds", 0)

	var none *Worker // a worker without /metrics
	none.WatchStarted()()
	none.WebhookAttempt("OA", "e3", now, refused)
}

func gaugeOf(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not gathered", name)
	return 0
}

// Push relays: each attempt counted by enterprise and outcome; the failing ones gauged until they
// go through, or until not attempted here for longer than their retries' spacing allows.
func TestWorkerPushRelays(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := NewWorker(reg, 50)
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return now }
	if got := gaugeOf(t, reg, "rimflow_push_relays_failing"); got != 0 {
		t.Fatalf("failing before any relay = %v", got) // served at 0: the alert's metric exists
	}
	refused := errors.New("HTTP 503")
	w.PushRelayAttempt("E1", "m1", refused)
	w.PushRelayAttempt("E1", "m1", refused)
	w.PushRelayAttempt("E2", "m2", refused)
	if got := gaugeOf(t, reg, "rimflow_push_relays_failing"); got != 2 {
		t.Errorf("failing = %v, want 2", got)
	}
	w.PushRelayAttempt("E1", "m1", nil)
	if got := gaugeOf(t, reg, "rimflow_push_relays_failing"); got != 1 {
		t.Errorf("failing after m1 went through = %v, want 1", got)
	}
	for _, c := range []struct {
		enterprise, outcome string
		want                float64
	}{{"E1", "failed", 2}, {"E1", "relayed", 1}, {"E2", "failed", 1}} {
		var m dto.Metric
		if err := w.relays.WithLabelValues(c.enterprise, c.outcome).Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != c.want {
			t.Errorf("%s %s relays = %v, want %v", c.enterprise, c.outcome, got, c.want)
		}
	}
	now = now.Add(webhookForgetAfter + time.Second)
	if got := gaugeOf(t, reg, "rimflow_push_relays_failing"); got != 0 {
		t.Errorf("failing after its retries moved elsewhere = %v, want 0", got)
	}
	var none *Worker
	none.PushRelayAttempt("E1", "m3", refused)
}
