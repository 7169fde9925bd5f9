package workflows_test

import (
	"testing"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// A delivery's attachData is kept with the bill (its first invoice's), shown in its state, and
// sent with that invoice on every billSave; one without a URL is left out and noted, a
// redelivered one kept once, one without a name named by its URL's file.
func TestAttachmentsKeptAndPassedOn(t *testing.T) {
	h := newHarness(t)
	var collecting workflows.BillState
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalDelivery, calls.Delivery{Via: workflows.ViaSocket, Digest: "d1",
				InvoiceData: []invoicecloud.Invoice{inv("S1", "001", "100.00", "13.00", true), inv("S2", "002", "50.10", "0.50", false)},
				AttachData: []invoicecloud.Attach{{AttachURL: "https://img.example/att/trip.pdf", AttachType: "pdf", AttachNo: "A-1"},
					{AttachName: "no url"}}})
		},
		func() {
			sig := invoicesSignal(inv("S1", "001", "100.00", "13.00", true))
			sig.AttachData = []invoicecloud.Attach{{AttachURL: "https://img.example/att/trip.pdf", AttachType: "pdf", AttachNo: "A-1"}}
			h.env.SignalWorkflow(workflows.SignalInvoices, sig)
		},
		func() {
			collecting = h.state()
			h.update(workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
		},
		func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{AutoSubmit: falsePtr()}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "stage", s.Stage, workflows.StageCompleted)
	eq(t, "kept", len(collecting.Bill.AttachData), 1)
	want := invoicecloud.BillInvoiceAttach{AttachURL: "https://img.example/att/trip.pdf", AttachType: "pdf", AttachNo: "A-1",
		AttachName: "trip.pdf", SerialNo: "S1"}
	eq(t, "the attachment", collecting.Bill.AttachData[0], want)
	if !hasNote(collecting, "1 attachment(s) left out") {
		t.Errorf("the attachment without a URL is not noted")
	}
	saves := append(h.callsOf("BindInvoices"), h.callsOf("MarkUsed")...)
	if len(saves) < 2 {
		t.Fatalf("billSaves: %d", len(saves))
	}
	for _, c := range saves {
		if got := lineOf(t, c, "S1").AttachData; len(got) != 1 || got[0] != want {
			t.Errorf("S1's attachData: %+v", got)
		}
		if got := lineOf(t, c, "S2").AttachData; len(got) != 0 {
			t.Errorf("S2's attachData: %+v", got)
		}
	}
}

// Attachments given at start are checked as the cloud checks them.
func TestAttachmentsValidation(t *testing.T) {
	in := bill(workflows.Options{})
	in.Normalize()
	in.AttachData = []invoicecloud.BillInvoiceAttach{{AttachURL: "ftp://x/a", AttachName: "a"}, {SerialNo: "S1", AttachURL: "https://x/b"}}
	verr := in.Validate()
	if verr == nil {
		t.Fatal("bad attachments accepted")
	}
	for _, f := range []string{"attachData[0].serialNo", "attachData[0].attachUrl", "attachData[1].attachName"} {
		if verr.Fields[f] == "" {
			t.Errorf("%s not named: %v", f, verr.Fields)
		}
	}
	in.AttachData = []invoicecloud.BillInvoiceAttach{{SerialNo: "S1", AttachURL: "https://x/b.pdf", AttachName: "b.pdf"}}
	if verr := in.Validate(); verr != nil {
		t.Errorf("a good attachment refused: %v", verr)
	}
}
