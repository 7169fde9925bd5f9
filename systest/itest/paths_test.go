package itest

import (
	"testing"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// Paths the other tests do not take, on the real server, so each release's recorded histories
// cover them too: a delivery while the bill waits for an approver stays pending and is bound when
// finance returns the bill; an invoice is taken off the collecting bill (released at the cloud);
// the bill is submitted by hand (autoSubmit off), approved by both roles and completed.
func TestPendingRemoveAndFinanceReturn(t *testing.T) {
	s := newStack(t, 71, lenient)
	manual := false
	run := s.start(input("PR-1", workflows.Options{Approvals: []string{"supervisor", "finance"}, AutoSubmit: &manual}))
	id := run.GetID()
	code := s.collectURL(id).EventCode
	first := s.collect(code, 2)
	waitFor(t, "two invoices bound", func() bool { return state(t, id).InvoiceCount == 2 })
	mustUpdate(t, id, workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
	waitStage(t, id, workflows.StageAwaitingSupervisor)

	// The collect page is still open: another import lands while the bill waits (lenient cloud:
	// the linkKey delivers again).
	late := s.collect(code, 1)
	waitFor(t, "the late invoice pending", func() bool { return len(state(t, id).PendingInvoices) == 1 })
	mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
	waitStage(t, id, workflows.StageAwaitingFinance)
	mustUpdate(t, id, workflows.UpdateApprove, approve("finance", workflows.DecisionReturn))
	waitFor(t, "the pending invoice bound after the return", func() bool {
		st := state(t, id)
		return st.Stage == workflows.StageCollecting && st.InvoiceCount == 3 && len(st.PendingInvoices) == 0
	})

	mustUpdate(t, id, workflows.UpdateRemove, workflows.RemoveInvoiceRequest{SerialNo: first[0], Reason: "not this trip"})
	if got := state(t, id).InvoiceCount; got != 2 {
		t.Fatalf("%d invoices after the removal, want 2", got)
	}
	mustUpdate(t, id, workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
	mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
	mustUpdate(t, id, workflows.UpdateApprove, approve("finance", workflows.DecisionApprove))
	waitStage(t, id, workflows.StageAwaitingVoucher)
	mustUpdate(t, id, workflows.UpdateVoucher, voucher())
	var final workflows.BillState
	if err := run.Get(ctxT(t), &final); err != nil {
		t.Fatalf("result: %v", err)
	}
	if final.Stage != workflows.StageCompleted || final.InvoiceCount != 2 {
		t.Fatalf("final %s with %d invoices, want completed with 2", final.Stage, final.InvoiceCount)
	}
	for _, sn := range []string{first[1], late[0]} {
		if got := s.invoiceStatus(sn); got != invoicecloud.StatusUsed {
			t.Errorf("invoice %s status %s, want used", sn, got)
		}
	}
	if got := s.invoiceStatus(first[0]); got == invoicecloud.StatusUsed {
		t.Errorf("the removed invoice %s is used at the cloud", first[0])
	}
	if b := s.bill("PR-1"); len(b.Invoices) != 2 {
		t.Errorf("the cloud holds %d invoices on the bill, want 2", len(b.Invoices))
	}
	record(t, id, "pending_remove_finance_return")
}
