package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"rimflow/api"
	"rimflow/internal/policy"
	"rimflow/invoicecloud"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// lineFields: the ERP's line fields and cover reach the cloud on every billSave. Bill A starts
// with a cover, collects two invoices, amends one's line while collecting (an amount above the
// invoice's total is 400 naming it, nothing sent), forwards the other's with its payload, and
// is marked used: the cloud holds both lines and the cover at 60. Bill B starts with A's cover
// number: the cloud refuses it, the bill fails naming coverData.coveNo, an amend of the cover and
// a retry bind it.
func (e *e2e) lineFields(t *testing.T, id, taxNo string) {
	a, b := id+"-A", id+"-B"
	cov := func(no string) *invoicecloud.CoverData {
		return &invoicecloud.CoverData{Base64: "JVBERi0xLjQK", CoveNo: no, CoveType: "1"}
	}
	in := e.vendorBill(t, a, taxNo)
	in.Options.Approvals, in.Options.AutoSubmit = []string{}, new(bool)
	in.CoverData = cov("COV-" + a)
	url := e.startCollecting(t, in)
	testenv.Collect(t, e.ctx, e.Target.CloudURL, url.EventCode, 2)
	st := e.waitFor(t, "OA/"+a, "two invoices bound", func(st workflows.BillState) bool { return st.InvoiceCount == 2 })
	if cb := e.cloudBill(t, a); cb.Cover == nil || cb.Cover.CoveNo != "COV-"+a {
		t.Fatalf("the cloud's cover of %s: %+v", a, cb.Cover)
	}
	s1, s2 := st.Invoices[0], st.Invoices[1]
	total := decimal.RequireFromString(s1.TotalAmount)
	half := total.Div(decimal.NewFromInt(2)).Round(2)

	status, raw := e.send(t, "PATCH", e.billURL(a), mustJSON(t, map[string]any{"reason": "partial",
		"lines": []map[string]any{{"serialNo": s1.SerialNo, "amount": total.Add(decimal.New(1, -2)).StringFixed(2)}}}), e.Target.Token)
	var refused api.ErrorBody
	if status != http.StatusBadRequest || json.Unmarshal(raw, &refused) != nil || refused.Error.Fields["lines[0].amount"] == "" {
		t.Fatalf("an amount above the invoice's total: HTTP %d %s, want 400 naming lines[0].amount", status, raw)
	}
	e.call(t, "PATCH", e.billURL(a), map[string]any{"reason": "half is private",
		"lines": []map[string]any{{"serialNo": s1.SerialNo, "amount": half.StringFixed(2), "entryId": "E-1"}}}, nil)
	line := func(id, sn string) (out struct{ Amount, EntryID, Status string }) {
		for _, l := range e.cloudBill(t, id).Invoices {
			if l.SerialNo == sn {
				out.Amount, out.EntryID, out.Status = l.Amount, l.EntryID, l.Status
			}
		}
		return out
	}
	if l := line(a, s1.SerialNo); l.Amount != half.StringFixed(2) || l.EntryID != "E-1" || l.Status != invoicecloud.StatusInUse {
		t.Fatalf("after the amend the cloud holds %+v for %s, want amount %s entryId E-1 at 30", l, s1.SerialNo, half.StringFixed(2))
	}

	// The browser forwards the second invoice's payload with its line (the socket brought it already).
	fwd := map[string]any{
		"invoiceData": []map[string]any{{"serialNo": s2.SerialNo, "buyerTaxNo": s2.BuyerTaxNo,
			"invoiceAmount": s2.Amount, "totalTaxAmount": s2.TaxAmount, "totalAmount": s2.TotalAmount}},
		"lines": []map[string]any{{"serialNo": s2.SerialNo, "entryId": "E-2"}},
	}
	e.call(t, "POST", e.billURL(a)+"/invoices", fwd, nil)
	e.waitFor(t, "OA/"+a, "the forward's line kept", func(st workflows.BillState) bool { return len(st.Bill.Lines) == 2 })
	e.call(t, "POST", e.billURL(a)+"/submit", workflows.SubmitRequest{By: "demo-user"}, nil)
	e.WaitStage(t, "OA/"+a, workflows.StageAwaitingVoucher)
	if l := line(a, s1.SerialNo); l.Amount != half.StringFixed(2) || l.EntryID != "E-1" || l.Status != invoicecloud.StatusUsed {
		t.Errorf("at 60 the cloud holds %+v for %s", l, s1.SerialNo)
	}
	if l := line(a, s2.SerialNo); l.EntryID != "E-2" || l.Status != invoicecloud.StatusUsed {
		t.Errorf("at 60 the cloud holds %+v for %s, want entryId E-2", l, s2.SerialNo)
	}

	in = e.vendorBill(t, b, taxNo)
	in.Options.AutoSubmit = new(bool)
	in.CoverData = cov("COV-" + a)
	url = e.startCollecting(t, in)
	testenv.Collect(t, e.ctx, e.Target.CloudURL, url.EventCode, 1)
	st = e.waitFor(t, "OA/"+b, "failed on the cover", func(st workflows.BillState) bool { return st.Stage == workflows.StageFailed })
	if st.Error == nil || st.Error.Field != "coverData.coveNo" {
		t.Fatalf("the failure of %s: %+v, want the cloud naming coverData.coveNo", b, st.Error)
	}
	e.call(t, "PATCH", e.billURL(b), map[string]any{"reason": "cover number taken", "coverData": cov("COV-" + b)}, nil)
	e.call(t, "POST", e.billURL(b)+"/retry", workflows.RetryRequest{By: "ops"}, nil)
	e.waitFor(t, "OA/"+b, "bound after the retry", func(st workflows.BillState) bool {
		return st.Stage == workflows.StageCollecting && st.InvoiceCount == 1
	})
	if cb := e.cloudBill(t, b); cb.Cover == nil || cb.Cover.CoveNo != "COV-"+b {
		t.Errorf("the cloud's cover of %s: %+v", b, cb.Cover)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// attachments: the attachData of an import reaches the bill (its state names it, by its URL's
// file when the cloud gave no name) and the cloud with its invoice on billSave 30 and 60.
func (e *e2e) attachments(t *testing.T, id, taxNo string) {
	in := e.vendorBill(t, id, taxNo)
	in.Options.Approvals, in.Options.AutoSubmit = []string{}, new(bool)
	url := e.startCollecting(t, in)
	sn, attURL := id+"-S1", "https://img.example/att/"+id+".pdf"
	status, raw := testenv.Do(t, e.ctx, http.MethodPost, e.Target.CloudURL+"/__sim/collect", "", map[string]any{
		"eventCode":  url.EventCode,
		"invoices":   []map[string]any{{"serialNo": sn, "invoiceAmount": "100.00", "totalTaxAmount": "13.00", "totalAmount": "113.00"}},
		"attachData": []map[string]any{{"attachUrl": attURL, "attachType": "pdf", "attachNo": "A-1", "attachName": ""}},
	})
	if status != http.StatusOK {
		t.Fatalf("collect with an attachment: HTTP %d %s", status, raw)
	}
	st := e.waitFor(t, "OA/"+id, "the invoice bound", func(st workflows.BillState) bool { return st.InvoiceCount == 1 })
	want := invoicecloud.BillInvoiceAttach{AttachURL: attURL, AttachType: "pdf", AttachNo: "A-1", AttachName: id + ".pdf", SerialNo: sn}
	if len(st.Bill.AttachData) != 1 || st.Bill.AttachData[0] != want {
		t.Fatalf("the bill's attachments: %+v, want %+v", st.Bill.AttachData, want)
	}
	atCloud := func(status string) {
		t.Helper()
		cb := e.cloudBill(t, id)
		if len(cb.Invoices) != 1 || cb.Invoices[0].Status != status || len(cb.Invoices[0].AttachData) != 1 ||
			cb.Invoices[0].AttachData[0].AttachURL != attURL || cb.Invoices[0].AttachData[0].AttachName != id+".pdf" {
			t.Fatalf("the cloud holds %+v, want %s at %s with its attachment", cb.Invoices, sn, status)
		}
	}
	atCloud(invoicecloud.StatusInUse)
	e.call(t, "POST", e.billURL(id)+"/submit", workflows.SubmitRequest{By: "demo-user"}, nil)
	e.WaitStage(t, "OA/"+id, workflows.StageAwaitingVoucher)
	atCloud(invoicecloud.StatusUsed)
}

// ackBillType is the bill type whose policy rule makes finance acknowledge unverified invoices.
const ackBillType = "er_ack"

// ackPolicy is the built-in default plus that rule.
func ackPolicy(t *testing.T) *policy.Policy {
	p, err := policy.Parse([]byte("rules:\n  - name: acknowledge\n    match: {billType: " + ackBillType + "}\n" +
		"    approvals: [finance]\n    duties: {acknowledgeUnverified: finance}\n"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// unverified: a 数电专票 (verified) and a train ticket (recognized only) on a bill whose policy
// makes finance acknowledge unverified invoices: the state marks each, finance's approval without
// acknowledging is 400 naming acknowledgeUnverified, with it the bill goes on and the record keeps
// the ticket.
func (e *e2e) unverified(t *testing.T, id, taxNo string) {
	in := e.vendorBill(t, id, taxNo)
	in.BillType = ackBillType
	url := e.startCollecting(t, in)
	special, ticket := id+"-VAT", id+"-TRAIN"
	status, raw := testenv.Do(t, e.ctx, http.MethodPost, e.Target.CloudURL+"/__sim/collect", "", map[string]any{
		"eventCode": url.EventCode,
		"invoices": []map[string]any{
			{"serialNo": special, "invoiceType": "27", "invoiceAmount": "100.00", "totalTaxAmount": "13.00", "totalAmount": "113.00"},
			{"serialNo": ticket, "invoiceType": "9", "invoiceAmount": "55.00", "totalTaxAmount": "0.00", "totalAmount": "55.00"}},
	})
	if status != http.StatusOK {
		t.Fatalf("collect: HTTP %d %s", status, raw)
	}
	st := e.WaitStage(t, "OA/"+id, workflows.AwaitingStage("finance"))
	verified := map[string]bool{}
	for _, iv := range st.Invoices {
		verified[iv.SerialNo] = iv.Verified
	}
	if len(verified) != 2 || !verified[special] || verified[ticket] {
		t.Fatalf("verified marks %v, want %s verified and %s not", verified, special, ticket)
	}
	status, raw = e.approve(t, "OA/"+id, "finance", workflows.DecisionApprove)
	var refused api.ErrorBody
	if status != http.StatusBadRequest || json.Unmarshal(raw, &refused) != nil || !strings.Contains(refused.Error.Fields["acknowledgeUnverified"], ticket) {
		t.Fatalf("finance without acknowledging: HTTP %d %s, want 400 naming acknowledgeUnverified and %s", status, raw, ticket)
	}
	e.call(t, "POST", e.billURL(id)+"/approvals", workflows.ApproveRequest{Role: "finance", Decision: workflows.DecisionApprove,
		Approver: "e2e-finance", AcknowledgeUnverified: true}, nil)
	st = e.WaitStage(t, "OA/"+id, workflows.StageAwaitingVoucher)
	if last := st.Approvals[len(st.Approvals)-1]; last.Role != "finance" || strings.Join(last.Acknowledged, ",") != ticket {
		t.Errorf("finance's record %+v, want %s acknowledged", last, ticket)
	}
}
