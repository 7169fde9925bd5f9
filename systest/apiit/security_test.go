package apiit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/access"
	"rimflow/internal/app"
	"rimflow/internal/codec"
	"rimflow/internal/enterprises"
	"rimflow/internal/policy"
	"rimflow/internal/voice"
	"rimflow/invoicecloud"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// The clients of the secured stack: the ERP of resource OA (it decides supervisor and finance),
// a read-only reporting client, and an ops console that may read payloads through the codec.
const (
	erpToken       = "erp-oa-token-7f3a9c"
	reportingToken = "reporting-token-51d2"
	opsToken       = "ops-console-token-c44e"
)

// The policy file the secured stack reads: daily bills have one approval (finance) and the caller
// may choose only autoSubmit; travel bills have three; Temporal Web may approve only for finance.
const policyFile = `
default:
  approvals: [finance]
  allowCallerOptions: [autoSubmit]
  webSignals: {allow: true, signals: [approve], roles: [finance]}
rules:
  - name: travel
    match: {billType: er_tripreimbursebill}
    approvals: [supervisor, finance, cfo]
`

// securedStack is rimflow as deployed with every protection on: access clients, a policy file,
// payloads sealed by a keyring the worker and the API share; the real worker and simulator.
type securedStack struct {
	ts      *temporaltest.TestServer
	plain   client.Client // no codec: what anyone reading Temporal directly gets
	sealed  client.Client // the worker's and the API's client
	codec   *codec.Codec
	api     *httptest.Server
	simURL  string
	cloud   *harness.Cloud
	ns      string
	worker  *app.Worker
	clients *access.Clients
	policy  *policy.Policy
}

// newKeyring makes a keyring of fresh keys, newest first.
func newKeyring(t *testing.T, ids ...string) (*codec.Keyring, []string) {
	t.Helper()
	var entries []string
	for _, id := range ids {
		e, err := codec.GenerateKey(id)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	ring, err := codec.ParseKeyring("test keys", strings.Join(entries, ","))
	if err != nil {
		t.Fatal(err)
	}
	return ring, entries
}

func newSecuredStack(t *testing.T, ring *codec.Keyring, extra ...access.Spec) *securedStack {
	t.Helper()
	ts := harness.NewTestServer(t)
	s := &securedStack{ts: ts, plain: ts.GetDefaultClient(), ns: ts.GetDefaultNamespace()}
	s.cloud = harness.NewCloud(t, simulator.Options{Seed: 12}, nil)
	s.simURL = s.cloud.URL
	var err error
	s.clients, err = access.New(append([]access.Spec{
		{Name: "erp-oa", Token: erpToken, Resources: []string{"OA"},
			Operations: []string{"start", "read", "invoices", "submit", "approve:supervisor", "approve:finance", "voucher", "cancel"}},
		{Name: "reporting", Token: reportingToken, Operations: []string{"read"}, Resources: []string{"*"}},
		{Name: "ops-console", Token: opsToken, Operations: []string{"read", "codec:decode", "codec:encode"}, Resources: []string{"*"}},
	}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(policyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if s.policy, err = policy.Load(path); err != nil {
		t.Fatal(err)
	}
	s.useKeys(t, ring)
	return s
}

// useKeys (re)starts the worker and the API on a client sealing with ring, as a deployment does
// after changing RIMFLOW_CODEC_KEYS: workers first, then the API.
func (s *securedStack) useKeys(t *testing.T, ring *codec.Keyring) {
	t.Helper()
	if s.worker != nil {
		s.worker.Stop()
		s.api.Close()
	}
	s.codec = codec.New(ring)
	var opts client.Options
	s.codec.Apply(&opts)
	s.sealed = s.ts.NewClientWithOptions(opts)
	w, err := app.NewWorker(s.sealed, enterprises.Single(s.cloud.Client), app.WorkerOptions{TaskQueue: workflows.DefaultTaskQueue, Voice: s.codec.Voice()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	s.worker = w
	t.Cleanup(w.Stop)
	h, err := api.Build(api.Options{Client: s.sealed, Namespace: s.ns, TaskQueue: workflows.DefaultTaskQueue,
		Clients: s.clients, Policy: s.policy, Codec: s.codec,
		// The matrix sends dozens of wrong tokens from one address on purpose; the limit itself
		// is api's TestWrongTokensAreLimitedPerAddress.
		AuthFailures: access.NewFailureLimiter(100000, time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	s.api = httptest.NewServer(h)
	t.Cleanup(s.api.Close)
}

// as sends one request as a client (token) for a person (X-Acting-User, "" = none) and decodes
// the answer into out when given; it returns the status and the raw answer.
func (s *securedStack) as(t *testing.T, token, user, method, path string, body, out any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.api.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set(api.HeaderActingUser, user)
	}
	resp, err := testenv.CheckedClient(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, raw
}

func (s *securedStack) waitStage(t *testing.T, id string, stage workflows.Stage) workflows.BillState {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var st workflows.BillState
		// As the ERP: a read-only client is not shown the eventCode (a capability), which callers check.
		if code, _ := s.as(t, erpToken, "", "GET", "/v1/bills/"+id, nil, &st); code == 200 && st.Stage == stage {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("bill %s never reached %s (last %s %+v)", id, stage, st.Stage, st.Error)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// buyer is the bill's company, whose name must never show in Temporal in clear.
var buyer = struct{ taxNo, name string }{"91440300MA5G9GK78Y", "金蝶票据云科技(深圳)有限公司"}

func securedBill(id, billType string) workflows.BillInput {
	return workflows.BillInput{BillID: id, BillNo: "BX-" + id, BillType: billType, Resource: "OA",
		BillTaxNo: buyer.taxNo, UserID: "submitter-u7",
		CompanyInfo: []invoicecloud.Company{{TaxNo: buyer.taxNo, Name: buyer.name}}}
}

// startAndImport starts the bill as the ERP and imports invoices (the given records, or n
// samples) on its collect page; it waits until the bill awaits want.
func (s *securedStack) startAndImport(t *testing.T, in workflows.BillInput, records []map[string]any, want workflows.Stage) workflows.BillState {
	t.Helper()
	var started api.StartResponse
	if code, raw := s.as(t, erpToken, "", "POST", "/v1/bills", in, &started); code != http.StatusCreated {
		t.Fatalf("start %s: %d %s", in.BillID, code, raw)
	}
	var url workflows.CollectURLResponse
	s.as(t, erpToken, "", "GET", "/v1/bills/OA/"+in.BillID+"/collect-url", nil, &url)
	body := map[string]any{"eventCode": url.EventCode, "count": 2}
	if records != nil {
		body = map[string]any{"eventCode": url.EventCode, "invoices": records}
	}
	if status, raw := testenv.Do(t, t.Context(), "POST", s.simURL+"/__sim/collect", "", body); status != 200 {
		t.Fatalf("collect: %d %s", status, raw)
	}
	return s.waitStage(t, "OA/"+in.BillID, want)
}

// errorMessage is the message and code of an API error answer.
// approveAndVoucher takes bill OA/<id>, awaiting finance, to completed: finance approves as the
// approver, the ERP saves voucher vouchNo.
func (s *securedStack) approveAndVoucher(t *testing.T, id, approver, vouchNo string) workflows.BillState {
	t.Helper()
	if code, raw := s.as(t, erpToken, approver, "POST", "/v1/bills/OA/"+id+"/approvals", workflows.ApproveRequest{Role: "finance", Decision: "approve"}, nil); code != 200 {
		t.Fatalf("approve %s: %d %s", id, code, raw)
	}
	today := time.Now().Format("2006-01-02")
	if code, raw := s.as(t, erpToken, "", "POST", "/v1/bills/OA/"+id+"/voucher", workflows.VoucherRequest{VouchID: "V-" + id, VouchNo: vouchNo,
		AccountDate: today, AccountTime: today, BusinessDate: today, Resource: "SAP"}, nil); code != 200 {
		t.Fatalf("voucher %s: %d %s", id, code, raw)
	}
	return s.waitStage(t, "OA/"+id, workflows.StageCompleted)
}

func errorMessage(t *testing.T, raw []byte) (string, string, map[string]string) {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("not an error body: %s", raw)
	}
	return e.Error.Code, e.Error.Message, e.Error.Fields
}

// Who may do what, on one bill through the whole chain: a client without the role gets 403; the
// submitter may not approve their own bill; one person may not approve two roles in one round;
// the policy file decides the chain; the bill records client and user for every decision, and
// its history shows them.
func TestWhoMayDoWhat(t *testing.T) {
	ring, _ := newKeyring(t, "k1")
	s := newSecuredStack(t, ring)

	// The policy file decides the chain: a travel bill has three approvals by its rule.
	trip := s.startAndImport(t, securedBill("TRIP-1", "er_tripreimbursebill"), nil, workflows.StageAwaitingSupervisor)
	if !slices.Equal(trip.Bill.Options.Approvals, []string{"supervisor", "finance", "cfo"}) || trip.Bill.Policy == nil || trip.Bill.Policy.Rule != "travel" {
		t.Fatalf("travel bill: approvals %v, policy %+v", trip.Bill.Options.Approvals, trip.Bill.Policy)
	}
	// The ERP may not approve for cfo: 403 naming the operation and the resource.
	code, raw := s.as(t, erpToken, "cfo-1", "POST", "/v1/bills/OA/TRIP-1/approvals", workflows.ApproveRequest{Role: "cfo", Decision: "approve"}, nil)
	if _, msg, _ := errorMessage(t, raw); code != http.StatusForbidden || !strings.Contains(msg, `"approve:cfo"`) || !strings.Contains(msg, `resource "OA"`) {
		t.Errorf("erp approving for cfo: %d %s", code, raw)
	}
	// A read-only client may not approve at all.
	code, raw = s.as(t, reportingToken, "sup-1", "POST", "/v1/bills/OA/TRIP-1/approvals", workflows.ApproveRequest{Role: "supervisor", Decision: "approve"}, nil)
	if _, msg, _ := errorMessage(t, raw); code != http.StatusForbidden || !strings.Contains(msg, `"approve:<role>"`) {
		t.Errorf("reporting approving: %d %s", code, raw)
	}
	// Asking for a chain the policy does not let the caller choose: 400 naming the option.
	asked := securedBill("DAILY-X", "er_dailyreimbursebill")
	asked.Options.Approvals = []string{}
	code, raw = s.as(t, erpToken, "", "POST", "/v1/bills", asked, nil)
	if _, _, fields := errorMessage(t, raw); code != http.StatusBadRequest || !strings.Contains(fields["options.approvals"], "policy") {
		t.Errorf("approvals: [] under a policy that fixes the chain: %d %s", code, raw)
	}

	// The submitter may not approve their own bill: refused with the reason.
	code, raw = s.as(t, erpToken, "Submitter-U7", "POST", "/v1/bills/OA/TRIP-1/approvals", workflows.ApproveRequest{Role: "supervisor", Decision: "approve"}, nil)
	if _, msg, _ := errorMessage(t, raw); (code != http.StatusConflict && code != http.StatusForbidden) || !strings.Contains(msg, "submitter may not approve") {
		t.Errorf("submitter approving: %d %s", code, raw)
	}
	// alice approves supervisor (the approver is the acting user), then may not approve finance.
	var st workflows.BillState
	if code, raw := s.as(t, erpToken, "alice", "POST", "/v1/bills/OA/TRIP-1/approvals", workflows.ApproveRequest{Role: "supervisor", Decision: "approve"}, &st); code != 200 {
		t.Fatalf("alice approves supervisor: %d %s", code, raw)
	}
	code, raw = s.as(t, erpToken, "alice", "POST", "/v1/bills/OA/TRIP-1/approvals", workflows.ApproveRequest{Role: "finance", Decision: "approve"}, nil)
	if _, msg, _ := errorMessage(t, raw); (code != http.StatusConflict && code != http.StatusForbidden) || !strings.Contains(msg, "one person may not approve two roles") {
		t.Errorf("alice approving a second role: %d %s", code, raw)
	}
	if code, raw := s.as(t, erpToken, "bob", "POST", "/v1/bills/OA/TRIP-1/approvals", workflows.ApproveRequest{Role: "finance", Decision: "approve", Comment: "ok"}, &st); code != 200 {
		t.Fatalf("bob approves finance: %d %s", code, raw)
	}

	// A daily bill under the default rule: one approval, finance. Temporal Web (a signal, here in
	// clear as an operator types it) may approve finance; the bill reads it and records the ops path.
	daily := s.startAndImport(t, securedBill("DAILY-1", "er_dailyreimbursebill"), nil, workflows.StageAwaitingFinance)
	if !slices.Equal(daily.Bill.Options.Approvals, []string{"finance"}) || daily.Bill.Policy.Rule != "default" {
		t.Fatalf("daily bill: approvals %v rule %+v", daily.Bill.Options.Approvals, daily.Bill.Policy)
	}
	if err := s.plain.SignalWorkflow(t.Context(), workflows.BillWorkflowID("OA", "DAILY-1"), "", workflows.SignalApprove,
		workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: "ops-olga",
			Actor: &workflows.Actor{Client: "erp-oa", User: "someone-else"}}); err != nil {
		t.Fatal(err)
	}
	daily = s.waitStage(t, "OA/DAILY-1", workflows.StageAwaitingVoucher)
	if a := daily.Approvals; len(a) != 1 || a[0].Client != workflows.OpsPath || a[0].User != "ops-olga" {
		t.Errorf("the Web signal's approval is recorded as %+v, want the ops path and its approver", a)
	}

	// The bill records client and user on each decision …
	st = s.waitStage(t, "OA/TRIP-1", workflows.AwaitingStage("cfo"))
	want := map[string][2]string{"supervisor": {"erp-oa", "alice"}, "finance": {"erp-oa", "bob"}}
	for _, a := range st.Approvals {
		if w, ok := want[a.Role]; !ok || a.Client != w[0] || a.User != w[1] || a.Approver != w[1] {
			t.Errorf("approval %+v, want client %s user %s", a, w[0], w[1])
		}
		delete(want, a.Role)
	}
	if len(want) > 0 {
		t.Errorf("approvals missing: %v", want)
	}
	// A client limited to resource OA lists through a visibility query narrowed to it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list api.ListResponse
		code, raw := s.as(t, erpToken, "", "GET", "/v1/bills?billNo=BX-TRIP-1", nil, &list)
		if code != 200 {
			t.Fatalf("erp lists its bills: %d %s", code, raw)
		}
		if len(list.Bills) == 1 && list.Bills[0].ID == "OA/TRIP-1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("erp's list never showed its bill: %s", raw)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// … and its history shows them: every accepted approve update carries the actor the API set.
	seen := map[string]workflows.Actor{}
	iter := s.sealed.GetWorkflowHistory(t.Context(), workflows.BillWorkflowID("OA", "TRIP-1"), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	dc := s.codec.DataConverter()
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		acc := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes()
		if acc == nil || acc.GetAcceptedRequest().GetInput().GetName() != workflows.UpdateApprove {
			continue
		}
		var req workflows.ApproveRequest
		if err := dc.FromPayloads(acc.GetAcceptedRequest().GetInput().GetArgs(), &req); err != nil {
			t.Fatal(err)
		}
		if req.Actor != nil {
			seen[req.Role] = *req.Actor
		}
	}
	if seen["supervisor"] != (workflows.Actor{Client: "erp-oa", User: "alice"}) || seen["finance"] != (workflows.Actor{Client: "erp-oa", User: "bob"}) {
		t.Errorf("the history's approve updates carry %+v", seen)
	}
}

// Forwarded invoices are checked like the cloud checks them: an invoice of another buyer is
// refused naming it, and nothing reaches the bill.
func TestForwardedInvoiceOfAnotherBuyerRefused(t *testing.T) {
	ring, _ := newKeyring(t, "k1")
	s := newSecuredStack(t, ring)
	st := s.startAndImport(t, securedBill("FWD-1", "er_dailyreimbursebill"), nil, workflows.StageAwaitingFinance)
	foreign := map[string]any{"invoiceData": []map[string]any{{
		"serialNo": "foreign-1", "buyerTaxNo": "91310115MA1K4QXN5A", "buyerName": "上海浦东示范贸易有限公司",
		"invoiceAmount": "100.00", "totalTaxAmount": "6.00", "totalAmount": "106.00"}}}
	code, raw := s.as(t, erpToken, "", "POST", "/v1/bills/OA/FWD-1/invoices", foreign, nil)
	if _, _, fields := errorMessage(t, raw); code != http.StatusBadRequest || !strings.Contains(fields["invoiceData[0].buyerTaxNo"], "not one of the bill's companies") {
		t.Fatalf("foreign buyer: %d %s", code, raw)
	}
	renamed := map[string]any{"invoiceData": []map[string]any{{"serialNo": "renamed-1", "buyerTaxNo": buyer.taxNo, "buyerName": "冒名公司"}}}
	if code, raw := s.as(t, erpToken, "", "POST", "/v1/bills/OA/FWD-1/invoices", renamed, nil); code != http.StatusBadRequest {
		t.Fatalf("right tax number, wrong name: %d %s", code, raw)
	}
	var after workflows.BillState
	s.as(t, erpToken, "", "GET", "/v1/bills/OA/FWD-1", nil, &after)
	if after.InvoiceCount != st.InvoiceCount || len(after.PendingInvoices) != 0 || len(after.Deliveries) != len(st.Deliveries) {
		t.Errorf("a refused payload reached the bill: %d invoices, %d pending, %d deliveries", after.InvoiceCount, len(after.PendingInvoices), len(after.Deliveries))
	}

	// Forwarding is the way in that must work while workers are down: the check reads the bill
	// from Temporal, not from a worker. A compliant payload is accepted with no worker running,
	// and the bill keeps it once a worker is back (pending: the bill is past collecting).
	s.worker.Stop()
	good := map[string]any{"invoiceData": []map[string]any{{"serialNo": "late-1", "buyerTaxNo": strings.ToLower(buyer.taxNo), "buyerName": buyer.name,
		"invoiceAmount": "50.00", "totalTaxAmount": "3.00", "totalAmount": "53.00"}}}
	started := time.Now()
	if code, raw := s.as(t, erpToken, "", "POST", "/v1/bills/OA/FWD-1/invoices", good, nil); code != http.StatusAccepted || time.Since(started) > 10*time.Second {
		t.Fatalf("forward with no worker: %d after %s: %s", code, time.Since(started), raw)
	}
	s.useKeys(t, ring)
	deadline := time.Now().Add(90 * time.Second)
	for {
		s.as(t, erpToken, "", "GET", "/v1/bills/OA/FWD-1", nil, &after)
		if len(after.PendingInvoices) == 1 && after.PendingInvoices[0].SerialNo == "late-1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the payload forwarded while no worker ran never reached the bill: %+v", after.PendingInvoices)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Sealed in Temporal: the bill's raw history, read from the server without the codec, holds no
// invoice number, company name, amount or eventCode in clear; through the codec endpoint the same
// history decodes to the bill's full state.
func TestHistoryIsSealedAndDecodesThroughTheCodecEndpoint(t *testing.T) {
	ring, _ := newKeyring(t, "k1")
	s := newSecuredStack(t, ring)
	records := []map[string]any{
		{"invoiceNo": "26440000000000012345", "invoiceCode": "044031900111", "salerName": "深圳市保密供应商有限公司", "salerTaxNo": "91440300SELLER0001",
			"invoiceAmount": "1092.53", "totalTaxAmount": "142.03", "totalAmount": "1234.56", "buyerTaxNo": buyer.taxNo, "buyerName": buyer.name,
			"items": []map[string]any{{"goodsName": "机密咨询服务", "detailAmount": "1092.53", "taxAmount": "142.03"}}},
		{"invoiceNo": "26440000000000067890", "salerName": "广州市另一供应商有限公司", "invoiceAmount": "2075.81",
			"totalTaxAmount": "269.86", "totalAmount": "2345.67", "buyerTaxNo": buyer.taxNo, "buyerName": buyer.name},
	}
	st := s.startAndImport(t, securedBill("SEALED-1", "er_dailyreimbursebill"), records, workflows.StageAwaitingFinance)
	if st.InvoiceCount != 2 || st.EventCode == "" {
		t.Fatalf("bill: %d invoices, eventCode %q", st.InvoiceCount, st.EventCode)
	}
	final := s.approveAndVoucher(t, "SEALED-1", "fin-1", "记-秘-1")

	secrets := []string{"26440000000000012345", "26440000000000067890", buyer.name, "深圳市保密供应商有限公司", "广州市另一供应商有限公司",
		"机密咨询服务", "1234.56", "2345.67", "1092.53", "142.03", "2075.81", "269.86", st.EventCode, "记-秘-1"}
	events := rawHistory(t, s.plain, workflows.BillWorkflowID("OA", "SEALED-1"))
	if len(events) < 10 {
		t.Fatalf("only %d events", len(events))
	}
	var encrypted, payloads int
	for _, ev := range events {
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("event %d (%s) holds %q in clear", ev.GetEventId(), ev.GetEventType(), secret)
			}
		}
		forEachPayload(ev, func(p *commonpb.Payload) {
			payloads++
			if string(p.GetMetadata()["encoding"]) == codec.EncodingEncrypted && string(p.GetMetadata()[codec.MetadataKeyID]) == "k1" {
				encrypted++
			}
		})
	}
	if payloads == 0 || encrypted != payloads {
		t.Errorf("%d of %d payloads in the history are encrypted", encrypted, payloads)
	}

	// The completed event's result is the bill's final state: through the codec endpoint (as the
	// temporal CLI and Temporal Web call it) it decodes to the full state.
	var result *commonpb.Payload
	for _, ev := range events {
		if c := ev.GetWorkflowExecutionCompletedEventAttributes(); c != nil {
			result = c.GetResult().GetPayloads()[0]
		}
	}
	if result == nil {
		t.Fatal("no completed event")
	}
	decoded := decodeThroughEndpoint(t, s, opsToken, result)
	var state workflows.BillState
	if err := converter.GetDefaultDataConverter().FromPayload(decoded, &state); err != nil {
		t.Fatal(err)
	}
	if state.EventCode != st.EventCode || state.InvoiceCount != 2 || state.TotalAmount != final.TotalAmount ||
		len(state.Bill.CompanyInfo) != 1 || state.Bill.CompanyInfo[0].Name != buyer.name || state.Voucher == nil || state.Voucher.VouchNo != "记-秘-1" {
		t.Errorf("decoded state: eventCode %q, %d invoices, total %s, bill %+v", state.EventCode, state.InvoiceCount, state.TotalAmount, state.Bill)
	}
	nos := []string{state.Invoices[0].InvoiceNo, state.Invoices[1].InvoiceNo}
	slices.Sort(nos)
	if nos[0] != "26440000000000012345" || nos[1] != "26440000000000067890" {
		t.Errorf("decoded invoice numbers %v", nos)
	}
	// Only a client with codec:decode may do that.
	body := codecBody(t, result)
	if code, _ := s.codecCall(t, erpToken, body); code != http.StatusForbidden {
		t.Errorf("the ERP decoding: %d, want 403", code)
	}
}

// A key rotation loses no bill: a bill started under key 1 completes under key 2 (the keyring k2,
// k1: the newest encrypts, both decrypt), and its history then holds payloads under both keys.
func TestKeyRotationKeepsOldBills(t *testing.T) {
	ring1, entries1 := newKeyring(t, "k1")
	s := newSecuredStack(t, ring1)
	s.startAndImport(t, securedBill("ROT-1", "er_dailyreimbursebill"), nil, workflows.StageAwaitingFinance)

	k2, err := codec.GenerateKey("k2")
	if err != nil {
		t.Fatal(err)
	}
	ring2, err := codec.ParseKeyring("rotated", k2+"\n"+entries1[0])
	if err != nil {
		t.Fatal(err)
	}
	s.useKeys(t, ring2)

	st := s.approveAndVoucher(t, "ROT-1", "fin-2", "记-R")
	if st.InvoiceCount != 2 || len(st.Approvals) != 1 || st.Approvals[0].User != "fin-2" {
		t.Errorf("completed under k2: %+v", st)
	}

	keys := map[string]int{}
	var result *commonpb.Payload
	for _, ev := range rawHistory(t, s.plain, workflows.BillWorkflowID("OA", "ROT-1")) {
		forEachPayload(ev, func(p *commonpb.Payload) { keys[string(p.GetMetadata()[codec.MetadataKeyID])]++ })
		if c := ev.GetWorkflowExecutionCompletedEventAttributes(); c != nil {
			result = c.GetResult().GetPayloads()[0]
		}
	}
	if keys["k1"] == 0 || keys["k2"] == 0 || keys[""] != 0 {
		t.Errorf("payloads by key: %v; want some under k1 (before) and k2 (after), none in clear", keys)
	}
	if string(result.GetMetadata()[codec.MetadataKeyID]) != "k2" {
		t.Errorf("the final state is sealed under %q, want k2", result.GetMetadata()[codec.MetadataKeyID])
	}
	// Without the old key, the start input cannot be read: the old key is what keeps old bills.
	onlyK2, err := codec.ParseKeyring("k2 only", k2)
	if err != nil {
		t.Fatal(err)
	}
	start := rawHistory(t, s.plain, workflows.BillWorkflowID("OA", "ROT-1"))[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
	if _, err := codec.New(onlyK2).Decode(start); err == nil || !strings.Contains(err.Error(), `"k1"`) {
		t.Errorf("decoding a k1 payload with k2 alone: %v", err)
	}
}

// rawHistory reads a workflow's history from the server with c as is (no codec: the bytes
// Temporal stores and serves).
func rawHistory(t *testing.T, c client.Client, workflowID string) []*historypb.HistoryEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out []*historypb.HistoryEvent
	iter := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		out = append(out, ev)
	}
	return out
}

// forEachPayload visits every payload of an event: it walks the event's message tree, so no kind
// of event (and no attribute a new SDK adds) is left out.
func forEachPayload(ev *historypb.HistoryEvent, visit func(*commonpb.Payload)) {
	var walk func(m proto.Message)
	walk = func(m proto.Message) {
		if p, ok := m.(*commonpb.Payload); ok {
			visit(p)
			return
		}
		// The API's signature on an update (internal/voice) is a MAC, in clear by design: it names
		// its key and says nothing of the payload; the answer it asks for is the word "compact"
		// (docs/security.md).
		if h, ok := m.(*commonpb.Header); ok {
			for name, p := range h.GetFields() {
				if name != voice.HeaderKey && name != workflows.AnswerHeader {
					visit(p)
				}
			}
			return
		}
		r := m.ProtoReflect()
		r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					walk(l.Get(i).Message().Interface())
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(mv.Message().Interface())
					return true
				})
			case fd.Message() != nil && !fd.IsMap():
				walk(v.Message().Interface())
			}
			return true
		})
	}
	// Search attributes are not payloads a codec sees: they stay clear by design (docs/security.md).
	clone := proto.Clone(ev).(*historypb.HistoryEvent)
	if a := clone.GetUpsertWorkflowSearchAttributesEventAttributes(); a != nil {
		a.SearchAttributes = nil
	}
	if a := clone.GetWorkflowExecutionStartedEventAttributes(); a != nil {
		a.SearchAttributes = nil
	}
	walk(clone)
}

func codecBody(t *testing.T, p *commonpb.Payload) []byte {
	t.Helper()
	meta := map[string]string{}
	for k, v := range p.GetMetadata() {
		meta[k] = base64.StdEncoding.EncodeToString(v)
	}
	b, err := json.Marshal(map[string]any{"payloads": []any{map[string]any{"metadata": meta, "data": base64.StdEncoding.EncodeToString(p.GetData())}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *securedStack) codecCall(t *testing.T, token string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.api.URL+"/v1/codec/decode", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(codec.HeaderNamespace, s.ns)
	resp, err := testenv.CheckedClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// decodeThroughEndpoint sends one payload to the API's codec endpoint and returns what it answers.
func decodeThroughEndpoint(t *testing.T, s *securedStack, token string, p *commonpb.Payload) *commonpb.Payload {
	t.Helper()
	code, raw := s.codecCall(t, token, codecBody(t, p))
	if code != 200 {
		t.Fatalf("decode: %d %s", code, raw)
	}
	var out struct {
		Payloads []struct {
			Metadata map[string]string `json:"metadata"`
			Data     string            `json:"data"`
		} `json:"payloads"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Payloads) != 1 {
		t.Fatalf("decode answer: %v %s", err, raw)
	}
	dp := &commonpb.Payload{Metadata: map[string][]byte{}}
	for k, v := range out.Payloads[0].Metadata {
		dp.Metadata[k], _ = base64.StdEncoding.DecodeString(v)
	}
	dp.Data, _ = base64.StdEncoding.DecodeString(out.Payloads[0].Data)
	if string(dp.Metadata["encoding"]) == codec.EncodingEncrypted {
		t.Fatalf("the endpoint answered the payload still encrypted")
	}
	return dp
}
