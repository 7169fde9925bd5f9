package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/app"
	"rimflow/internal/codec"
	"rimflow/internal/config"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// cliStack is a real Temporal server (temporaltest), the real worker and the simulator; the CLI
// reaches Temporal through the same RIMFLOW_TEMPORAL_* variables a user sets.
type cliStack struct {
	simURL string
	cloud  *harness.Cloud
}

func newCLIStack(t *testing.T) *cliStack {
	t.Helper()
	ts := harness.NewTestServer(t)
	// Payloads are sealed as in production: the worker's client and the CLI share a key.
	key, err := codec.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := codec.ParseKeyring("test", key)
	if err != nil {
		t.Fatal(err)
	}
	var opts client.Options
	codec.New(ring).Apply(&opts)
	c := ts.NewClientWithOptions(opts)
	ns := ts.GetDefaultNamespace()
	cloudEnv := harness.NewCloud(t, simulator.Options{Seed: 11}, nil)
	cloud := cloudEnv.Client
	// The worker checks the CLI's signatures with keys derived from the same payload key.
	w, err := app.NewWorker(c, enterprises.Single(cloud), app.WorkerOptions{Voice: codec.New(ring).Voice()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	t.Setenv(config.EnvTemporalAddress, ts.GetFrontendHostPort())
	t.Setenv(config.EnvTemporalNamespace, ns)
	t.Setenv(config.EnvAPIToken, "")
	t.Setenv(config.EnvCodecKeys, key)
	return &cliStack{simURL: cloudEnv.URL, cloud: cloudEnv}
}

// starter runs the CLI in-process and returns the exit code, stdout and stderr.
func starter(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

func waitCLIStage(t *testing.T, ref string, stage workflows.Stage) workflows.BillState {
	t.Helper()
	var st workflows.BillState
	for i := 0; i < 900; i++ {
		if code, out, _ := starter(t, "", "status", ref); code == 0 {
			st = mustJSON[workflows.BillState](t, out)
			if st.Stage == stage {
				return st
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never reached %s; last %s %+v", ref, stage, st.Stage, st.Error)
	return st
}

func TestCLIDrivesABill(t *testing.T) {
	s := newCLIStack(t)
	// The CLI reads only the Temporal connection: the worker's settings cannot stop it.
	t.Setenv(config.EnvCloudBaseURL, "ftp://not-a-cloud")
	t.Setenv(config.EnvCloudAppID, "")
	t.Setenv(config.EnvWorkflowCacheSize, "none")

	// Bad input: exit 2, JSON error on stderr naming the flags' fields, nothing on stdout.
	code, out, errOut := starter(t, "", "start", "--bill-id", "C-0", "--resource", "OA")
	if code != exitBadArgs || out != "" {
		t.Fatalf("bad start: exit %d stdout %q", code, out)
	}
	e := mustJSON[api.ErrorBody](t, errOut)
	for _, f := range []string{"--bill-no", "--bill-type", "--user-id", "--tax-no"} {
		if e.Error.Fields[f] == "" {
			t.Errorf("bad start: %s not named in %v", f, e.Error.Fields)
		}
	}
	if code, _, errOut := starter(t, "", "approve", "OA/C-1", "--role"); code != exitBadArgs || !strings.Contains(errOut, `"--role"`) {
		t.Errorf("flag without value: exit %d %s", code, errOut)
	}
	if code, _, errOut := starter(t, "", "frobnicate"); code != exitBadArgs || !strings.Contains(errOut, "unknown verb") {
		t.Errorf("unknown verb: exit %d %s", code, errOut)
	}
	// One way to the bills: the CLI has no HTTP mode.
	if code, _, errOut := starter(t, "", "status", "OA/C-1", "--api", "http://127.0.0.1:8080"); code != exitBadArgs || !strings.Contains(errOut, `"--api"`) {
		t.Errorf("--api: exit %d %s", code, errOut)
	}

	// start from stdin JSON (the POST /v1/bills body), then again from flags: created, then joined.
	body := `{"billId":"C-1","billNo":"BX-C-1","billType":"er_dailyreimbursebill","resource":"OA",
		"billTaxNo":"91330100MA2B3C4D5N","userId":"u-1","options":{"approvals":["supervisor"]}}`
	code, out, errOut = starter(t, body, "start", "--file", "-")
	if code != 0 {
		t.Fatalf("start: exit %d %s", code, errOut)
	}
	first := mustJSON[startOutput](t, out)
	if !first.Created || first.WorkflowID != "bill:OA:C-1" || first.Collect.PC == "" || first.Stage != workflows.StageCollecting {
		t.Errorf("start output %+v", first)
	}
	code, out, _ = starter(t, "", "start", "--bill-id", "C-1", "--bill-no", "BX-C-1", "--bill-type", "er_dailyreimbursebill",
		"--resource", "OA", "--tax-no", "91330100MA2B3C4D5N", "--user-id", "u-1", "--approvals", "supervisor")
	if code != 0 || mustJSON[startOutput](t, out).Created {
		t.Errorf("second start: exit %d, %s", code, out)
	}

	// url, then the user collects in the cloud; the bill moves to the supervisor.
	code, out, errOut = starter(t, "", "url", "--resource", "OA", "--bill", "C-1", "--client", "pc")
	if code != 0 {
		t.Fatalf("url: exit %d %s", code, errOut)
	}
	url := mustJSON[workflows.CollectURLResponse](t, out)
	resp, err := http.Post(s.simURL+"/__sim/collect", "application/json",
		strings.NewReader(`{"eventCode":"`+url.EventCode+`","count":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sim collect: %v %v", err, resp)
	}
	resp.Body.Close()
	waitCLIStage(t, "OA/C-1", workflows.StageAwaitingSupervisor)

	// Forward the bill's own invoices from stdin (deduplicated by the bill); a payload that is not
	// an object is refused before anything is sent.
	st := waitCLIStage(t, "OA/C-1", workflows.StageAwaitingSupervisor)
	payload, _ := json.Marshal(map[string]any{"invoiceData": []map[string]string{{"serialNo": st.Invoices[0].SerialNo, "buyerTaxNo": st.Invoices[0].BuyerTaxNo}}})
	code, out, errOut = starter(t, string(payload), "invoices", "OA/C-1", "--file", "-")
	if code != 0 || mustJSON[api.InvoicesAccepted](t, out).Invoices != 1 {
		t.Errorf("invoices: exit %d %s %s", code, out, errOut)
	}
	if code, _, errOut := starter(t, `[1]`, "invoices", "OA/C-1", "--file", "-"); code != exitBadArgs || !strings.Contains(errOut, `"--file"`) {
		t.Errorf("bad payload: exit %d %s", code, errOut)
	}
	// A submit after autoSubmit did it repeats what was applied: answered with the state, exit 0.
	if code, out, errOut := starter(t, "", "submit", "--resource", "OA", "--bill", "C-1"); code != 0 || mustJSON[workflows.BillState](t, out).Stage != workflows.StageAwaitingSupervisor {
		t.Errorf("late submit: exit %d %s", code, errOut)
	}

	// A role this bill does not have → exit 2, the workflow's validator names the field.
	code, _, errOut = starter(t, "", "approve", "OA/C-1", "--role", "finance", "--approver", "f")
	if code != exitBadArgs || mustJSON[api.ErrorBody](t, errOut).Error.Fields["role"] == "" {
		t.Errorf("unknown-role approval: exit %d %s", code, errOut)
	}
	code, out, errOut = starter(t, "", "approve", "OA/C-1", "--role", "supervisor", "--approver", "sup-1")
	if code != 0 {
		t.Fatalf("approve: exit %d %s", code, errOut)
	}
	// A decision prints the bill in brief (the API's answer); the state verb prints the whole.
	if d := mustJSON[workflows.Decision](t, out); d.Stage != workflows.StageAwaitingVoucher || d.InvoiceCount != 1 {
		t.Errorf("after approval: %+v", d)
	}
	_, out, _ = starter(t, "", "status", "OA/C-1")
	if st := mustJSON[workflows.BillState](t, out); len(st.Approvals) != 1 || st.Approvals[0].Client != api.CLIClient || st.Approvals[0].User != "sup-1" {
		t.Errorf("after approval: %s %+v", st.Stage, st.Approvals)
	}
	// The CLI's decision body may not claim who decides either.
	if code, _, errOut := starter(t, `{"scanBillNo":"S","actor":{"client":"erp"}}`, "images", "OA/C-1", "--file", "-"); code != exitBadArgs ||
		mustJSON[api.ErrorBody](t, errOut).Error.Fields["actor"] == "" {
		t.Errorf("actor in a file: exit %d %s", code, errOut)
	}

	// The same decision again (a retry) is answered with the state; another decision for a role
	// that has decided → exit 1 with the bill's 409.
	if code, out, errOut := starter(t, "", "approve", "OA/C-1", "--role", "supervisor", "--approver", "sup-1"); code != 0 ||
		mustJSON[workflows.BillState](t, out).Stage != workflows.StageAwaitingVoucher {
		t.Errorf("repeated approval: exit %d %s", code, errOut)
	}
	code, _, errOut = starter(t, "", "reject", "OA/C-1", "--role", "supervisor", "--approver", "sup-1")
	if code != exitFailed || mustJSON[api.ErrorBody](t, errOut).Error.Code != api.CodeConflict {
		t.Errorf("wrong-stage decision: exit %d %s", code, errOut)
	}

	code, _, errOut = starter(t, "", "voucher", "OA/C-1", "--vouch-id", "V-9", "--vouch-no", "记-9",
		"--account-date", "2026-02-28", "--account-time", "2026-02-28", "--business-date", "2026-02-27", "--voucher-resource", "SAP")
	if code != 0 {
		t.Fatalf("voucher: exit %d %s", code, errOut)
	}
	waitCLIStage(t, "OA/C-1", workflows.StageCompleted)

	// list from visibility; a bad filter names the flag.
	var listed api.ListResponse
	for i := 0; i < 300 && len(listed.Bills) == 0; i++ {
		code, out, errOut = starter(t, "", "list", "--stage", "completed", "--bill-no", "BX-C-1")
		if code != 0 {
			t.Fatalf("list: exit %d %s", code, errOut)
		}
		listed = mustJSON[api.ListResponse](t, out)
		time.Sleep(100 * time.Millisecond)
	}
	if len(listed.Bills) != 1 || listed.Bills[0].ID != "OA/C-1" {
		t.Errorf("list: %+v", listed)
	}
	code, _, errOut = starter(t, "", "list", "--overdue=perhaps")
	if code != exitBadArgs || mustJSON[api.ErrorBody](t, errOut).Error.Fields["--overdue"] == "" {
		t.Errorf("bad list filter: exit %d %s", code, errOut)
	}

	// A finished bill: cancel is refused; an unknown bill is not found.
	if code, _, errOut := starter(t, "", "cancel", "OA/C-1", "--reason", "late"); code != exitFailed || !strings.Contains(errOut, api.CodeAlreadyFinished) {
		t.Errorf("cancel after completion: exit %d %s", code, errOut)
	}
	if code, _, errOut := starter(t, "", "status", "OA/nope"); code != exitFailed || !strings.Contains(errOut, api.CodeNotFound) {
		t.Errorf("unknown bill: exit %d %s", code, errOut)
	}
}

func TestServeAnswersAndStopsGracefully(t *testing.T) {
	newCLIStack(t)
	t.Setenv(config.EnvAPIToken, "serve-token-0123456789abcdef01234567")
	ctx, cancel := context.WithCancel(context.Background())
	stdout, w := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0"}, strings.NewReader(""), w, io.Discard)
		w.Close()
	}()
	dec := json.NewDecoder(bufio.NewReader(stdout))
	var ready map[string]string
	if err := dec.Decode(&ready); err != nil {
		t.Fatalf("serve printed no ready line: %v", err)
	}
	if ready["auth"] != "bearer" || !strings.HasPrefix(ready["listening"], "http://127.0.0.1:") || !strings.HasPrefix(ready["ops"], "http://127.0.0.1:") {
		t.Fatalf("ready line %v", ready)
	}
	go io.Copy(io.Discard, stdout)
	// The ops listener serves the metrics and the health check without a token; the API's own
	// port no longer serves the metrics, even to the token that may do everything.
	for path, want := range map[string]string{"/metrics": "rimflow_pushes_total", "/healthz": `"ok"`} {
		resp, err := http.Get(ready["ops"] + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("ops listener %s: %d %.200s", path, resp.StatusCode, body)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, ready["listening"]+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer serve-token-0123456789abcdef01234567")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("the API's /metrics beside an ops listener: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	resp, err := http.Get(ready["listening"] + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = http.Get(ready["listening"] + "/v1/bills")
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("no token: %v %v", err, resp)
	}
	resp.Body.Close()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit %d after shutdown", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of its context ending")
	}
}

// An API with no client configured refuses to listen beyond loopback, before it dials anything.
func TestServeRefusesToListenOpenOffLoopback(t *testing.T) {
	t.Setenv(config.EnvAPIToken, "")
	t.Setenv(config.EnvAPIClientsFile, "")
	t.Setenv(config.EnvPayloadEncryption, "off")
	t.Setenv(config.EnvTemporalAddress, "127.0.0.1:1")
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		code, _, errOut := starter(t, "", "serve", "--addr", addr)
		if code != exitBadArgs || mustJSON[api.ErrorBody](t, errOut).Error.Fields["--addr"] == "" || !strings.Contains(errOut, "refuses to listen") {
			t.Errorf("open API on %s: exit %d %s", addr, code, errOut)
		}
	}
}

// The ops listener serves the metrics without a token: a public address is refused, by the flag's
// name and by the variable's, before anything is dialled.
func TestServeRefusesAPublicOpsListener(t *testing.T) {
	t.Setenv(config.EnvAPIToken, "serve-token-0123456789abcdef01234567")
	t.Setenv(config.EnvPayloadEncryption, "off")
	t.Setenv(config.EnvTemporalAddress, "127.0.0.1:1")
	code, _, errOut := starter(t, "", "serve", "--addr", "127.0.0.1:0", "--ops-addr", "203.0.113.7:9091")
	if code != exitBadArgs || mustJSON[api.ErrorBody](t, errOut).Error.Fields["--ops-addr"] == "" || !strings.Contains(errOut, "public address") {
		t.Errorf("--ops-addr on a public address: exit %d %s", code, errOut)
	}
	t.Setenv(config.EnvAPIOpsAddr, "203.0.113.7:9091")
	code, _, errOut = starter(t, "", "serve", "--addr", "127.0.0.1:0")
	if code != exitBadArgs || !strings.Contains(errOut, config.EnvAPIOpsAddr) {
		t.Errorf("%s on a public address: exit %d %s", config.EnvAPIOpsAddr, code, errOut)
	}
}

// codec-keys creates the key file once, keeps it, and rotates a new key on top.
func TestCodecKeysVerb(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys", "codec.keys")
	code, out, errOut := starter(t, "", "codec-keys", "--file", file)
	if code != 0 || !mustJSON[keyFileOutput](t, out).Created {
		t.Fatalf("create: exit %d %s %s", code, out, errOut)
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	first, _ := os.ReadFile(file)
	if code, out, _ := starter(t, "", "codec-keys", "--file", file); code != 0 || mustJSON[keyFileOutput](t, out).Created {
		t.Errorf("second run created again: %s", out)
	}
	if again, _ := os.ReadFile(file); !bytes.Equal(first, again) {
		t.Error("the second run changed the key file")
	}
	code, out, _ = starter(t, "", "codec-keys", "--file", file, "--rotate", "k2")
	if got := mustJSON[keyFileOutput](t, out); code != 0 || strings.Join(got.KeyIDs, ",") != "k2,k1" {
		t.Errorf("rotate: exit %d %+v", code, got)
	}
	if strings.Contains(out, string(first[len(first)-20:len(first)-2])) {
		t.Error("codec-keys printed key material")
	}
	if code, _, errOut := starter(t, "", "codec-keys", "--file", file, "--rotate", "k2"); code != exitBadArgs || !strings.Contains(errOut, "already there") {
		t.Errorf("rotate to an existing ID: exit %d %s", code, errOut)
	}
}

// sim posts a body to the simulator's test API.
func (s *cliStack) sim(t *testing.T, path string, body any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	resp, err := http.Post(s.simURL+path, "application/json", bytes.NewReader(raw))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sim %s: %v %v", path, err, resp)
	}
	resp.Body.Close()
}

// The verbs the first test does not drive: amend and retry a bill refused at start, view-url,
// remove, return, then resolve a cancel whose unbind the cloud refuses for good.
func TestCLIRepairsABill(t *testing.T) {
	s := newCLIStack(t)
	s.sim(t, "/__sim/faults", map[string]any{"errorRate": 1, "messageTypes": []string{"getEventCode"},
		"refuseCode": "1001", "refuseField": "billTaxNo"})
	code, _, errOut := starter(t, "", "start", "--bill-id", "C-2", "--bill-no", "BX-C-2", "--bill-type", "er_dailyreimbursebill",
		"--resource", "OA", "--tax-no", "91330100MA2B3C4D5N", "--user-id", "u-2", "--approvals", "supervisor", "--auto-submit", "false")
	s.sim(t, "/__sim/faults", map[string]any{})
	if code != exitFailed || mustJSON[api.ErrorBody](t, errOut).Error.Code != api.CodeCloudRefused {
		t.Fatalf("refused start: exit %d %s", code, errOut)
	}
	waitCLIStage(t, "OA/C-2", workflows.StageFailed)

	// amend names its flags in a refusal; a good one normalises the tax number; retry runs the step again.
	if code, _, errOut := starter(t, "", "amend", "OA/C-2", "--tax-no", "nope", "--reason", "typo"); code != exitBadArgs ||
		mustJSON[api.ErrorBody](t, errOut).Error.Fields["--tax-no"] == "" {
		t.Errorf("bad amend: exit %d %s", code, errOut)
	}
	code, out, errOut := starter(t, "", "amend", "OA/C-2", "--tax-no", "91440300ma5g9gk78y", "--reason", "typo")
	if code != 0 || mustJSON[workflows.Decision](t, out).Stage != workflows.StageFailed {
		t.Fatalf("amend: exit %d %s %s", code, out, errOut)
	}
	if _, out, _ := starter(t, "", "status", "OA/C-2"); mustJSON[workflows.BillState](t, out).Bill.BillTaxNo != "91440300MA5G9GK78Y" {
		t.Fatalf("after the amend: %s", out)
	}
	code, out, errOut = starter(t, "", "retry", "OA/C-2", "--by", "erp")
	if code != 0 || mustJSON[workflows.BillState](t, out).Stage != workflows.StageCollecting {
		t.Fatalf("retry: exit %d %s %s", code, out, errOut)
	}
	code, out, errOut = starter(t, "", "view-url", "--resource", "OA", "--bill", "C-2", "--client", "mobile")
	if code != 0 || mustJSON[workflows.ViewURLResponse](t, out).URL == "" {
		t.Errorf("view-url: exit %d %s %s", code, out, errOut)
	}

	// Two invoices collected (no auto-submit); remove one, submit, and the supervisor returns it.
	_, out, _ = starter(t, "", "url", "OA/C-2")
	s.sim(t, "/__sim/collect", map[string]any{"eventCode": mustJSON[workflows.CollectURLResponse](t, out).EventCode, "count": 2})
	var st workflows.BillState
	for i := 0; i < 900 && st.InvoiceCount < 2; i++ {
		time.Sleep(100 * time.Millisecond)
		_, out, _ = starter(t, "", "status", "OA/C-2")
		st = mustJSON[workflows.BillState](t, out)
	}
	if st.InvoiceCount != 2 || st.Stage != workflows.StageCollecting {
		t.Fatalf("collected: %s %d invoices", st.Stage, st.InvoiceCount)
	}
	if code, _, errOut := starter(t, "", "remove", "OA/C-2", "--serial-no", st.Invoices[0].SerialNo); code != exitBadArgs ||
		mustJSON[api.ErrorBody](t, errOut).Error.Fields["--reason"] == "" {
		t.Errorf("remove without a reason: exit %d %s", code, errOut)
	}
	code, out, errOut = starter(t, "", "remove", "OA/C-2", "--serial-no", st.Invoices[0].SerialNo, "--reason", "duplicate")
	if code != 0 || mustJSON[workflows.BillState](t, out).InvoiceCount != 1 {
		t.Fatalf("remove: exit %d %s %s", code, out, errOut)
	}
	if code, _, errOut := starter(t, "", "submit", "OA/C-2", "--by", "u-2"); code != 0 {
		t.Fatalf("submit: exit %d %s", code, errOut)
	}
	waitCLIStage(t, "OA/C-2", workflows.StageAwaitingSupervisor)
	code, _, errOut = starter(t, "", "return", "OA/C-2", "--role", "supervisor", "--approver", "sup-1", "--comment", "one more receipt")
	if code != 0 {
		t.Fatalf("return: exit %d %s", code, errOut)
	}
	st = waitCLIStage(t, "OA/C-2", workflows.StageCollecting)
	if len(st.Approvals) != 1 || st.Approvals[0].Decision != "return" || st.Approvals[0].Client != api.CLIClient {
		t.Errorf("after return: %+v", st.Approvals)
	}

	// A bill whose invoices got a voucher posted elsewhere: the cloud refuses the cancel's unbind
	// for good, the bill fails in its compensation, and resolve closes it by hand.
	code, out, errOut = starter(t, "", "start", "--bill-id", "C-3", "--bill-no", "BX-C-3", "--bill-type", "er_dailyreimbursebill",
		"--resource", "OA", "--tax-no", "91330100MA2B3C4D5N", "--user-id", "u-3", "--approvals", "supervisor")
	if code != 0 {
		t.Fatalf("start C-3: exit %d %s", code, errOut)
	}
	_, out, _ = starter(t, "", "url", "OA/C-3")
	s.sim(t, "/__sim/collect", map[string]any{"eventCode": mustJSON[workflows.CollectURLResponse](t, out).EventCode, "count": 1})
	st = waitCLIStage(t, "OA/C-3", workflows.StageAwaitingSupervisor)
	if err := s.cloud.Client.VoucherSave(t.Context(), "elsewhere-C-3", invoicecloud.VoucherSaveRequest{VouchID: "EXT-C-3", VouchNo: "外-1",
		AccountDate: "2026-11-30", AccountTime: "2026-11-30", BusinessDate: "2026-11-29", Resource: "SAP",
		SerialNoArray: []string{st.Invoices[0].SerialNo}, ExpenseIDArray: []string{"C-3"}}); err != nil {
		t.Fatalf("voucher elsewhere: %v", err)
	}
	if code, _, errOut := starter(t, "", "cancel", "OA/C-3", "--reason", "raised twice"); code != exitFailed ||
		mustJSON[api.ErrorBody](t, errOut).Error.Step != "compensate:unbind" {
		t.Fatalf("cancel: exit %d %s", code, errOut)
	}
	waitCLIStage(t, "OA/C-3", workflows.StageFailed)
	code, out, errOut = starter(t, "", "resolve", "OA/C-3", "--by", "ops-li", "--reason", "voucher reversed in SAP",
		"--done", "invoices released in the vendor console")
	if d := mustJSON[workflows.Decision](t, out); code != 0 || d.Stage != workflows.StageCancelled {
		t.Errorf("resolve: exit %d %s %s", code, out, errOut)
	}
	if _, out, _ := starter(t, "", "status", "OA/C-3"); len(mustJSON[workflows.BillState](t, out).Resolutions) != 1 {
		t.Errorf("after resolve: %s", out)
	}
}

// enterprises lists the registry the environment describes and logs in to each enterprise.
func TestEnterprisesVerb(t *testing.T) {
	cloud := harness.NewCloud(t, simulator.Options{Seed: 12}, nil)
	creds := cloud.Sim.Options().Credentials
	for k, v := range map[string]string{config.EnvCloudBaseURL: cloud.URL, config.EnvCloudAppID: creds.AppID,
		config.EnvCloudAppSecret: creds.AppSecret, config.EnvCloudTenantID: creds.TenantID,
		config.EnvCloudAccountID: creds.AccountID, config.EnvCloudUser: creds.User} {
		t.Setenv(k, v)
	}
	if code, _, errOut := starter(t, "", "enterprises"); code != exitBadArgs || !strings.Contains(errOut, "list, check") {
		t.Errorf("no sub-command: exit %d %s", code, errOut)
	}
	type listing struct {
		Enterprises []EnterpriseCheck `json:"enterprises"`
	}
	code, out, errOut := starter(t, "", "enterprises", "list")
	if got := mustJSON[listing](t, out); code != 0 || len(got.Enterprises) != 1 {
		t.Errorf("list: exit %d %s %s", code, out, errOut)
	}
	code, out, errOut = starter(t, "", "enterprises", "check")
	if got := mustJSON[listing](t, out); code != 0 || len(got.Enterprises) != 1 || !got.Enterprises[0].OK {
		t.Errorf("check: exit %d %s %s", code, out, errOut)
	}
	t.Setenv(config.EnvCloudAppSecret, "not-the-secret-7731")
	code, out, _ = starter(t, "", "enterprises", "check")
	if got := mustJSON[listing](t, out); code != exitFailed || len(got.Enterprises) != 1 || got.Enterprises[0].OK ||
		got.Enterprises[0].Error == "" || strings.Contains(out, "not-the-secret-7731") {
		t.Errorf("check with a wrong secret: exit %d %s", code, out)
	}
}
