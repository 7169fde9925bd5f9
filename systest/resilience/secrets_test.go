package resilience

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"rimflow/api"
	"rimflow/bench/kit"
	"rimflow/cloudsim/simulator"
)

// TestNoSecretInLogsOrErrors runs bills with every component logging at debug level — the
// embedded server, the simulator, the ERP's client, the HTTP API (in this process, into one
// buffer) and the worker process (its stderr) — through a token expiry and injected 5xx, with
// the access token in the header and in the query string. No secret (app secret, client
// secret, the API's bearer token) and no token the simulator issued (app, access, OAuth2)
// may appear in any log line, in any error the API answers, or in the bill's history (where
// activity errors are recorded).
func TestNoSecretInLogsOrErrors(t *testing.T) {
	for _, placement := range []string{"header", "query"} {
		t.Run("token in "+placement, func(t *testing.T) { secretsRun(t, placement) })
	}
}

func secretsRun(t *testing.T, placement string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logs := &syncBuffer{}
	debug := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	creds := simulator.DefaultCredentials()
	creds.AppSecret = "app-secret-" + randomHex()
	creds.ClientSecret = "client-secret-" + randomHex()
	env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 41, Logger: debug, ServerLogLevel: slog.LevelDebug,
		Sim: simulator.Options{Credentials: creds}})

	workerLogs := &syncBuffer{}
	w, err := kit.StartWorker(ctx, env.Client, kit.WorkerOptions{
		Path: workerBin, Stderr: workerLogs,
		Env: append(env.WorkerEnv("debug"), "RIMFLOW_CLOUD_TOKEN_PLACEMENT="+placement),
	})
	if err != nil {
		t.Fatalf("start worker: %v", err)
	}
	defer func() { _ = w.Stop(10 * time.Second) }()

	apiToken := "api-token-" + randomHex()
	apiSrv := httptest.NewServer(api.New(api.Options{Client: env.Client, Namespace: env.Server.Namespace(),
		Token: apiToken, Logger: debug.With("component", "api")}))
	defer apiSrv.Close()

	d := &kit.Driver{Env: env, Resource: "SECRET", Invoices: 2, StepTimeout: 2 * time.Minute}
	if err := d.Life(ctx, "clean"); err != nil {
		t.Fatalf("bill: %v", err)
	}
	// The unhappy paths log and fail the most: every token revoked, half the calls 5xx.
	if err := env.Sim.SetFaults(simulator.Faults{ErrorRate: 0.5, ExpireTokens: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.Park(ctx, "faulty"); err != nil {
		t.Fatalf("bill under faults: %v", err)
	}
	env.Sim.ClearFaults()
	if err := d.Drain(ctx, "faulty"); err != nil {
		t.Fatalf("bill under faults: %v", err)
	}

	// The API's answers, good and bad, with the right token and a wrong one.
	var answers strings.Builder
	for _, call := range []struct{ method, path, token, body string }{
		{"GET", "/v1/bills/SECRET/faulty", apiToken, ""},
		{"GET", "/v1/bills/SECRET/faulty", "wrong-" + apiToken[:8], ""},
		{"POST", "/v1/bills/SECRET/faulty/approvals", apiToken, `{"role":"finance","decision":"approve","approver":"x"}`},
		{"POST", "/v1/bills", apiToken, `{"billId":"x","resource":"this-is-far-too-long"}`},
	} {
		req, _ := http.NewRequestWithContext(ctx, call.method, apiSrv.URL+call.path, strings.NewReader(call.body))
		req.Header.Set("Authorization", "Bearer "+call.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", call.method, call.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answers.Write(b)
		answers.WriteByte('\n')
	}

	// The bills' histories hold every activity error (the cloud's 5xx, the rejected tokens).
	var histories strings.Builder
	for _, id := range []string{"clean", "faulty"} {
		it := env.Client.GetWorkflowHistory(ctx, d.Ref(id).WorkflowID(), "", false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", id, err)
			}
			b, _ := protojson.Marshal(ev)
			histories.Write(b)
			histories.WriteByte('\n')
		}
	}
	_ = w.Stop(10 * time.Second) // flush the worker's last lines

	secrets := map[string]string{"app secret": creds.AppSecret, "client secret": creds.ClientSecret, "API token": apiToken}
	tokens := env.Sim.IssuedTokens()
	for i, tok := range tokens {
		secrets["issued token #"+strconv.Itoa(i)] = tok
	}
	st := env.Sim.Stats()
	if st.TokensIssued.Access < 2 || st.TokenRejections == 0 || st.FaultsInjected == 0 {
		t.Fatalf("the run did not exercise token refresh and errors: %+v", st.TokensIssued)
	}
	sources := map[string]string{
		"in-process logs (server, simulator, client, API)": logs.String(),
		"worker process stderr":                            workerLogs.String(),
		"API answers":                                      answers.String(),
		"workflow histories (activity errors)":             histories.String(),
	}
	lines := 0
	for where, text := range sources {
		lines += strings.Count(text, "\n")
		for name, secret := range secrets {
			if strings.Contains(text, secret) {
				i := strings.Index(text, secret)
				t.Errorf("%s leaks the %s: …%s…", where, name, redactAround(text, i, len(secret)))
			}
		}
	}
	if !strings.Contains(workerLogs.String(), `"level":"DEBUG"`) {
		t.Errorf("the worker did not log at debug level; the check would prove nothing")
	}
	t.Logf("%d secrets and tokens (%d issued tokens) absent from %d log lines, API answers and history events",
		len(secrets), len(tokens), lines)
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
