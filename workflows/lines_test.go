package workflows_test

import (
	"encoding/json"
	"strings"
	"testing"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

var cover = &invoicecloud.CoverData{Base64: "JVBERi0xLjQK", CoveNo: "COV-1", CoveType: "1"}

// lineOf is billSave's line for serialNo in a call's request.
func lineOf(t *testing.T, call any, serialNo string) invoicecloud.BillInvoice {
	t.Helper()
	for _, l := range call.(calls.BillSaveInput).Request.InvoiceData {
		if l.SerialNo == serialNo {
			return l
		}
	}
	t.Fatalf("billSave without %s: %+v", serialNo, call)
	return invoicecloud.BillInvoice{}
}

// The line fields and the cover given at start travel on every billSave of the bill: the bind
// and the mark used; an invoice without a line is sent as before.
func TestLinesGivenAtStartGoOnEveryBillSave(t *testing.T) {
	h := newHarness(t)
	in := bill(workflows.Options{})
	in.Lines = []workflows.InvoiceLine{{SerialNo: "S1", Amount: money("60.00"), EntryID: "E-1",
		DeductionTaxAmount: money("6.00"), OutputAmount: money("1.00"), Remark: "集体福利"}}
	in.CoverData = cover
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "100.00", "13.00", true), inv("S2", "002", "50.10", "0.50", false)))
		},
		func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(in)
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "stage", s.Stage, workflows.StageCompleted)
	saves := append(h.callsOf("BindInvoices"), h.callsOf("MarkUsed")...)
	eq(t, "billSaves", len(saves), 2)
	for _, c := range saves {
		l := lineOf(t, c, "S1")
		if l.Amount.StringFixed(2) != "60.00" || l.EntryID != "E-1" || l.DeductionTaxAmount.StringFixed(2) != "6.00" ||
			l.OutputAmount.StringFixed(2) != "1.00" || l.Remark != "集体福利" {
			t.Errorf("S1's line: %+v", l)
		}
		if got := c.(calls.BillSaveInput).Request.CoverData; got == nil || *got != *cover {
			t.Errorf("cover: %+v", got)
		}
		raw, _ := json.Marshal(lineOf(t, c, "S2"))
		if strings.Contains(string(raw), "amount") || strings.Contains(string(raw), "entryId") {
			t.Errorf("S2 has no line, sent %s", raw)
		}
	}
	eq(t, "state shows the lines", len(s.Bill.Lines), 1)
}

// A bill without lines sends exactly what it sent before: no line field, no cover.
func TestNoLinesSendsTheSameBillSave(t *testing.T) {
	h := newHarness(t)
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "100.00", "13.00", true)))
		},
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) },
	)
	h.run(bill(workflows.Options{AutoSubmit: falsePtr()}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"BindInvoices"} {
		eq(t, name, len(h.callsOf(name)), 1)
		for _, c := range h.callsOf(name) {
			raw, _ := json.Marshal(c.(calls.BillSaveInput).Request)
			for _, k := range []string{"coverData", "amount", "entryId", "deductionTaxAmount", "outputAmount", "remark"} {
				if strings.Contains(string(raw), `"`+k+`"`) {
					t.Errorf("%s sent %s: %s", name, k, raw)
				}
			}
		}
	}
}

// Lines come with a forwarded payload and by an amend while collecting: the amend is checked
// against the bound invoice (400 naming the field, nothing applied), and a good one reaches the
// cloud at once (billSave 30 of the bound set). A header change is still refused while collecting.
func TestLinesByForwardAndAmendWhileCollecting(t *testing.T) {
	h := newHarness(t)
	var tooMuch, header, good, coverOnly *updateResult
	var afterAmend workflows.BillState
	h.script(
		func() {
			sig := invoicesSignal(inv("S1", "001", "100.00", "13.00", true), inv("S2", "002", "50.10", "0.50", false))
			sig.Lines = []workflows.InvoiceLine{{SerialNo: "S2", EntryID: "E-2"}}
			h.env.SignalWorkflow(workflows.SignalInvoices, sig)
		},
		func() {
			tooMuch = h.update(workflows.UpdateAmend, workflows.AmendRequest{Reason: "partial",
				Lines: []workflows.InvoiceLine{{SerialNo: "S1", Amount: money("113.01")}}})
			bt := "er_travel"
			header = h.update(workflows.UpdateAmend, workflows.AmendRequest{Reason: "type", BillType: &bt,
				Lines: []workflows.InvoiceLine{{SerialNo: "S1", Amount: money("1")}}})
		},
		func() {
			good = h.update(workflows.UpdateAmend, workflows.AmendRequest{Reason: "half is private",
				Lines: []workflows.InvoiceLine{{SerialNo: "S1", Amount: money("56.50")}}})
		},
		func() {
			coverOnly = h.update(workflows.UpdateAmend, workflows.AmendRequest{Reason: "cover", CoverData: cover})
		},
		func() {
			afterAmend = h.state()
			h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"})
		},
	)
	h.run(bill(workflows.Options{AutoSubmit: falsePtr()}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	if tooMuch.rejected == nil || !strings.Contains(tooMuch.rejected.Error(), "lines[0].amount") {
		t.Errorf("an amount above the total: %v", tooMuch.rejected)
	}
	if header.rejected == nil {
		t.Errorf("a header amend while collecting was accepted")
	}
	if good.rejected != nil || good.err != nil || coverOnly.rejected != nil || coverOnly.err != nil {
		t.Fatalf("good amends: %v %v %v %v", good.rejected, good.err, coverOnly.rejected, coverOnly.err)
	}
	binds := h.callsOf("BindInvoices")
	eq(t, "binds (forward, lines, cover)", len(binds), 3)
	eq(t, "forwarded line", lineOf(t, binds[0], "S2").EntryID, "E-2")
	if lineOf(t, binds[0], "S1").Amount != nil {
		t.Errorf("S1 had no line yet")
	}
	eq(t, "amended line", lineOf(t, binds[1], "S1").Amount.StringFixed(2), "56.50")
	eq(t, "forwarded line kept", lineOf(t, binds[1], "S2").EntryID, "E-2")
	if binds[2].(calls.BillSaveInput).Request.CoverData == nil || lineOf(t, binds[2], "S1").Amount == nil {
		t.Errorf("the cover's billSave: %+v", binds[2])
	}
	eq(t, "state's lines", len(afterAmend.Bill.Lines), 2)
	if !hasNote(afterAmend, "line fields amended") {
		t.Errorf("no note of the amend")
	}
}

// The rules of the line fields, all problems named at once.
func TestLinesValidation(t *testing.T) {
	in := bill(workflows.Options{})
	in.Lines = []workflows.InvoiceLine{
		{SerialNo: "S1", Amount: money("0"), DeductionTaxAmount: money("-1"), OutputAmount: money("1.001")},
		{SerialNo: "S1", EntryID: strings.Repeat("e", invoicecloud.DefaultLimits.EntryIDLen+1)},
		{Remark: strings.Repeat("r", invoicecloud.DefaultLimits.RemarkLen+1)},
	}
	in.CoverData = &invoicecloud.CoverData{Base64: "not base64!", CoveType: "3"}
	verr := in.Validate()
	if verr == nil {
		t.Fatal("bad lines accepted")
	}
	for _, f := range []string{"lines[0].amount", "lines[0].deductionTaxAmount", "lines[0].outputAmount", "lines[0].remark",
		"lines[1].serialNo", "lines[1].entryId", "lines[2].serialNo", "lines[2].remark",
		"coverData.base64", "coverData.coveNo", "coverData.coveType"} {
		if verr.Fields[f] == "" {
			t.Errorf("%s not named: %v", f, verr.Fields)
		}
	}
	in.Lines = []workflows.InvoiceLine{{SerialNo: "S1", Amount: money("10.5"), DeductionTaxAmount: money("0"), OutputAmount: money("1"), Remark: "福利"}}
	in.CoverData = cover
	in.Normalize()
	if verr := in.Validate(); verr != nil {
		t.Errorf("good lines refused: %v", verr)
	}
	// A forward's lines name its own invoices, within their totals.
	f := map[string]string{}
	workflows.CheckForwardLines(f, []workflows.InvoiceLine{{SerialNo: "S9"}, {SerialNo: "S1", OutputAmount: money("13.01"), Remark: "x"}},
		[]invoicecloud.Invoice{inv("S1", "001", "100.00", "13.00", true)}, nil)
	if f["lines[0].serialNo"] == "" || f["lines[1].outputAmount"] == "" || len(f) != 2 {
		t.Errorf("forward lines: %v", f)
	}
}

// The cloud refuses the cover (its number is another bill's): the bill fails at the bind, an
// amend of the cover alone is taken while failed, and the retry binds with the new cover.
func TestCoverRefusedThenAmendedAndRetried(t *testing.T) {
	h := newHarness(t)
	h.failNext("BindInvoices", nonRetryable("2005", "coveNo+resource must be unique"))
	in := bill(workflows.Options{AutoSubmit: falsePtr()})
	in.CoverData = cover
	var amend, retry *updateResult
	var failed workflows.BillState
	other := &invoicecloud.CoverData{Base64: cover.Base64, CoveNo: "COV-2", CoveType: "1"}
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
		},
		func() {
			failed = h.state()
			amend = h.update(workflows.UpdateAmend, workflows.AmendRequest{Reason: "cover number taken", CoverData: other})
		},
		func() { retry = h.update(workflows.UpdateRetry, workflows.RetryRequest{By: "ops"}) },
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) },
	)
	h.run(in)
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	eq(t, "failed", failed.Stage, workflows.StageFailed)
	if amend.rejected != nil || amend.err != nil || retry.rejected != nil || retry.err != nil {
		t.Fatalf("amend %v %v, retry %v %v", amend.rejected, amend.err, retry.rejected, retry.err)
	}
	binds := h.callsOf("BindInvoices")
	eq(t, "binds", len(binds), 2)
	eq(t, "first cover", binds[0].(calls.BillSaveInput).Request.CoverData.CoveNo, "COV-1")
	eq(t, "retried cover", binds[1].(calls.BillSaveInput).Request.CoverData.CoveNo, "COV-2")
}

// A start sent again joins the bill whatever its lines and cover: forwards and amends change them
// as the bill lives.
func TestStartComparesNoLines(t *testing.T) {
	in := bill(workflows.Options{})
	with := bill(workflows.Options{})
	with.Lines, with.CoverData = []workflows.InvoiceLine{{SerialNo: "S1", EntryID: "E-1"}}, cover
	eq(t, "digest", workflows.BodyDigest(with), workflows.BodyDigest(in))
	other := bill(workflows.Options{})
	other.BillNo = "BX-OTHER"
	if workflows.BodyDigest(other) == workflows.BodyDigest(in) {
		t.Errorf("another billNo has the same digest")
	}
}
