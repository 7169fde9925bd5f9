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
