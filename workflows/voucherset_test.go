package workflows_test

import (
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"rimflow/workflows"
)

// A bill held by a voucher set refuses its own voucher and a cancel; the set's "not saved"
// releases it (its own voucher then works); and a cancel from Temporal while held waits for the
// outcome: saved, the bill completes and nothing is undone.
func TestBillHeldByAVoucherSet(t *testing.T) {
	hold := workflows.VoucherHoldRequest{Set: "voucher:SAP:V-9", Voucher: voucher()}
	t.Run("released, then its own voucher", func(t *testing.T) {
		h := newHarness(t)
		var held, own, cancel, second *updateResult
		var whileHeld, released workflows.BillState
		h.script(
			func() {
				h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
			},
			func() { held = h.update(workflows.UpdateVoucherHold, hold) },
			func() {
				whileHeld = h.state()
				own = h.update(workflows.UpdateVoucher, voucher())
				cancel = h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "oops"})
				second = h.update(workflows.UpdateVoucherHold, workflows.VoucherHoldRequest{Set: "voucher:SAP:V-10", Voucher: voucher()})
			},
			func() {
				h.env.SignalWorkflow(workflows.SignalVoucherSetOutcome, workflows.VoucherSetOutcome{Set: hold.Set, Reason: "bill OA/B-2 refused"})
			},
			func() { released = h.state(); h.update(workflows.UpdateVoucher, voucher()) },
		)
		h.run(bill(workflows.Options{Approvals: []string{}}))
		s, err := h.result()
		if err != nil {
			t.Fatal(err)
		}
		if held.err != nil || held.rejected != nil {
			t.Fatalf("hold: %v %v", held.err, held.rejected)
		}
		if whileHeld.Voucher == nil || whileHeld.Voucher.Set != hold.Set || whileHeld.Voucher.SavedAt != nil {
			t.Errorf("held voucher = %+v", whileHeld.Voucher)
		}
		for name, r := range map[string]*updateResult{"own voucher": own, "cancel": cancel, "another set": second} {
			if r.rejected == nil {
				t.Errorf("%s while held: accepted", name)
			}
		}
		eq(t, "released stage", released.Stage, workflows.StageAwaitingVoucher)
		if released.Voucher != nil || !hasNote(released, "did not save the voucher") {
			t.Errorf("released: voucher %+v, history %+v", released.Voucher, released.History)
		}
		eq(t, "final", s.Stage, workflows.StageCompleted)
		eq(t, "its own voucherSave", h.count("SaveVoucher"), 1)
	})
	t.Run("cancelled from Temporal while held, then saved", func(t *testing.T) {
		h := newHarness(t)
		h.script(
			func() {
				h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
			},
			func() { h.update(workflows.UpdateVoucherHold, hold) },
			func() { h.env.CancelWorkflow() },
			func() {
				h.env.SignalWorkflow(workflows.SignalVoucherSetOutcome, workflows.VoucherSetOutcome{Set: hold.Set, Saved: true})
			},
		)
		h.run(bill(workflows.Options{Approvals: []string{}}))
		s, err := h.result()
		if err != nil {
			t.Fatalf("want completed, got %v", err)
		}
		eq(t, "final", s.Stage, workflows.StageCompleted)
		if s.Voucher == nil || s.Voucher.SavedAt == nil || s.Voucher.Set != hold.Set || !hasNote(s, "voucher set "+hold.Set) {
			t.Errorf("voucher = %+v", s.Voucher)
		}
		eq(t, "no voucherSave of its own, nothing undone", h.count("SaveVoucher")+h.count("Unbind")+h.count("ReleaseInvoices"), 0)
	})
	t.Run("cancelled from Temporal while held, not saved: the saga runs", func(t *testing.T) {
		h := newHarness(t)
		h.script(
			func() {
				h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
			},
			func() { h.update(workflows.UpdateVoucherHold, hold) },
			func() { h.env.CancelWorkflow() },
			func() {
				h.env.SignalWorkflow(workflows.SignalVoucherSetOutcome, workflows.VoucherSetOutcome{Set: hold.Set, Reason: "voucherSave refused"})
			},
		)
		h.run(bill(workflows.Options{Approvals: []string{}}))
		_, err := h.result()
		if !temporal.IsCanceledError(err) {
			t.Fatalf("want a cancelled workflow, got %v", err)
		}
		if h.count("Unbind")+h.count("ReleaseInvoices") == 0 || h.count("SaveVoucher") != 0 {
			t.Errorf("calls = %v", strings.Join(h.names(), ","))
		}
	})
}
