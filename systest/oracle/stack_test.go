package oracle

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"rimflow/activities"
	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/app"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/ultimate"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// reading is how the simulator reads the vendor's ambiguous rules.
type reading struct {
	replaces bool // billSave's list replaces the bill's set (else it only adds and updates)
	strict   bool // every ambiguous rule at its strict reading
}

func (r reading) String() string { return fmt.Sprintf("replaces=%t/strict=%t", r.replaces, r.strict) }

func readings() []reading {
	return []reading{{true, false}, {false, false}, {true, true}, {false, true}}
}

var queueSeq atomic.Int64

// stack is one reading's cloud, worker and API; histories run on it one after the other, each
// with bills of its own.
type stack struct {
	t      *testing.T
	sim    *simulator.Sim
	simURL string
	cloud  *ultimate.Client
	queue  string
	worker *app.Worker
	api    *httptest.Server
}

func newStack(t *testing.T, r reading) *stack {
	t.Helper()
	opts := simulator.Options{Seed: 21, PollHold: 2 * time.Second, Strict: r.strict}
	opts.Assume.DisableBillSaveReplacesSet = !r.replaces
	if r.strict {
		opts.Assume.DisableIdempotentMessageID, opts.Assume.DisablePollRedelivery = true, true
	}
	env := harness.NewCloud(t, opts, func(c *ultimate.Config) {
		c.Timeout, c.PollHold, c.Logger = 5*time.Second, 2*time.Second, slog.New(slog.DiscardHandler)
	})
	s := &stack{t: t, sim: env.Sim, simURL: env.URL, cloud: env.Client, queue: fmt.Sprintf("oracle-%d-%d", os.Getpid(), queueSeq.Add(1))}
	s.startWorker()
	h, err := api.Build(api.Options{Client: tc, Namespace: server.GetDefaultNamespace(), TaskQueue: s.queue})
	if err != nil {
		t.Fatalf("api: %v", err)
	}
	s.api = httptest.NewServer(h)
	t.Cleanup(s.api.Close)
	t.Cleanup(func() {
		if s.worker != nil {
			s.worker.Stop()
		}
	})
	return s
}

func (s *stack) startWorker() {
	s.t.Helper()
	w, err := app.NewWorker(tc, enterprises.Single(s.cloud), app.WorkerOptions{
		TaskQueue: s.queue,
		Worker:    worker.Options{WorkerStopTimeout: 2 * time.Second},
		Activities: activities.Activities{
			HeartbeatEvery: time.Second,
			Watch:          invoicecloud.WatchOptions{Silence: 2 * time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second},
		},
	})
	if err != nil {
		s.t.Fatalf("worker: %v", err)
	}
	if err := w.Start(); err != nil {
		s.t.Fatalf("start worker: %v", err)
	}
	s.worker = w
}

// restartWorker stops the worker (activities in flight are cut) and starts another.
func (s *stack) restartWorker() {
	s.worker.Stop()
	s.worker = nil
	s.startWorker()
}

// call sends one request to the API and decodes a 2xx JSON answer into out.
func (s *stack) call(method, path string, body, out any) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	status, raw := testenv.Do(s.t, ctx, method, s.api.URL+path, "", body)
	if status/100 == 2 && out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: decode: %v: %.300s", method, path, err, raw)
		}
	}
	return status, string(raw)
}

func (s *stack) state(id string) (workflows.BillState, bool) {
	var st workflows.BillState
	code, _ := s.call(http.MethodGet, "/v1/bills/OA/"+url.PathEscape(id), nil, &st)
	return st, code == http.StatusOK
}

func eventCodeOf(pageURL string) string {
	u, err := url.Parse(pageURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("eventCode")
}
