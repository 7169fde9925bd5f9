package itest

import (
	"context"

	enumspb "go.temporal.io/api/enums/v1"
	"strings"
	"testing"
	"time"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// TestVoucherReversalOnTheServer: a bill started with a reversal window books its voucher and
// completes; a reversal naming another voucher is refused; the reversal (反记账) takes the voucher
// off at the cloud — the simulator's ledger shows no voucher, the reversed one kept aside, the
// invoices still the bill's at 60 — and the bill awaits its voucher again; a new voucher completes
// it. A cancel from Temporal then closes the window: the bill ends completed, the new voucher booked.
func TestVoucherReversalOnTheServer(t *testing.T) {
	eachCloud(t, func(t *testing.T, cloud cloudMode) {
		s := newStack(t, 27, cloud)
		billID := "REV-1"
		run := s.start(input(billID, workflows.Options{Approvals: []string{}, ReversalWindow: workflows.Duration(time.Hour)}))
		id := run.GetID()
		serials := s.collect(s.collectURL(id).EventCode, 2)
		waitStage(t, id, workflows.StageAwaitingVoucher)
		booked := mustUpdate(t, id, workflows.UpdateVoucher, voucher())
		if booked.Stage != workflows.StageCompleted || booked.Voucher == nil || booked.Voucher.ReversibleUntil == nil {
			t.Fatalf("booked: stage %s, voucher %+v; want completed with its reversal window", booked.Stage, booked.Voucher)
		}
		if s.bill(billID).Voucher == nil {
			t.Fatal("the cloud has no voucher after voucherSave")
		}

		_, err := update[workflows.BillState](t, id, workflows.UpdateReverseVoucher,
			workflows.VoucherReversalRequest{VouchID: "V9", By: "acct-li", Reason: "wrong period"})
		if !errContains(err, "vouchId") {
			t.Fatalf("a reversal of another voucher: %v, want a refusal naming vouchId", err)
		}
		st := mustUpdate(t, id, workflows.UpdateReverseVoucher, workflows.VoucherReversalRequest{VouchID: "V1", By: "acct-li", Reason: "wrong period"})
		if st.Stage != workflows.StageAwaitingVoucher || st.Voucher != nil || len(st.Reversals) != 1 {
			t.Fatalf("reversed: stage %s, voucher %+v, reversals %+v; want awaiting_voucher without a voucher", st.Stage, st.Voucher, st.Reversals)
		}
		cloudBill := s.bill(billID)
		if cloudBill.Voucher != nil || len(cloudBill.ReversedVouchers) != 1 || cloudBill.ReversedVouchers[0].VouchID != "V1" {
			t.Fatalf("the cloud after the reversal: voucher %+v, reversed %+v", cloudBill.Voucher, cloudBill.ReversedVouchers)
		}
		s.cloudHolds(t, billID, serials, invoicecloud.StatusUsed)
		for _, inv := range cloudBill.Invoices {
			if inv.Accounted {
				t.Errorf("%s is still accounted at the cloud after the reversal", inv.SerialNo)
			}
		}

		next := voucher()
		next.VouchID, next.VouchNo, next.AccountDate = "V2", "记-0002", "2024-06-30"
		st = mustUpdate(t, id, workflows.UpdateVoucher, next)
		if st.Stage != workflows.StageCompleted || st.Voucher == nil || st.Voucher.VouchID != "V2" {
			t.Fatalf("rebooked: stage %s, voucher %+v", st.Stage, st.Voucher)
		}
		if v := s.bill(billID).Voucher; v == nil || v.VouchID != "V2" || !strings.HasPrefix(v.AccountDate, "2024-06") {
			t.Fatalf("the cloud's voucher after the new one: %+v", v)
		}
		if err := tcCancel(t, id); err != nil {
			t.Fatal(err)
		}
		var final workflows.BillState
		if err := run.Get(ctxT(t), &final); err != nil {
			t.Fatalf("the window closed by a cancel: %v, want the bill completed", err)
		}
		if final.Stage != workflows.StageCompleted || final.Voucher == nil || final.Voucher.VouchID != "V2" {
			t.Fatalf("final: stage %s, voucher %+v", final.Stage, final.Voucher)
		}
		s.cloudHolds(t, billID, serials, invoicecloud.StatusUsed)
		record(t, id, "voucher_reversal")
	})
}

// TestVoucherReversalWindowContinuesAsNew: a bill whose history is past its limit when it enters
// the reversal window continues as new there (a quiet point); the next run waits in the same
// window (until the same instant), takes the reversal and a new voucher.
func TestVoucherReversalWindowContinuesAsNew(t *testing.T) {
	s := newStack(t, 28, lenient)
	billID := "REV-CAN"
	run := s.start(input(billID, workflows.Options{Approvals: []string{}, ReversalWindow: workflows.Duration(time.Hour), HistoryLimit: 30}))
	id := run.GetID()
	first := currentRun(ctxT(t), t, id)
	serials := s.collect(s.collectURL(id).EventCode, 1)
	waitStage(t, id, workflows.StageAwaitingVoucher)
	booked := mustUpdate(t, id, workflows.UpdateVoucher, voucher())
	waitFor(t, "a continue-as-new in the window", func() bool { return currentRun(ctxT(t), t, id) != first })
	st := state(t, id)
	if st.Stage != workflows.StageCompleted || st.Voucher == nil || st.Voucher.ReversibleUntil == nil ||
		booked.Voucher == nil || !st.Voucher.ReversibleUntil.Equal(*booked.Voucher.ReversibleUntil) {
		t.Fatalf("the next run: stage %s, voucher %+v; want completed in the same window as %+v", st.Stage, st.Voucher, booked.Voucher)
	}
	st = mustUpdate(t, id, workflows.UpdateReverseVoucher, workflows.VoucherReversalRequest{VouchID: "V1", By: "acct-li", Reason: "wrong period"})
	if st.Stage != workflows.StageAwaitingVoucher || s.bill(billID).Voucher != nil {
		t.Fatalf("reversed in the next run: stage %s, the cloud's voucher %+v", st.Stage, s.bill(billID).Voucher)
	}
	s.cloudHolds(t, billID, serials, invoicecloud.StatusUsed)
	next := voucher()
	next.VouchID, next.VouchNo = "V2", "记-0002"
	if st = mustUpdate(t, id, workflows.UpdateVoucher, next); st.Stage != workflows.StageCompleted {
		t.Fatalf("rebooked: stage %s", st.Stage)
	}
	if err := tcCancel(t, id); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 20*time.Second)
	defer cancel()
	var final workflows.BillState
	if err := run.Get(ctx, &final); err != nil || final.Stage != workflows.StageCompleted || final.Voucher == nil || final.Voucher.VouchID != "V2" {
		st := state(t, id)
		iter := tc.GetWorkflowHistory(ctxT(t), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var types []string
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				break
			}
			types = append(types, ev.GetEventType().String())
		}
		t.Logf("history of the current run (%d events): %v", len(types), types[max(0, len(types)-25):])
		t.Fatalf("final: %v, stage %s, voucher %+v; first run %s, now %s: %+v", err, final.Stage, final.Voucher, first, currentRun(ctxT(t), t, id), st.History[max(0, len(st.History)-6):])
	}
}
