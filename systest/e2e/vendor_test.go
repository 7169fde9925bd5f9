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
	"rimflow/cloudsim/simulator"
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
	env := newE2EWith(t, ctx, func(o *harness.Options) {
		o.Policy = ackPolicy(t)
		// A cloud that takes longer remarks than rimflow's default [assumed], and the registry's
		// limits set to match (harness.LimitsOf), as a deployment sets its enterprises'.
		o.CloudLimits = simulator.Limits{RemarkLen: vendorRemarkLen}
	})
	for _, ed := range []struct {
		name  string
		taxNo string
	}{{"ultimate", harness.DemoTaxNo}, {"standard", harness.DemoStandardTaxNo}} {
		tag := strings.ToUpper(ed.name[:3])
		t.Run("an Idempotency-Key reused with another request is 422 on "+ed.name, func(t *testing.T) {
			t.Parallel()
			env.keyReused(t, "E2E-KEY-"+tag, ed.taxNo)
		})
		t.Run("one voucher for many bills on "+ed.name+": one voucherSave, or nothing when a bill is not ready", func(t *testing.T) {
			t.Parallel()
			env.voucherSet(t, "E2E-VS-"+tag, ed.taxNo)
		})
		t.Run("the ERP's line fields and cover on every billSave on "+ed.name, func(t *testing.T) {
			t.Parallel()
			env.lineFields(t, "E2E-LN-"+tag, ed.taxNo)
		})
		t.Run("attachments kept on the bill and passed on on "+ed.name, func(t *testing.T) {
			t.Parallel()
			env.attachments(t, "E2E-AT-"+tag, ed.taxNo)
		})
		t.Run("unverified invoices acknowledged by finance on "+ed.name, func(t *testing.T) {
			t.Parallel()
			env.unverified(t, "E2E-UV-"+tag, ed.taxNo)
		})
		t.Run("the enterprise's limits frozen into each bill on "+ed.name, func(t *testing.T) {
			t.Parallel()
			env.limits(t, "E2E-LM-"+tag, ed.taxNo)
		})
	}
}

// startCollecting starts in through the API (201) and answers its collect URL.
func (e *e2e) startCollecting(t *testing.T, in workflows.BillInput) workflows.CollectURLResponse {
	t.Helper()
	if status, raw := e.startBill(t, in); status != http.StatusCreated {
		t.Fatalf("start %s: HTTP %d %s", in.BillID, status, raw)
	}
	var url workflows.CollectURLResponse
	e.call(t, "GET", e.billURL(in.BillID)+"/collect-url", nil, &url)
	return url
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

// toVoucher starts a bill with no approval on taxNo, imports n invoices on its collect page and
// waits until it awaits its voucher (autoSubmit: billSave 30, then 60).
func (e *e2e) toVoucher(t *testing.T, id, taxNo string, n int) {
	t.Helper()
	in := e.vendorBill(t, id, taxNo)
	in.Options.Approvals = []string{}
	url := e.startCollecting(t, in)
	testenv.Collect(t, e.ctx, e.Target.CloudURL, url.EventCode, n)
	e.WaitStage(t, "OA/"+id, workflows.StageAwaitingVoucher)
}

// voucherSet: a set naming a bill still collecting is 409 naming it and saves nothing (the bill
// held first awaits its voucher again); the set of two ready bills is one voucherSave listing
// both, and both complete. The vouchId then belongs to the set.
func (e *e2e) voucherSet(t *testing.T, id, taxNo string) {
	a, b, c := id+"-A", id+"-B", id+"-C"
	e.toVoucher(t, a, taxNo, 2)
	e.toVoucher(t, b, taxNo, 1)
	in := e.vendorBill(t, c, taxNo)
	if status, raw := e.startBill(t, in); status != http.StatusCreated {
		t.Fatalf("start %s: HTTP %d %s", c, status, raw)
	}
	today := time.Now().Format("2006-01-02")
	set := func(bills ...string) api.VoucherSetRequest {
		req := api.VoucherSetRequest{VoucherRequest: workflows.VoucherRequest{VouchID: "V-" + id, VouchNo: "记-" + id,
			AccountDate: today, AccountTime: today, BusinessDate: today, Resource: "SAP"}}
		for _, x := range bills {
			req.Bills = append(req.Bills, workflows.BillKey{Resource: "OA", BillID: x})
		}
		return req
	}
	status, raw := e.post(t, e.Target.APIURL+"/v1/vouchers", set(a, c))
	var refused api.ErrorBody
	if status != http.StatusConflict || json.Unmarshal(raw, &refused) != nil || refused.Error.SubCode != api.SubWrongStage ||
		refused.Error.Fields["bills[1]"] == "" || !strings.Contains(refused.Error.Message, "OA/"+c) {
		t.Fatalf("a set with a collecting bill: HTTP %d %s, want 409 wrong_stage naming bills[1] (OA/%s)", status, raw, c)
	}
	st := e.waitFor(t, "OA/"+a, "the hold released", func(st workflows.BillState) bool {
		return st.Stage == workflows.StageAwaitingVoucher && st.Voucher == nil
	})
	if !hasNote(st, workflows.StageAwaitingVoucher, "did not save the voucher") {
		t.Errorf("the released bill's history does not say so: %+v", st.History)
	}
	if cb := e.cloudBill(t, a); cb.Voucher != nil || cb.Calls.VoucherSave.Applied != 0 {
		t.Fatalf("after the refused set the cloud holds voucher %+v (%+v)", cb.Voucher, cb.Calls.VoucherSave)
	}

	var saved api.VoucherSetResponse
	e.call(t, "POST", e.Target.APIURL+"/v1/vouchers", set(a, b), &saved)
	if len(saved.Bills) != 2 || len(saved.SerialNos) != 3 || saved.Set != workflows.VoucherClaimID("SAP", "V-"+id) {
		t.Fatalf("saved set: %+v, want 2 bills, 3 invoices, set %s", saved, workflows.VoucherClaimID("SAP", "V-"+id))
	}
	for _, x := range []string{a, b} {
		st := e.WaitStage(t, "OA/"+x, workflows.StageCompleted)
		if st.Voucher == nil || st.Voucher.Set != saved.Set || st.Voucher.SavedAt == nil {
			t.Errorf("bill %s voucher %+v, want saved by set %s", x, st.Voucher, saved.Set)
		}
		cb := e.cloudBill(t, x)
		if cb.Voucher == nil || cb.Voucher.VouchID != "V-"+id || strings.Join(cb.Voucher.ExpenseIDArray, ",") != a+","+b ||
			cb.Calls.VoucherSave.Applied != 1 || len(cb.Voucher.SerialNoArray) != 3 {
			t.Errorf("cloud bill %s: voucher %+v, voucherSave %+v; want V-%s booking %s,%s and 3 invoices, applied once", x, cb.Voucher, cb.Calls.VoucherSave, id, a, b)
		}
	}
	// The same set again joins it: the same answer, nothing saved twice.
	var again api.VoucherSetResponse
	e.call(t, "POST", e.Target.APIURL+"/v1/vouchers", set(b, a), &again)
	if again.Set != saved.Set || e.cloudBill(t, a).Calls.VoucherSave.Applied != 1 {
		t.Errorf("the set again: %+v", again)
	}
	// The vouchId is the set's: a bill outside it is refused.
	status, raw = e.post(t, e.billURL(c)+"/voucher", set().VoucherRequest)
	if status != http.StatusConflict || !strings.Contains(string(raw), api.SubVoucherInUse) {
		t.Errorf("the set's vouchId on another bill: HTTP %d %s, want 409 %s", status, raw, api.SubVoucherInUse)
	}
}

// vendorRemarkLen is the remark bound of TestVendorPicture's cloud and registry (the default is 200).
const vendorRemarkLen = 300

// limits: the registry shows the enterprise's limits; a start above them is 400 naming the line
// and starts nothing; within them (above rimflow's default) the bill freezes them, and an amend's
// long remark reaches the cloud.
func (e *e2e) limits(t *testing.T, id, taxNo string) {
	if got := e.enterprise(t, taxNo).Limits; got.RemarkLen != vendorRemarkLen || got.EntryIDLen != invoicecloud.DefaultLimits.EntryIDLen {
		t.Fatalf("the registry's limits of %s: %+v", taxNo, got)
	}
	in := e.vendorBill(t, id, taxNo)
	in.Options.Approvals, in.Options.AutoSubmit = []string{}, new(bool)
	in.Lines = []workflows.InvoiceLine{{SerialNo: "LATER-1", Remark: strings.Repeat("长", vendorRemarkLen+1)}}
	status, raw := e.startBill(t, in)
	var refused api.ErrorBody
	if status != http.StatusBadRequest || json.Unmarshal(raw, &refused) != nil ||
		!strings.Contains(refused.Error.Fields["lines[0].remark"], "at most 300 characters") {
		t.Fatalf("a remark above the enterprise's limit: HTTP %d %s, want 400 naming lines[0].remark", status, raw)
	}
	if status, _ := e.send(t, "GET", e.billURL(id), nil, e.Target.Token); status != http.StatusNotFound {
		t.Fatalf("a refused start left bill %s behind (HTTP %d)", id, status)
	}
	in.Lines = nil
	url := e.startCollecting(t, in)
	testenv.Collect(t, e.ctx, e.Target.CloudURL, url.EventCode, 1)
	st := e.waitFor(t, "OA/"+id, "the invoice bound", func(st workflows.BillState) bool { return st.InvoiceCount == 1 })
	if st.Bill.Limits == nil || st.Bill.Limits.RemarkLen != vendorRemarkLen {
		t.Fatalf("the bill's frozen limits: %+v", st.Bill.Limits)
	}
	long := strings.Repeat("长", vendorRemarkLen) // above the default 200, within this cloud's 300
	e.call(t, "PATCH", e.billURL(id), map[string]any{"reason": "a long remark",
		"lines": []map[string]any{{"serialNo": st.Invoices[0].SerialNo, "remark": long}}}, nil)
	e.waitFor(t, "OA/"+id, "the line kept", func(st workflows.BillState) bool { return len(st.Bill.Lines) == 1 })
	got := ""
	for _, l := range e.cloudBill(t, id).Invoices {
		got = l.Remark
	}
	if got != long {
		t.Fatalf("the cloud's remark: %d characters, want %d", len([]rune(got)), vendorRemarkLen)
	}
	e.call(t, "POST", e.billURL(id)+"/cancel", map[string]any{"reason": "test over"}, nil)
}
