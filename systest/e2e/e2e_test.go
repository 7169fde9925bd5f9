// Package e2e runs the whole devstack (embedded Temporal on SQLite, Temporal Web, simulator,
// worker, API) on free loopback ports and drives it from outside, over HTTP and in a browser, as
// an ERP, a user and ops would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/internal/devstack"
	"rimflow/invoicecloud"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// The end-to-end test runs the real stack (embedded Temporal on SQLite, simulator, worker, API)
// on free loopback ports and drives bills only through the HTTP API and the simulator's /__sim/
// JSON interface, like an ERP and a user would. One stack serves the subtests (a server start
// costs seconds); each drives its own bills, so none depends on another having run; the restart
// subtest runs last because it replaces the stack.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := newE2E(t, ctx)

	t.Run("happy path to completed, listed by Temporal Web", env.happyPath)
	t.Run("a failed demo does not stop the next and both are reported", env.demoFailures)
	t.Run("duplicate start answers 200 with the same body", env.duplicateStart)
	t.Run("bad input names every field", env.badInput)
	t.Run("approval in the wrong stage is 409", env.wrongStage)
	t.Run("reject releases the invoices", env.reject)
	t.Run("temporal web decodes payloads through the codec server", env.webDecodesThroughCodec)
	t.Run("browser imports on the collect page", env.browserCollect)
	t.Run("restart mid-bill keeps the bill", env.restartMidBill)
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
	dir   string
	opts  devstack.Options
	stack *devstack.Stack
	token string // the API's bearer token, once the stack has one
}

func newE2E(t *testing.T, ctx context.Context) *e2e {
	tw := &testWriter{t: t}
	t.Cleanup(tw.stop) // registered first, so it runs after the stack has closed
	logger := slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	env := &e2e{t: t, ctx: ctx, dir: t.TempDir()}
	// devstack's own simulator, journaled in the data dir: the restart subtest relies on it
	// coming back with the same cloud state, as `go run ./devstack` does.
	env.opts = devstack.Options{
		DataDir: env.dir, TemporalAddr: "127.0.0.1:0", UIAddr: "127.0.0.1:0",
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
	return env
}

func (e *e2e) billURL(id string) string {
	return e.stack.APIURL() + "/v1/bills/OA/" + url.PathEscape(id)
}

// startBill posts a bill and returns the status and the raw body.
func (e *e2e) startBill(t *testing.T, bill workflows.BillInput) (int, []byte) {
	t.Helper()
	return e.post(t, e.stack.APIURL()+"/v1/bills", bill)
}

type startAnswer struct {
	ID         string          `json:"id"`
	WorkflowID string          `json:"workflowId"`
	Stage      workflows.Stage `json:"stage"`
	Collect    workflows.URLs  `json:"collect"`
	View       workflows.URLs  `json:"view"`
}

func (e *e2e) mustStart(t *testing.T, id string) startAnswer {
	t.Helper()
	status, body := e.startBill(t, devstack.DemoBill(id))
	if status != http.StatusCreated {
		t.Fatalf("start %s: HTTP %d, want 201: %s", id, status, body)
	}
	var a startAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("start answer: %v: %s", err, body)
	}
	if a.ID != "OA/"+id || a.WorkflowID != workflows.BillWorkflowID("OA", id) || a.Stage != workflows.StageCollecting {
		t.Fatalf("start answer = %+v", a)
	}
	if a.Collect.PC == "" || a.Collect.Mobile == "" || a.Collect.ExpiresAt == nil {
		t.Fatalf("start answer lacks the collect URLs: %s", body)
	}
	return a
}

// collect imports n invoices in the simulator for the bill's current eventCode and waits until
// the bill has them bound and sits in awaiting_supervisor (autoSubmit).
func (e *e2e) collect(t *testing.T, a startAnswer, n int) workflows.BillState {
	t.Helper()
	collectURL, err := url.Parse(a.Collect.PC)
	if err != nil {
		t.Fatalf("collect URL: %v", err)
	}
	testenv.Collect(t, e.ctx, e.stack.CloudURL(), collectURL.Query().Get("eventCode"), n)
	st := e.waitStage(t, a.ID, workflows.StageAwaitingSupervisor)
	if st.InvoiceCount != n {
		t.Fatalf("bill has %d invoices, want %d", st.InvoiceCount, n)
	}
	for _, inv := range st.Invoices {
		if inv.Status != invoicecloud.StatusInUse {
			t.Fatalf("invoice %s status %s, want %s (bound)", inv.SerialNo, inv.Status, invoicecloud.StatusInUse)
		}
	}
	return st
}

func (e *e2e) waitStage(t *testing.T, id string, want workflows.Stage) workflows.BillState {
	t.Helper()
	st, err := devstack.WaitStage(e.ctx, e.stack.APIURL()+"/v1/bills/"+id, e.token, 90*time.Second, want)
	if err != nil {
		t.Fatalf("bill %s: %v", id, err)
	}
	return st
}

func (e *e2e) approve(t *testing.T, id, role, decision string) (int, []byte) {
	t.Helper()
	return e.post(t, e.stack.APIURL()+"/v1/bills/"+id+"/approvals",
		workflows.ApproveRequest{Role: role, Decision: decision, Approver: "e2e-" + role, Comment: "e2e"})
}

func (e *e2e) post(t *testing.T, u string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	return e.send(t, http.MethodPost, u, b, e.token)
}

// send makes one raw request (bearer token when not empty) and returns the status and body.
func (e *e2e) send(t *testing.T, method, u string, body []byte, token string) (int, []byte) {
	t.Helper()
	return testenv.Do(t, e.ctx, method, u, token, body)
}

// call sends body as JSON (nil = none) with the API's token and decodes the 2xx answer into out
// (nil = ignore); any other answer fails the test.
func (e *e2e) call(t *testing.T, method, u string, body, out any) {
	t.Helper()
	status, raw := testenv.Do(t, e.ctx, method, u, e.token, body)
	if status/100 != 2 {
		t.Fatalf("%s %s: HTTP %d: %.500s", method, u, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: answer is not the expected JSON: %v: %.500s", method, u, err, raw)
		}
	}
}

func (e *e2e) cloudBill(t *testing.T, id string) simulator.BillView {
	t.Helper()
	var b simulator.BillView
	e.call(t, "GET", e.stack.CloudURL()+"/__sim/bills/OA/"+url.PathEscape(id), nil, &b)
	return b
}

// happyPath is `devstack --demo`: a bill on each demo enterprise (ultimate, then standard
// edition) through its whole life.
func (e *e2e) happyPath(t *testing.T) {
	var timeline bytes.Buffer
	err := devstack.RunDemos(e.ctx, devstack.Demo{APIURL: e.stack.APIURL(), CloudURL: e.stack.CloudURL(), BillID: "E2E-HAPPY", Wait: 90 * time.Second}, &timeline)
	t.Logf("timelines:\n%s", timeline.String())
	if err != nil {
		t.Fatalf("demos: %v", err)
	}
	for _, part := range []string{"(" + devstack.DemoTaxNo + ", ultimate edition)", "(" + devstack.DemoStandardTaxNo + ", standard edition)"} {
		if !strings.Contains(timeline.String(), part) {
			t.Errorf("the timelines do not name the enterprise %s", part)
		}
	}
	if n := strings.Count(timeline.String(), "demo completed in "); n != len(devstack.DemoRuns) {
		t.Errorf("%d demos completed, want %d", n, len(devstack.DemoRuns))
	}
	for _, run := range devstack.DemoRuns {
		id := "E2E-HAPPY-" + run.Suffix
		// The cloud saw the whole life: invoices used (60) and the voucher written back.
		cb := e.cloudBill(t, id)
		if cb.Voucher == nil || cb.Voucher.VouchID != "V-"+id {
			t.Fatalf("%s: cloud voucher = %+v, want V-%s", id, cb.Voucher, id)
		}
		if len(cb.Invoices) != 2 {
			t.Fatalf("%s: cloud bill has %d invoices, want 2", id, len(cb.Invoices))
		}
		for _, inv := range cb.Invoices {
			if inv.Status != invoicecloud.StatusUsed {
				t.Errorf("%s: cloud invoice %s status %s, want %s (used)", id, inv.SerialNo, inv.Status, invoicecloud.StatusUsed)
			}
		}
		// A finished bill still answers (from history) with its whole story, under its enterprise.
		var st workflows.BillState
		e.call(t, "GET", e.billURL(id), nil, &st)
		if st.Stage != workflows.StageCompleted || len(st.Approvals) != 2 || st.Voucher == nil || st.Bill.BillTaxNo != run.TaxNo {
			t.Fatalf("%s: completed state = stage %s, %d approvals, voucher %v, billTaxNo %s (want %s)",
				id, st.Stage, len(st.Approvals), st.Voucher, st.Bill.BillTaxNo, run.TaxNo)
		}
		e.webListsBills(t, id)
	}
}

// demoFailures: with a cloud address that serves no simulator (the API's own), both demos fail at
// the import; the second still runs, and the error names both bills and the step.
func (e *e2e) demoFailures(t *testing.T) {
	var timeline bytes.Buffer
	err := devstack.RunDemos(e.ctx, devstack.Demo{APIURL: e.stack.APIURL(), CloudURL: e.stack.APIURL(), BillID: "E2E-NOCLOUD", Wait: 10 * time.Second}, &timeline)
	if err == nil {
		t.Fatalf("demos without a simulator succeeded:\n%s", timeline.String())
	}
	for _, run := range devstack.DemoRuns {
		if want := `demo bill OA/E2E-NOCLOUD-` + run.Suffix + `, step "collect"`; !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if n := strings.Count(timeline.String(), "demo failed: "); n != len(devstack.DemoRuns) {
		t.Errorf("timelines report %d failed demos, want %d:\n%s", n, len(devstack.DemoRuns), timeline.String())
	}
}

func (e *e2e) duplicateStart(t *testing.T) {
	first := devstack.DemoBill("E2E-DUP")
	status1, body1 := e.startBill(t, first)
	if status1 != http.StatusCreated {
		t.Fatalf("first start: HTTP %d: %s", status1, body1)
	}
	status2, body2 := e.startBill(t, first)
	if status2 != http.StatusOK {
		t.Fatalf("second start: HTTP %d, want 200: %s", status2, body2)
	}
	var a1, a2 any
	_ = json.Unmarshal(body1, &a1)
	_ = json.Unmarshal(body2, &a2)
	j1, _ := json.Marshal(a1)
	j2, _ := json.Marshal(a2)
	if !bytes.Equal(j1, j2) {
		t.Fatalf("duplicate start answered a different body:\nfirst:  %s\nsecond: %s", j1, j2)
	}
	// Still one workflow run for the bill.
	var list struct {
		Bills []struct {
			WorkflowID string `json:"workflowId"`
		} `json:"bills"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		list.Bills = nil
		e.call(t, "GET", e.stack.APIURL()+"/v1/bills?taxNo="+devstack.DemoTaxNo+"&stage=collecting", nil, &list)
		n := 0
		for _, b := range list.Bills {
			if b.WorkflowID == workflows.BillWorkflowID("OA", "E2E-DUP") {
				n++
			}
		}
		if n == 1 {
			break
		}
		if n > 1 || time.Now().After(deadline) {
			t.Fatalf("list shows %d runs of the duplicated bill, want 1", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *e2e) badInput(t *testing.T) {
	type apiError struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	check := func(name string, status int, body []byte, wantStatus int, fields ...string) {
		t.Helper()
		if status != wantStatus {
			t.Fatalf("%s: HTTP %d, want %d: %s", name, status, wantStatus, body)
		}
		var ae apiError
		if err := json.Unmarshal(body, &ae); err != nil {
			t.Fatalf("%s: error body is not JSON: %s", name, body)
		}
		for _, f := range fields {
			if ae.Error.Fields[f] == "" {
				t.Errorf("%s: error does not name field %q: %s", name, f, body)
			}
		}
	}
	// Every required field missing, and a bad option: all named in one answer.
	bill := workflows.BillInput{Options: workflows.Options{ImageMode: "sideways"}}
	status, body := e.startBill(t, bill)
	check("empty bill", status, body, http.StatusBadRequest, "billId", "billNo", "billType", "resource", "userId", "billTaxNo", "options.imageMode")

	// A wrong JSON type names the field too.
	status, body = e.post(t, e.stack.APIURL()+"/v1/bills", json.RawMessage(`{"billId": 42}`))
	check("billId as a number", status, body, http.StatusBadRequest, "billId")

	// Nothing was started by those requests.
	if status, body := e.send(t, http.MethodGet, e.stack.APIURL()+"/v1/bills/OA/42", nil, e.token); status != http.StatusNotFound {
		t.Fatalf("GET a never-started bill: HTTP %d, want 404: %s", status, body)
	}

	// An approval with no role or decision on a real bill.
	a := e.mustStart(t, "E2E-BADAPPROVAL")
	status, body = e.post(t, e.stack.APIURL()+"/v1/bills/"+a.ID+"/approvals", map[string]string{"approver": "x"})
	check("approval without role and decision", status, body, http.StatusBadRequest, "role", "decision")
}

func (e *e2e) wrongStage(t *testing.T) {
	a := e.mustStart(t, "E2E-STAGE")
	// Still collecting: no approval is due.
	if status, body := e.approve(t, a.ID, "supervisor", workflows.DecisionApprove); status != http.StatusConflict {
		t.Fatalf("approve while collecting: HTTP %d, want 409: %s", status, body)
	}
	e.collect(t, a, 1)
	// Awaiting the supervisor: finance may not decide yet.
	if status, body := e.approve(t, a.ID, "finance", workflows.DecisionApprove); status != http.StatusConflict {
		t.Fatalf("finance approve while awaiting supervisor: HTTP %d, want 409: %s", status, body)
	}
	// The refused calls changed nothing.
	var st workflows.BillState
	e.call(t, "GET", e.billURL("E2E-STAGE"), nil, &st)
	if st.Stage != workflows.StageAwaitingSupervisor || len(st.Approvals) != 0 {
		t.Fatalf("after refused approvals: stage %s, %d approvals", st.Stage, len(st.Approvals))
	}
}

func (e *e2e) reject(t *testing.T) {
	a := e.mustStart(t, "E2E-REJECT")
	st := e.collect(t, a, 2)
	status, body := e.approve(t, a.ID, "supervisor", workflows.DecisionReject)
	if status != http.StatusOK {
		t.Fatalf("reject: HTTP %d: %s", status, body)
	}
	e.waitStage(t, a.ID, workflows.StageRejected)
	// The saga released every invoice in the cloud: unbound, status 1 (unused) again.
	for _, inv := range st.Invoices {
		var pool simulator.InvoiceView
		e.call(t, "GET", e.stack.CloudURL()+"/__sim/invoices/"+url.PathEscape(inv.SerialNo), nil, &pool)
		if pool.Status != invoicecloud.StatusUnused || pool.BillID != "" {
			t.Errorf("invoice %s after reject: status %s bill %q, want status 1 and no bill", inv.SerialNo, pool.Status, pool.BillID)
		}
	}
	// A decided bill refuses another decision.
	if status, body := e.approve(t, a.ID, "supervisor", workflows.DecisionApprove); status != http.StatusConflict && status != http.StatusNotFound {
		t.Fatalf("approve after reject: HTTP %d, want 409: %s", status, body)
	}
}

// webListsBills checks Temporal Web's API proxy against the registered search attributes: the
// completed bill id is listed by BillStage.
func (e *e2e) webListsBills(t *testing.T, id string) {
	t.Helper()
	q := url.Values{"query": {`BillStage = "completed" AND BillResource = "OA"`}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out struct {
			Executions []struct {
				Execution struct {
					WorkflowID string `json:"workflowId"`
				} `json:"execution"`
			} `json:"executions"`
		}
		e.call(t, "GET", e.stack.UIURL()+"/api/v1/namespaces/default/workflows?"+q.Encode(), nil, &out)
		for _, x := range out.Executions {
			if x.Execution.WorkflowID == workflows.BillWorkflowID("OA", id) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Temporal Web does not list the completed bill by BillStage: %+v", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// restartMidBill stops the whole stack while a bill waits for approval, starts it again on the
// same data dir and addresses, and finishes the bill.
func (e *e2e) restartMidBill(t *testing.T) {
	// A bill that ends before the restart must still answer after it.
	done := e.mustStart(t, "E2E-RESTART-DONE")
	if status, body := e.post(t, e.stack.APIURL()+"/v1/bills/"+done.ID+"/cancel", workflows.CancelRequest{Reason: "ended before the restart"}); status != http.StatusOK {
		t.Fatalf("cancel before the restart: HTTP %d: %s", status, body)
	}
	e.waitStage(t, done.ID, workflows.StageCancelled)

	a := e.mustStart(t, "E2E-RESTART")
	before := e.collect(t, a, 2)

	temporalAddr, uiAddr, cloudAddr, apiAddr := e.stack.Addrs()
	if err := e.stack.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	e.stack = nil
	opts := e.opts
	opts.TemporalAddr, opts.UIAddr, opts.CloudAddr, opts.APIAddr = temporalAddr, uiAddr, cloudAddr, apiAddr
	// This time with a bearer token, as --api-token sets it.
	const token = "e2e-restart-token-5f1c"
	opts.APIToken = token
	stack, err := devstack.Start(e.ctx, opts)
	if err != nil {
		t.Fatalf("start again on the same data dir: %v", err)
	}
	e.stack = stack
	if status, body := e.send(t, http.MethodGet, e.billURL("E2E-RESTART"), nil, ""); status != http.StatusUnauthorized {
		t.Fatalf("API with --api-token answered a request without the token: HTTP %d: %s", status, body)
	}
	var howto bytes.Buffer
	stack.WriteHowTo(&howto)
	if !strings.Contains(howto.String(), "Authorization: Bearer $RIMFLOW_API_TOKEN") || strings.Contains(howto.String(), token) {
		t.Fatalf("how-to must show the header with a variable, never the token:\n%s", howto.String())
	}
	e.token = token
	if stack.Temporal.SchemaCreated() {
		t.Fatal("restart created a new schema: the data dir was not reused")
	}

	// The simulator came back from its journal knowing the bill and its bound invoices.
	cb := e.cloudBill(t, "E2E-RESTART")
	if len(cb.Invoices) != before.InvoiceCount {
		t.Fatalf("simulator after restart knows %d invoices of the bill, want %d", len(cb.Invoices), before.InvoiceCount)
	}
	for _, inv := range cb.Invoices {
		if inv.Status != invoicecloud.StatusInUse {
			t.Fatalf("simulator after restart: invoice %s status %s, want 30", inv.SerialNo, inv.Status)
		}
	}

	after := e.waitStage(t, a.ID, workflows.StageAwaitingSupervisor)
	if after.InvoiceCount != before.InvoiceCount || after.TotalAmount != before.TotalAmount {
		t.Fatalf("bill changed across restart: %d/%s → %d/%s", before.InvoiceCount, before.TotalAmount, after.InvoiceCount, after.TotalAmount)
	}
	for _, role := range []string{"supervisor", "finance"} {
		if status, body := e.approve(t, a.ID, role, workflows.DecisionApprove); status != http.StatusOK {
			t.Fatalf("%s approve after restart: HTTP %d: %s", role, status, body)
		}
	}
	e.waitStage(t, a.ID, workflows.StageAwaitingVoucher)
	today := time.Now().Format("2006-01-02")
	status, body := e.post(t, e.stack.APIURL()+"/v1/bills/"+a.ID+"/voucher", workflows.VoucherRequest{
		VouchID: "V-RESTART", VouchNo: "记-0002", AccountDate: today, AccountTime: today, BusinessDate: today, Resource: "OA",
	})
	if status != http.StatusOK {
		t.Fatalf("voucher after restart: HTTP %d: %s", status, body)
	}
	final := e.waitStage(t, a.ID, workflows.StageCompleted)
	stages := map[workflows.Stage]bool{}
	for _, h := range final.History {
		stages[h.Stage] = true
	}
	for _, s := range []workflows.Stage{workflows.StageCollecting, workflows.StageAwaitingSupervisor, workflows.StageAwaitingFinance, workflows.StageAwaitingVoucher, workflows.StageCompleted} {
		if !stages[s] {
			t.Errorf("history lacks %s: %+v", s, final.History)
		}
	}
	// Bills finished before the restart are still there too.
	var ended workflows.BillState
	if e.call(t, "GET", e.billURL("E2E-RESTART-DONE"), nil, &ended); ended.Stage != workflows.StageCancelled {
		t.Fatalf("bill cancelled before the restart: stage %s after it", ended.Stage)
	}
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
	var timeline bytes.Buffer
	if err := devstack.RunDemos(ctx, devstack.Demo{APIURL: s.APIURL(), CloudURL: s.CloudURL(), BillID: "E2E-STRICT", Wait: time.Minute}, &timeline); err != nil {
		t.Fatalf("demos on the strict cloud: %v\n%s", err, timeline.String())
	}
	for _, run := range devstack.DemoRuns {
		st, err := devstack.WaitStage(ctx, s.APIURL()+"/v1/bills/OA/E2E-STRICT-"+run.Suffix, "", 10*time.Second, workflows.StageCompleted)
		if err != nil || st.Bill.BillTaxNo != run.TaxNo {
			t.Fatalf("demo bill of %s on the strict cloud: %v (billTaxNo %s)", run.TaxNo, err, st.Bill.BillTaxNo)
		}
	}
}
