package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"rimflow/devstack/harness"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// The end-to-end suite on the devstack: embedded Temporal on SQLite, Temporal Web, the simulator
// (both demo enterprises, ultimate and standard edition), a worker and the API, on free loopback
// ports, driven only through the HTTP API, the simulator's /__sim/ JSON interface, a browser and
// the temporal CLI. The restart replaces the whole stack. The devstack's own cases come before it.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	env := newE2E(t, ctx)
	env.Suite.Run(t,
		Case{"a failed demo does not stop the next and both are reported", env.demoFailures},
		Case{"the key file is kept in the data dir and Temporal Web decodes through the codec server", env.webWiredToCodec},
		Case{"browser imports on the collect page", env.browserCollect},
		Case{"temporal workflow describe and show print the bill decoded through the codec server", env.CLIShowsBillDecoded},
		Case{"Temporal Web shows the bill decoded in a browser, and its signal form reaches the bill", env.WebShowsBillDecoded},
	)
	// After the restart the API has a token (an access client): Web decodes once signed in.
	t.Run("Temporal Web with access clients: the codec sign-in, then the bill decoded", func(t *testing.T) {
		if env.Target.Token == "" {
			t.Skip("runs after the restart, which gives the API a token")
		}
		env.WebShowsBillDecoded(t)
	})
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
	opts := harness.Options{DataDir: dir, TemporalAddr: "127.0.0.1:0", DisableUI: true, CloudAddr: "127.0.0.1:0", APIAddr: busy.Addr().String()}

	if s, err := harness.Start(ctx, opts); err == nil {
		s.Close()
		t.Fatal("start with a busy API port succeeded")
	} else if !strings.Contains(err.Error(), "api address") {
		t.Fatalf("error does not name the API address: %v", err)
	}

	opts.APIAddr = "127.0.0.1:0"
	s, err := harness.Start(ctx, opts)
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

// e2e is the devstack under test; its Suite drives it (the devstack-only tests use the suite's
// requests too).
type e2e struct {
	*Suite
	t     *testing.T
	ctx   context.Context
	dir   string
	opts  harness.Options
	stack *harness.Stack
}

func newE2E(t *testing.T, ctx context.Context) *e2e {
	return newE2EWith(t, ctx, nil)
}

// newE2EWith is newE2E with the stack's options adjusted by tune first (nil: none).
func newE2EWith(t *testing.T, ctx context.Context, tune func(*harness.Options)) *e2e {
	tw := &testWriter{t: t}
	t.Cleanup(tw.stop) // registered first, so it runs after the stack has closed
	logger := slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	env := &e2e{t: t, ctx: ctx, dir: t.TempDir()}
	// devstack's own simulator, journaled in the data dir: the restart relies on it coming back
	// with the same cloud state, as `go run ./devstack` does.
	env.opts = harness.Options{
		DataDir: env.dir, TemporalAddr: "127.0.0.1:0", UIAddr: "127.0.0.1:0",
		CloudAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		Seed: 7, Logger: logger, WorkerLogger: logger,
	}
	if tune != nil {
		tune(&env.opts)
	}
	stack, err := harness.Start(ctx, env.opts)
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
	env.Suite = &Suite{Ctx: ctx, Target: env.target("")}
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
		// The devstack's registry serves both demo enterprises; its Web runs beside the API.
		Demos: harness.DemoRuns, CodecOrigin: e.stack.UIURL(),
	}
}

// demoFailures: with a cloud address that serves no simulator (the API's own), both demos fail at
// the import; the second still runs, and the error names both bills and the step.
func (e *e2e) demoFailures(t *testing.T) {
	var timeline bytes.Buffer
	err := harness.RunDemos(e.ctx, harness.Demo{APIURL: e.stack.APIURL(), CloudURL: e.stack.APIURL(), Token: e.Target.Token,
		BillID: "E2E-NOCLOUD", Wait: 10 * time.Second}, &timeline)
	if err == nil {
		t.Fatalf("demos without a simulator succeeded:\n%s", timeline.String())
	}
	for _, run := range harness.DemoRuns {
		if want := `demo bill OA/E2E-NOCLOUD-` + run.Suffix + `, step "collect"`; !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if n := strings.Count(timeline.String(), "demo failed: "); n != len(harness.DemoRuns) {
		t.Errorf("timelines report %d failed demos, want %d:\n%s", n, len(harness.DemoRuns), timeline.String())
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
	stack, err := harness.Start(e.ctx, opts)
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

// `go run ./devstack --cloud-strict --demo`: the demo bills complete against a simulator that enforces the
// strict reading of every ambiguous vendor rule.
func TestDemoOnStrictCloud(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := harness.Start(ctx, harness.Options{DataDir: t.TempDir(), TemporalAddr: "127.0.0.1:0", DisableUI: true,
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
	var timeline bytes.Buffer
	if err := harness.RunDemos(ctx, harness.Demo{APIURL: s.APIURL(), CloudURL: s.CloudURL(), BillID: "E2E-STRICT", Wait: time.Minute, HTTP: testenv.CheckedClient(t)}, &timeline); err != nil {
		t.Fatalf("demos on the strict cloud: %v\n%s", err, timeline.String())
	}
	for _, run := range harness.DemoRuns {
		st, err := harness.WaitStageVia(ctx, testenv.CheckedClient(t), s.APIURL()+"/v1/bills/OA/E2E-STRICT-"+run.Suffix, "", 10*time.Second, workflows.StageCompleted)
		if err != nil || st.Bill.BillTaxNo != run.TaxNo {
			t.Fatalf("demo bill of %s on the strict cloud: %v (billTaxNo %s)", run.TaxNo, err, st.Bill.BillTaxNo)
		}
	}
}
