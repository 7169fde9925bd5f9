package workflows_test

import (
	"strings"
	"testing"

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
