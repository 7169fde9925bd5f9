package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/internal/config"
	"rimflow/internal/workerapp"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// cliStack is a real Temporal server (temporaltest), the real worker and the simulator; the CLI
// reaches Temporal through the same RIMFLOW_TEMPORAL_* variables a user sets.
type cliStack struct {
	simURL string
}

func newCLIStack(t *testing.T) *cliStack {
	t.Helper()
	ts := testenv.NewServer(t)
	c := ts.GetDefaultClient()
	ns := ts.GetDefaultNamespace()
	cloudEnv := testenv.NewCloud(t, simulator.Options{Seed: 11}, nil)
	cloud := cloudEnv.Client
	w, err := workerapp.New(c, cloud, workerapp.Options{})
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
	return &cliStack{simURL: cloudEnv.URL}
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
		"billTaxNo":"91330100MA2B3C4D5E","userId":"u-1","options":{"approvals":["supervisor"]}}`
	code, out, errOut = starter(t, body, "start", "--file", "-")
	if code != 0 {
		t.Fatalf("start: exit %d %s", code, errOut)
	}
	first := mustJSON[startOutput](t, out)
	if !first.Created || first.WorkflowID != "bill:OA:C-1" || first.Collect.PC == "" || first.Stage != workflows.StageCollecting {
		t.Errorf("start output %+v", first)
	}
	code, out, _ = starter(t, "", "start", "--bill-id", "C-1", "--bill-no", "BX-C-1", "--bill-type", "er_dailyreimbursebill",
		"--resource", "OA", "--tax-no", "91330100MA2B3C4D5E", "--user-id", "u-1", "--approvals", "supervisor")
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
	payload, _ := json.Marshal(map[string]any{"invoiceData": []map[string]string{{"serialNo": st.Invoices[0].SerialNo}}})
	code, out, errOut = starter(t, string(payload), "invoices", "OA/C-1", "--file", "-")
	if code != 0 || mustJSON[api.InvoicesAccepted](t, out).Invoices != 1 {
		t.Errorf("invoices: exit %d %s %s", code, out, errOut)
	}
	if code, _, errOut := starter(t, `[1]`, "invoices", "OA/C-1", "--file", "-"); code != exitBadArgs || !strings.Contains(errOut, `"--file"`) {
		t.Errorf("bad payload: exit %d %s", code, errOut)
	}
	// submit outside collecting is the bill's 409.
	if code, _, errOut := starter(t, "", "submit", "--resource", "OA", "--bill", "C-1"); code != exitFailed || !strings.Contains(errOut, api.CodeConflict) {
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
	if st := mustJSON[workflows.BillState](t, out); st.Stage != workflows.StageAwaitingVoucher {
		t.Errorf("after approval: %s", st.Stage)
	}

	// Deciding again in the next stage → exit 1 with the bill's 409.
	code, _, errOut = starter(t, "", "approve", "OA/C-1", "--role", "supervisor", "--approver", "sup-1")
	if code != exitFailed || mustJSON[api.ErrorBody](t, errOut).Error.Code != api.CodeConflict {
		t.Errorf("wrong-stage approval: exit %d %s", code, errOut)
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
	t.Setenv(config.EnvAPIToken, "serve-token")
	ctx, cancel := context.WithCancel(context.Background())
	stdout, w := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, strings.NewReader(""), w, io.Discard)
		w.Close()
	}()
	dec := json.NewDecoder(bufio.NewReader(stdout))
	var ready map[string]string
	if err := dec.Decode(&ready); err != nil {
		t.Fatalf("serve printed no ready line: %v", err)
	}
	if ready["auth"] != "bearer" || !strings.HasPrefix(ready["listening"], "http://127.0.0.1:") {
		t.Fatalf("ready line %v", ready)
	}
	go io.Copy(io.Discard, stdout)
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
