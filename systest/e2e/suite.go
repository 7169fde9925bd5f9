// Package e2e runs rimflow whole and drives it from outside, over HTTP, in a browser and with the
// temporal CLI, as an ERP, a user and ops would. Suite is the end-to-end suite over any running
// shape (Target): this package runs it on the devstack (embedded Temporal on SQLite), and
// systest/production on the compose shape (PostgreSQL, the Temporal server, separate worker and
// API processes).
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/codec"
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
	// Demos are the enterprises the happy path runs a demo bill on: both demo editions where the
	// API's registry serves them (the devstack), the ultimate one where RIMFLOW_CLOUD_* describes
	// the only enterprise (the compose shape).
	Demos []harness.DemoRun
	// CodecOrigin is the Temporal Web origin the API's codec server must answer with CORS (what the
	// browser sends); "" checks no browser origin.
	CodecOrigin string
}

// Suite is the end-to-end suite. Its cases share one running target (a server start costs
// seconds); each drives its own bills, so none depends on another having run; the restart case
// runs last because it replaces the target.
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
		{"happy path to completed on each enterprise, listed by search attribute", s.HappyPath},
		{"duplicate start answers 200 with the same body", s.DuplicateStart},
		{"bad input names every field", s.BadInput},
		{"approval in the wrong stage is 409", s.WrongStage},
		{"reject releases the invoices, listed as rejected", s.Reject},
		{"payloads sealed in Temporal, opened by the codec server", s.SealedPayloads},
		{"temporal CLI lists by BillStage and signals as the bill's policy allows", s.TemporalCLI},
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
	status, body := s.startBill(t, harness.DemoBill(id))
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
	st, err := harness.WaitStageVia(s.Ctx, testenv.CheckedClient(t), s.Target.APIURL+"/v1/bills/"+id, s.Target.Token, 90*time.Second, want)
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

// HappyPath is `devstack --demo` on the target: a bill on each of its demo enterprises through its
// whole life. The cloud and the API show each completed under its enterprise, and the typed search
// attributes find it, through the API's list (Temporal visibility) and, where the shape runs it,
// Temporal Web's API proxy.
func (s *Suite) HappyPath(t *testing.T) {
	if len(s.Target.Demos) == 0 {
		t.Fatal("the target names no demo enterprise")
	}
	var timeline bytes.Buffer
	err := harness.RunDemosOn(s.Ctx, harness.Demo{APIURL: s.Target.APIURL, CloudURL: s.Target.CloudURL, Token: s.Target.Token,
		BillID: "E2E-HAPPY", Wait: 90 * time.Second}, s.Target.Demos, &timeline)
	t.Logf("timelines:\n%s", timeline.String())
	if err != nil {
		t.Fatalf("demos: %v", err)
	}
	if n := strings.Count(timeline.String(), "demo completed in "); n != len(s.Target.Demos) {
		t.Errorf("%d demos completed, want %d", n, len(s.Target.Demos))
	}
	for _, run := range s.Target.Demos {
		if part := "(" + run.TaxNo + ", " + string(run.Edition) + " edition)"; !strings.Contains(timeline.String(), part) {
			t.Errorf("the timelines do not name the enterprise %s", part)
		}
		id := "E2E-HAPPY-" + run.Suffix
		// The cloud saw the whole life: invoices used (60) and the voucher written back.
		cb := s.cloudBill(t, id)
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
		s.call(t, "GET", s.billURL(id), nil, &st)
		if st.Stage != workflows.StageCompleted || len(st.Approvals) != 2 || st.Voucher == nil || st.Bill.BillTaxNo != run.TaxNo {
			t.Fatalf("%s: completed state = stage %s, %d approvals, voucher %v, billTaxNo %s (want %s)",
				id, st.Stage, len(st.Approvals), st.Voucher, st.Bill.BillTaxNo, run.TaxNo)
		}
		s.waitListed(t, id, workflows.StageCompleted, run.TaxNo)
		s.webListsBill(t, id)
	}
}

// waitListed waits up to 30 s until the API's list by stage and tax number (Temporal visibility,
// written shortly after the bill's change) shows the bill.
func (s *Suite) waitListed(t *testing.T, id string, stage workflows.Stage, taxNo string) {
	t.Helper()
	want := workflows.BillWorkflowID("OA", id)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if contains(s.list(t, "stage="+string(stage)+"&taxNo="+taxNo), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API's list by stage=%s and taxNo=%s does not show %s after 30 s", stage, taxNo, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// webListsBill checks Temporal Web's API proxy, where the shape runs it, against the registered
// search attributes: the completed bill id is listed by BillStage.
func (s *Suite) webListsBill(t *testing.T, id string) {
	t.Helper()
	if s.Target.WebURL == "" {
		return
	}
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
		s.call(t, "GET", s.Target.WebURL+"/api/v1/namespaces/default/workflows?"+q.Encode(), nil, &out)
		for _, x := range out.Executions {
			if x.Execution.WorkflowID == workflows.BillWorkflowID("OA", id) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Temporal Web does not list %s by BillStage: %+v", id, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// DuplicateStart starts the same bill twice: 201, then 200 with the same body, one run.
func (s *Suite) DuplicateStart(t *testing.T) {
	first := harness.DemoBill("E2E-DUP")
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
		for _, id := range s.list(t, "taxNo="+harness.DemoTaxNo+"&stage=collecting") {
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
	// Its typed search attributes say rejected, not completed.
	s.waitListed(t, "E2E-REJECT", workflows.StageRejected, harness.DemoTaxNo)
	if contains(s.list(t, "stage=completed&taxNo="+harness.DemoTaxNo), a.WorkflowID) {
		t.Errorf("the API's list by stage=completed shows the rejected %s", a.WorkflowID)
	}
}

// TemporalCLI is ops at a shell: `temporal workflow list --query` finds a bill by BillStage and
// BillNo, and `temporal workflow signal` does what the bill's frozen policy lets the ops path do:
// an approve is taken and recorded as the ops path, or refused with the reason in the bill's
// history; a cancel (every policy here lets ops cancel) runs the saga and is recorded the same way.
func (s *Suite) TemporalCLI(t *testing.T) {
	cli := s.Target.CLI
	if cli == nil {
		t.Fatal("the target did not configure the temporal CLI for its server")
	}
	if cli.Path == "" {
		cli.Path = testenv.RequireTemporalCLI(t) // builds it once per machine when missing (skips if it cannot)
	}
	a := s.MustStart(t, "E2E-CLI")
	st := s.Collect(t, a, 1)
	billNo := harness.DemoBill("E2E-CLI").BillNo

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
	signal := func(name string, body any) {
		t.Helper()
		input, _ := json.Marshal(body)
		if _, err := cli.Run(s.Ctx, "workflow", "signal", "--workflow-id", a.WorkflowID, "--name", name, "--input", string(input)); err != nil {
			t.Fatal(err)
		}
	}
	waitListed(workflows.StageAwaitingSupervisor)
	if listed(workflows.StageCompleted) {
		t.Fatalf("temporal workflow list finds %s as completed too: the query does not filter", a.WorkflowID)
	}

	policy := workflows.DefaultBillPolicy()
	if st.Bill.Policy != nil {
		policy = *st.Bill.Policy
	}
	signal(workflows.SignalApprove, workflows.ApproveRequest{Role: "supervisor", Decision: workflows.DecisionApprove, Approver: "ops-cli"})
	refused := policy.WebSignals.Permits(workflows.SignalApprove, "supervisor")
	outcome := "accepted"
	if refused != nil {
		outcome = refused.Error()
	}
	t.Logf("the bill's policy (rule %q) on an approve through the ops path: %s", policy.Rule, outcome)
	if refused == nil {
		st = s.WaitStage(t, a.ID, workflows.StageAwaitingFinance)
		if len(st.Approvals) != 1 || st.Approvals[0].Approver != "ops-cli" || st.Approvals[0].Client != workflows.OpsPath {
			t.Fatalf("after the CLI's signal the bill records approvals %+v, want one by ops-cli through %s", st.Approvals, workflows.OpsPath)
		}
		waitListed(workflows.StageAwaitingFinance)
	} else {
		st = s.waitNote(t, a.ID, "ignored: approve signal: "+workflows.ErrWebSignalRefused.Error())
		if st.Stage != workflows.StageAwaitingSupervisor || len(st.Approvals) != 0 {
			t.Fatalf("a refused approve signal changed the bill: stage %s, approvals %+v", st.Stage, st.Approvals)
		}
	}

	if err := policy.WebSignals.Permits(workflows.SignalCancel, ""); err != nil {
		t.Fatalf("the bill's policy does not let ops cancel: %v", err)
	}
	signal(workflows.SignalCancel, workflows.CancelRequest{Reason: "cancelled by ops at a shell"})
	st = s.WaitStage(t, a.ID, workflows.StageCancelled)
	if st.Cancel == nil || st.Cancel.Actor == nil || st.Cancel.Actor.Client != workflows.OpsPath {
		t.Fatalf("the CLI's cancel is recorded as %+v, want through %s", st.Cancel, workflows.OpsPath)
	}
	waitListed(workflows.StageCancelled)
}

// waitNote waits up to 30 s until the bill's history holds a note containing note.
func (s *Suite) waitNote(t *testing.T, id, note string) workflows.BillState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st workflows.BillState
		s.call(t, "GET", s.Target.APIURL+"/v1/bills/"+id, nil, &st)
		for _, h := range st.History {
			if strings.Contains(h.Note, note) {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("bill %s: no history note %q after 30 s: %+v", id, note, st.History)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// SealedPayloads: the shape encrypts every payload it writes to Temporal (the devstack with the
// key file it made on first start, compose with the codec-keys job's), so the history Temporal
// serves — through Temporal Web's API where the shape runs it, else the temporal CLI — holds the
// bill's input sealed. The API's codec server, asked as Temporal Web's browser asks (from Web's
// origin, with the namespace) or as a program does (a bearer token), gives the bill back in clear.
func (s *Suite) SealedPayloads(t *testing.T) {
	a := s.MustStart(t, "E2E-SEALED")
	input := s.startInput(t, a.WorkflowID)
	var sealed struct {
		Metadata map[string]string `json:"metadata"`
		Data     string            `json:"data"`
	}
	if err := json.Unmarshal(input, &sealed); err != nil {
		t.Fatalf("the start input %s: %v", input, err)
	}
	if enc, _ := base64.StdEncoding.DecodeString(sealed.Metadata["encoding"]); string(enc) != codec.EncodingEncrypted {
		t.Fatalf("the start input is stored as %q, not encrypted", enc)
	}
	data, err := base64.StdEncoding.DecodeString(sealed.Data)
	if err != nil {
		t.Fatalf("the start input's data: %v", err)
	}
	for _, clear := range []string{"E2E-SEALED", harness.DemoBill("E2E-SEALED").CompanyInfo[0].Name} {
		if bytes.Contains(data, []byte(clear)) {
			t.Fatalf("the sealed start input holds %q in clear", clear)
		}
	}

	body, _ := json.Marshal(map[string]any{"payloads": []json.RawMessage{input}})
	req, _ := http.NewRequestWithContext(s.Ctx, http.MethodPost, s.Target.APIURL+"/v1/codec/decode", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(codec.HeaderNamespace, "default")
	if s.Target.CodecOrigin != "" {
		req.Header.Set("Origin", s.Target.CodecOrigin)
	}
	if s.Target.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Target.Token)
	}
	resp, err := testenv.CheckedClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("decode: HTTP %d: %s", resp.StatusCode, raw)
	}
	if o := s.Target.CodecOrigin; o != "" && resp.Header.Get("Access-Control-Allow-Origin") != o {
		t.Fatalf("decode from Web's origin %s: CORS %q", o, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	var decoded struct {
		Payloads []struct {
			Data string `json:"data"`
		} `json:"payloads"`
	}
	if err := json.Unmarshal(raw, &decoded); err != nil || len(decoded.Payloads) != 1 {
		t.Fatalf("decode answer: %v %s", err, raw)
	}
	plain, _ := base64.StdEncoding.DecodeString(decoded.Payloads[0].Data)
	var in workflows.BillInput
	if err := json.Unmarshal(plain, &in); err != nil || in.BillID != "E2E-SEALED" || len(in.CompanyInfo) != 1 ||
		!strings.Contains(in.CompanyInfo[0].Name, "示例科技") {
		t.Fatalf("decoded input: %v %s", err, plain)
	}
}

// startInput is the bill's start input payload as Temporal serves it: through Temporal Web's API
// where the shape runs Web, else `temporal workflow show`.
func (s *Suite) startInput(t *testing.T, workflowID string) json.RawMessage {
	t.Helper()
	type history struct {
		Events []struct {
			Attrs *struct {
				Input struct {
					Payloads []json.RawMessage `json:"payloads"`
				} `json:"input"`
			} `json:"workflowExecutionStartedEventAttributes"`
		} `json:"events"`
	}
	var h history
	if s.Target.WebURL != "" {
		var web struct {
			History history `json:"history"`
		}
		s.call(t, "GET", s.Target.WebURL+"/api/v1/namespaces/default/workflows/"+url.PathEscape(workflowID)+"/history", nil, &web)
		h = web.History
	} else {
		if s.Target.CLI == nil {
			t.Fatal("the target runs neither Temporal Web nor the temporal CLI")
		}
		if s.Target.CLI.Path == "" {
			s.Target.CLI.Path = testenv.RequireTemporalCLI(t)
		}
		out, err := s.Target.CLI.Run(s.Ctx, "workflow", "show", "--workflow-id", workflowID, "--output", "json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &h); err != nil {
			t.Fatalf("temporal workflow show: %v: %.500s", err, out)
		}
	}
	if len(h.Events) == 0 || h.Events[0].Attrs == nil || len(h.Events[0].Attrs.Input.Payloads) != 1 {
		t.Fatalf("no start event with one input payload in the history of %s", workflowID)
	}
	return h.Events[0].Attrs.Input.Payloads[0]
}

// RestartMidBill restarts the target while a bill waits for approval and finishes the bill.
func (s *Suite) RestartMidBill(t *testing.T) {
	if s.Target.Restart == nil {
		t.Fatal("the target cannot restart")
	}
	// A bill that ends before the restart must still answer after it.
	done := s.MustStart(t, "E2E-RESTART-DONE")
	if status, body := s.post(t, s.Target.APIURL+"/v1/bills/"+done.ID+"/cancel", workflows.CancelRequest{Reason: "ended before the restart"}); status != http.StatusOK {
		t.Fatalf("cancel before the restart: HTTP %d: %s", status, body)
	}
	s.WaitStage(t, done.ID, workflows.StageCancelled)

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
	var ended workflows.BillState
	if s.call(t, "GET", s.billURL("E2E-RESTART-DONE"), nil, &ended); ended.Stage != workflows.StageCancelled {
		t.Fatalf("bill cancelled before the restart: stage %s after it", ended.Stage)
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
