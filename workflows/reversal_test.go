package workflows_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// onReverse answers the reversal activity as the cloud would (recorded, or the queued failure).
func (h *harness) onReverse() {
	h.env.OnActivity("ReverseVoucher", mock.Anything, mock.Anything).Return(func(ctx context.Context, in calls.VoucherReverseInput) error {
		return h.record("ReverseVoucher", in)
	})
}

// toVoucher takes a fresh bill with one invoice through both approvals.
func toVoucher(h *harness, special bool) []func() {
	return []func(){
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", special)) },
		func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	}
}

func reversal(vouchID string) workflows.VoucherReversalRequest {
	return workflows.VoucherReversalRequest{VouchID: vouchID, By: "carol", Reason: "wrong period"}
}

// Voucher reversal (反记账) within the window: the completed bill stays open; a reversal naming
// another voucher or without a reason is refused; the reversal takes the voucher off at the cloud
// (its invoices and the bill id) and the bill awaits its voucher again, invoices still used; the
// same reversal sent again is answered, not applied twice; a new voucher completes the bill, and
// when the window ends it ends completed with the new voucher.
func TestVoucherReversalTakesTheBillBackToAwaitingVoucher(t *testing.T) {
	h := newHarness(t)
	h.onReverse()
	var booked, reversed, rebooked workflows.BillState
	var wrongID, noReason, repeat *updateResult
	second := voucher()
	second.VouchID, second.VouchNo = "V2", "记-0002"
	h.script(append(toVoucher(h, false),
		func() {
			booked = h.state()
			wrongID = h.update(workflows.UpdateReverseVoucher, reversal("V9"))
			noReason = h.update(workflows.UpdateReverseVoucher, workflows.VoucherReversalRequest{VouchID: "V1", By: "carol"})
			h.update(workflows.UpdateReverseVoucher, reversal("V1"))
		},
		func() {
			reversed = h.state()
			repeat = h.update(workflows.UpdateReverseVoucher, reversal("V1"))
		},
		func() { h.update(workflows.UpdateVoucher, second) },
		func() { rebooked = h.state() },
	)...)
	h.run(bill(workflows.Options{ReversalWindow: workflows.Duration(72 * time.Hour), Notify: true}))
	final, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "booked", booked.Stage, workflows.StageCompleted)
	if booked.Voucher == nil || booked.Voucher.ReversibleUntil == nil || booked.Voucher.SavedAt == nil ||
		booked.Voucher.ReversibleUntil.Sub(*booked.Voucher.SavedAt) != 72*time.Hour {
		t.Fatalf("booked voucher without its window: %+v", booked.Voucher)
	}
	if wrongID == nil || wrongID.rejected == nil || !strings.Contains(wrongID.rejected.Error(), "vouchId") {
		t.Errorf("a reversal of another voucher was not refused naming vouchId: %+v", wrongID)
	}
	if noReason == nil || noReason.rejected == nil || !strings.Contains(noReason.rejected.Error(), "reason") {
		t.Errorf("a reversal without a reason was not refused naming it: %+v", noReason)
	}
	eq(t, "reversed", reversed.Stage, workflows.StageAwaitingVoucher)
	if reversed.Voucher != nil {
		t.Errorf("the reversed bill still shows a voucher: %+v", reversed.Voucher)
	}
	eq(t, "invoices stay", reversed.InvoiceCount, 1)
	eq(t, "still used", reversed.Invoices[0].Status, invoicecloud.StatusUsed)
	if len(reversed.Reversals) != 1 || reversed.Reversals[0].VouchID != "V1" || reversed.Reversals[0].By != "carol" || reversed.Reversals[0].Reason != "wrong period" {
		t.Errorf("reversal record: %+v", reversed.Reversals)
	}
	if repeat == nil || repeat.rejected != nil || repeat.err != nil {
		t.Errorf("the same reversal again was not answered with the state: %+v", repeat)
	}
	eq(t, "reversal calls", h.count("ReverseVoucher"), 1)
	in := h.callsOf("ReverseVoucher")[0].(calls.VoucherReverseInput)
	eq(t, "reversed vouchId", in.Request.VouchID, "V1")
	eq(t, "reversed invoices", strings.Join(in.Request.SerialNoArray, ","), "S1")
	eq(t, "reversed bill", strings.Join(in.Request.ExpenseIDArray, ","), "B-1")
	eq(t, "routed", in.TaxNo, "91310000MA1FL0001R")
	eq(t, "rebooked", rebooked.Stage, workflows.StageCompleted)
	eq(t, "final", final.Stage, workflows.StageCompleted)
	if final.Voucher == nil || final.Voucher.VouchID != "V2" {
		t.Errorf("final voucher: %+v", final.Voucher)
	}
	eq(t, "voucher saves", h.count("SaveVoucher"), 2)
	if !hasNote(final, "reversal window of voucher 记-0002 ended") {
		t.Errorf("the window's end is not noted: %+v", final.History)
	}
	var reversedEvents int
	for _, ev := range h.events() {
		if ev.Type == calls.EventVoucherReversed {
			reversedEvents++
		}
	}
	eq(t, "voucher.reversed events", reversedEvents, 1)
}

// After a reversal the bill is before its voucher again: a cancel is taken and the saga releases
// and unbinds the invoices (the saga was closed when the voucher was saved, and is open again).
func TestCancelAfterReversalUndoesTheBinding(t *testing.T) {
	h := newHarness(t)
	h.onReverse()
	h.script(append(toVoucher(h, false),
		func() { h.update(workflows.UpdateReverseVoucher, reversal("V1")) },
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "the trip was cancelled"}) },
	)...)
	h.run(bill(workflows.Options{ReversalWindow: workflows.Duration(time.Hour)}))
	final, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "final", final.Stage, workflows.StageCancelled)
	eq(t, "released", h.count("ReleaseInvoices"), 1)
	eq(t, "unbound", h.count("Unbind"), 1)
}

// Refusals: a bill whose invoices were selected for deduction (Conflict.deduction_selected);
// a cancel in the window (the voucher stays); the cloud refusing the reversal for good leaves the
// bill completed with its voucher and answers the cloud's error. Without a window the bill ends
// with its voucher, as before.
func TestVoucherReversalRefusals(t *testing.T) {
	t.Run("after deduction", func(t *testing.T) {
		h := newHarness(t)
		h.onReverse()
		var refused *updateResult
		h.script(append(toVoucher(h, true),
			func() { refused = h.update(workflows.UpdateReverseVoucher, reversal("V1")) },
		)...)
		h.run(bill(workflows.Options{Deduction: workflows.DeductionImmediate, ReversalWindow: workflows.Duration(time.Hour)}))
		final, err := h.result()
		if err != nil {
			t.Fatal(err)
		}
		var app *temporal.ApplicationError
		if refused == nil || !errors.As(refused.rejected, &app) || app.Type() != "Conflict.deduction_selected" {
			t.Fatalf("a reversal after the deduction was not refused as deduction_selected: %+v", refused)
		}
		eq(t, "final", final.Stage, workflows.StageCompleted)
		eq(t, "reversal calls", h.count("ReverseVoucher"), 0)
	})
	t.Run("cancel in the window, then the cloud refuses", func(t *testing.T) {
		h := newHarness(t)
		h.onReverse()
		var cancel, refused *updateResult
		var after workflows.BillState
		h.script(append(toVoucher(h, false),
			func() {
				cancel = h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "too late"})
				h.failNext("ReverseVoucher", nonRetryable("2009", "单据的凭证不是该凭证"))
				refused = h.update(workflows.UpdateReverseVoucher, reversal("V1"))
			},
			func() { after = h.state() },
		)...)
		h.run(bill(workflows.Options{ReversalWindow: workflows.Duration(time.Hour)}))
		final, err := h.result()
		if err != nil {
			t.Fatal(err)
		}
		if cancel == nil || cancel.rejected == nil {
			t.Errorf("a cancel after the voucher was not refused: %+v", cancel)
		}
		if refused == nil || refused.err == nil || !strings.Contains(refused.err.Error(), "reverseVoucher failed") {
			t.Errorf("the cloud's refusal was not answered: %+v", refused)
		}
		eq(t, "after the refusal", after.Stage, workflows.StageCompleted)
		if after.Voucher == nil || after.Voucher.VouchID != "V1" || len(after.Reversals) != 0 {
			t.Errorf("a refused reversal changed the bill: %+v %+v", after.Voucher, after.Reversals)
		}
		eq(t, "final", final.Stage, workflows.StageCompleted)
	})
	t.Run("no window", func(t *testing.T) {
		h := newHarness(t)
		h.onReverse()
		h.script(toVoucher(h, false)...)
		h.run(bill(workflows.Options{}))
		final, err := h.result()
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "final", final.Stage, workflows.StageCompleted)
		if final.Voucher == nil || final.Voucher.ReversibleUntil != nil {
			t.Errorf("a bill without a window shows one: %+v", final.Voucher)
		}
	})
}
