package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// SDKHandler adapts a Prometheus registerer to the Temporal SDK's client.MetricsHandler:
// counters → counters, gauges → gauges, timers → histograms in seconds (name + "_seconds"),
// tags → labels.
//
// Prometheus needs one label set per metric name, while SDK tags may vary between calls. The first
// use of a name fixes its label names; later uses fill missing labels with "" and drop unknown
// ones, so a varying tag set can never make registration or a scrape fail.
type SDKHandler struct {
	shared *sdkFamilies
	tags   map[string]string
}

type sdkFamilies struct {
	reg        prometheus.Registerer
	mu         sync.Mutex
	counters   map[string]*family[*prometheus.CounterVec]
	gauges     map[string]*family[*prometheus.GaugeVec]
	histograms map[string]*family[*prometheus.HistogramVec]
}

type family[V any] struct {
	labels []string
	vec    V
}

var _ client.MetricsHandler = (*SDKHandler)(nil)

// NewSDKHandler returns a handler registering into r.
func NewSDKHandler(r prometheus.Registerer) *SDKHandler {
	return &SDKHandler{shared: &sdkFamilies{
		reg:        r,
		counters:   map[string]*family[*prometheus.CounterVec]{},
		gauges:     map[string]*family[*prometheus.GaugeVec]{},
		histograms: map[string]*family[*prometheus.HistogramVec]{},
	}}
}

// WithTags returns a handler whose metrics carry tags in addition to (overriding) the current ones.
func (h *SDKHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	maps.Copy(merged, h.tags)
	for k, v := range tags {
		merged[sanitize(k)] = v
	}
	return &SDKHandler{shared: h.shared, tags: merged}
}

func (h *SDKHandler) Counter(name string) client.MetricsCounter {
	f := lookup(h.shared, h.shared.counters, sanitize(name), h.tags, func(n string, l []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: n, Help: "Temporal SDK counter " + n}, l)
	})
	c := f.vec.WithLabelValues(values(f.labels, h.tags)...)
	return counterFunc(func(d int64) { c.Add(float64(d)) })
}

func (h *SDKHandler) Gauge(name string) client.MetricsGauge {
	f := lookup(h.shared, h.shared.gauges, sanitize(name), h.tags, func(n string, l []string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: n, Help: "Temporal SDK gauge " + n}, l)
	})
	return gaugeFunc(f.vec.WithLabelValues(values(f.labels, h.tags)...).Set)
}

func (h *SDKHandler) Timer(name string) client.MetricsTimer {
	n := sanitize(name)
	if !strings.HasSuffix(n, "_seconds") {
		n += "_seconds"
	}
	f := lookup(h.shared, h.shared.histograms, n, h.tags, func(n string, l []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: n, Help: "Temporal SDK timer " + n, Buckets: prometheus.DefBuckets}, l)
	})
	o := f.vec.WithLabelValues(values(f.labels, h.tags)...)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

// lookup returns the family of name, creating and registering it on first use. If the registry
// already holds a collector of that name (another handler on the same registry), it is reused.
func lookup[V prometheus.Collector](s *sdkFamilies, m map[string]*family[V], name string, tags map[string]string, mk func(string, []string) V) *family[V] {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := m[name]; ok {
		return f
	}
	labels := slices.Sorted(maps.Keys(tags))
	vec := mk(name, labels)
	if err := s.reg.Register(vec); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(V); ok {
				vec = existing
			}
		}
		// Any other registration error (e.g. the name clashes with a different metric type) leaves
		// the vector unregistered: it still works, it is just not exported. Never fail the worker.
	}
	f := &family[V]{labels: labels, vec: vec}
	m[name] = f
	return f
}

// values orders tags by the family's label names, "" for absent ones; extra tags are dropped.
func values(labels []string, tags map[string]string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = tags[l]
	}
	return out
}

// sanitize maps a name onto Prometheus' [a-zA-Z_:][a-zA-Z0-9_:]* alphabet.
func sanitize(name string) string {
	var b strings.Builder
	for i, r := range name {
		ok := r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
