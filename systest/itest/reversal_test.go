package itest

import (
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
