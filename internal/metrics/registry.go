// Package metrics exposes rimflow's Prometheus metrics: a registry with the Go/process collectors,
// an adapter that lets the Temporal SDK report into it, and the Invoice Cloud call metrics.
// The worker and the HTTP API both use it.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes rimflow's own metric names.
const Namespace = "rimflow"

// NewRegistry returns a registry with the Go runtime and process collectors and the build info
// registered.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerBuildInfo(r)
	return r
}

// Handler serves the registry in the Prometheus text format.
func Handler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{Registry: r})
}
