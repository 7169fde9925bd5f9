package apiit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"rimflow/api"
	"rimflow/internal/access"
	"rimflow/workflows"
)

// matrixCaller is one kind of caller of the authorization matrix: its token ("" none) and, for
// a configured client, what it may do where.
type matrixCaller struct {
	name      string
	token     string
	ops       []string
	resources []string
}

// matrixOps are the operations a bill's routes need; the matrix has one client for each, on OA.
var matrixOps = []string{"start", "read", "invoices", "submit", "approve:supervisor", "images", "voucher", "cancel", "retry", "resolve", "webhooks"}

func matrixToken(name string) string {
	return "matrix-" + strings.NewReplacer(":", "-").Replace(name) + "-token-0123456789abcdef"
}

// The authorization matrix, generated from the route table (api.Authorization): every route that
// takes a bearer token × (no token, a wrong token, another resource's client, the read-only
// client, a client of each operation) × (an existing bill, a missing one). A caller the route
// refuses gets 401 or 403, and exactly the same answer for the existing bill as for the missing
// one (no existence oracle: nothing reached Temporal); a caller it admits is never refused. The
// bodies are empty objects, so an admitted call is refused by validation and changes nothing.
func TestAuthorizationMatrix(t *testing.T) {
	var extra []access.Spec
	callers := []matrixCaller{
		{name: "no token"},
		{name: "wrong token", token: "not-a-configured-token-0123456789abcdef"},
		{name: "another resource's client", token: matrixToken("sap-admin"), ops: []string{"admin"}, resources: []string{"SAP"}},
		{name: "read-only", token: reportingToken, ops: []string{"read"}, resources: []string{"*"}},
	}
	extra = append(extra, access.Spec{Name: "sap-admin", Token: matrixToken("sap-admin"), Operations: []string{"admin"}, Resources: []string{"SAP"}})
	// The scraper: the metrics operation, which needs every resource.
	extra = append(extra, access.Spec{Name: "only-metrics", Token: matrixToken("metrics"), Operations: []string{access.OpMetrics}, Resources: []string{"*"}})
	callers = append(callers, matrixCaller{name: "only-metrics", token: matrixToken("metrics"), ops: []string{access.OpMetrics}, resources: []string{"*"}})
	for _, op := range matrixOps {
		name := "only-" + strings.NewReplacer(":", "-").Replace(op)
		extra = append(extra, access.Spec{Name: name, Token: matrixToken(op), Operations: []string{op}, Resources: []string{"OA"}})
		callers = append(callers, matrixCaller{name: name, token: matrixToken(op), ops: []string{op}, resources: []string{"OA"}})
	}
	ring, _ := newKeyring(t, "k1")
	s := newSecuredStack(t, ring, extra...)

	var started api.StartResponse
	if code, raw := s.as(t, erpToken, "", "POST", "/v1/bills", securedBill("MX-1", "er_dailyreimbursebill"), &started); code != http.StatusCreated {
		t.Fatalf("start the existing bill: %d %s", code, raw)
	}
	bills := map[string]string{"existing": "MX-1", "missing": "MX-NONE"}

	cells := 0
	for _, rt := range api.Authorization() {
		if rt.Open {
			continue // public, or authenticates by itself (the codec server, the cloud's push)
		}
		if rt.Op == "" {
			t.Errorf("%s %s takes a bearer token but names no operation: it is checked only in its handler, if at all", rt.Method, rt.Path)
		}
		// Whether the route concerns resource OA (a bill's path, a start's body, a list's filter).
		scoped := strings.Contains(rt.Path, "{resource}") || rt.Operation == "startBill" || rt.Operation == "listBills"
		for _, c := range callers {
			admitted := c.token != "" && c.token != callers[1].token && (grants(c.ops, rt.Op) || rt.OrOp != "" && grants(c.ops, rt.OrOp)) &&
				(!scoped || slices.Contains(c.resources, "*") || slices.Contains(c.resources, "OA")) &&
				// The metrics count every resource's bills: only a client of every resource.
				(rt.Op != access.OpMetrics || slices.Contains(c.resources, "*"))
			answers := map[string]string{}
			for _, which := range []string{"existing", "missing"} {
				cells++
				status, body := matrixCall(t, s, c.token, rt, bills[which])
				refused := status == http.StatusUnauthorized || status == http.StatusForbidden
				// The existing bill collects: its view page is its collect page, a capability only a
				// client that may forward invoices or start the bill gets (403 for a reader).
				collectPage := rt.Operation == "getViewUrl" && which == "existing" &&
					!grants(c.ops, access.OpInvoices) && !grants(c.ops, access.OpStart)
				if admitted && collectPage {
					if status != http.StatusForbidden || !strings.Contains(body, "its view page is its collect page") {
						t.Errorf("%s %s as %s (a collecting bill): %d, want 403 (the view page is the collect page): %s", rt.Method, rt.Path, c.name, status, body)
					}
				} else if admitted && refused {
					t.Errorf("%s %s as %s (%s bill): refused %d, want admitted: %s", rt.Method, rt.Path, c.name, which, status, body)
				}
				if !admitted {
					want := http.StatusForbidden
					if c.token == "" || c.token == callers[1].token {
						want = http.StatusUnauthorized
					}
					if status != want {
						t.Errorf("%s %s as %s (%s bill): %d, want %d: %s", rt.Method, rt.Path, c.name, which, status, want, body)
					}
				}
				answers[which] = fmt.Sprintf("%d %s", status, body)
			}
			if !admitted && answers["existing"] != answers["missing"] {
				t.Errorf("%s %s as %s: the answer tells an existing bill from a missing one:\n existing: %s\n missing:  %s",
					rt.Method, rt.Path, c.name, answers["existing"], answers["missing"])
			}
		}
	}
	if cells < 200 {
		t.Fatalf("the matrix ran only %d cells: the route table was not walked", cells)
	}
}

// grants: the operations include op (admin everything; "approve" is some approval role).
func grants(ops []string, op string) bool {
	for _, o := range ops {
		if o == "admin" || o == op || op == "approve" && strings.HasPrefix(o, "approve:") {
			return true
		}
	}
	return false
}

// matrixCall sends one cell's request: the route with the bill's path, an empty JSON object as
// the body (a start names only the resource and the bill), and the answer without its request id.
func matrixCall(t *testing.T, s *securedStack, token string, rt api.RouteAccess, billID string) (int, string) {
	t.Helper()
	path := strings.NewReplacer("{resource}", "OA", "{billId}", billID, "{serialNo}", "S-1").Replace(rt.Path)
	var body io.Reader
	switch {
	case rt.Operation == "startBill":
		body = strings.NewReader(`{"resource":"OA","billId":"` + billID + `"}`)
	case rt.Operation == "listBills":
		path += "?resource=OA"
	case rt.Method == http.MethodPost || rt.Method == http.MethodPatch:
		body = strings.NewReader(`{}`)
	}
	req, err := http.NewRequestWithContext(t.Context(), rt.Method, s.api.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rt.Method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e struct {
		Error map[string]any `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != nil {
		delete(e.Error, "requestId")
		raw, _ = json.Marshal(e)
	}
	return resp.StatusCode, string(raw)
}

// An Idempotency-Key names one request: reusing one applied on the bill with another request is
// refused (422) with nothing of the bill; the same request again answers the bill's state. A client without `read` on the bill's resource never gets
// its content that way (nor from its own decisions): only the identity and stage; and a client
// with `read` but neither `invoices` nor `start` never sees the eventCode or the collect URLs.
func TestAppliedIdempotencyKeyAnswersNoStateToANonReader(t *testing.T) {
	ring, _ := newKeyring(t, "k1")
	s := newSecuredStack(t, ring,
		access.Spec{Name: "only-cancel", Token: matrixToken("cancel"), Operations: []string{"cancel"}, Resources: []string{"OA"}},
		access.Spec{Name: "only-submit", Token: matrixToken("submit"), Operations: []string{"submit"}, Resources: []string{"OA"}})
	st := s.startAndImport(t, securedBill("IK-1", "er_dailyreimbursebill"), nil, workflows.StageAwaitingFinance)

	// The read-only client sees the invoices but not the collect capability.
	var seen map[string]any
	if code, raw := s.as(t, reportingToken, "", "GET", "/v1/bills/OA/IK-1", nil, &seen); code != 200 {
		t.Fatalf("reporting reads: %d %s", code, raw)
	}
	if seen["eventCode"] != nil || seen["collect"].(map[string]any)["pc"] != "" || len(seen["invoices"].([]any)) != st.InvoiceCount {
		t.Errorf("the read-only client's view: eventCode %v, collect %v, %d invoices (want none, none, %d)",
			seen["eventCode"], seen["collect"], len(seen["invoices"].([]any)), st.InvoiceCount)
	}

	// The ERP returns the bill for finance with a key: an update applied on the bill.
	key := "return-ik-1"
	code, raw := idempotent(t, s, erpToken, "POST", "/v1/bills/OA/IK-1/approvals", key,
		`{"role":"finance","decision":"return","approver":"fin-1","comment":"missing receipt"}`)
	if code != 200 {
		t.Fatalf("return: %d %s", code, raw)
	}
	// The submit-only client replays that key on its own route: another request, so it is refused
	// (422 naming the header) and answered nothing of the bill.
	code, raw = idempotent(t, s, matrixToken("submit"), "POST", "/v1/bills/OA/IK-1/submit", key, `{}`)
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), api.CodeKeyReused) {
		t.Fatalf("submit with the return's key: %d %s, want 422 %s", code, raw, api.CodeKeyReused)
	}
	if strings.Contains(string(raw), "fin-1") || strings.Contains(string(raw), "invoices") || strings.Contains(string(raw), buyer.name) {
		t.Errorf("a submitter replaying the key was answered the bill's content: %s", raw)
	}
	// The cancel-only client's own decision: the stage, not the bill.
	code, raw = idempotent(t, s, matrixToken("cancel"), "POST", "/v1/bills/OA/IK-1/cancel", "cancel-"+key, `{"reason":"duplicate claim"}`)
	if code != 200 {
		t.Fatalf("cancel: %d %s", code, raw)
	}
	assertIdentityOnly(t, "the canceller", raw)
}

func idempotent(t *testing.T, s *securedStack, token, method, path, key, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.api.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderIdempotencyKey, key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func assertIdentityOnly(t *testing.T, who string, raw []byte) {
	t.Helper()
	var st workflows.BillState
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("%s: not a state: %s", who, raw)
	}
	if st.ID != "OA/IK-1" || st.Stage == "" {
		t.Errorf("%s: no identity or stage: %s", who, raw)
	}
	if len(st.Invoices) > 0 || st.Bill.BillNo != "" || len(st.Bill.CompanyInfo) > 0 || st.EventCode != "" || st.Collect.PC != "" ||
		st.View.PC != "" || len(st.History) > 0 || len(st.Approvals) > 0 || st.TotalAmount != "" || strings.Contains(string(raw), buyer.name) {
		t.Errorf("%s was answered the bill's content: %s", who, raw)
	}
}
