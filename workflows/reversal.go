package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// Voucher reversal (反记账): the ERP takes a booked voucher back — a wrong account, a wrong
// period — and books another. The bill goes back to awaiting_voucher with its invoices still
// bound and used (60) at the cloud and no voucher there, so the ledger's mirror holds throughout:
// completed ⇔ the voucher is at the cloud.
//
// Where the bill waits: a bill whose voucher is saved completes (and, without a window, ends as in
// every earlier release). With Options.ReversalWindow it stays open in stage completed until the
// window ends (one timer, nothing else): a reversal within it is an update on the running bill,
// validated like every decision. A new run of a closed bill was the other way; it was not taken:
// the bill's carried state (request-id counters, the saga, the ledger) lives in its Progress,
// which a closed run no longer carries, and a second start under the same key is what the bill key
// forbids (it lives once).
//
// What is refused (the bill does not change; the update's error names why):
//   - a voucher of a voucher set (several bills on one voucherSave): its other bills would keep
//     a voucher whose invoices are not all booked; the error names them (Conflict.voucher_shared);
//   - a bill whose invoices were selected for deduction (勾选) or handed to the batch: the
//     deduction is the tax bureau's by then; undo it there first (Conflict.deduction_selected);
//   - another voucher than the one booked (vouchId), no voucher, or outside the window.
//
// The call itself is [assumed] (the vendor's texts name none): invoicecloud's VoucherReverse, a
// configurable messageType (ultimate) or path (standard). The cloud refusing it for good leaves the
// bill as it was (completed, voucher booked) and answers the update with the cloud's error;
// a call whose outcome is unknown after its retries parks the bill in failed (retry).

// changeVoucherReversal marks the histories that wait in the reversal window: only bills started
// with Options.ReversalWindow reach it, so no earlier history asks.
const changeVoucherReversal = "voucher-reversal-window"

// MaxReversalWindow bounds Options.ReversalWindow [assumed]: the books of a period close within a
// year; a longer window keeps bills open for nothing.
const MaxReversalWindow = Duration(366 * 24 * time.Hour)

// reversalsCap bounds the reversals the state lists (earlier ones stay in the history).
const reversalsCap = 20

// Conflict error types: the API's sub-codes (api.SubVoucherShared, api.SubDeductionSelected).
const (
	errTypeVoucherShared     = "Conflict.voucher_shared"
	errTypeDeductionSelected = "Conflict.deduction_selected"
)

// reversalOpen reports whether a completed bill waits in its reversal window (checked by run).
func (b *bill) reversalOpen(ctx workflow.Context, stage Stage) bool {
	if stage != StageCompleted || b.reversalClosed || b.in.Options.ReversalWindow <= 0 ||
		b.View.Voucher == nil || b.View.Voucher.SavedAt == nil {
		return false
	}
	return workflow.GetVersion(ctx, changeVoucherReversal, workflow.DefaultVersion, 1) >= 1
}

// reversalWindow waits, in stage completed, until the window ends (the bill then ends completed)
// or a reversal takes the voucher back (the bill awaits its voucher again). A cancel from Temporal
// closes the window: the voucher stays booked, nothing is undone.
func (b *bill) reversalWindow(ctx workflow.Context) (Stage, error) {
	v := b.View.Voucher
	if v.ReversibleUntil == nil {
		until := v.SavedAt.Add(time.Duration(b.in.Options.ReversalWindow))
		v.ReversibleUntil = &until
		b.note(StageCompleted, fmt.Sprintf("voucher %s may be reversed until %s", v.VouchNo, until.Format(time.RFC3339)))
		b.publish()
	}
	b.stopWatching() // nothing is collected any more
	b.reversalEpoch++
	epoch := b.reversalEpoch
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	left := max(v.ReversibleUntil.Sub(workflow.Now(ctx)), time.Millisecond)
	workflow.Go(tctx, func(g workflow.Context) {
		if workflow.NewTimer(g, left).Get(g, nil) == nil {
			b.inbox.push(&event{kind: evReversalClosed, epoch: epoch})
		}
	})
	for {
		ev, err := b.windowWait(ctx)
		if err != nil {
			if errors.Is(err, errContinueAsNew) {
				return "", err
			}
			if ctx.Err() != nil || temporal.IsCanceledError(err) {
				b.reversalClosed = true
				b.note(StageCompleted, "cancel from Temporal: the reversal window closes; the voucher stays booked")
				return StageCompleted, nil
			}
			return "", err
		}
		switch ev.kind {
		case evReversalClosed:
			if ev.epoch != epoch {
				continue
			}
			b.reversalClosed = true
			b.note(StageCompleted, fmt.Sprintf("reversal window of voucher %s ended", v.VouchNo))
			return StageCompleted, nil
		case evReverse:
			next, err := b.reverse(ctx, ev)
			if err != nil || next != StageCompleted {
				return next, err
			}
		case evCancel:
			b.reply(ev, errors.New("the voucher is saved (or being saved): a bill cannot be cancelled after its voucher; reverse the voucher first"))
		default:
			if next, done, err := b.common(ctx, ev); done || err != nil {
				return next, err
			}
		}
	}
}

// windowWait is wait (bill_inbox.go) for the window, where a cancel from Temporal comes before a
// continue-as-new: both due at once, wait would continue as new and the next run would never
// hear of the cancel.
func (b *bill) windowWait(ctx workflow.Context) (*event, error) {
	for {
		if b.shown.buildMoved(&b.View) {
			b.publish()
		}
		b.takeSignals()
		if len(b.inbox.events) > 0 {
			return b.inbox.take(), nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if b.timeToContinue() {
			return nil, errContinueAsNew
		}
		if err := workflow.Await(ctx, func() bool {
			return len(b.inbox.events) > 0 || b.inbox.signalWaiting() || ctx.Err() != nil || b.timeToContinue()
		}); err != nil {
			return nil, err
		}
	}
}

// reverse runs the reversal at the cloud and takes the bill back to awaiting_voucher; a refusal
// for good leaves it completed (the update answers the cloud's error).
func (b *bill) reverse(ctx workflow.Context, ev *event) (Stage, error) {
	req := *ev.reverse
	v := *b.View.Voucher
	var refused error
	err := b.runOrPark(ctx, "reverseVoucher", ev, func(ctx workflow.Context) error {
		in := calls.VoucherReverseInput{MessageID: b.msgID("reverseVoucher"), TaxNo: b.in.BillTaxNo, Request: invoicecloud.VoucherReverseRequest{
			VouchID: v.VouchID, VouchNo: v.VouchNo, Resource: v.Resource,
			SerialNoArray: serials(b.Invoices), ExpenseIDArray: []string{b.in.BillID},
		}}
		// A cancel from Temporal must not cut the call: the cloud may apply it anyway.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		err := callNoResult(cloudCallOptions(dctx), acts.ReverseVoucher, in)
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.NonRetryable() {
			refused = err // the cloud refused it: nothing changed there
			return nil
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if b.View.Stage == StageFailed {
		b.enter(ctx, StageCompleted, "reversal retried") // back where it was
	}
	if refused != nil {
		b.note(StageCompleted, fmt.Sprintf("reversal of voucher %s refused by the cloud: %v", v.VouchNo, refused))
		b.reply(ev, failureForCaller("reverseVoucher", refused))
		return StageCompleted, nil
	}
	by := strings.TrimSpace(req.By)
	rec := ReversalRecord{VouchID: v.VouchID, VouchNo: v.VouchNo, Resource: v.Resource, AccountDate: v.AccountDate, SavedAt: v.SavedAt,
		By: by, Reason: strings.TrimSpace(req.Reason), At: workflow.Now(ctx).UTC()}
	if req.Actor != nil {
		rec.Client, rec.User = req.Actor.Client, req.Actor.User
		if rec.By == "" {
			rec.By = req.Actor.User
		}
	}
	b.View.Reversals = append(slices.Clip(b.View.Reversals), rec)
	if over := len(b.View.Reversals) - reversalsCap; over > 0 {
		b.View.Reversals = slices.Clone(b.View.Reversals[over:])
	}
	b.View.Voucher = nil
	b.reversalClosed = false
	// The invoices are bound and used again with no voucher: a cancel now undoes both, as before
	// the voucher (the saga was closed when it was saved).
	b.Compensations = nil
	b.saga.register(compensateUnbind)
	b.saga.register(compensateRelease)
	b.note(StageCompleted, fmt.Sprintf("voucher %s reversed (反记账) by %s: %s", v.VouchNo, rec.By, rec.Reason))
	b.emit(calls.EventVoucherReversed, map[string]string{"vouchId": v.VouchID, "vouchNo": v.VouchNo, "by": rec.By, "reason": rec.Reason})
	b.reply(ev, nil)
	return StageAwaitingVoucher, nil
}

// validateReversal: within the window, the booked voucher named, the bill's own, no deduction.
func (b *bill) validateReversal(req VoucherReversalRequest) error {
	f := map[string]string{}
	requireAll(f, "required", [2]string{"vouchId", req.VouchID})
	if strings.TrimSpace(req.By) == "" && (req.Actor == nil || req.Actor.User == "") {
		f["by"] = "required: who reverses the voucher"
	}
	if strings.TrimSpace(req.Reason) == "" {
		f["reason"] = "required: a reversal is audited (why the voucher is taken back)"
	}
	if err := fieldErr(f); err != nil {
		return err
	}
	v := b.View.Voucher
	if b.inbox.reverseQueued {
		return errors.New("a reversal is already being applied")
	}
	if v == nil || v.SavedAt == nil {
		return b.stageErr("no voucher is booked: nothing to reverse")
	}
	if v.Set != "" {
		return temporal.NewApplicationError(fmt.Sprintf("voucher %s is shared with other bills (voucher set %s): one voucherSave booked them together; "+
			"a reversal of one bill would leave the others' voucher short, so it is refused", v.VouchNo, v.Set), errTypeVoucherShared, v.Set)
	}
	if d := b.View.Deduction; d != nil {
		where := "task " + orStr(d.TaskNo, "-")
		if d.BatchWorkflowID != "" {
			where = "batch " + d.BatchWorkflowID
		}
		return temporal.NewApplicationError(fmt.Sprintf("the invoices of voucher %s were selected for deduction (勾选, %s): undo the selection "+
			"first; a reversal is refused after the deduction", v.VouchNo, where), errTypeDeductionSelected)
	}
	if v.VouchID != strings.TrimSpace(req.VouchID) {
		return fieldErr(map[string]string{"vouchId": fmt.Sprintf("the bill's voucher is %s, not %s", v.VouchID, strings.TrimSpace(req.VouchID))})
	}
	if b.View.Stage != StageCompleted || b.reversalClosed || v.ReversibleUntil == nil {
		return b.stageErr("not in its reversal window (options.reversalWindow)")
	}
	return nil
}

// repeatsReversal: this voucher was reversed and the bill holds none, or another, since.
func (b *bill) repeatsReversal(req VoucherReversalRequest) bool {
	id := strings.TrimSpace(req.VouchID)
	if id == "" || len(b.View.Reversals) == 0 || b.View.Reversals[len(b.View.Reversals)-1].VouchID != id {
		return false
	}
	return b.View.Voucher == nil || b.View.Voucher.VouchID != id
}
