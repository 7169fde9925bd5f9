package resilience

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"rimflow/api"
	"rimflow/bench/kit"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/config"
	"rimflow/invoicecloud"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// TestNoSecretInLogsOrErrors runs bills through the HTTP API (the real `starter serve` process)
// with every component logging at debug level: the embedded server, the simulator and the
// ERP's client in this process (one buffer), the worker process and the API process (stdout
// and stderr of each, read whole). It does so through a token expiry and injected 5xx, in both
// auth modes (legacy, OAuth2) and with the access token in the header and in the query string.
// No secret (app secret, client secret, the API's bearer token) and no token the simulator
// issued may appear in any output line, in any answer of the API (good and bad), or in the
// bills' workflow histories (where activity errors are recorded).
func TestNoSecretInLogsOrErrors(t *testing.T) {
	t.Parallel() // its own server, simulator and worker: it runs beside the other cases
	for _, run := range []struct{ name, auth, placement string }{
		{"legacy auth, token in header", "legacy", "header"},
		{"legacy auth, token in query", "legacy", "query"},
		{"oauth2 auth, token in header", "oauth2", "header"},
	} {
		t.Run(run.name, func(t *testing.T) { secretsRun(t, run.auth, run.placement) })
	}
}

func secretsRun(t *testing.T, auth, placement string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	logs := &harness.LogBuffer{}
	debug := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	creds := simulator.DefaultCredentials()
	creds.AppSecret = "app-secret-" + randomHex()
	creds.ClientSecret = "client-secret-" + randomHex()
	env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 41, Logger: debug, ServerLogLevel: slog.LevelDebug,
		Sim: simulator.Options{Credentials: creds}})

	workerOut, workerErr := &harness.LogBuffer{}, &harness.LogBuffer{}
	w, err := harness.StartWorker(ctx, env.Client, harness.WorkerOptions{
		Path: workerBin, Stdout: workerOut, Stderr: workerErr,
		Env: append(env.WorkerEnv("debug"), config.EnvCloudAuthMode+"="+auth, config.EnvCloudTokenPlace+"="+placement),
	})
	if err != nil {
		t.Fatalf("start worker: %v; stderr %s", err, tailOf(workerErr.String(), 2000))
	}
	defer func() { _ = w.Stop(30 * time.Second) }()

	apiToken := "api-token-" + randomHex()
	ap := startAPI(t, ctx, env, "debug", config.EnvAPIToken+"="+apiToken)
	erp := &httpERP{t: t, ctx: ctx, api: ap.URL, cloud: env.CloudURL, token: apiToken}

	erp.life("clean", nil)
	// The unhappy paths log and fail the most: every token revoked, half the calls 5xx, while the
	// bill starts and binds.
	erp.life("faulty", func(bound bool) {
		if bound {
			env.Sim.ClearFaults()
		} else {
			simFaults(t, env.Sim, simulator.Faults{ErrorRate: 0.5, ExpireTokens: true})
		}
	})
	// The API's error answers, each kind.
	erp.expect(http.StatusUnauthorized, "GET", "/v1/bills/SECRET/faulty", "wrong-"+apiToken[:8], nil)
	erp.expect(http.StatusBadRequest, "POST", "/v1/bills", apiToken, `{"billId":"x","resource":"this-is-far-too-long"}`)
	erp.expect(http.StatusNotFound, "GET", "/v1/bills/SECRET/nope", apiToken, nil)
	erp.expect(http.StatusConflict, "POST", "/v1/bills/SECRET/faulty/approvals", apiToken,
		workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: "x"})

	// The bills' histories hold every activity error (the cloud's 5xx, the rejected tokens).
	var histories strings.Builder
	events := 0
	for _, id := range []string{"clean", "faulty"} {
		it := env.Client.GetWorkflowHistory(ctx, workflows.BillWorkflowID("SECRET", id), "", false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", id, err)
			}
			b, err := protojson.Marshal(ev)
			if err != nil {
				t.Fatalf("history of %s: %v", id, err)
			}
			histories.Write(b)
			histories.WriteByte('\n')
			events++
		}
	}
	// Stop both processes so their last lines are written.
	if err := ap.Stop(30 * time.Second); err != nil {
		t.Errorf("API process: %v", err)
	}
	if err := w.Stop(30 * time.Second); err != nil {
		t.Errorf("worker process: %v", err)
	}

	st := env.Sim.Stats()
	switch {
	case st.TokenRejections == 0 || st.FaultsInjected == 0:
		t.Fatalf("the run did not exercise rejected tokens and 5xx: %d rejections, %d faults", st.TokenRejections, st.FaultsInjected)
	case auth == "oauth2" && (st.TokensIssued.OAuth2 < 2 || st.TokensIssued.Access != 0):
		t.Fatalf("oauth2: tokens issued %+v, want ≥ 2 OAuth2 tokens (one renewed after the expiry) and no legacy ones", st.TokensIssued)
	case auth == "legacy" && (st.TokensIssued.Access < 2 || st.TokensIssued.OAuth2 != 0):
		t.Fatalf("legacy: tokens issued %+v, want ≥ 2 access tokens (one renewed after the expiry) and no OAuth2 ones", st.TokensIssued)
	case (placement == "query") != (env.Tap.QueryTokens.Load() > 0):
		t.Fatalf("token placement %s, but %d business calls carried the token in the query", placement, env.Tap.QueryTokens.Load())
	}
	secrets := map[string]string{"app secret": creds.AppSecret, "client secret": creds.ClientSecret, "API token": apiToken}
	tokens := env.Sim.IssuedTokens()
	for i, tok := range tokens {
		secrets["issued token #"+strconv.Itoa(i)] = tok
	}
	logSources := map[string]string{
		"in-process logs (server, simulator, ERP client)": logs.String(),
		"worker stdout": workerOut.String(), "worker stderr": workerErr.String(),
		"API stdout": ap.stdout.String(), "API stderr": ap.stderr.String(),
	}
	sources := map[string]string{"API answers": erp.answers.String(), "workflow histories": histories.String()}
	lines := map[string]int{}
	for where, text := range logSources {
		sources[where] = text
		lines[where] = strings.Count(text, "\n")
	}
	for where, text := range sources {
		for name, secret := range secrets {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s leaks the %s: …%s…", where, name, redactAround(text, i, len(secret)))
			}
		}
	}
	// The check proves something only if every component talked, at debug level.
	for where, marker := range map[string]string{
		"worker stderr": `"level":"DEBUG"`, "API stderr": `"level":"DEBUG"`, "API stdout": `"listening"`,
		"in-process logs (server, simulator, ERP client)": `"component":"cloudsim"`,
	} {
		if !strings.Contains(logSources[where], marker) {
			t.Errorf("%s lacks %s: the check would prove nothing there", where, marker)
		}
	}
	total := 0
	for _, n := range lines {
		total += n
	}
	t.Logf("%d secrets and tokens (%d issued tokens) absent from %d log lines (worker stdout %d, stderr %d; API stdout %d, stderr %d; "+
		"server, simulator and ERP client %d), %d API answers and %d history events",
		len(secrets), len(tokens), total, lines["worker stdout"], lines["worker stderr"], lines["API stdout"], lines["API stderr"],
		lines["in-process logs (server, simulator, ERP client)"], erp.calls, events)
}

// apiProcess is `starter serve`, the HTTP API (harness.API), with its outputs captured.
type apiProcess struct {
	*harness.API
	stdout, stderr *harness.LogBuffer
}

// startAPI starts the built ./starter serve against env on a free loopback port, with extra
// environment variables after env.APIEnv (a later one wins); its stderr is printed if the test
// fails. The test's cleanup stops it.
func startAPI(t *testing.T, ctx context.Context, env *kit.Env, logLevel string, extra ...string) *apiProcess {
	t.Helper()
	p := &apiProcess{stdout: &harness.LogBuffer{}, stderr: &harness.LogBuffer{}}
	a, err := harness.StartAPI(ctx, harness.APIOptions{Path: starterBin, Env: append(env.APIEnv(logLevel), extra...),
		Stdout: p.stdout, Stderr: p.stderr})
	if err != nil {
		t.Fatalf("start the API: %v; its stderr: %s", err, tailOf(p.stderr.String(), 2000))
	}
	p.API = a
	t.Cleanup(func() {
		_ = a.Stop(30 * time.Second)
		if t.Failed() {
			t.Logf("API %d stderr (tail):\n%s", a.PID(), tailOf(p.stderr.String(), 4000))
		}
	})
	return p
}

// httpERP drives bills as an ERP does: over the HTTP API with its bearer token, and imports
// through the simulator's /__sim/collect as the user's browser would. It keeps every answer.
type httpERP struct {
	t                 *testing.T
	ctx               context.Context
	api, cloud, token string
	answers           strings.Builder
	calls             int
}

// call sends one request and keeps its answer.
func (e *httpERP) call(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	status, raw := testenv.Do(e.t, e.ctx, method, e.api+path, token, body)
	e.answers.Write(raw)
	e.answers.WriteByte('\n')
	e.calls++
	return status, raw
}

// expect sends one request that must answer status.
func (e *httpERP) expect(status int, method, path, token string, body any) []byte {
	e.t.Helper()
	got, raw := e.call(method, path, token, body)
	if got != status {
		e.t.Fatalf("%s %s: HTTP %d, want %d: %.300s", method, path, got, status, raw)
	}
	return raw
}

// until repeats a request while it answers a status in retry (an outage the cloud faults cause),
// for at most two minutes.
func (e *httpERP) until(want int, retry []int, method, path string, body any) []byte {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, raw := e.call(method, path, e.token, body)
		if got == want || (want == http.StatusCreated && got == http.StatusOK) {
			return raw
		}
		if !contains(retry, got) || time.Now().After(deadline) {
			e.t.Fatalf("%s %s: HTTP %d, want %d: %.300s", method, path, got, want, raw)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// waitStage polls the bill's state until it reaches stage, for at most two minutes.
func (e *httpERP) waitStage(id string, stage workflows.Stage) {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var st workflows.BillState
	for {
		status, raw := e.call("GET", "/v1/bills/SECRET/"+id, e.token, nil)
		if status == http.StatusOK && json.Unmarshal(raw, &st) == nil && st.Stage == stage {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("bill %s never reached %s within 2 minutes: HTTP %d %.300s", id, stage, status, raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// life runs a bill from start to completed; faults, when given, is called before the start
// (false) and once its invoices are bound (true).
func (e *httpERP) life(id string, faults func(bound bool)) {
	e.t.Helper()
	if faults != nil {
		faults(false)
	}
	in := workflows.BillInput{BillID: id, BillNo: "BX-" + id, BillType: "expense", Resource: "SECRET", BillTaxNo: kit.TaxNo,
		UserID: "u", CompanyInfo: []invoicecloud.Company{{TaxNo: kit.TaxNo, Name: "示例科技有限公司"}}}
	var started api.StartResponse
	if err := json.Unmarshal(e.until(http.StatusCreated, []int{http.StatusServiceUnavailable, http.StatusBadGateway}, "POST", "/v1/bills", in), &started); err != nil {
		e.t.Fatalf("start %s: %v", id, err)
	}
	testenv.Collect(e.t, e.ctx, e.cloud, kit.EventCodeOf(started.Collect.PC), 2)
	e.waitStage(id, workflows.StageAwaitingSupervisor)
	if faults != nil {
		faults(true)
	}
	for _, role := range []string{"supervisor", "finance"} {
		e.until(http.StatusOK, []int{http.StatusServiceUnavailable}, "POST", "/v1/bills/SECRET/"+id+"/approvals",
			workflows.ApproveRequest{Role: role, Decision: workflows.DecisionApprove, Approver: "approver-" + role})
	}
	today := time.Now().Format(time.DateOnly)
	e.until(http.StatusOK, []int{http.StatusServiceUnavailable}, "POST", "/v1/bills/SECRET/"+id+"/voucher",
		workflows.VoucherRequest{VouchID: "V-" + id, VouchNo: "记-" + id, AccountDate: today, AccountTime: today, BusinessDate: today, Resource: "SAP"})
	e.waitStage(id, workflows.StageCompleted)
}

// redactAround shows the context of a leak without printing the secret itself.
func redactAround(text string, i, n int) string {
	from, to := max(i-80, 0), min(i+n+40, len(text))
	return text[from:i] + "<SECRET>" + text[i+n:to]
}

func randomHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
