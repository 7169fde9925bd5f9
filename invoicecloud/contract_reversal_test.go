package invoicecloud_test

import (
	"context"
	"testing"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
)

// The [assumed] voucher reversal (反记账) on both editions against the simulator: the booked
// voucher comes off the bill, its invoices stay bound at 60 and are no longer accounted, the
// simulator's view keeps the reversed voucher; a retry is answered as done; a bill holding
// another voucher refuses it; a new voucher can be booked after it.
func TestContractVoucherReverse(t *testing.T) {
	eachEdition(t, simulator.Options{Seed: 11}, func(t *testing.T, h *harness, ed edition) {
		c := ed.client(h)
		ctx := context.Background()
		b := newBill("poll")
		ec, err := c.GetEventCode(ctx, b.msgID("ec"), b.req)
		if err != nil {
			t.Fatalf("GetEventCode: %v", err)
		}
		collected := h.collectURL(ec.Pages.CollectPC, 2)
		for _, st := range []string{invoicecloud.StatusInUse, invoicecloud.StatusUsed} {
			if err := c.BillSave(ctx, b.msgID("save"+st), b.saveRequest(st, collected)); err != nil {
				t.Fatalf("BillSave %s: %v", st, err)
			}
		}
		serials := []string{collected[0].SerialNo, collected[1].SerialNo}
		book := func(id string) {
			t.Helper()
			v := invoicecloud.VoucherSaveRequest{VouchID: id, VouchNo: "记-" + id, AccountDate: "2025-03-31", AccountTime: "2025-03-31",
				BusinessDate: "2025-03-30", Resource: "SAP", SerialNoArray: serials, ExpenseIDArray: []string{b.req.BillID}}
			if err := c.VoucherSave(ctx, b.msgID("voucher"+id), v); err != nil {
				t.Fatalf("VoucherSave %s: %v", id, err)
			}
		}
		reverse := func(id, msg string) error {
			return c.VoucherReverse(ctx, b.msgID(msg), invoicecloud.VoucherReverseRequest{VouchID: id, VouchNo: "记-" + id, Resource: "SAP",
				SerialNoArray: serials, ExpenseIDArray: []string{b.req.BillID}})
		}
		book("V1")
		if err := reverse("V1", "rev1"); err != nil {
			t.Fatalf("VoucherReverse: %v", err)
		}
		view := h.bill(b.req.Resource, b.req.BillID)
		if view.Voucher != nil || len(view.ReversedVouchers) != 1 || view.ReversedVouchers[0].VouchID != "V1" {
			t.Fatalf("bill after the reversal: voucher %+v, reversed %+v", view.Voucher, view.ReversedVouchers)
		}
		for _, inv := range view.Invoices {
			if inv.Status != invoicecloud.StatusUsed || inv.Accounted {
				t.Fatalf("invoice after the reversal: %+v (want 60, not accounted)", inv)
			}
		}
		// Again, with a new request id: nothing left to take back, answered as done.
		if err := reverse("V1", "rev1-again"); err != nil {
			t.Fatalf("a repeated reversal: %v", err)
		}
		book("V2")
		e := mustError(t, reverse("V1", "rev-stale"))
		wantCode := simulator.CodeVoucherMismatch
		if ed.name == "standard" {
			wantCode = simulator.StdVoucherMismatch
		}
		if e.Retryable || e.Code != wantCode {
			t.Fatalf("a reversal of another voucher than the bill's: %+v", e)
		}
		view = h.bill(b.req.Resource, b.req.BillID)
		if view.Voucher == nil || view.Voucher.VouchID != "V2" || !view.Invoices[0].Accounted {
			t.Fatalf("the second voucher after a refused reversal: %+v", view.Voucher)
		}
		// The voucher's invoices selected for deduction (勾选): the reversal is refused.
		ded := invoicecloud.DeductionRequest{AuthenticateFlag: "1", TaxNo: buyerTaxNo, DeductionPurpose: "1", BillType: "0"}
		for _, inv := range collected {
			ded.Invoices = append(ded.Invoices, deductionInvoice(inv))
		}
		if _, err := c.Deduction(ctx, "ded:"+b.req.BillID, ded); err != nil {
			t.Fatalf("Deduction: %v", err)
		}
		e = mustError(t, reverse("V2", "rev-deducted"))
		wantCode = simulator.CodeDeductionSelected
		if ed.name == "standard" {
			wantCode = simulator.StdDeductionSelected
		}
		if e.Retryable || e.Code != wantCode {
			t.Fatalf("a reversal after the deduction: %+v", e)
		}
		if st := h.stats(); st.VouchersReversed != 1 || st.Calls.VoucherDelete.Applied != 1 || st.Calls.VoucherDelete.Refused != 2 {
			t.Fatalf("reversal counts: %d reversed, calls %+v", st.VouchersReversed, st.Calls.VoucherDelete)
		}
	})
}
