package oracle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"rimflow/activities"
	"rimflow/api"
	"rimflow/bench/kit"
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

// simOptions are the reading's simulator: the devstack's two enterprises (the ultimate tenant and
// a standard-edition one that pushes its imports to the API at apiURL), each with the image system.
func simOptions(r reading, apiURL string) simulator.Options {
	opts := simulator.Options{Seed: 21, PollHold: 2 * time.Second, Strict: r.strict, Tenants: harness.DemoTenants(apiURL),
		PushRetryMin: 200 * time.Millisecond, PushRetryMax: time.Second}
	opts.Assume.DisableBillSaveReplacesSet = !r.replaces
	if r.strict {
		opts.Assume.DisableIdempotentMessageID, opts.Assume.DisablePollRedelivery = true, true
	}
	return opts
}

// registry is the enterprise registry the worker and the API share: the devstack's, with the
// ultimate client's timeouts short so a lost answer is retried within seconds.
func registry(cloudURL string, o simulator.Options) (*enterprises.Registry, error) {
	specs := harness.DemoEnterprises(cloudURL, o)
	for i, s := range specs {
		if u, ok := s.Settings.(ultimate.Config); ok {
			u.Timeout, u.PollHold, u.Logger = 5*time.Second, 2*time.Second, slog.New(slog.DiscardHandler)
			specs[i].Settings = u
		}
	}
	return enterprises.New(specs, enterprises.Options{Logger: slog.New(slog.DiscardHandler)})
}

// The worker process is this test binary run again with these variables (TestMain): the real
// worker (app.NewWorker) in a process of its own, which the oracle can SIGKILL mid-activity.
const (
	envWorker    = "RIMFLOW_ORACLE_WORKER" // the Temporal frontend; set: run as the worker
	envNamespace = "RIMFLOW_ORACLE_NAMESPACE"
	envCloud     = "RIMFLOW_ORACLE_CLOUD"
	envAPI       = "RIMFLOW_ORACLE_API"
	envReading   = "RIMFLOW_ORACLE_READING" // replaces,strict as two booleans
)

// watchHeartbeat is the watchers' heartbeat timeout: a SIGKILLed worker's watchers move to the
// next worker after it (production's 2 minutes would stall a history).
const watchHeartbeat = 10 * time.Second

// batchInterval is the oracle worker's batch deduction interval: a few quiet points long.
const batchInterval = 5 * time.Second

// workerMain is the body of the worker process; it runs until SIGTERM (a graceful stop) or SIGKILL.
func workerMain() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "oracle worker:", err); return 1 }
	var r reading
	if _, err := fmt.Sscanf(os.Getenv(envReading), "%t,%t", &r.replaces, &r.strict); err != nil {
		return fail(fmt.Errorf("%s: %w", envReading, err))
	}
	// The simulator's options as the parent's simulator has them (credentials, paths, tenants).
	sim := simulator.New(simOptions(r, os.Getenv(envAPI)))
	o := sim.Options()
	sim.Close()
	reg, err := registry(os.Getenv(envCloud), o)
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	c, err := client.DialContext(ctx, client.Options{HostPort: os.Getenv(envWorker), Namespace: os.Getenv(envNamespace),
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	w, err := app.NewWorker(c, reg, app.WorkerOptions{
		TaskQueue: workflows.DefaultTaskQueue,
		Worker:    worker.Options{WorkerStopTimeout: 2 * time.Second},
		Activities: activities.Activities{
			HeartbeatEvery: time.Second,
			// A partial batch deduction is submitted within a history (RIMFLOW_DEDUCTION_INTERVAL,
			// 1h by default), so the oracle sees batches selected at the cloud, not only pending.
			DeductionInterval: batchInterval,
			Watch:             invoicecloud.WatchOptions{Silence: 2 * time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second},
		},
		WatchHeartbeatTimeout: watchHeartbeat,
	})
	if err != nil {
		return fail(err)
	}
	if err := w.Start(); err != nil {
		return fail(err)
	}
	<-ctx.Done()
	w.Stop()
	return 0
}

// stack is one reading's Temporal server (embedded, on a data dir: it can be restarted), cloud,
// worker process and API; histories run on it one after the other, each with bills of its own.
type stack struct {
	t      *testing.T
	r      reading
	env    *kit.Env
	sim    *simulator.Sim
	tc     client.Client
	apiURL string
	worker *harness.Worker
	logs   *harness.LogBuffer
}

func newStack(t *testing.T, r reading) *stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The API's address comes first: the standard enterprise's cloud pushes there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apiURL := "http://" + ln.Addr().String()
	env, err := kit.StartEnv(ctx, kit.EnvOptions{DataDir: t.TempDir(), Seed: 21, Sim: simOptions(r, apiURL)})
	if err != nil {
		ln.Close()
		t.Fatalf("server and simulator: %v", err)
	}
	t.Cleanup(env.Close)
	reg, err := registry(env.CloudURL, env.Sim.Options())
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	h, err := api.Build(api.Options{Client: env.Client, Namespace: env.Server.Namespace(), TaskQueue: workflows.DefaultTaskQueue,
		Enterprises: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("api: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s := &stack{t: t, r: r, env: env, sim: env.Sim, tc: env.Client, apiURL: apiURL, logs: &harness.LogBuffer{}}
	s.startWorker()
	t.Cleanup(func() {
		if s.worker != nil {
			_ = s.worker.Stop(10 * time.Second)
		}
		if t.Failed() {
			t.Logf("worker processes' stderr (tail):\n%s", tail(s.logs.String(), 4000))
		}
	})
	return s
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func (s *stack) startWorker() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	vars := append(os.Environ(), envWorker+"="+s.env.TemporalAddr(), envNamespace+"="+s.env.Server.Namespace(),
		envCloud+"="+s.env.CloudURL, envAPI+"="+s.apiURL, envReading+"="+strconv.FormatBool(s.r.replaces)+","+strconv.FormatBool(s.r.strict))
	w, err := harness.StartWorker(ctx, s.tc, harness.WorkerOptions{Path: os.Args[0], Args: []string{"-test.run=^$"}, Env: vars, Stderr: s.logs})
	if err != nil {
		s.t.Fatalf("worker process: %v", err)
	}
	s.worker = w
}

// restartWorker stops the worker gracefully (SIGTERM: activities in flight get their stop timeout)
// and starts another process.
func (s *stack) restartWorker() {
	_ = s.worker.Stop(30 * time.Second)
	s.worker = nil
	s.startWorker()
}

// killWorker SIGKILLs the worker process (whatever it runs is cut, nothing handed back) and starts
// another: the killed one's activities are retried after their timeouts.
func (s *stack) killWorker() {
	if err := s.worker.Kill(); err != nil {
		s.t.Fatalf("SIGKILL the worker: %v", err)
	}
	s.worker = nil
	s.startWorker()
}

// restartServer stops the embedded Temporal server and starts it again on its data dir, as
// systest/resilience's TestServerRestarted does; the worker process and the API reconnect.
func (s *stack) restartServer() {
	if err := s.env.StopServer(); err != nil {
		s.t.Fatalf("stop the server: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.env.StartServer(ctx); err != nil {
		s.t.Fatalf("start the server again: %v", err)
	}
}

// call sends one request to the API and decodes a 2xx JSON answer into out.
func (s *stack) call(method, path string, body, out any) (int, string) {
	return s.do(method, s.apiURL+path, body, out)
}

// callKeyed sends one API request with an Idempotency-Key (a repeat answers the first outcome).
func (s *stack) callKeyed(method, path, key string, body any) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	raw, err := json.Marshal(body)
	if err != nil {
		s.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.apiURL+path, bytes.NewReader(raw))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// do sends one request and decodes a 2xx JSON answer into out.
func (s *stack) do(method, target string, body, out any) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	status, raw := testenv.Do(s.t, ctx, method, target, "", body)
	if status/100 == 2 && out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: decode: %v: %.300s", method, target, err, raw)
		}
	}
	return status, string(raw)
}

func (s *stack) state(id string) (workflows.BillState, bool) {
	var st workflows.BillState
	code, _ := s.call(http.MethodGet, "/v1/bills/OA/"+url.PathEscape(id), nil, &st)
	return st, code == http.StatusOK
}
