package itest

import (
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// TestWithdrawAndResubmitOnTheServer: a bill awaiting its supervisor is withdrawn (撤回) to
// collecting, its invoices still bound at the cloud (30), submitted again, approved by both
// roles and booked: the cloud holds the invoices at 60 and the voucher.
func TestWithdrawAndResubmitOnTheServer(t *testing.T) {
	eachCloud(t, func(t *testing.T, cloud cloudMode) {
		s := newStack(t, 25, cloud)
		manual := false
		run := s.start(input("WD-1", workflows.Options{AutoSubmit: &manual}))
		id := run.GetID()
		serials := s.collect(s.collectURL(id).EventCode, 2)
		waitFor(t, "two invoices bound", func() bool { return state(t, id).InvoiceCount == 2 })
		mustUpdate(t, id, workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
		waitStage(t, id, workflows.AwaitingStage("supervisor"))
		st := mustUpdate(t, id, workflows.UpdateWithdraw, workflows.WithdrawRequest{By: "u1", Reason: "a receipt is missing"})
		if st.Stage != workflows.StageCollecting || st.InvoiceCount != 2 {
			t.Fatalf("withdrawn: stage %s with %d invoices, want collecting with 2", st.Stage, st.InvoiceCount)
		}
		for _, sn := range serials {
			if got := s.invoiceStatus(sn); got != invoicecloud.StatusInUse {
				t.Errorf("after the withdraw the cloud holds %s at %q, want %s (still the bill's)", sn, got, invoicecloud.StatusInUse)
			}
		}
		mustUpdate(t, id, workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
		waitStage(t, id, workflows.AwaitingStage("supervisor"))
		mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", "approve"))
		mustUpdate(t, id, workflows.UpdateApprove, approve("finance", "approve"))
		waitStage(t, id, workflows.StageAwaitingVoucher)
		book(t, run)
		for _, sn := range serials {
			if got := s.invoiceStatus(sn); got != invoicecloud.StatusUsed {
				t.Errorf("completed: the cloud holds %s at %q, want %s", sn, got, invoicecloud.StatusUsed)
			}
		}
		record(t, id, "withdraw_resubmit")
	})
}

// TestOneVoucherForTwoBills: two bills awaiting their voucher are booked on one voucher by a
// voucher set (one voucherSave listing both); each completes, and the cloud's voucher lists the
// invoices of both.
func TestOneVoucherForTwoBills(t *testing.T) {
	eachCloud(t, func(t *testing.T, cloud cloudMode) {
		s := newStack(t, 26, cloud)
		var runs []client.WorkflowRun
		var bills []workflows.BillKey
		for _, billID := range []string{"VS-1", "VS-2"} {
			run := s.start(input(billID, workflows.Options{Approvals: []string{}}))
			s.collect(s.collectURL(run.GetID()).EventCode, 1)
			waitStage(t, run.GetID(), workflows.StageAwaitingVoucher)
			runs = append(runs, run)
			bills = append(bills, workflows.BillKey{Resource: "OA", BillID: billID})
		}
		v := voucher()
		v.VouchID, v.VouchNo = "V-SET-1", "记-0002"
		setID := workflows.VoucherClaimID(v.Resource, v.VouchID)
		startOp := tc.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID: setID, TaskQueue: s.queue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		}, workflows.VoucherSetWorkflowName, workflows.VoucherSetInput{Voucher: v, Bills: bills})
		h, err := tc.UpdateWithStartWorkflow(ctxT(t), client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: startOp,
			UpdateOptions:          client.UpdateWorkflowOptions{UpdateName: workflows.UpdateVoucherSetOutcome, WaitForStage: client.WorkflowUpdateStageCompleted},
		})
		if err != nil {
			t.Fatal(err)
		}
		var res workflows.VoucherSetResult
		if err := h.Get(ctxT(t), &res); err != nil {
			t.Fatal(err)
		}
		if !res.Saved || len(res.Bills) != 2 || len(res.SerialNos) != 2 {
			t.Fatalf("the set's outcome %+v, want saved with 2 bills and 2 invoices", res)
		}
		for i, run := range runs {
			var final workflows.BillState
			if err := run.Get(ctxT(t), &final); err != nil {
				t.Fatal(err)
			}
			if final.Stage != workflows.StageCompleted {
				t.Errorf("bill %d ended %s, want completed", i, final.Stage)
			}
			record(t, run.GetID(), "voucher_set_bill_"+string(rune('a'+i)))
		}
		// A saved set keeps holding its vouchId (a claim): it is released, and its history kept.
		if err := tc.SignalWorkflow(ctxT(t), setID, "", workflows.SignalReleaseVoucher, nil); err != nil {
			t.Fatal(err)
		}
		if err := tc.GetWorkflow(ctxT(t), setID, "").Get(ctxT(t), nil); err != nil {
			t.Fatal(err)
		}
		record(t, setID, "voucher_set_workflow")
	})
}
