// Package e2e runs rimflow whole and drives it from outside, over HTTP, in a browser and with the
// temporal CLI, as an ERP, a user and ops would. Suite is the end-to-end suite over any running
// shape (Target): this package runs it on the devstack (embedded Temporal on SQLite), and
// systest/production on the compose shape (PostgreSQL, the Temporal server, separate worker and
// API processes).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/internal/devstack"
	"rimflow/invoicecloud"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// Target is a running rimflow as the suite sees it.
type Target struct {
	APIURL   string
	CloudURL string // the simulator: its /__sim/ interface plays the user and shows the cloud's state
	Token    string // the API's bearer token; "" = open
	WebURL   string // Temporal Web; "" when this shape runs none here
	// CLI reaches the shape's Temporal with the temporal CLI; nil skips the CLI case (a failure
	// under CI).
	CLI *testenv.TemporalCLI
	// Restart stops everything that holds state and starts it again on the same data, and returns
	// the target as it is afterwards. It asserts what the shape itself promises across a restart.
	Restart func(t *testing.T) Target
}

// Suite is the end-to-end suite. Its cases share one running target and run in order (a server
// start costs seconds); the restart case runs last because it replaces the target.
type Suite struct {
	Ctx    context.Context
	Target Target
}

// Case is one named case of the suite.
type Case struct {
	Name string
	Run  func(t *testing.T)
}

// Run runs every case, with extra cases before the restart.
func (s *Suite) Run(t *testing.T, extra ...Case) {
	cases := []Case{
		{"happy path to completed", s.HappyPath},
		{"duplicate start answers 200 with the same body", s.DuplicateStart},
		{"bad input names every field", s.BadInput},
		{"approval in the wrong stage is 409", s.WrongStage},
		{"reject releases the invoices", s.Reject},
		{"bills listed by search attribute", s.ListsBySearchAttribute},
		{"temporal CLI lists by BillStage and signals", s.TemporalCLI},
	}
	cases = append(cases, extra...)
	cases = append(cases, Case{"restart mid-bill keeps the bill", s.RestartMidBill})
	for _, c := range cases {
		t.Run(c.Name, c.Run)
	}
}

func (s *Suite) billURL(id string) string {
	return s.Target.APIURL + "/v1/bills/OA/" + url.PathEscape(id)
}

// StartAnswer is the API's answer to a start.
type StartAnswer struct {
	ID         string          `json:"id"`
	WorkflowID string          `json:"workflowId"`
	Stage      workflows.Stage `json:"stage"`
	Collect    workflows.URLs  `json:"collect"`
	View       workflows.URLs  `json:"view"`
}

// startBill posts a bill and returns the status and the raw body.
func (s *Suite) startBill(t *testing.T, bill workflows.BillInput) (int, []byte) {
	t.Helper()
	return s.post(t, s.Target.APIURL+"/v1/bills", bill)
}

// MustStart starts the demo bill id and checks the answer.
func (s *Suite) MustStart(t *testing.T, id string) StartAnswer {
	t.Helper()
	status, body := s.startBill(t, devstack.DemoBill(id))
	if status != http.StatusCreated {
		t.Fatalf("start %s: HTTP %d, want 201: %s", id, status, body)
	}
	var a StartAnswer
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

// Collect imports n invoices in the simulator for the bill's current eventCode and waits until
// the bill has them bound and sits in awaiting_supervisor (autoSubmit).
func (s *Suite) Collect(t *testing.T, a StartAnswer, n int) workflows.BillState {
	t.Helper()
	collectURL, err := url.Parse(a.Collect.PC)
	if err != nil {
		t.Fatalf("collect URL: %v", err)
	}
	testenv.Collect(t, s.Ctx, s.Target.CloudURL, collectURL.Query().Get("eventCode"), n)
	st := s.WaitStage(t, a.ID, workflows.StageAwaitingSupervisor)
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

// WaitStage waits up to 90 s for the bill (resource/billId) to reach want.
func (s *Suite) WaitStage(t *testing.T, id string, want workflows.Stage) workflows.BillState {
	t.Helper()
	st, err := devstack.WaitStage(s.Ctx, s.Target.APIURL+"/v1/bills/"+id, s.Target.Token, 90*time.Second, want)
	if err != nil {
		t.Fatalf("bill %s: %v", id, err)
	}
	return st
}

func (s *Suite) approve(t *testing.T, id, role, decision string) (int, []byte) {
	t.Helper()
	return s.post(t, s.Target.APIURL+"/v1/bills/"+id+"/approvals",
		workflows.ApproveRequest{Role: role, Decision: decision, Approver: "e2e-" + role, Comment: "e2e"})
}

func (s *Suite) post(t *testing.T, u string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	return s.send(t, http.MethodPost, u, b, s.Target.Token)
}

// send makes one raw request (bearer token when not empty) and returns the status and body.
func (s *Suite) send(t *testing.T, method, u string, body []byte, token string) (int, []byte) {
	t.Helper()
	return testenv.Do(t, s.Ctx, method, u, token, body)
}

// call sends body as JSON (nil = none) with the API's token and decodes the 2xx answer into out
// (nil = ignore); any other answer fails the test.
func (s *Suite) call(t *testing.T, method, u string, body, out any) {
	t.Helper()
	status, raw := testenv.Do(t, s.Ctx, method, u, s.Target.Token, body)
	if status/100 != 2 {
		t.Fatalf("%s %s: HTTP %d: %.500s", method, u, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: answer is not the expected JSON: %v: %.500s", method, u, err, raw)
		}
	}
}

func (s *Suite) cloudBill(t *testing.T, id string) simulator.BillView {
	t.Helper()
	var b simulator.BillView
	s.call(t, "GET", s.Target.CloudURL+"/__sim/bills/OA/"+url.PathEscape(id), nil, &b)
	return b
}

// HappyPath runs the demo bill to completed and checks the cloud's and the API's view of it.
func (s *Suite) HappyPath(t *testing.T) {
	var timeline bytes.Buffer
	steps, err := devstack.Demo{APIURL: s.Target.APIURL, CloudURL: s.Target.CloudURL, Token: s.Target.Token,
		BillID: "E2E-HAPPY", Wait: 90 * time.Second}.Run(s.Ctx, &timeline)
	t.Logf("timeline:\n%s", timeline.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	if last := steps[len(steps)-1]; last.Stage != workflows.StageCompleted {
		t.Fatalf("last step %+v, want completed", last)
	}
	// The cloud saw the whole life: invoices used (60) and the voucher written back.
	cb := s.cloudBill(t, "E2E-HAPPY")
	if cb.Voucher == nil || cb.Voucher.VouchID != "V-E2E-HAPPY" {
		t.Fatalf("cloud voucher = %+v, want V-E2E-HAPPY", cb.Voucher)
	}
	if len(cb.Invoices) != 2 {
		t.Fatalf("cloud bill has %d invoices, want 2", len(cb.Invoices))
	}
	for _, inv := range cb.Invoices {
		if inv.Status != invoicecloud.StatusUsed {
			t.Errorf("cloud invoice %s status %s, want %s (used)", inv.SerialNo, inv.Status, invoicecloud.StatusUsed)
		}
	}
	// A finished bill still answers (from history) with its whole story.
	var st workflows.BillState
	s.call(t, "GET", s.billURL("E2E-HAPPY"), nil, &st)
	if st.Stage != workflows.StageCompleted || len(st.Approvals) != 2 || st.Voucher == nil {
		t.Fatalf("completed state = stage %s, %d approvals, voucher %v", st.Stage, len(st.Approvals), st.Voucher)
	}
}

// DuplicateStart starts the same bill twice: 201, then 200 with the same body, one run.
func (s *Suite) DuplicateStart(t *testing.T) {
	first := devstack.DemoBill("E2E-DUP")
	status1, body1 := s.startBill(t, first)
	if status1 != http.StatusCreated {
		t.Fatalf("first start: HTTP %d: %s", status1, body1)
	}
	status2, body2 := s.startBill(t, first)
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
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := 0
		for _, id := range s.list(t, "taxNo="+devstack.DemoTaxNo+"&stage=collecting") {
			if id == workflows.BillWorkflowID("OA", "E2E-DUP") {
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

// list is GET /v1/bills?query: the workflow IDs it answers.
func (s *Suite) list(t *testing.T, query string) []string {
	t.Helper()
	var list struct {
		Bills []struct {
			WorkflowID string `json:"workflowId"`
		} `json:"bills"`
	}
	s.call(t, "GET", s.Target.APIURL+"/v1/bills?"+query, nil, &list)
	var ids []string
	for _, b := range list.Bills {
		ids = append(ids, b.WorkflowID)
	}
	return ids
}

// BadInput: every bad field is named, and nothing is started.
func (s *Suite) BadInput(t *testing.T) {
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
	status, body := s.startBill(t, bill)
	check("empty bill", status, body, http.StatusBadRequest, "billId", "billNo", "billType", "resource", "userId", "billTaxNo", "options.imageMode")

	// A wrong JSON type names the field too.
	status, body = s.post(t, s.Target.APIURL+"/v1/bills", json.RawMessage(`{"billId": 42}`))
	check("billId as a number", status, body, http.StatusBadRequest, "billId")

	// Nothing was started by those requests.
	if status, body := s.send(t, http.MethodGet, s.Target.APIURL+"/v1/bills/OA/42", nil, s.Target.Token); status != http.StatusNotFound {
		t.Fatalf("GET a never-started bill: HTTP %d, want 404: %s", status, body)
	}

	// An approval with no role or decision on a real bill.
	a := s.MustStart(t, "E2E-BADAPPROVAL")
	status, body = s.post(t, s.Target.APIURL+"/v1/bills/"+a.ID+"/approvals", map[string]string{"approver": "x"})
	check("approval without role and decision", status, body, http.StatusBadRequest, "role", "decision")
}

// WrongStage: decisions out of turn are 409 and change nothing.
func (s *Suite) WrongStage(t *testing.T) {
	a := s.MustStart(t, "E2E-STAGE")
	// Still collecting: no approval is due.
	if status, body := s.approve(t, a.ID, "supervisor", workflows.DecisionApprove); status != http.StatusConflict {
		t.Fatalf("approve while collecting: HTTP %d, want 409: %s", status, body)
	}
	s.Collect(t, a, 1)
	// Awaiting the supervisor: finance may not decide yet.
	if status, body := s.approve(t, a.ID, "finance", workflows.DecisionApprove); status != http.StatusConflict {
		t.Fatalf("finance approve while awaiting supervisor: HTTP %d, want 409: %s", status, body)
	}
	// The refused calls changed nothing.
	var st workflows.BillState
	s.call(t, "GET", s.billURL("E2E-STAGE"), nil, &st)
	if st.Stage != workflows.StageAwaitingSupervisor || len(st.Approvals) != 0 {
		t.Fatalf("after refused approvals: stage %s, %d approvals", st.Stage, len(st.Approvals))
	}
}

// Reject: the saga releases every invoice in the cloud.
func (s *Suite) Reject(t *testing.T) {
	a := s.MustStart(t, "E2E-REJECT")
	st := s.Collect(t, a, 2)
	status, body := s.approve(t, a.ID, "supervisor", workflows.DecisionReject)
	if status != http.StatusOK {
		t.Fatalf("reject: HTTP %d: %s", status, body)
	}
	s.WaitStage(t, a.ID, workflows.StageRejected)
	// The saga released every invoice in the cloud: unbound, status 1 (unused) again.
	for _, inv := range st.Invoices {
		var pool simulator.InvoiceView
		s.call(t, "GET", s.Target.CloudURL+"/__sim/invoices/"+url.PathEscape(inv.SerialNo), nil, &pool)
		if pool.Status != invoicecloud.StatusUnused || pool.BillID != "" {
			t.Errorf("invoice %s after reject: status %s bill %q, want status 1 and no bill", inv.SerialNo, pool.Status, pool.BillID)
		}
	}
	// A decided bill refuses another decision.
	if status, body := s.approve(t, a.ID, "supervisor", workflows.DecisionApprove); status != http.StatusConflict && status != http.StatusNotFound {
		t.Fatalf("approve after reject: HTTP %d, want 409: %s", status, body)
	}
}

// ListsBySearchAttribute finds the completed and the rejected bill by their typed search
// attributes, through the API's list (Temporal visibility) and, where the shape runs it, Temporal
// Web's API proxy.
func (s *Suite) ListsBySearchAttribute(t *testing.T) {
	happy, rejected := workflows.BillWorkflowID("OA", "E2E-HAPPY"), workflows.BillWorkflowID("OA", "E2E-REJECT")
	deadline := time.Now().Add(30 * time.Second)
	for {
		completed := s.list(t, "stage=completed&taxNo="+devstack.DemoTaxNo)
		rej := s.list(t, "stage=rejected&taxNo="+devstack.DemoTaxNo)
		if contains(completed, happy) && contains(rej, rejected) && !contains(completed, rejected) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API's list by stage: completed %v, rejected %v; want %s completed and %s rejected", completed, rej, happy, rejected)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s.Target.WebURL == "" {
		return
	}
	q := url.Values{"query": {`BillStage = "completed" AND BillResource = "OA"`}}
	for {
		var out struct {
			Executions []struct {
				Execution struct {
					WorkflowID string `json:"workflowId"`
				} `json:"execution"`
			} `json:"executions"`
		}
		s.call(t, "GET", s.Target.WebURL+"/api/v1/namespaces/default/workflows?"+q.Encode(), nil, &out)
		for _, x := range out.Executions {
			if x.Execution.WorkflowID == happy {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Temporal Web does not list the completed bill by BillStage: %+v", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TemporalCLI is ops at a shell: `temporal workflow list --query` finds a bill by BillStage and
// BillNo, and `temporal workflow signal` approves it, which the bill follows.
func (s *Suite) TemporalCLI(t *testing.T) {
	cli := s.Target.CLI
	if cli == nil || cli.Path == "" {
		testenv.RequireTemporalCLI(t) // skips without the CLI installed (fails under CI)
		t.Fatal("the target did not configure the temporal CLI for its server")
	}
	a := s.MustStart(t, "E2E-CLI")
	s.Collect(t, a, 1)
	billNo := devstack.DemoBill("E2E-CLI").BillNo

	listed := func(stage workflows.Stage) bool {
		t.Helper()
		query := "BillStage = '" + string(stage) + "' AND BillNo = '" + billNo + "'"
		out, err := cli.Run(s.Ctx, "workflow", "list", "--query", query, "--output", "json")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(out), a.WorkflowID)
	}
	waitListed := func(stage workflows.Stage) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !listed(stage) {
			if time.Now().After(deadline) {
				t.Fatalf("temporal workflow list does not find %s by BillStage = '%s'", a.WorkflowID, stage)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	waitListed(workflows.StageAwaitingSupervisor)
	if listed(workflows.StageCompleted) {
		t.Fatalf("temporal workflow list finds %s as completed too: the query does not filter", a.WorkflowID)
	}

	input, _ := json.Marshal(workflows.ApproveRequest{Role: "supervisor", Decision: workflows.DecisionApprove, Approver: "ops-cli"})
	if _, err := cli.Run(s.Ctx, "workflow", "signal", "--workflow-id", a.WorkflowID, "--name", "approve", "--input", string(input)); err != nil {
		t.Fatal(err)
	}
	st := s.WaitStage(t, a.ID, workflows.StageAwaitingFinance)
	if len(st.Approvals) != 1 || st.Approvals[0].Approver != "ops-cli" {
		t.Fatalf("after the CLI's signal the bill records approvals %+v, want one by ops-cli", st.Approvals)
	}
	waitListed(workflows.StageAwaitingFinance)
}

// RestartMidBill restarts the target while a bill waits for approval and finishes the bill.
func (s *Suite) RestartMidBill(t *testing.T) {
	if s.Target.Restart == nil {
		t.Fatal("the target cannot restart")
	}
	a := s.MustStart(t, "E2E-RESTART")
	before := s.Collect(t, a, 2)

	s.Target = s.Target.Restart(t)

	// The cloud still knows the bill and its bound invoices.
	cb := s.cloudBill(t, "E2E-RESTART")
	if len(cb.Invoices) != before.InvoiceCount {
		t.Fatalf("the cloud after the restart knows %d invoices of the bill, want %d", len(cb.Invoices), before.InvoiceCount)
	}
	for _, inv := range cb.Invoices {
		if inv.Status != invoicecloud.StatusInUse {
			t.Fatalf("the cloud after the restart: invoice %s status %s, want 30", inv.SerialNo, inv.Status)
		}
	}

	after := s.WaitStage(t, a.ID, workflows.StageAwaitingSupervisor)
	if after.InvoiceCount != before.InvoiceCount || after.TotalAmount != before.TotalAmount {
		t.Fatalf("bill changed across restart: %d/%s → %d/%s", before.InvoiceCount, before.TotalAmount, after.InvoiceCount, after.TotalAmount)
	}
	for _, role := range []string{"supervisor", "finance"} {
		if status, body := s.approve(t, a.ID, role, workflows.DecisionApprove); status != http.StatusOK {
			t.Fatalf("%s approve after restart: HTTP %d: %s", role, status, body)
		}
	}
	s.WaitStage(t, a.ID, workflows.StageAwaitingVoucher)
	today := time.Now().Format("2006-01-02")
	status, body := s.post(t, s.Target.APIURL+"/v1/bills/"+a.ID+"/voucher", workflows.VoucherRequest{
		VouchID: "V-RESTART", VouchNo: "记-0002", AccountDate: today, AccountTime: today, BusinessDate: today, Resource: "OA",
	})
	if status != http.StatusOK {
		t.Fatalf("voucher after restart: HTTP %d: %s", status, body)
	}
	final := s.WaitStage(t, a.ID, workflows.StageCompleted)
	stages := map[workflows.Stage]bool{}
	for _, h := range final.History {
		stages[h.Stage] = true
	}
	for _, st := range []workflows.Stage{workflows.StageCollecting, workflows.StageAwaitingSupervisor, workflows.StageAwaitingFinance, workflows.StageAwaitingVoucher, workflows.StageCompleted} {
		if !stages[st] {
			t.Errorf("history lacks %s: %+v", st, final.History)
		}
	}
	// Bills finished before the restart are still there too.
	var happy workflows.BillState
	if s.call(t, "GET", s.billURL("E2E-HAPPY"), nil, &happy); happy.Stage != workflows.StageCompleted {
		t.Fatalf("completed bill after restart: stage %s", happy.Stage)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
