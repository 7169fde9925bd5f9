package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Cloud counts and times Invoice Cloud calls; its Observe is the client's Config.Observe hook.
type Cloud struct {
	calls   *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

// NewCloud registers rimflow_cloud_calls_total{name,outcome} and rimflow_cloud_call_seconds{name,outcome}.
func NewCloud(r prometheus.Registerer) *Cloud {
	c := &Cloud{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "cloud_calls_total",
			Help: "Invoice Cloud calls by name (messageType, auth, poll, receipt, deduction, socket) and outcome (ok, retryable, error).",
		}, []string{"name", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "cloud_call_seconds",
			Help:    "Invoice Cloud call latency.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"name", "outcome"}),
	}
	r.MustRegister(c.calls, c.seconds)
	return c
}

// Observe records one call; safe for concurrent use.
func (c *Cloud) Observe(name, outcome string, took time.Duration) {
	c.calls.WithLabelValues(name, outcome).Inc()
	c.seconds.WithLabelValues(name, outcome).Observe(took.Seconds())
}
