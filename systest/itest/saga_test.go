package itest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// For each step that has a compensation, the cloud applies the call and its answer is lost (5xx
// after applying, again and again), and the bill is cancelled through Temporal while the step
// still retries: the saga undoes the step all the same (its compensation was registered before it
// ran), and the cloud's ledger shows every invoice back at status 1, the bill unbound.
func TestLostAnswerThenCancelUndoesTheStep(t *testing.T) {
	for _, step := range []string{"bind", "markUsed"} {
		t.Run(step, func(t *testing.T) {
			eachCloud(t, func(t *testing.T, cloud cloudMode) {
				s := newStack(t, 21, cloud)
				billID := "LOST-" + step
				run := s.start(input(billID, workflows.Options{Approvals: []string{"supervisor"}}))
				id := run.GetID()
				code := s.collectURL(id).EventCode
				status := invoicecloud.StatusInUse
				if step == "markUsed" {
					status = invoicecloud.StatusUsed
				}
				lose := func() {
					s.post("/__sim/faults", map[string]any{"errorRate": 1, "failAfterApply": true, "messageTypes": []string{"billSave:" + status}}, nil)
				}
				if step == "bind" {
					lose()
				}
				serials := s.collect(code, 2)
				if step == "markUsed" {
					waitStage(t, id, workflows.StageAwaitingSupervisor)
					lose()
					// The approval's answer waits for billSave 60, which never answers: send it and go on.
					go func() {
						_, _ = tc.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{WorkflowID: id,
							UpdateName: workflows.UpdateApprove, Args: []any{approve("supervisor", workflows.DecisionApprove)},
							WaitForStage: client.WorkflowUpdateStageAccepted})
					}()
				}
				// The call has been applied (its answer lost): the cloud holds the new status.
				waitFor(t, "the cloud to apply billSave "+status, func() bool { return s.invoiceStatus(serials[0]) == status })
				if err := tc.CancelWorkflow(ctxT(t), id, ""); err != nil {
					t.Fatal(err)
				}
				if err := run.Get(ctxT(t), nil); err == nil {
					t.Fatal("the bill completed; want cancelled")
				}
				s.post("/__sim/faults", map[string]any{}, nil)
				for _, sn := range serials {
					if got := s.invoiceStatus(sn); got != invoicecloud.StatusUnused {
						t.Errorf("invoice %s status %s after the saga, want 1", sn, got)
					}
				}
				if !s.bill(billID).Unbound {
					t.Errorf("bill %s still bound in the cloud", billID)
				}
				if step == "markUsed" {
					record(t, id, "cancelled_by_temporal_during_mark_used")
				}
			})
		})
	}
}

// An unbind the cloud refuses for good (another system posted a voucher for the bill's invoices)
// parks the bill in failed at compensate:unbind, findable by FailedStep; ops resolve it by hand
// with an audited decision and the bill ends cancelled.
func TestFailedCompensationIsResolvedByHand(t *testing.T) {
	s := newStack(t, 22, lenient)
	run := s.start(input("COMP-1", workflows.Options{Approvals: []string{"supervisor"}}))
	id := run.GetID()
	serials := s.collect(s.collectURL(id).EventCode, 1)
	waitStage(t, id, workflows.StageAwaitingSupervisor)
	// Someone posts a voucher for the bill elsewhere: the cloud now refuses to delete the bill.
	if err := s.cloud.VoucherSave(ctxT(t), "elsewhere-1", invoicecloud.VoucherSaveRequest{VouchID: "EXT-1", VouchNo: "外-1",
		AccountDate: "2024-05-31", AccountTime: "2024-05-31", BusinessDate: "2024-05-30", Resource: "SAP",
		SerialNoArray: serials, ExpenseIDArray: []string{"COMP-1"}}); err != nil {
		t.Fatalf("voucher elsewhere: %v", err)
	}
	// The cancel answers the compensation's refusal: the bill waits in failed for ops.
	if _, err := update[workflows.BillState](t, id, workflows.UpdateCancel, workflows.CancelRequest{Reason: "raised twice"}); !errContains(err, "compensate:unbind") {
		t.Fatalf("cancel answered %v, want the refused compensate:unbind", err)
	}
	st := waitStage(t, id, workflows.StageFailed)
	if st.Error == nil || st.Error.Step != "compensate:unbind" {
		t.Fatalf("failed at %+v, want compensate:unbind", st.Error)
	}
	waitFor(t, "visibility to list the bill by FailedStep", func() bool {
		resp, err := tc.ListWorkflow(ctxT(t), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("FailedStep = 'compensate:unbind' AND NeedsAttention = true AND WorkflowId = '%s'", id)})
		return err == nil && len(resp.Executions) == 1
	})
	final := mustUpdate(t, id, workflows.UpdateResolve, workflows.ResolveRequest{By: "ops-wang", Reason: "voucher posted in SAP by mistake",
		Done: "voucher reversed in SAP; invoices released in the vendor console"})
	if err := run.Get(ctxT(t), &final); err != nil {
		t.Fatalf("result: %v", err)
	}
	if final.Stage != workflows.StageCancelled || len(final.Resolutions) != 1 || final.Resolutions[0].By != "ops-wang" {
		t.Fatalf("final %s, resolutions %+v", final.Stage, final.Resolutions)
	}
	record(t, id, "compensation_resolved")
}

// Cancelling through Temporal itself (Web's Cancel, `temporal workflow cancel`) runs the same saga.
func TestTemporalCancelRunsTheSaga(t *testing.T) {
	s := newStack(t, 23, lenient)
	run := s.start(input("TCAN-1", workflows.Options{}))
	id := run.GetID()
	serials := s.collect(s.collectURL(id).EventCode, 2)
	waitStage(t, id, workflows.StageAwaitingSupervisor)
	if err := tc.CancelWorkflow(ctxT(t), id, ""); err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctxT(t), nil); err == nil {
		t.Fatal("want cancelled")
	}
	desc, err := tc.DescribeWorkflowExecution(ctxT(t), id, "")
	if err != nil || desc.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Fatalf("status %v %v", desc.GetWorkflowExecutionInfo().GetStatus(), err)
	}
	for _, sn := range serials {
		if got := s.invoiceStatus(sn); got != invoicecloud.StatusUnused {
			t.Errorf("invoice %s status %s, want 1", sn, got)
		}
	}
	record(t, id, "cancelled_by_temporal")
}

// SLAs on the real server: past the soft SLA the bill is Overdue; past the hard deadline it is
// reminded (and keeps waiting) or cancelled (the saga releases its invoices).
func TestSLAs(t *testing.T) {
	s := newStack(t, 24, lenient)
	sla := workflows.SLAs{Approval: workflows.Duration(time.Second), Hard: workflows.Duration(3 * time.Second)}
	remind := s.start(input("SLA-REMIND", workflows.Options{Approvals: []string{"supervisor"}, SLA: sla}))
	cancel := s.start(input("SLA-CANCEL", workflows.Options{Approvals: []string{"supervisor"}, SLA: sla, OnDeadline: workflows.DeadlineCancel}))
	s.collect(s.collectURL(remind.GetID()).EventCode, 1)
	cancelled := s.collect(s.collectURL(cancel.GetID()).EventCode, 1)

	var final workflows.BillState
	if err := cancel.Get(ctxT(t), &final); err != nil {
		t.Fatalf("SLA cancel: %v", err)
	}
	if final.Stage != workflows.StageCancelled || final.Cancel == nil || final.Cancel.By != "sla" {
		t.Fatalf("hard deadline: %s %+v", final.Stage, final.Cancel)
	}
	if got := s.invoiceStatus(cancelled[0]); got != invoicecloud.StatusUnused {
		t.Errorf("invoice of the cancelled bill at %s, want 1", got)
	}
	waitFor(t, "the reminder", func() bool {
		st := state(t, remind.GetID())
		return st.Overdue && hasNote(st, "reminder: hard deadline")
	})
	mustUpdate(t, remind.GetID(), workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
	mustUpdate(t, remind.GetID(), workflows.UpdateVoucher, voucher())
	if err := remind.Get(ctxT(t), &final); err != nil || final.Stage != workflows.StageCompleted {
		t.Fatalf("reminded bill: %s %v", final.Stage, err)
	}
	record(t, remind.GetID(), "sla_overdue_remind")
	record(t, cancel.GetID(), "sla_hard_cancel")
}

// pushType poll: the watcher long-polls from the start, the bill records the delivery, and only
// then is the message receipted.
func TestPollDeliveryIsReceiptedAfterRecording(t *testing.T) {
	eachCloud(t, func(t *testing.T, cloud cloudMode) {
		s := newStack(t, 25, cloud)
		in := input("POLL-1", workflows.Options{Approvals: []string{}})
		in.PushType = workflows.PushPoll
		run := s.start(in)
		id := run.GetID()
		s.collect(s.collectURL(id).EventCode, 2)
		st := waitStage(t, id, workflows.StageAwaitingVoucher)
		if len(st.Deliveries) != 1 || st.Deliveries[0].Via != workflows.ViaPoll {
			t.Fatalf("deliveries %+v, want one by poll", st.Deliveries)
		}
		waitFor(t, "the receipt", func() bool {
			b := s.bill("POLL-1")
			return len(b.LinkKeys) > 0 && b.LinkKeys[0].Receipted == 1 && b.LinkKeys[0].AwaitingReceipt == 0
		})
		mustUpdate(t, id, workflows.UpdateVoucher, voucher())
		if err := run.Get(ctxT(t), nil); err != nil {
			t.Fatal(err)
		}
		record(t, id, "poll_receipt")
	})
}

// waitFor polls cond until it holds or a generous deadline passes (a bound, not a speed claim).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hasNote(s workflows.BillState, text string) bool {
	for _, h := range s.History {
		if strings.Contains(h.Note, text) {
			return true
		}
	}
	return false
}
