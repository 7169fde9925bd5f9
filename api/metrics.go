package api

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"rimflow/workflows"
)

// apiMetrics is what the API exports on /metrics beside whatever else shares the registry.
type apiMetrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	starts      *prometheus.CounterVec
	transitions *prometheus.CounterVec
	pushes      *prometheus.CounterVec
	stages      *stageTracker
	// awaiting are the awaiting_<role> stages that may be label values: the policy's roles.
	awaiting map[workflows.Stage]bool
}

// newAPIMetrics registers the API's metrics; roles are the approval roles the server's policy
// knows (a role a caller chose shows as awaiting_other: labels never take caller-chosen values).
func newAPIMetrics(reg prometheus.Registerer, roles []string) *apiMetrics {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rimflow_api_requests_total",
			Help: "HTTP requests answered by the rimflow API, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rimflow_api_request_duration_seconds",
			Help:    "Time to answer an API request, by route pattern and method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rimflow_api_bill_starts_total",
			Help: "POST /v1/bills outcomes: created (a new workflow), joined (already running), refused, error.",
		}, []string{"outcome"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rimflow_api_stage_transitions_total",
			Help: "Bill stage changes this API process observed in the states it served (from \"\" = first sight).",
		}, []string{"from", "to"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rimflow_pushes_total",
			Help: "The cloud's pushes of collected invoices (POST /v1/push/{taxNo}) by enterprise and outcome: recorded, refused (not the enterprise's), failed (not recorded: the cloud pushes again), bad (not a push), no_bill (its bill has ended: answered success, logged).",
		}, []string{"enterprise", "outcome"}),
		stages:   newStageTracker(10000),
		awaiting: map[workflows.Stage]bool{},
	}
	for _, role := range append(slices.Clone(workflows.DefaultApprovals), roles...) {
		m.awaiting[workflows.AwaitingStage(role)] = true
	}
	m.requests = register(reg, m.requests)
	m.latency = register(reg, m.latency)
	m.starts = register(reg, m.starts)
	m.transitions = register(reg, m.transitions)
	m.pushes = register(reg, m.pushes)
	for _, outcome := range []string{"refused", "bad"} {
		m.pushes.WithLabelValues("unknown", outcome) // at 0: the family exists before the first push
	}
	return m
}

// register adds c, or returns the collector already registered under its name: a second handler
// on the same registry (tests, devstack restarts) shares the first one's series.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(T); ok {
				return existing
			}
		}
		panic(fmt.Sprintf("api metrics: %v", err))
	}
	return c
}

func (m *apiMetrics) observeRequest(route, method string, status int, took time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(took.Seconds())
}

// observePush records one push by the status it was answered.
func (m *apiMetrics) observePush(enterprise string, status int) {
	outcome := "bad"
	switch {
	case status/100 == 2:
		outcome = "recorded"
	case status == 401 || status == 403:
		outcome = "refused"
	case status >= 500:
		outcome = "failed"
	}
	m.pushes.WithLabelValues(enterprise, outcome).Inc()
}

// observeStage records a transition when a served state shows a bill in a new stage.
func (m *apiMetrics) observeStage(workflowID string, stage workflows.Stage) {
	if stage == "" {
		return
	}
	if from, changed := m.stages.see(workflowID, stage); changed {
		m.transitions.WithLabelValues(m.stageLabel(from), m.stageLabel(stage)).Inc()
	}
}

// stageLabel is a stage as a label value: the fixed stages and the policy's awaiting_<role>;
// any other awaiting stage (a role the caller chose) is awaiting_other.
func (m *apiMetrics) stageLabel(s workflows.Stage) string {
	switch {
	case s == "" || knownStages[s] || m.awaiting[s]:
		return string(s)
	case strings.HasPrefix(string(s), "awaiting_"):
		return "awaiting_other"
	}
	return "other"
}

// stageTracker remembers the last stage seen per bill, bounded: when full it forgets everything
// (the next sighting of each bill then counts from ""), which keeps memory flat without an LRU.
type stageTracker struct {
	mu   sync.Mutex
	max  int
	last map[string]workflows.Stage
}

func newStageTracker(max int) *stageTracker {
	return &stageTracker{max: max, last: make(map[string]workflows.Stage)}
}

func (t *stageTracker) see(workflowID string, stage workflows.Stage) (from workflows.Stage, changed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, ok := t.last[workflowID]
	if ok && prev == stage {
		return prev, false
	}
	if !ok && len(t.last) >= t.max {
		t.last = make(map[string]workflows.Stage)
	}
	t.last[workflowID] = stage
	return prev, true
}
