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

// NewCloud registers rimflow_cloud_calls_total{enterprise,name,outcome} and
// rimflow_cloud_call_seconds{enterprise,name,outcome}; enterprise is the tax number ("*" for the
// registry of one RIMFLOW_CLOUD_* describes).
func NewCloud(r prometheus.Registerer) *Cloud {
	c := &Cloud{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "cloud_calls_total",
			Help: "Invoice Cloud calls by name (messageType, auth, poll, receipt, deduction, socket) and outcome (ok, retryable, error).",
		}, []string{"enterprise", "name", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "cloud_call_seconds",
			Help:    "Invoice Cloud call latency.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"enterprise", "name", "outcome"}),
	}
	r.MustRegister(c.calls, c.seconds)
	return c
}

// Observe records one call of an enterprise; safe for concurrent use.
func (c *Cloud) Observe(enterprise, name, outcome string, took time.Duration) {
	c.calls.WithLabelValues(enterprise, name, outcome).Inc()
	c.seconds.WithLabelValues(enterprise, name, outcome).Observe(took.Seconds())
}
