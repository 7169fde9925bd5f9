package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/internal/voice"
)

// The bill's handlers: what each update and signal becomes in the inbox (inbox.go tells one
// update's way from the validator to its reply), and how run takes the next event.

// setup registers the query, the updates (validated) and the signals (same names and payloads).
func (b *bill) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryState, func() (BillState, error) {
		return b.snapshot(), nil
	}, workflow.QueryHandlerOptions{Description: "The whole bill: stage, invoices (decimal strings), approvals, voucher, URLs, overdue, error, recent history."}); err != nil {
		return err
	}

	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCollectURL,
		func(ctx workflow.Context, req CollectURLRequest) (CollectURLResult, error) {
			ev := &event{kind: evCollectURL, url: &req}
			if err := b.await(ctx, ev); err != nil {
				return CollectURLResult{}, err
			}
			return b.collectURLResult(ctx, req), nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, req CollectURLRequest) error {
				if err := b.opsPathPermits(ctx, UpdateCollectURL, ""); err != nil {
					return err
				}
				return b.validateCollectURL(req)
			},
			Description: "Return a collect URL (client pc|mobile) valid now; re-issues the eventCode when it has expired or expires within 2 minutes.",
		}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateViewURL,
		func(ctx workflow.Context, req ViewURLRequest) (ViewURLResponse, error) {
			ev := &event{kind: evViewURL}
			if err := b.await(ctx, ev); err != nil {
				return ViewURLResponse{}, err
			}
			return b.linkBook.viewURL(workflow.Now(ctx), req.Client, b.View.Stage == StageCollecting), nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, req ViewURLRequest) error {
				if err := b.opsPathPermits(ctx, UpdateViewURL, ""); err != nil {
					return err
				}
				if c := req.Client; c != "" && c != "pc" && c != "mobile" {
					return fieldErr(map[string]string{"client": fmt.Sprintf("must be pc or mobile, got %q", c)})
				}
				if b.View.Stage.Final() {
					return b.stageErr("")
				}
				return nil
			},
			Description: "Return a view page URL (client pc|mobile) valid now, in any stage: approvers see the bill's invoices.",
		}); err != nil {
		return err
	}
	type spec struct {
		name, desc string
		kind       eventKind
		decode     func(json.RawMessage) (*event, error)
		validate   func(*event) error
		// repeats reports a request identical to one already applied (same role, approver and
		// decision…): it is answered with the current state instead of an error. Nil: none is.
		repeats func(*event) bool
	}
	specs := []spec{
		{UpdateSubmit, "Submit the collected invoices for approval (refused while no invoice is bound).", evSubmit,
			decoder(func(r SubmitRequest) *event { return &event{kind: evSubmit, submit: &r, actor: &r.Actor} }),
			func(ev *event) error { return b.validateSubmit() }, func(*event) bool { return b.repeatsSubmit() }},
		{UpdateApprove, "Decide for an approval role: {role, decision: approve|reject|return, approver, comment}.", evApprove,
			decoder(func(r ApproveRequest) *event { return &event{kind: evApprove, approve: &r, actor: &r.Actor} }),
			func(ev *event) error { return b.validateApprove(*ev.approve) }, func(ev *event) bool { return b.approvalRound.repeats(b.View.Approvals, b.View.Stage, *ev.approve) }},
		{UpdateImages, "The scanning station's 'scanned' message: {scanBillNo, invoiceNos, amounts, files}; match mode compares them with the bound invoices.", evImages,
			decoder(func(r ImagesRequest) *event { return &event{kind: evImages, images: &r, actor: &r.Actor} }),
			func(ev *event) error { return b.validateImages(*ev.images) }, nil},
		{UpdateVoucher, "Write the voucher back: {vouchId, vouchNo, accountDate, accountTime, businessDate (yyyy-MM-dd), resource}.", evVoucher,
			decoder(func(r VoucherRequest) *event { return &event{kind: evVoucher, voucher: &r, actor: &r.Actor} }),
			func(ev *event) error { return b.validateVoucher(*ev.voucher) }, func(ev *event) bool { return b.repeatsVoucher(*ev.voucher) }},
		{UpdateCancel, "Cancel the bill {reason}: undo what was done (unbind, release) and end cancelled. Refused once the voucher is saved.", evCancel,
			decoder(func(r CancelRequest) *event { return &event{kind: evCancel, cancel: &r, actor: &r.Actor} }),
			func(ev *event) error { return b.validateCancel(*ev.cancel) }, func(ev *event) bool { return b.repeatsCancel(*ev.cancel) }},
		{UpdateRetry, "Re-run the step that failed (only in stage failed), once its cause is fixed.", evRetry,
			decoder(func(r RetryRequest) *event { return &event{kind: evRetry, retry: &r, actor: &r.Actor} }),
			func(ev *event) error { return b.validateRetry() }, nil},
		{UpdateAmend, "Correct the header of a bill that failed before anything was bound (only the fields given change), then retry: {billTaxNo, companyInfo, …, reason}; or, while collecting, its line fields and cover alone: {lines, coverData, reason}.", evAmend,
			decoder(func(r AmendRequest) *event { return &event{kind: evAmend, amend: &r, actor: &r.Actor} }),
			func(ev *event) error { return b.validateAmend(*ev.amend) }, nil},
		{UpdateRemove, "Take an invoice off a collecting or failed bill: {serialNo, reason}; a bound one is released at the cloud (billSave 1).", evRemove,
			decoder(func(r RemoveInvoiceRequest) *event { return &event{kind: evRemove, remove: &r, actor: &r.Actor} }),
			func(ev *event) error { return b.validateRemove(*ev.remove) }, nil},
		{UpdateWithdraw, "Withdraw a bill that waits for an approval back to collecting (撤回): {by, reason}; the invoices stay bound, the round's approvals are void.", evWithdraw,
			decoder(func(r WithdrawRequest) *event { return &event{kind: evWithdraw, withdraw: &r, actor: &r.Actor} }),
			func(ev *event) error { return b.validateWithdraw(*ev.withdraw) }, nil},
		{UpdateResolve, "Close a failed compensation by hand (only in stage failed, in a compensate step): {by, reason, done}. Audited in state.resolutions.", evResolve,
			decoder(func(r ResolveRequest) *event { return &event{kind: evResolve, resolve: &r, actor: &r.Actor} }),
			func(ev *event) error { return b.validateResolve(*ev.resolve) }, nil},
		// Last: a new signal channel after the others keeps their order in receive.
		{UpdateReverseVoucher, "Take the booked voucher back (反记账) within the bill's reversal window: {vouchId, by, reason}; the bill awaits a new voucher, its invoices still used (60).", evReverse,
			decoder(func(r VoucherReversalRequest) *event { return &event{kind: evReverse, reverse: &r, actor: &r.Actor} }),
			func(ev *event) error { return b.validateReversal(*ev.reverse) }, func(ev *event) bool { return b.repeatsReversal(*ev.reverse) }},
	}
	for _, sp := range specs {
		sp := sp
		// An update applied before (its id answered, or an identical request) is answered with the
		// current state: an ERP that retries after a timeout gets the first call's outcome.
		applied := func(ctx workflow.Context, ev *event) bool {
			id := workflow.GetCurrentUpdateInfo(ctx).ID
			return b.answered(id) || b.answeredLegacy(id) || sp.repeats != nil && sp.repeats(ev)
		}
		// Update: validated before anything is written; answers once run applied it (answer: the
		// Decision the API asks for, or the whole state).
		if err := workflow.SetUpdateHandlerWithOptions(ctx, sp.name,
			func(ctx workflow.Context, raw json.RawMessage) (any, error) {
				ev, _ := sp.decode(raw) // the validator has decoded it already
				if !voice.Vouched(ctx) && b.vouchingOn(ctx) {
					ev.setActor(Actor{Client: OpsPath, User: ev.person()}) // as the validator judged it
				}
				if applied(ctx, ev) {
					return b.answer(ctx), nil
				}
				ev.updateID = workflow.GetCurrentUpdateInfo(ctx).ID
				b.markQueued(ev)
				b.flying(ev.updateID)
				defer b.landed(ev.updateID)
				if err := b.await(ctx, ev); err != nil {
					return nil, err
				}
				return b.answer(ctx), nil
			},
			workflow.UpdateHandlerOptions{
				Validator: func(ctx workflow.Context, raw json.RawMessage) error {
					ev, err := sp.decode(raw)
					if err != nil {
						return err
					}
					if err := b.opsPathPermits(ctx, sp.name, ev.role()); err != nil {
						return err
					}
					if !voice.Vouched(ctx) {
						ev.setActor(Actor{Client: OpsPath, User: ev.person()})
					}
					if applied(ctx, ev) {
						return nil
					}
					if err := b.keyReused(workflow.GetCurrentUpdateInfo(ctx).ID); err != nil {
						return err
					}
					if err := b.validateIdentities(ev); err != nil {
						return err
					}
					return sp.validate(ev)
				},
				Description: sp.desc,
			}); err != nil {
			return err
		}
		b.inbox.listen(ctx, sp.name, sp.desc, func(raw json.RawMessage) error {
			ev, err := sp.decode(raw)
			if err != nil {
				return err
			}
			// The ops path: only what the bill's policy lets Temporal Web and the CLI do, and
			// recorded as such (whatever actor the payload claims).
			if err := b.in.Policy.WebSignals.Permits(sp.name, ev.role()); err != nil {
				return err
			}
			ev.setActor(Actor{Client: OpsPath, User: ev.person()})
			if sp.repeats != nil && sp.repeats(ev) {
				return nil // already applied: nothing to do
			}
			// A signal is validated here, in run: one an older release recorded is judged by its rules.
			b.identities.before = !b.identitiesOn()
			err = b.validateIdentities(ev)
			if err == nil {
				err = sp.validate(ev)
			}
			b.identities.before = false
			if err != nil {
				return err
			}
			b.markQueued(ev)
			ev.fromSignal = true
			b.inbox.push(ev)
			return nil
		})
	}
	if err := b.setupVoucherSet(ctx); err != nil {
		return err
	}
	b.inbox.listen(ctx, SignalInvoices, "Invoices the ERP forwards from its browser socket: {invoiceData, attachData, lines}. Recorded at once; bound while collecting, else kept until the bill next collects.",
		handled(b.validateInvoices, func(sig InvoicesSignal) {
			b.takeLines(sig.Lines)
			b.linkBook.forwarded(workflow.Now(b.ctx))
			b.record(calls.Delivery{Via: ViaERP, InvoiceData: sig.InvoiceData, AttachData: sig.AttachData})
		}))
	b.inbox.listen(ctx, SignalDelivery, "A delivery from the cloud (a watcher's socket or poll message): recorded at once; bound while collecting, else kept until the bill next collects.",
		handled(func(d calls.Delivery) error {
			if len(d.InvoiceData) == 0 {
				return fieldErr(map[string]string{"invoiceData": "required: at least one invoice"})
			}
			return nil
		}, b.record))
	b.inbox.listen(ctx, SignalCollectURL, "Re-issue the eventCode if it has expired or expires soon (the URL is in the state query).",
		handled(b.validateCollectURL, func(req CollectURLRequest) {
			b.inbox.push(&event{kind: evCollectURL, url: &req, fromSignal: true})
		}))
	return nil
}

// await queues ev for run and waits until run has applied it.
func (b *bill) await(ctx workflow.Context, ev *event) error {
	b.inbox.push(ev)
	if err := workflow.Await(ctx, func() bool { return ev.done }); err != nil {
		return err
	}
	return ev.err
}

// markQueued sets the guards that refuse a second identical request while the first waits in the inbox.
func (b *bill) markQueued(ev *event) {
	if ev.kind == evApprove {
		b.Decided[ev.approve.Role] = true
	} else if g := b.inbox.guard(ev.kind); g != nil {
		*g = true
	}
}

// unqueue clears the "already queued" guards the validators use.
func (b *bill) unqueue(ev *event, err error) {
	if ev.kind == evApprove {
		if err != nil && b.View.Stage != StageFailed {
			// Not applied: the role may decide again. (If the decision was recorded and only the
			// following step failed, the record stands and a retry continues from it.)
			b.approvalRound.forget(b.View.Approvals, ev.approve.Role)
		}
	} else if g := b.inbox.guard(ev.kind); g != nil {
		*g = false
	}
}

// reply completes an event an update handler waits on (no-op for signals and internal events).
func (b *bill) reply(ev *event, err error) {
	if ev == nil || ev.done {
		return
	}
	ev.done = true
	ev.err = err
	b.unqueue(ev, err)
	if err == nil && ev.updateID != "" {
		b.Answered = append(b.Answered, ev.updateID)
		if over := len(b.Answered) - answeredCap; over > 0 {
			b.Answered = slices.Clone(b.Answered[over:])
		}
	}
	if err != nil && ev.fromSignal {
		b.note(b.View.Stage, "ignored: signal: "+err.Error())
	}
}

// errContinueAsNew ends a run at a quiet point so the bill continues as new (BillWorkflow).
var errContinueAsNew = errors.New("continue as new")

// wait is how a stage waits: the next event, or errContinueAsNew when the run's history is long
// and the bill is quiet — no step in flight (a stage waits), nothing queued, every signal taken and
// every update handler finished, so nothing is lost across it.
func (b *bill) wait(ctx workflow.Context) (*event, error) { return b.nextEvent(ctx, true) }

// next is the same where the bill must not continue as new (a failed step waits for retry).
func (b *bill) next(ctx workflow.Context) (*event, error) { return b.nextEvent(ctx, false) }

// waitFor waits for an event of kind; what else comes meanwhile is handled as every waiting stage
// does (common). done: the bill left the stage (next says where).
func (b *bill) waitFor(ctx workflow.Context, kind eventKind) (ev *event, next Stage, done bool, err error) {
	for {
		ev, err := b.wait(ctx)
		if err != nil || ev.kind == kind {
			return ev, "", false, err
		}
		if next, done, err := b.common(ctx, ev); done || err != nil {
			return nil, next, done, err
		}
	}
}

func (b *bill) nextEvent(ctx workflow.Context, mayContinue bool) (*event, error) {
	for {
		if b.shown.buildMoved(&b.View) { // the first event a new build handles shows it (builds.go)
			b.publish()
		}
		b.takeSignals()
		if len(b.inbox.events) > 0 {
			return b.inbox.take(), nil
		}
		if mayContinue && b.timeToContinue() {
			// A cancel from Temporal whose events made the history long enough comes with it: the
			// next run would never hear of the cancel, so it comes first.
			if ctx.Err() != nil && workflow.GetVersion(ctx, cancelBeforeContinue, workflow.DefaultVersion, 1) >= 1 {
				return nil, ctx.Err()
			}
			return nil, errContinueAsNew
		}
		if err := workflow.Await(ctx, func() bool {
			return len(b.inbox.events) > 0 || b.inbox.signalWaiting() || mayContinue && b.timeToContinue()
		}); err != nil {
			return nil, err
		}
	}
}

// cancelBeforeContinue versions a cancel from Temporal that is due with a continue-as-new: a bill
// of an earlier release continued as new then, and replays so.
const cancelBeforeContinue = "cancel-before-continue-as-new"

// takeSignals applies every signal received so far. A payload that fails decoding or validation
// is recorded in the history as "ignored: <reason>", so a mistaken click in Temporal Web is visible.
func (b *bill) takeSignals() {
	b.inbox.receive(func(why string) {
		b.note(b.View.Stage, why)
		b.publish()
	})
}

// timeToContinue: the run's history is long (or the server suggests it) and no update handler is
// running (signals are taken by the caller first).
func (b *bill) timeToContinue() bool {
	info := workflow.GetInfo(b.ctx)
	limit := b.in.Options.HistoryLimit
	if limit <= 0 {
		limit = defaultHistoryLimit
	}
	// A pinned bill whose deployment has a new current version moves to it at this quiet point
	// (Worker Versioning; the server sets it only for a versioned bill, so never in a bill that
	// an unversioned worker runs).
	if !info.GetContinueAsNewSuggested() && info.GetCurrentHistoryLength() < limit && !info.GetTargetWorkerDeploymentVersionChanged() {
		return false
	}
	return workflow.AllHandlersFinished(b.ctx) && !b.inbox.signalWaiting()
}
