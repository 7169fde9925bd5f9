package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// Stages 2 to 6, after collecting: approvals and image review, marking the invoices used, the
// voucher, the deduction, completed. (Stage 1 is in bill_collect.go, the saga in bill_saga.go.)

// approval waits for the role's decision.
func (b *bill) approval(ctx workflow.Context, role string) (Stage, error) {
	b.enter(ctx, AwaitingStage(role), "")
	for {
		ev, next, done, err := b.waitForAny(ctx, evApprove, evWithdraw)
		if done || err != nil {
			return next, err
		}
		if ev.kind == evWithdraw {
			return b.withdraw(ctx, ev), nil
		}
		req := *ev.approve
		if req.Role != role {
			b.reply(ev, fmt.Errorf("the bill is awaiting %s, not %s", role, req.Role))
			continue
		}
		b.approvalRound.record(ctx, &b.View, role, req)
		b.recordAcknowledged(req) // verified.go
		summary := fmt.Sprintf("%s: %s by %s", role, req.Decision, req.Approver)
		if req.Comment != "" {
			summary += " (" + req.Comment + ")"
		}
		switch req.Decision {
		case DecisionApprove:
			b.note(b.View.Stage, summary)
			return b.advance(ctx, ev)
		case DecisionReturn:
			b.reply(ev, nil)
			return b.backToCollecting(summary + ": returned to collecting"), nil
		default: // reject
			return b.abort(ctx, StageRejected, CancelRequest{Reason: summary, By: req.Approver}, ev)
		}
	}
}

// advance moves past the current route step: to the next approval/image review, or, after the
// last one, marks the invoices used (billSave 60) and waits for the voucher. ev (the deciding
// update, if any) is answered once the move is settled, with the cloud's error if marking failed.
func (b *bill) advance(ctx workflow.Context, ev *event) (Stage, error) {
	if b.View.Submitted && b.View.Stage == StageCollecting {
		b.RouteIdx = 0
		if b.submitterTaskDue() {
			if err := b.runOrPark(ctx, "createScanTask", ev, b.createScanTask); err != nil {
				return "", err
			}
		}
	} else {
		b.RouteIdx++
	}
	if b.RouteIdx < len(b.route) {
		b.reply(ev, nil)
		return b.route[b.RouteIdx], nil
	}
	if !b.MarkedUsed {
		// Registered before the call: if its answer is lost the cloud may have marked them anyway.
		b.saga.register(compensateRelease)
		err := b.runOrPark(ctx, "markUsed", ev, func(ctx workflow.Context) error {
			in := calls.BillSaveInput{MessageID: b.msgID("markUsed"), Request: b.in.billSave(invoicecloud.StatusUsed, b.Invoices)}
			return callNoResult(cloudCallOptions(ctx), acts.MarkUsed, in)
		})
		if err != nil {
			return "", err
		}
		b.MarkedUsed = true
		b.Status = invoicecloud.StatusUsed
		b.ledger.show(&b.View)
		b.note(b.View.Stage, fmt.Sprintf("invoices marked used (billSave 60): %d, total %s", len(b.Invoices), b.View.TotalAmount))
	}
	b.reply(ev, nil)
	return StageAwaitingVoucher, nil
}

// backToCollecting is a return or an image mismatch: the approvals of this round are void, the
// invoices stay bound, and a new import adds to them (removing one is explicit).
func (b *bill) backToCollecting(note string) Stage {
	b.note(b.View.Stage, note)
	b.approvalRound.restart()
	b.View.Submitted = false
	return StageCollecting
}

// awaitVoucher waits for the ERP's voucher and writes it back.
func (b *bill) awaitVoucher(ctx workflow.Context) (Stage, error) {
	b.enter(ctx, StageAwaitingVoucher, "")
	for {
		if b.heldBySet() != "" { // held by a voucher set (voucherset.go), carried across continue-as-new
			saved, cancelled, next, done, err := b.awaitSetOutcome(ctx)
			switch {
			case done || err != nil:
				return next, err
			case saved:
				if cancelled {
					ctx, _ = workflow.NewDisconnectedContext(ctx)
					b.note(b.View.Stage, "cancel from Temporal refused: the voucher set saved the voucher")
				}
				return b.voucherSaved(ctx, nil, b.View.Voucher.VoucherRequest, " with the other bills of voucher set "+b.View.Voucher.Set)
			case cancelled:
				return "", ctx.Err() // not saved: the cancel from Temporal runs the saga (run)
			}
			continue
		}
		ev, next, done, err := b.waitForVoucher(ctx)
		if done || err != nil {
			return next, err
		}
		if ev.kind == evVoucherHold {
			b.takeHold(ctx, ev)
			continue
		}
		v := *ev.voucher
		b.View.Voucher = &VoucherView{VoucherRequest: v}
		toOutcome := workflow.GetVersion(ctx, voucherToOutcome, workflow.DefaultVersion, 1) == 1
		err = b.runOrPark(ctx, "saveVoucher", ev, func(ctx workflow.Context) error {
			in := calls.VoucherInput{MessageID: b.msgID("saveVoucher"), TaxNo: b.in.BillTaxNo, Request: invoicecloud.VoucherSaveRequest{
				VouchID: v.VouchID, VouchNo: v.VouchNo, AccountDate: v.AccountDate, AccountTime: v.AccountTime,
				BusinessDate: v.BusinessDate, Resource: v.Resource,
				SerialNoArray: serials(b.Invoices), ExpenseIDArray: []string{b.in.BillID},
			}}
			if toOutcome {
				// A cancel from Temporal must not cut the call: the cloud may apply it anyway.
				ctx, _ = workflow.NewDisconnectedContext(ctx)
			}
			return callNoResult(cloudCallOptions(ctx), acts.SaveVoucher, in)
		})
		if err != nil {
			return "", err // not saved: a cancel from Temporal runs the saga (run)
		}
		if toOutcome && ctx.Err() != nil {
			// Cancelled from Temporal while voucherSave ran, and the cloud saved it: the books hold
			// the voucher, so the cancel is refused as after any voucher and the bill goes on.
			ctx, _ = workflow.NewDisconnectedContext(ctx)
			b.note(b.View.Stage, "cancel from Temporal refused: the voucher was saved while it came")
		}
		return b.voucherSaved(ctx, ev, v, "")
	}
}

// voucherSaved records the voucher the cloud saved (by the bill's own voucherSave, or a voucher
// set's: how says which) and goes on: the deduction, or completed.
func (b *bill) voucherSaved(ctx workflow.Context, ev *event, v VoucherRequest, how string) (Stage, error) {
	now := workflow.Now(ctx).UTC()
	b.View.Voucher.SavedAt = &now
	// Nothing is undone after the voucher: the books hold it now.
	b.Compensations = nil
	b.note(b.View.Stage, fmt.Sprintf("voucher %s saved (voucherSave%s), account date %s", v.VouchNo, how, v.AccountDate))
	b.reply(ev, nil)
	if b.in.Options.Deduction == DeductionNone {
		return b.complete(ctx)
	}
	if len(deductionInvoices(b.Invoices)) == 0 {
		b.note(b.View.Stage, "no deductible (special VAT) invoice: deduction skipped")
		return b.complete(ctx)
	}
	if ctx.Err() == nil {
		return StageDeducting, nil
	}
	return b.deduct(ctx) // on the disconnected context: the run's own is cancelled
}

// waitForVoucher waits for the bill's own voucher or a voucher set's hold.
func (b *bill) waitForVoucher(ctx workflow.Context) (ev *event, next Stage, done bool, err error) {
	for {
		ev, err := b.wait(ctx)
		if err != nil || ev.kind == evVoucher || ev.kind == evVoucherHold {
			return ev, "", false, err
		}
		if next, done, err := b.common(ctx, ev); done || err != nil {
			return nil, next, done, err
		}
	}
}

// voucherToOutcome versions awaitVoucher: voucherSave runs to its outcome on a disconnected
// context, and a voucher saved while a cancel from Temporal came completes the bill.
const voucherToOutcome = "voucher-runs-to-outcome"

// deduct selects the deductible invoices now or hands them to the enterprise's batch workflow.
func (b *bill) deduct(ctx workflow.Context) (Stage, error) {
	b.enter(ctx, StageDeducting, "")
	invs := deductionInvoices(b.Invoices)
	view := &DeductionView{Mode: b.in.Options.Deduction}
	for _, inv := range b.Invoices {
		if Deductible(inv.InvoiceType) {
			view.SerialNos = append(view.SerialNos, inv.SerialNo)
		}
	}
	switch b.in.Options.Deduction {
	case DeductionImmediate:
		err := b.runOrPark(ctx, "selectDeduction", nil, func(ctx workflow.Context) error {
			in := calls.DeductionInput{RequestID: b.msgID("selectDeduction"), Request: invoicecloud.DeductionRequest{
				AuthenticateFlag: "1", TaxNo: b.in.BillTaxNo, DeductionPurpose: "1", BillType: "0", Invoices: invs,
			}}
			res, err := call(cloudCallOptions(ctx), acts.SelectDeduction, in)
			if err != nil {
				return err
			}
			view.TaskNo = res.TaskNo
			return nil
		})
		if err != nil {
			return "", err
		}
		b.View.Deduction = view
		b.note(b.View.Stage, fmt.Sprintf("%d invoice(s) selected for deduction (task %s)", len(invs), orStr(view.TaskNo, "-")))
	case DeductionBatch:
		period := b.View.Voucher.AccountDate[:7] // validated yyyy-MM-dd
		err := b.runOrPark(ctx, "enqueueDeduction", nil, func(ctx workflow.Context) error {
			in := calls.EnqueueInput{TaxNo: b.in.BillTaxNo, Period: period, Add: calls.DeductionAdd{BillWorkflowID: b.View.WorkflowID, Invoices: invs}}
			id, err := call(cloudCallOptions(ctx), acts.EnqueueDeduction, in)
			view.BatchWorkflowID = id
			return err
		})
		if err != nil {
			return "", err
		}
		b.View.Deduction = view
		b.note(b.View.Stage, fmt.Sprintf("%d invoice(s) handed to %s", len(invs), view.BatchWorkflowID))
	}
	return b.complete(ctx)
}

func (b *bill) complete(ctx workflow.Context) (Stage, error) {
	b.enter(ctx, StageCompleted, "")
	b.emit(calls.EventCompleted, map[string]any{"invoiceCount": b.View.InvoiceCount, "totalAmount": b.View.TotalAmount, "voucher": b.View.Voucher})
	return StageCompleted, nil
}

// common handles what every waiting stage accepts the same way: cancel, SLA timers, and anything
// not valid here (answered with an error, or noted when it came by signal).
func (b *bill) common(ctx workflow.Context, ev *event) (next Stage, done bool, err error) {
	switch ev.kind {
	case evCancel:
		next, err = b.abort(ctx, StageCancelled, *ev.cancel, ev)
		return next, true, err
	case evSLASoft, evSLAHard:
		if !b.timers.current(ev) {
			return "", false, nil
		}
		return b.onSLA(ctx, ev)
	case evDelivery:
		return "", false, nil // recorded in Pending: bound when the bill next collects
	case evWatchEnded:
		delete(b.watchers, ev.linkKey)
		return "", false, nil
	case evViewURL:
		b.reply(ev, b.prepareViewURL(ctx))
		return "", false, nil
	case evScanned:
		return "", false, nil // a scan outcome for a stage that has moved on
	}
	msg := fmt.Errorf("not applied: the bill moved on to stage %s", b.View.Stage)
	if ev.kind == evRetry {
		msg = fmt.Errorf("not applied: the bill is in stage %s, not failed", b.View.Stage)
	}
	b.reply(ev, msg)
	return "", false, nil
}
