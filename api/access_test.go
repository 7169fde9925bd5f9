package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"rimflow/internal/access"
	"rimflow/internal/codec"
	"rimflow/internal/policy"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

const (
	erpToken       = "erp-oa-token-0001"
	reportingToken = "reporting-token-01"
	opsToken       = "ops-console-token-1"
)

// securedServer is an API with three clients (the ERP of resource OA, a read-only reporting
// client, an ops console allowed the codec), the given policy and a payload codec, in front of a
// Temporal nobody answers: a request that passes every check ends in 503.
func securedServer(t *testing.T, pol *policy.Policy) (*server, *codec.Codec) {
	t.Helper()
	clients, err := access.New(
		access.Spec{Name: "erp-oa", Token: erpToken, Resources: []string{"OA"},
			Operations: []string{"start", "read", "invoices", "submit", "approve:supervisor"}},
		access.Spec{Name: "reporting", Token: reportingToken, Operations: []string{"read"}, Resources: []string{"*"}},
		access.Spec{Name: "ops", Token: opsToken, Operations: []string{"read", "codec:decode", "codec:encode"}, Resources: []string{"*"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := codec.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := codec.ParseKeyring("test", keys)
	if err != nil {
		t.Fatal(err)
	}
	cdc := codec.New(ring)
	s, err := newServer(Options{Client: unreachableClient(t), Namespace: "default", Clients: clients, Policy: pol,
		Codec: cdc, RequestTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s, cdc
}

// send is one request with headers; the answer's status and decoded JSON body.
func send(t *testing.T, h http.Handler, method, path string, headers map[string]string, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

func jsonAs(token string) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return h
}

const startOA = `{"billId":"B-1","billNo":"BX-1","billType":"er_dailyreimbursebill","resource":"OA","billTaxNo":"91330100MA2B3C4D5N","userId":"u-7"}`

// A client without the operation, or on another resource, gets 403 naming both; with them it gets
// through (to a Temporal that does not answer: 503).
func TestClientsNeedTheirOperationAndResource(t *testing.T) {
	s, _ := securedServer(t, nil)
	for _, tc := range []struct {
		name, token, method, path, body string
		status                          int
		want                            []string // fragments of the message
	}{
		{"reporting may not cancel", reportingToken, "POST", "/v1/bills/OA/B-1/cancel", `{"reason":"x"}`, 403, []string{`"cancel"`, `resource "OA"`, `"reporting"`}},
		{"erp may not submit another resource's bill", erpToken, "POST", "/v1/bills/SAP/B-1/submit", ``, 403, []string{`"submit"`, `resource "SAP"`}},
		{"erp may not approve for finance", erpToken, "POST", "/v1/bills/OA/B-1/approvals", `{"role":"finance","decision":"approve","approver":"bob"}`, 403, []string{`"approve:finance"`, `resource "OA"`}},
		{"erp may not start another resource's bill", erpToken, "POST", "/v1/bills", strings.Replace(startOA, `"OA"`, `"SAP"`, 1), 403, []string{`"start"`, `resource "SAP"`}},
		{"erp may not list another resource", erpToken, "GET", "/v1/bills?resource=SAP", ``, 403, []string{`"read"`, `resource "SAP"`}},
		{"reporting may not start", reportingToken, "POST", "/v1/bills", startOA, 403, []string{`"start"`}},
		{"ops may not read a bill's invoices in", opsToken, "POST", "/v1/bills/OA/B-1/invoices", `{"invoiceData":[{"serialNo":"s1"}]}`, 403, []string{`"invoices"`}},
		{"a wrong token", "not-a-token-at-all", "GET", "/v1/bills/OA/B-1", ``, 401, nil},
		{"no token", "", "GET", "/v1/bills/OA/B-1", ``, 401, nil},
		{"erp approves for supervisor", erpToken, "POST", "/v1/bills/OA/B-1/approvals", `{"role":"supervisor","decision":"approve","approver":"alice"}`, 503, nil},
		{"erp starts its own resource's bill", erpToken, "POST", "/v1/bills", startOA, 503, nil},
		{"reporting reads any bill", reportingToken, "GET", "/v1/bills/SAP/B-9", ``, 503, nil},
		{"erp lists its own bills", erpToken, "GET", "/v1/bills", ``, 503, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := send(t, s, tc.method, tc.path, jsonAs(tc.token), tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if tc.status == 403 {
				code, _ := errorOf(t, body)
				msg := body["error"].(map[string]any)["message"].(string)
				if code != CodeForbidden {
					t.Errorf("code %q", code)
				}
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("message %q does not name %s", msg, w)
					}
				}
			}
		})
	}
}

// A client limited to some resources lists only theirs: the visibility query says so.
func TestListIsNarrowedToTheClientsResources(t *testing.T) {
	f := ListFilter{Stage: "collecting", Resources: []string{"HR", "O'A"}}
	if q := f.Query(); !strings.Contains(q, `BillResource IN ('HR', 'O\'A')`) {
		t.Errorf("query %s", q)
	}
}

// Every POST must say application/json: a browser cannot send that across sites without a
// preflight, so no web page can drive the API, open or not.
func TestPostRequiresJSON(t *testing.T) {
	s := testServer(t, "", nil)
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		status, body := send(t, s, "POST", "/v1/bills/OA/B-1/submit", map[string]string{"Content-Type": ct}, ``)
		if status != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: status %d, want 415", ct, status)
			continue
		}
		if code, fields := errorOf(t, body); code != CodeUnsupportedMediaType || fields["Content-Type"] == nil {
			t.Errorf("Content-Type %q: %s %v", ct, code, fields)
		}
	}
	if status, _ := send(t, s, "POST", "/v1/bills", map[string]string{"Content-Type": "application/json; charset=utf-8"}, `{}`); status != 400 {
		t.Errorf("application/json with a charset: status %d, want 400 (validation)", status)
	}
}

// Who decides is the server's to say: a body carrying actor (or a start carrying policy) is
// refused naming the field; X-Acting-User is checked; an approver other than the acting user is refused.
func TestServerSetFieldsAndActingUser(t *testing.T) {
	s := testServer(t, "", nil)
	for _, tc := range []struct {
		name, path, body string
		headers          map[string]string
		field            string
	}{
		{"actor in an approval", "/v1/bills/OA/B-1/approvals", `{"role":"finance","decision":"approve","approver":"bob","actor":{"client":"erp","user":"bob"}}`, nil, "actor"},
		{"Actor in any case", "/v1/bills/OA/B-1/cancel", `{"reason":"x","ACTOR":null}`, nil, "ACTOR"},
		{"actor in a submit", "/v1/bills/OA/B-1/submit", `{"actor":{"client":"x"}}`, nil, "actor"},
		{"policy in a start", "/v1/bills", strings.Replace(startOA, `"userId"`, `"policy":{"duties":{"submitterMayApprove":true}},"userId"`, 1), nil, "policy"},
		{"acting user too long", "/v1/bills/OA/B-1/submit", ``, map[string]string{HeaderActingUser: strings.Repeat("a", MaxActingUserLen+1)}, HeaderActingUser},
		{"acting user with a control character", "/v1/bills/OA/B-1/submit", ``, map[string]string{HeaderActingUser: "bob\x01"}, HeaderActingUser},
		{"approver is not the acting user", "/v1/bills/OA/B-1/approvals", `{"role":"finance","decision":"approve","approver":"bob"}`, map[string]string{HeaderActingUser: "alice"}, "approver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := jsonAs("")
			for k, v := range tc.headers {
				h[k] = v
			}
			status, body := send(t, s, "POST", tc.path, h, tc.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %v", status, body)
			}
			_, fields := errorOf(t, body)
			why, _ := fields[tc.field].(string)
			if why == "" {
				t.Fatalf("field %q not named: %v", tc.field, fields)
			}
			if (tc.field == "actor" || tc.field == "policy") && !strings.Contains(why, "set by the server") {
				t.Errorf("%s: %q does not say the server sets it", tc.field, why)
			}
		})
	}
	// The same person in another case is the acting user: through to Temporal.
	h := jsonAs("")
	h[HeaderActingUser] = "Bob"
	if status, body := send(t, s, "POST", "/v1/bills/OA/B-1/approvals", h, `{"role":"finance","decision":"approve","approver":"bob"}`); status != 503 {
		t.Errorf("approver = acting user: status %d %v", status, body)
	}
}

func TestStampDecisionRecordsWhoDecides(t *testing.T) {
	clients, err := access.New(access.Spec{Name: "erp", Token: erpToken, Operations: []string{"approve:*"}, Resources: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	erp, _ := clients.ByName("erp")
	for _, tc := range []struct {
		name             string
		c                caller
		req              any
		client, user, by string
	}{
		{"approver from the header", caller{client: erp, user: "alice"}, &workflows.ApproveRequest{Role: "finance", Decision: "approve"}, "erp", "alice", "alice"},
		{"no header: the approver named", caller{client: erp}, &workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: " bob "}, "erp", "bob", " bob "},
		{"open API", caller{user: "carol"}, &workflows.CancelRequest{Reason: "x"}, AnonymousClient, "carol", "carol"},
		{"resolve keeps its by", caller{client: erp, user: "dave"}, &workflows.ResolveRequest{By: "dave", Reason: "r", Done: "d"}, "erp", "dave", "dave"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if e := stampDecision(tc.c, "OA", tc.req); e != nil {
				t.Fatal(e)
			}
			var got struct {
				Approver, By string
				Actor        struct{ Client, User string }
			}
			raw, _ := json.Marshal(tc.req)
			_ = json.Unmarshal(raw, &got)
			person := got.Approver + got.By
			if got.Actor.Client != tc.client || got.Actor.User != tc.user || person != tc.by {
				t.Errorf("stamped %s", raw)
			}
		})
	}
}

// A start under a policy that fixes the chain: asking for another chain is a 400 naming
// options.approvals, before anything reaches Temporal; asking for what the policy allows passes.
func TestPolicyRefusesOptionsItDoesNotAllow(t *testing.T) {
	pol, err := policy.Parse([]byte("default:\n  approvals: [supervisor, finance]\n  allowCallerOptions: [autoSubmit]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := securedServer(t, pol)
	with := func(opts string) string {
		return strings.Replace(startOA, `"userId":"u-7"`, `"userId":"u-7","options":`+opts, 1)
	}
	for _, tc := range []struct {
		opts   string
		status int
		field  string
	}{
		{`{"approvals":[]}`, 400, "options.approvals"},
		{`{"approvals":["finance"],"imageMode":"basic"}`, 400, "options.imageMode"},
		{`{"autoSubmit":false}`, 503, ""},
		{`{"approvals":["Supervisor","finance"]}`, 503, ""}, // the policy's own chain is no choice
	} {
		status, body := send(t, s, "POST", "/v1/bills", jsonAs(erpToken), with(tc.opts))
		if status != tc.status {
			t.Errorf("%s: status %d, want %d: %v", tc.opts, status, tc.status, body)
			continue
		}
		if tc.field != "" {
			if _, fields := errorOf(t, body); fields[tc.field] == nil || !strings.Contains(fields[tc.field].(string), "policy") {
				t.Errorf("%s: %v does not name %s as the policy's", tc.opts, fields, tc.field)
			}
		}
	}
}

// IDs and keyword search attributes must fit in what PostgreSQL visibility stores.
func TestStartRefusesIDsVisibilityCannotStore(t *testing.T) {
	s := testServer(t, "", nil)
	long := strings.Repeat("x", 250)
	for field, body := range map[string]string{
		"billId":    strings.Replace(startOA, `"B-1"`, `"`+long+`"`, 1),
		"billNo":    strings.Replace(startOA, `"BX-1"`, `"`+long+"123456"+`"`, 1),
		"billTaxNo": strings.Replace(startOA, `"91330100MA2B3C4D5N"`, `"`+long+"123456"+`"`, 1),
	} {
		status, out := send(t, s, "POST", "/v1/bills", jsonAs(""), body)
		if _, fields := errorOf(t, out); status != 400 || fields[field] == nil {
			t.Errorf("%s: status %d %v", field, status, fields)
		}
	}
	if status, out := send(t, s, "GET", "/v1/bills/OA/"+long, nil, ""); status != 400 {
		t.Errorf("a path naming a too long ID: %d %v", status, out)
	}
}

// A forwarded payload is checked before anything reaches Temporal for what it shows alone.
func TestForwardedPayloadChecks(t *testing.T) {
	s := testServer(t, "", nil)
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf(`{"serialNo":"s%d"}`, i)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"negative amount", `{"invoiceData":[{"serialNo":"s1","invoiceAmount":"-1.00"}]}`, 400, "invoiceData[0].invoiceAmount"},
		{"totals do not add up", `{"invoiceData":[{"serialNo":"s1","invoiceAmount":"100.00","totalTaxAmount":"13.00","totalAmount":"120.00"}]}`, 400, "invoiceData[0].totalAmount"},
		{"negative line", `{"invoiceData":[{"serialNo":"s1","items":[{"detailAmount":"-3"}]}]}`, 400, "invoiceData[0].items[0].detailAmount"},
		{"same invoice twice", `{"invoiceData":[{"serialNo":"s1"},{"serialNo":"s1"}]}`, 400, "invoiceData[1].serialNo"},
		{"void invoice", `{"invoiceData":[{"serialNo":"s1","invoiceStatus":"2"}]}`, 400, "invoiceData[0].invoiceStatus"},
		{"too many in one payload", `{"invoiceData":[` + strings.Join(many, ",") + `]}`, 413, "invoiceData"},
		{"consistent amounts pass to the bill", `{"invoiceData":[{"serialNo":"s1","invoiceAmount":100,"totalTaxAmount":"13.00","totalAmount":"113"}]}`, 503, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := send(t, s, "POST", "/v1/bills/OA/B-1/invoices", jsonAs(""), tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if tc.field != "" {
				if _, fields := errorOf(t, body); fields[tc.field] == nil {
					t.Errorf("field %s not named: %v", tc.field, fields)
				}
			}
		})
	}
}

// Against the bill: the buyer is one of its companies (tax number and, where companyInfo names
// it, the name), and a full bill takes no more.
func TestForwardedPayloadAgainstTheBill(t *testing.T) {
	bill := &forwardTarget{workflowID: "bill:OA:B-1", bill: workflows.BillInput{BillTaxNo: "91440300MA5G9GK78Y",
		CompanyInfo: []invoicecloud.Company{{TaxNo: "91330100MA2B3C4D5N", Name: "杭州示例科技有限公司"}}}}
	one := func(inv invoicecloud.Invoice) workflows.InvoicesSignal {
		inv.SerialNo = "s1"
		return workflows.InvoicesSignal{InvoiceData: []invoicecloud.Invoice{inv}}
	}
	for _, tc := range []struct {
		name string
		inv  invoicecloud.Invoice
		ok   bool
	}{
		{"the bill's tax number", invoicecloud.Invoice{BuyerTaxNo: "91440300ma5g9gk78y"}, true},
		{"a companyInfo company with its name", invoicecloud.Invoice{BuyerTaxNo: "91330100MA2B3C4D5N", BuyerName: "杭州示例科技有限公司"}, true},
		{"a companyInfo tax number under another name", invoicecloud.Invoice{BuyerTaxNo: "91330100MA2B3C4D5N", BuyerName: "别的公司"}, false},
		{"another buyer", invoicecloud.Invoice{BuyerTaxNo: "91310115MA1K4QXN5A"}, false},
		{"no buyer", invoicecloud.Invoice{}, false},
	} {
		e := checkForwarded(one(tc.inv), bill)
		if tc.ok != (e == nil) || (e != nil && e.Fields["invoiceData[0].buyerTaxNo"] == "") {
			t.Errorf("%s: %v", tc.name, e)
		}
	}
	full := *bill
	full.held = workflows.MaxInvoicesPerBill
	if e := checkForwarded(one(invoicecloud.Invoice{BuyerTaxNo: "91440300MA5G9GK78Y"}), &full); e == nil || e.Status != http.StatusConflict {
		t.Errorf("a full bill: %v", e)
	}
}

// Metric labels never take a caller's value: an invented method or a role the caller chose.
func TestMetricLabelsAreServerChosen(t *testing.T) {
	s := testServer(t, "", nil)
	send(t, s, "FROBNICATE", "/v1/nothing", nil, "")
	s.stats.observeStage("bill:OA:1", "awaiting_my_own_role")
	s.stats.observeStage("bill:OA:1", "awaiting_finance")
	var text bytes.Buffer
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text.Write(rec.Body.Bytes())
	for _, bad := range []string{"FROBNICATE", "my_own_role"} {
		if strings.Contains(text.String(), bad) {
			t.Errorf("a caller's %q became a label", bad)
		}
	}
	for _, want := range []string{`method="other",route="unmatched"`, `from="awaiting_other",to="awaiting_finance"`} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// The codec server is mounted in the API: a client with codec:decode decodes what the codec
// encoded (no Temporal needed); others are refused; without a codec the route says so.
func TestCodecServerMounted(t *testing.T) {
	s, cdc := securedServer(t, nil)
	plain, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{"buyer": "金蝶票据云科技(深圳)有限公司"})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := cdc.Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"payloads": []json.RawMessage{protoJSON(t, sealed[0])}})
	status, out := send(t, s, "POST", "/v1/codec/decode", jsonAs(opsToken), string(body))
	if status != 200 {
		t.Fatalf("decode: %d %v", status, out)
	}
	raw, _ := json.Marshal(out)
	if !strings.Contains(string(raw), encodeB64(plain.Data)) {
		t.Errorf("decode did not restore the payload: %s", raw)
	}
	if status, _ := send(t, s, "POST", "/v1/codec/decode", jsonAs(erpToken), string(body)); status != 403 {
		t.Errorf("erp decoding: %d, want 403", status)
	}
	if status, _ := send(t, s, "POST", "/v1/codec/decode", jsonAs(""), string(body)); status != 401 {
		t.Errorf("no token: %d, want 401", status)
	}
	if status, _ := send(t, testServer(t, "", nil), "POST", "/v1/codec/decode", jsonAs(""), string(body)); status != 404 {
		t.Errorf("no codec: %d, want 404", status)
	}
	if _, err := Build(Options{Client: unreachableClient(t), Token: erpToken, Clients: func() *access.Clients {
		cs, _ := access.New(access.Spec{Name: "x", Token: opsToken, Operations: []string{"read"}, Resources: []string{"*"}})
		return cs
	}()}); err == nil {
		t.Error("Build accepted both Token and Clients")
	}
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func protoJSON(t *testing.T, p *commonpb.Payload) json.RawMessage {
	t.Helper()
	meta := map[string]string{}
	for k, v := range p.GetMetadata() {
		meta[k] = encodeB64(v)
	}
	b, _ := json.Marshal(map[string]any{"metadata": meta, "data": encodeB64(p.GetData())})
	return b
}

// What each client sees of a bill's state: a client without read only the identity and stage;
// the eventCode, the collect URLs and the state's view page (the collect eventCode's) only with
// invoices or start (a reader gets a view-only page from GET …/view-url); an open API everything.
func TestStateShowsEachClientWhatItMaySee(t *testing.T) {
	clients, err := access.New(
		access.Spec{Name: "erp", Token: "erp-token-0123456789", Operations: []string{"invoices", "read"}, Resources: []string{"OA"}},
		access.Spec{Name: "starter", Token: "start-token-0123456789", Operations: []string{"start", "read"}, Resources: []string{"OA"}},
		access.Spec{Name: "reporting", Token: "report-token-0123456789", Operations: []string{"read"}, Resources: []string{"*"}},
		access.Spec{Name: "station", Token: "station-token-0123456789", Operations: []string{"images"}, Resources: []string{"OA"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	full := workflows.BillState{WorkflowID: "bill:OA:B-1", ID: "OA/B-1", Stage: workflows.StageCollecting, EventCode: "EC-1",
		Collect: workflows.URLs{PC: "https://cloud/collect?eventCode=EC-1"}, View: workflows.URLs{PC: "https://cloud/view?eventCode=EC-1"},
		Bill: workflows.BillInput{BillID: "B-1", BillNo: "BX-1", Resource: "OA"}, TotalAmount: "1130.00", InvoiceCount: 1,
		Invoices: []workflows.InvoiceView{{SerialNo: "s1"}}}
	by := func(name string) *access.Client { c, _ := clients.ByName(name); return c }
	for _, name := range []string{"erp", "starter"} {
		if got := StateFor(by(name), "OA", full); got.EventCode != "EC-1" || got.Collect.PC == "" || got.View.PC == "" || len(got.Invoices) != 1 {
			t.Errorf("%s: %+v", name, got)
		}
	}
	if got := StateFor(by("reporting"), "OA", full); got.EventCode != "" || got.Collect.PC != "" || got.View.PC != "" || len(got.Invoices) != 1 {
		t.Errorf("reporting sees the collect capability (its eventCode in a URL) or misses the invoices: %+v", got)
	}
	got := StateFor(by("station"), "OA", full)
	if got.ID != "OA/B-1" || got.Stage != workflows.StageCollecting || got.Bill.BillNo != "" || got.EventCode != "" ||
		got.View.PC != "" || len(got.Invoices) != 0 || got.TotalAmount != "" || got.Invoices == nil {
		t.Errorf("the station (no read) sees more than identity and stage: %+v", got)
	}
	if got := StateFor(nil, "OA", full); got.EventCode != "EC-1" || got.Bill.BillNo != "BX-1" {
		t.Errorf("an open API's caller: %+v", got)
	}
}

// Wrong bearer tokens are limited per client address: past the burst, no token from that address
// is checked (429 with Retry-After, even the right one), while another address and requests
// without a token are not affected. The codec server's sign-in counts in the same allowance.
func TestWrongTokensAreLimitedPerAddress(t *testing.T) {
	s, _ := securedServer(t, nil)
	from := func(addr, token, path string) int {
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = addr + ":40000"
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
		return rec.Code
	}
	for i := range access.DefaultFailureBurst {
		if code := from("198.51.100.7", "wrong-token-guess-"+fmt.Sprint(i), "/v1/bills/OA/B-1"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, code)
		}
	}
	if code := from("198.51.100.7", "one-more-wrong-guess", "/v1/bills/OA/B-1"); code != http.StatusTooManyRequests {
		t.Fatalf("past the burst: %d, want 429", code)
	}
	if code := from("198.51.100.7", reportingToken, "/v1/bills/OA/B-1"); code != http.StatusTooManyRequests {
		t.Fatalf("the right token from the guessing address: %d, want 429 (not checked)", code)
	}
	if code := from("198.51.100.7", "", "/v1/bills/OA/B-1"); code != http.StatusUnauthorized {
		t.Fatalf("no token from the guessing address: %d, want 401 (not a guess)", code)
	}
	if code := from("198.51.100.8", reportingToken, "/v1/bills/OA/B-1"); code == http.StatusTooManyRequests || code == http.StatusUnauthorized {
		t.Fatalf("another address with the right token: %d", code)
	}
	// The codec server's sign-in shares the allowance: the guessing address is refused there too.
	req := httptest.NewRequest("POST", "/v1/codec/login", strings.NewReader("token="+opsToken))
	req.RemoteAddr = "198.51.100.7:40001"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://example.com")
	req.Host = "example.com"
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("codec sign-in from the guessing address: %d %s", rec.Code, rec.Body)
	}
}
