package itest

import (
	"context"
	"strings"
	"testing"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// TestForwardSpendsTheEventCode: the ERP forwards an invoice while the bill's first eventCode is
// current (the copy its browser socket got from that page, which a strict cloud has consumed),
// and the next collect URL is a fresh eventCode whose watcher brings the next import. The
// forwarded invoice is a real one, freed by a donor bill's cancel.
func TestForwardSpendsTheEventCode(t *testing.T) {
	eachCloud(t, func(t *testing.T, cloud cloudMode) {
		s := newStack(t, 27, cloud)
		manual := false
		donor := s.start(input("FW-D", workflows.Options{AutoSubmit: &manual}))
		serials := s.collect(s.collectURL(donor.GetID()).EventCode, 1)
		waitFor(t, "the donor's invoice bound", func() bool { return state(t, donor.GetID()).InvoiceCount == 1 })
		mustUpdate(t, donor.GetID(), workflows.UpdateCancel, workflows.CancelRequest{Reason: "the invoice goes to FW-1", By: "u1"})
		if err := donor.Get(ctxT(t), nil); err != nil {
			t.Fatal(err)
		}

		run := s.start(input("FW-1", workflows.Options{Approvals: []string{"supervisor"}, AutoSubmit: &manual}))
		id := run.GetID()
		first := s.collectURL(id).EventCode
		fw := workflows.InvoicesSignal{InvoiceData: []invoicecloud.Invoice{{SerialNo: serials[0], InvoiceType: "26"}}}
		if err := tc.SignalWorkflow(context.Background(), id, "", workflows.SignalInvoices, fw); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the forwarded invoice bound", func() bool { return state(t, id).InvoiceCount == 1 })
		second := s.collectURL(id).EventCode
		if second == first {
			t.Fatalf("the collect URL after a forward has the same eventCode %s", first)
		}
		more := s.collect(second, 1)
		waitFor(t, "the second eventCode's import bound", func() bool { return state(t, id).InvoiceCount == 2 })
		mustUpdate(t, id, workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
		waitStage(t, id, workflows.AwaitingStage("supervisor"))
		mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", "approve"))
		waitStage(t, id, workflows.StageAwaitingVoucher)
		book(t, run)
		s.cloudHolds(t, "FW-1", append(serials, more...), invoicecloud.StatusUsed)
		record(t, id, "forward_then_collect_url")
	})
}

// TestViewURLPastCollectingOnTheServer: an approver's view URL, asked while the collect eventCode
// still lives, opens a view-only eventCode (view-url-own-eventcode), and the bill completes.
func TestViewURLPastCollectingOnTheServer(t *testing.T) {
	s := newStack(t, 28, lenient)
	run := s.start(input("VW-1", workflows.Options{Approvals: []string{"supervisor"}}))
	id := run.GetID()
	collect := s.collectURL(id).EventCode
	serials := s.collect(collect, 1)
	waitStage(t, id, workflows.AwaitingStage("supervisor"))
	view, err := update[workflows.ViewURLResponse](t, id, workflows.UpdateViewURL, workflows.ViewURLRequest{Client: "pc"})
	if err != nil {
		t.Fatal(err)
	}
	if view.URL == "" || strings.Contains(view.URL, collect) {
		t.Fatalf("view URL %q past collecting, want one without the live collect eventCode %s", view.URL, collect)
	}
	mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", "approve"))
	waitStage(t, id, workflows.StageAwaitingVoucher)
	book(t, run)
	s.cloudHolds(t, "VW-1", serials, invoicecloud.StatusUsed)
	record(t, id, "view_url_past_collecting")
}
