package workflows_test

import (
	"testing"

	"rimflow/workflows"
)

// Withdraw and resubmit (撤回重提): a bill awaiting finance (the supervisor approved) is withdrawn
// by its submitter back to collecting — its invoices stay bound, the round's approvals are void,
// the bill key is the same — and submitted again it waits for the supervisor anew. A withdraw
// while collecting is refused, and so is one without a reason.
func TestWithdrawTakesTheBillBackToCollecting(t *testing.T) {
	h := newHarness(t)
	var beforeWithdraw, afterWithdraw, afterResubmit workflows.BillState
	var again, noReason *updateResult
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove)) },
		func() {
			beforeWithdraw = h.state()
			noReason = h.update(workflows.UpdateWithdraw, workflows.WithdrawRequest{By: "u1"})
			h.update(workflows.UpdateWithdraw, workflows.WithdrawRequest{By: "u1", Reason: "forgot a receipt"})
		},
		func() {
			afterWithdraw = h.state()
			again = h.update(workflows.UpdateWithdraw, workflows.WithdrawRequest{By: "u1", Reason: "again"})
		},
		func() { h.update(workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"}) },
		func() {
			afterResubmit = h.state()
			h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"})
		},
	)
	h.run(bill(workflows.Options{}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	eq(t, "before", beforeWithdraw.Stage, workflows.AwaitingStage("finance"))
	if noReason == nil || noReason.rejected == nil {
		t.Errorf("a withdraw without a reason was not refused: %+v", noReason)
	}
	eq(t, "after withdraw", afterWithdraw.Stage, workflows.StageCollecting)
	eq(t, "same key", afterWithdraw.ID, beforeWithdraw.ID)
	eq(t, "invoices stay bound", afterWithdraw.InvoiceCount, 1)
	eq(t, "submitted", afterWithdraw.Submitted, false)
	if !hasNote(afterWithdraw, "withdrawn by u1") {
		t.Errorf("no note of the withdrawal: %+v", afterWithdraw.History)
	}
	if again == nil || again.rejected == nil {
		t.Errorf("a withdraw while collecting was not refused: %+v", again)
	}
	eq(t, "after resubmit", afterResubmit.Stage, workflows.AwaitingStage("supervisor"))
	eq(t, "bind calls", h.count("BindInvoices"), 1)
}
