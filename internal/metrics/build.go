package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"rimflow/internal/version"
)

// registerBuildInfo adds rimflow_build_info{build_id,release,revision} 1: which build a process
// runs, so a dashboard shows a fleet mid-roll (two build IDs) and when the old one is gone.
func registerBuildInfo(r prometheus.Registerer) {
	v := version.Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help:        "The build this process runs (value 1): build_id as its workers declare it, the release version, the source revision.",
		ConstLabels: prometheus.Labels{"build_id": v.BuildID, "release": v.Release, "revision": v.Revision},
	})
	g.Set(1)
	r.MustRegister(g)
}
