package workflows_test

import (
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"rimflow/workflows"
)

// Segregation of duties on by default: the submitter cannot approve their own bill, and one person
// cannot approve two roles in the same round; the record keeps the client and the person.
func TestSegregationOfDuties(t *testing.T) {
	h := newHarness(t)
	var own, twice, ok *updateResult
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() {
			own = h.update(workflows.UpdateApprove, workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: "u1"})
			h.update(workflows.UpdateApprove, workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: "alice",
				Actor: &workflows.Actor{Client: "erp-oa", User: "alice"}})
		},
		func() {
			twice = h.update(workflows.UpdateApprove, workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: "Alice"})
			ok = h.update(workflows.UpdateApprove, workflows.ApproveRequest{Role: "finance", Decision: "approve", Actor: &workflows.Actor{Client: "erp-oa", User: "bob"}, Approver: "bob"})
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	if own.rejected == nil || !strings.Contains(own.rejected.Error(), "submitted this bill") {
		t.Errorf("the submitter approved their own bill: %+v", own)
	}
	if twice.rejected == nil || !strings.Contains(twice.rejected.Error(), "already approved role \"supervisor\"") {
		t.Errorf("one person approved two roles: %+v", twice)
	}
	if ok.err != nil || ok.rejected != nil {
		t.Fatalf("bob's approval: %v %v", ok.err, ok.rejected)
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
	eq(t, "supervisor's client", s.Approvals[0].Client, "erp-oa")
	eq(t, "supervisor's person", s.Approvals[0].User, "alice")
	eq(t, "finance's person", s.Approvals[1].User, "bob")
}

// The ops path (signals from Temporal Web or the CLI) does what the bill's policy allows, recorded
// as such; a refused signal is noted, not applied.
func TestOpsPathFollowsPolicy(t *testing.T) {
	h := newHarness(t)
	in := bill(workflows.Options{})
	in.Policy = &workflows.BillPolicy{Rule: "ops-finance-only", Duties: workflows.Duties{OnePersonOneRole: true},
		WebSignals: workflows.WebSignals{Allow: true, Signals: []string{workflows.SignalApprove, workflows.SignalCancel}, Roles: []string{"finance"}}}
	var afterRefused workflows.BillState
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() {
			h.env.SignalWorkflow(workflows.SignalApprove, approve("supervisor", workflows.DecisionApprove))
		},
		func() {
			afterRefused = h.state()
			h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
		},
		func() {
			h.env.SignalWorkflow(workflows.SignalApprove, approve("finance", workflows.DecisionApprove))
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(in)
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "after a refused signal", afterRefused.Stage, workflows.StageAwaitingSupervisor)
	if !hasNote(afterRefused, "refused by policy") {
		t.Errorf("the refused signal is not in the history: %+v", afterRefused.History)
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
	eq(t, "finance decided through", s.Approvals[1].Client, workflows.OpsPath)
	eq(t, "policy frozen", s.Bill.Policy.Rule, "ops-finance-only")
}

// Segregation of duties keeps who actually submitted from approving (the person the submit's
// actor names, not the by the payload claims), as it keeps the bill's userId; people are compared
// after Unicode normalization.
func TestSegregationOfDutiesActualSubmitter(t *testing.T) {
	h := newHarness(t)
	off := false
	in := bill(workflows.Options{AutoSubmit: &off})
	var bySubmitter, byOwner, byClaimed, invisible *updateResult
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() {
			// sec-1 submits for u1 and claims "ghost" did.
			h.update(workflows.UpdateSubmit, workflows.SubmitRequest{By: "ghost", Actor: &workflows.Actor{Client: "erp-oa", User: "sec-1"}})
		},
		func() {
			bySubmitter = h.update(workflows.UpdateApprove, workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: "ＳＥＣ-1"})
			byOwner = h.update(workflows.UpdateApprove, workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: " U１ "})
			invisible = h.update(workflows.UpdateApprove, workflows.ApproveRequest{Role: "supervisor", Decision: "reject", Approver: "bo\u200bb"})
		},
		func() {
			byClaimed = h.update(workflows.UpdateApprove, workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: "ghost"})
		},
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) },
	)
	h.run(in)
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	if bySubmitter.rejected == nil || !strings.Contains(bySubmitter.rejected.Error(), "submitted this bill") {
		t.Errorf("who actually submitted (in full-width letters) approved: %+v", bySubmitter)
	}
	if byOwner.rejected == nil || !strings.Contains(byOwner.rejected.Error(), "submitted this bill") {
		t.Errorf("the bill's userId (case, full-width digit, spaces) approved: %+v", byOwner)
	}
	if invisible.rejected == nil || !strings.Contains(invisible.rejected.Error(), "approver") {
		t.Errorf("an approver with an invisible character was taken: %+v", invisible)
	}
	if byClaimed.rejected != nil || byClaimed.err != nil {
		t.Errorf("the person the submit only claimed is not its submitter: %+v", byClaimed)
	}
	if !hasNote(s, "submitted by sec-1") {
		t.Errorf("the history does not name who actually submitted: %+v", s.History)
	}
}

// An amend may correct a failed bill's header but not its submitter (the userId segregation of
// duties keeps from approving); the same person written another way is not a change of person.
func TestAmendCannotChangeSubmitter(t *testing.T) {
	h := newHarness(t)
	h.failNext("GetEventCode", nonRetryable("1001", "billTaxNo: not a company the tenant knows"))
	other, same := "u2", "Ｕ1"
	var changed, rewritten *updateResult
	h.script(
		func() {
			changed = h.update(workflows.UpdateAmend, workflows.AmendRequest{UserID: &other, Reason: "approve it myself"})
			rewritten = h.update(workflows.UpdateAmend, workflows.AmendRequest{UserID: &same, Reason: "the ERP's spelling"})
		},
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) },
	)
	h.run(bill(workflows.Options{}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	var verr *temporal.ApplicationError
	if !errors.As(changed.rejected, &verr) || !strings.Contains(changed.rejected.Error(), "submitter cannot be amended") {
		t.Fatalf("an amend changed the submitter: %+v", changed)
	}
	var fields map[string]string
	if err := verr.Details(&fields); err != nil || fields["userId"] == "" {
		t.Errorf("the refusal does not name userId: %v %v", fields, err)
	}
	if rewritten.rejected != nil || rewritten.err != nil {
		t.Errorf("the same person written another way: %+v", rewritten)
	}
}
