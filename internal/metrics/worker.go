package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Worker is what a worker process exports beside the SDK's and the cloud's metrics: its live
// watchers against their cap, and its webhook deliveries with the backlog they leave. A nil
// *Worker records nothing (a worker without RIMFLOW_METRICS_ADDR), so callers need no checks.
type Worker struct {
	watchers    prometheus.Gauge
	deliveries  *prometheus.CounterVec
	mu          sync.Mutex
	undelivered map[string]undelivered // event id → the event, while its last attempt failed
	now         func() time.Time
	relays      *prometheus.CounterVec
	failing     map[string]time.Time // msgId → the last attempt here, while it failed
}

type undelivered struct {
	at          time.Time // when the bill emitted the event
	lastAttempt time.Time
}

// webhookForgetAfter is how long an event that failed here is counted without another attempt
// here: its retries (at most a minute apart, workflows/outbox.go) may run on another worker,
// which then counts it; past this it is that worker's, or delivered.
const webhookForgetAfter = 5 * time.Minute

// NewWorker registers, on r:
//   - rimflow_watchers_live: watchers (sockets, long polls) running in this worker;
//   - rimflow_watchers_max: their cap, RIMFLOW_MAX_WATCHERS;
//   - rimflow_webhook_deliveries_total{resource,outcome}: webhook delivery attempts (ok, failed),
//     by the ERP resource (the webhook registry's keys: bounded);
//   - rimflow_webhook_backlog_events: events whose last attempt here failed (retrying);
//   - rimflow_webhook_oldest_undelivered_age_seconds: age of the oldest of them (0: none);
//   - rimflow_push_relays_total{enterprise,outcome}: attempts to relay a recorded push to the
//     enterprise's image system (relayed, failed: retried);
//   - rimflow_push_relays_failing: pushes whose last relay attempt here failed (retrying).
func NewWorker(r prometheus.Registerer, maxWatchers int) *Worker {
	w := &Worker{
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "watchers_live",
			Help: "Invoice watchers (one socket or long poll each) running in this worker.",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "webhook_deliveries_total",
			Help: "Webhook delivery attempts to the ERP by resource and outcome (ok, failed: retried).",
		}, []string{"resource", "outcome"}),
		undelivered: map[string]undelivered{},
		now:         time.Now,
		relays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "push_relays_total",
			Help: "Attempts to relay a recorded push (AWS收票推送) to the enterprise's image system, by enterprise and outcome (relayed, failed: retried).",
		}, []string{"enterprise", "outcome"}),
		failing: map[string]time.Time{},
	}
	maxG := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "watchers_max",
		Help: "The cap on this worker's watchers (RIMFLOW_MAX_WATCHERS).",
	})
	maxG.Set(float64(maxWatchers))
	backlog := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "webhook_backlog_events",
		Help: "Bill events whose last delivery attempt on this worker failed and that are being retried.",
	}, func() float64 { n, _ := w.backlog(); return float64(n) })
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "webhook_oldest_undelivered_age_seconds",
		Help: "Age of the oldest bill event this worker failed to deliver and is retrying (0: none).",
	}, func() float64 { _, age := w.backlog(); return age.Seconds() })
	// Without labels, so that it is served before the first relay (the alert names it); the
	// enterprise is in rimflow_push_relays_total and the worker's log.
	relaysFailing := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "push_relays_failing",
		Help: "Pushes whose last attempt on this worker to reach the enterprise's image system failed and that are being retried.",
	}, func() float64 { return float64(w.failingRelays()) })
	r.MustRegister(w.watchers, maxG, w.deliveries, backlog, oldest, w.relays, relaysFailing)
	return w
}

// PushRelayAttempt records one attempt to relay the push msgID of enterprise to its image system.
func (w *Worker) PushRelayAttempt(enterprise, msgID string, err error) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		w.relays.WithLabelValues(enterprise, "relayed").Inc()
		delete(w.failing, msgID)
		return
	}
	w.relays.WithLabelValues(enterprise, "failed").Inc()
	w.failing[msgID] = w.now()
}

// failingRelays counts the pushes still failing here, forgetting those not attempted here for
// webhookForgetAfter (their retries, at most a minute apart, ran elsewhere or succeeded).
func (w *Worker) failingRelays() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, last := range w.failing {
		if w.now().Sub(last) > webhookForgetAfter {
			delete(w.failing, id)
		}
	}
	return len(w.failing)
}

// WatchStarted counts a watcher until the returned func is called.
func (w *Worker) WatchStarted() (done func()) {
	if w == nil {
		return func() {}
	}
	w.watchers.Inc()
	return w.watchers.Dec
}

// WebhookAttempt records one delivery attempt of the event id that the bill emitted at at.
func (w *Worker) WebhookAttempt(resource, id string, at time.Time, err error) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		w.deliveries.WithLabelValues(resource, "ok").Inc()
		delete(w.undelivered, id)
		return
	}
	w.deliveries.WithLabelValues(resource, "failed").Inc()
	w.undelivered[id] = undelivered{at: at, lastAttempt: w.now()}
}

// backlog counts the events still failing here and the age of the oldest, forgetting those not
// attempted here for webhookForgetAfter.
func (w *Worker) backlog() (int, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	var oldest time.Time
	for id, u := range w.undelivered {
		if now.Sub(u.lastAttempt) > webhookForgetAfter {
			delete(w.undelivered, id)
			continue
		}
		if oldest.IsZero() || u.at.Before(oldest) {
			oldest = u.at
		}
	}
	if oldest.IsZero() {
		return 0, 0
	}
	return len(w.undelivered), max(now.Sub(oldest), 0)
}
