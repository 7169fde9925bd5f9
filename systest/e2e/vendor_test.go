package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"rimflow/api"
	"rimflow/devstack/harness"
	"rimflow/invoicecloud"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// The vendor's whole picture, end to end through the devstack on both demo enterprises (the
// ultimate tenant and the standard-edition one), driven through the HTTP API and the simulator's
// /__sim/ interface.
func TestVendorPicture(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel) // the subtests run in parallel, after this function returns
	env := newE2E(t, ctx)
	for _, ed := range []struct {
		name  string
		taxNo string
	}{{"ultimate", harness.DemoTaxNo}, {"standard", harness.DemoStandardTaxNo}} {
		tag := strings.ToUpper(ed.name[:3])
		t.Run("an Idempotency-Key reused with another request is 422 on "+ed.name, func(t *testing.T) {
			t.Parallel()
			env.keyReused(t, "E2E-KEY-"+tag, ed.taxNo)
		})
	}
}

// vendorBill is the demo bill id on the enterprise taxNo (companyInfo as the registry names it).
func (e *e2e) vendorBill(t *testing.T, id, taxNo string) workflows.BillInput {
	in := harness.DemoBill(id)
	in.BillTaxNo, in.CompanyInfo = taxNo, []invoicecloud.Company{{TaxNo: taxNo, Name: e.enterprise(t, taxNo).Name}}
	return in
}

// keyed sends body (raw JSON) with an Idempotency-Key and returns the status and the answer.
func (e *e2e) keyed(t *testing.T, method, u, key string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderIdempotencyKey, key)
	if e.Target.Token != "" {
		req.Header.Set("Authorization", "Bearer "+e.Target.Token)
	}
	resp, err := testenv.CheckedClient(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// wantKeyReused checks a 422 naming the Idempotency-Key header.
func wantKeyReused(t *testing.T, what string, status int, raw []byte) {
	t.Helper()
	var e api.ErrorBody
	if status != http.StatusUnprocessableEntity || json.Unmarshal(raw, &e) != nil || e.Error == nil ||
		e.Error.Code != api.CodeKeyReused || e.Error.Fields[api.HeaderIdempotencyKey] == "" {
		t.Fatalf("%s: HTTP %d %s, want 422 %s naming %s", what, status, raw, api.CodeKeyReused, api.HeaderIdempotencyKey)
	}
}

// keyReused: the same request sent again with its key (spaced and ordered otherwise) gets the
// first answer; the key with another start body or another decision is 422 and nothing is applied.
func (e *e2e) keyReused(t *testing.T, id, taxNo string) {
	in := e.vendorBill(t, id, taxNo)
	in.Options.AutoSubmit = new(bool)
	first, _ := json.Marshal(in)
	if status, raw := e.keyed(t, "POST", e.Target.APIURL+"/v1/bills", "start-"+id, first); status != http.StatusCreated {
		t.Fatalf("start: HTTP %d %s", status, raw)
	}
	var spaced bytes.Buffer
	_ = json.Indent(&spaced, first, "", "   ")
	if status, raw := e.keyed(t, "POST", e.Target.APIURL+"/v1/bills", "start-"+id, spaced.Bytes()); status != http.StatusCreated {
		t.Fatalf("the same start again with its key: HTTP %d %s, want the first answer (201)", status, raw)
	}
	other := in
	other.BillNo = "BX-OTHER"
	body, _ := json.Marshal(other)
	status, raw := e.keyed(t, "POST", e.Target.APIURL+"/v1/bills", "start-"+id, body)
	wantKeyReused(t, "a start with the key and another billNo", status, raw)

	a := StartAnswer{ID: "OA/" + id}
	var url workflows.CollectURLResponse
	e.call(t, "GET", e.billURL(id)+"/collect-url", nil, &url)
	testenv.Collect(t, e.ctx, e.Target.CloudURL, url.EventCode, 1)
	e.waitFor(t, a.ID, "one invoice bound", func(st workflows.BillState) bool { return st.InvoiceCount == 1 })
	if status, raw := e.keyed(t, "POST", e.billURL(id)+"/submit", "submit-"+id, []byte(`{"by":"demo-user"}`)); status != http.StatusOK {
		t.Fatalf("submit: HTTP %d %s", status, raw)
	}
	approve, _ := json.Marshal(workflows.ApproveRequest{Role: "supervisor", Decision: workflows.DecisionApprove, Approver: "key-sup"})
	if status, raw := e.keyed(t, "POST", e.billURL(id)+"/approvals", "sup-"+id, approve); status != http.StatusOK {
		t.Fatalf("approve: HTTP %d %s", status, raw)
	}
	// The approval again with its key is answered; the key with finance's decision is another request.
	if status, raw := e.keyed(t, "POST", e.billURL(id)+"/approvals", "sup-"+id, approve); status != http.StatusOK {
		t.Fatalf("the approval again with its key: HTTP %d %s", status, raw)
	}
	finance, _ := json.Marshal(workflows.ApproveRequest{Role: "finance", Decision: workflows.DecisionApprove, Approver: "key-fin"})
	status, raw = e.keyed(t, "POST", e.billURL(id)+"/approvals", "sup-"+id, finance)
	wantKeyReused(t, "finance's approval with the supervisor's key", status, raw)
	// Another route with the key is another request too.
	status, raw = e.keyed(t, "POST", e.billURL(id)+"/cancel", "sup-"+id, []byte(`{"reason":"x"}`))
	wantKeyReused(t, "a cancel with the approval's key", status, raw)
	var st workflows.BillState
	e.call(t, "GET", e.billURL(id), nil, &st)
	if st.Stage != workflows.StageAwaitingFinance || len(st.Approvals) != 1 || st.Bill.BillNo != "BX-"+id {
		t.Fatalf("after the refused reuses: stage %s, %d approvals, billNo %s; want awaiting_finance, 1, BX-%s",
			st.Stage, len(st.Approvals), st.Bill.BillNo, id)
	}
}
