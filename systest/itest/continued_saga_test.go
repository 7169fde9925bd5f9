package itest

import (
	"testing"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// A bill that continued as new is later cancelled (awaiting the voucher: its invoices bound and
// used) or rejected (awaiting the supervisor: bound): the saga carried across the runs still
// knows each step to undo, so the bill ends cancelled/rejected and the cloud's ledger shows every
// invoice back at status 1 and the bill unbound.
func TestContinuedBillSagaUndoes(t *testing.T) {
	for _, end := range []workflows.Stage{workflows.StageCancelled, workflows.StageRejected} {
		t.Run(string(end), func(t *testing.T) {
			s := newStack(t, 31, lenient)
			billID := "CONT-SAGA-" + string(end)
			// A small limit: a few return-and-recollect rounds make the bill continue as new.
			run := s.start(input(billID, workflows.Options{Approvals: []string{"supervisor"}, HistoryLimit: 100}))
			id := run.GetID()
			var serials []string
			for round := 0; round < 6; round++ {
				serials = append(serials, s.collect(s.collectURL(id).EventCode, 1)...)
				waitStage(t, id, workflows.StageAwaitingSupervisor)
				if round < 5 {
					mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionReturn))
					waitStage(t, id, workflows.StageCollecting)
				}
			}
			desc, err := tc.DescribeWorkflowExecution(ctxT(t), id, "")
			if err != nil {
				t.Fatal(err)
			}
			if desc.WorkflowExecutionInfo.Execution.RunId == run.GetRunID() {
				t.Fatal("the bill never continued as new: the test does not cover the carried saga")
			}
			if end == workflows.StageCancelled {
				mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
				waitStage(t, id, workflows.StageAwaitingVoucher)
				if got := s.invoiceStatus(serials[0]); got != invoicecloud.StatusUsed {
					t.Fatalf("status before cancel %s, want 60", got)
				}
				mustUpdate(t, id, workflows.UpdateCancel, workflows.CancelRequest{Reason: "duplicate", By: "u1"})
			} else {
				mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionReject))
			}
			var final workflows.BillState
			if err := run.Get(ctxT(t), &final); err != nil {
				t.Fatalf("result: %v", err)
			}
			if final.Stage != end {
				t.Fatalf("final stage %s, want %s; error %+v", final.Stage, end, final.Error)
			}
			for _, sn := range serials {
				if got := s.invoiceStatus(sn); got != invoicecloud.StatusUnused {
					t.Errorf("invoice %s status %s after %s, want 1", sn, got, end)
				}
			}
			if !s.bill(billID).Unbound {
				t.Errorf("bill not unbound at the cloud after %s", end)
			}
		})
	}
}
