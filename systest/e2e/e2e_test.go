package e2e

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"rimflow/internal/devstack"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// The end-to-end suite on the devstack: embedded Temporal on SQLite, Temporal Web, the simulator,
// a worker and the API, on free loopback ports, driven only through the HTTP API, the simulator's
// /__sim/ JSON interface, a browser and the temporal CLI. The restart replaces the whole stack.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := newE2E(t, ctx)
	env.suite.Run(t, Case{"browser imports on the collect page", env.browserCollect})
}

// A start that fails half-way (the API's port is taken) names the address and stops what it had
// started: a second start on the same data dir then works.
func TestStartFailsCleanlyOnBusyPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	opts := devstack.Options{DataDir: dir, TemporalAddr: "127.0.0.1:0", DisableUI: true, CloudAddr: "127.0.0.1:0", APIAddr: busy.Addr().String()}

	if s, err := devstack.Start(ctx, opts); err == nil {
		s.Close()
		t.Fatal("start with a busy API port succeeded")
	} else if !strings.Contains(err.Error(), "api address") {
		t.Fatalf("error does not name the API address: %v", err)
	}

	opts.APIAddr = "127.0.0.1:0"
	s, err := devstack.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start after a failed start on the same dir: %v", err)
	}
	if s.UIURL() != "" || !strings.Contains(s.ReadyLine(), "ui=disabled") {
		t.Errorf("UI disabled but ready line says %q", s.ReadyLine())
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

type e2e struct {
	t     *testing.T
	ctx   context.Context
	opts  devstack.Options
	stack *devstack.Stack
	suite *Suite
}

func newE2E(t *testing.T, ctx context.Context) *e2e {
	tw := &testWriter{t: t}
	t.Cleanup(tw.stop) // registered first, so it runs after the stack has closed
	logger := slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	env := &e2e{t: t, ctx: ctx}
	// devstack's own simulator, journaled in the data dir: the restart relies on it coming back
	// with the same cloud state, as `go run ./devstack` does.
	env.opts = devstack.Options{
		DataDir: t.TempDir(), TemporalAddr: "127.0.0.1:0", UIAddr: "127.0.0.1:0",
		CloudAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		Seed: 7, Logger: logger, WorkerLogger: logger,
	}
	stack, err := devstack.Start(ctx, env.opts)
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	env.stack = stack
	t.Cleanup(func() {
		if env.stack != nil {
			if err := env.stack.Close(); err != nil {
				t.Errorf("close stack: %v", err)
			}
		}
	})
	if !strings.HasPrefix(stack.ReadyLine(), "rimflow ready: api=http://127.0.0.1:") {
		t.Fatalf("ready line: %q", stack.ReadyLine())
	}
	env.suite = &Suite{Ctx: ctx, Target: env.target("")}
	return env
}

// target is the suite's view of the running stack.
func (e *e2e) target(token string) Target {
	cli, _ := testenv.TemporalCLIPath()
	return Target{
		APIURL: e.stack.APIURL(), CloudURL: e.stack.CloudURL(), Token: token, WebURL: e.stack.UIURL(),
		CLI: &testenv.TemporalCLI{Path: cli, Env: []string{
			"TEMPORAL_ADDRESS=" + e.stack.TemporalAddr(), "TEMPORAL_NAMESPACE=default"}},
		Restart: e.restart,
	}
}

// restart stops the whole stack and starts it again on the same data dir and addresses, this time
// with a bearer token as --api-token sets it. The devstack's own promises are checked here: the
// schema is not recreated, the simulator comes back from its journal, the API now wants the
// token and the how-to shows it as a variable, never the token itself.
func (e *e2e) restart(t *testing.T) Target {
	temporalAddr, uiAddr, cloudAddr, apiAddr := e.stack.Addrs()
	if err := e.stack.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	e.stack = nil
	opts := e.opts
	opts.TemporalAddr, opts.UIAddr, opts.CloudAddr, opts.APIAddr = temporalAddr, uiAddr, cloudAddr, apiAddr
	const token = "e2e-restart-token-5f1c"
	opts.APIToken = token
	stack, err := devstack.Start(e.ctx, opts)
	if err != nil {
		t.Fatalf("start again on the same data dir: %v", err)
	}
	e.stack = stack
	if stack.Temporal.SchemaCreated() {
		t.Fatal("restart created a new schema: the data dir was not reused")
	}
	target := e.target(token)
	if status, body := testenv.Do(t, e.ctx, http.MethodGet, target.APIURL+"/v1/bills/OA/E2E-RESTART", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("API with --api-token answered a request without the token: HTTP %d: %s", status, body)
	}
	var howto bytes.Buffer
	stack.WriteHowTo(&howto)
	if !strings.Contains(howto.String(), "Authorization: Bearer $RIMFLOW_API_TOKEN") || strings.Contains(howto.String(), token) {
		t.Fatalf("how-to must show the header with a variable, never the token:\n%s", howto.String())
	}
	return target
}

// testWriter sends log lines to the test log; safe after the test ends (lines are dropped).
type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// `go run ./devstack --cloud-strict`: the demo bill completes against a simulator that enforces the
// strict reading of every ambiguous vendor rule.
func TestDemoOnStrictCloud(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, devstack.Options{DataDir: t.TempDir(), TemporalAddr: "127.0.0.1:0", DisableUI: true,
		CloudAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", CloudStrict: true})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	if !s.Sim.Options().Strict {
		t.Fatal("the devstack's simulator is not strict")
	}
	steps, err := devstack.Demo{APIURL: s.APIURL(), CloudURL: s.CloudURL(), BillID: "E2E-STRICT", Wait: time.Minute}.Run(ctx, io.Discard)
	if err != nil {
		t.Fatalf("demo on the strict cloud: %v", err)
	}
	if last := steps[len(steps)-1]; last.Stage != workflows.StageCompleted {
		t.Fatalf("demo ended in %s", last.Stage)
	}
}
