package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// BillWorkflow is one bill's whole life, from eventCode to voucher and deduction. Its ID is the
// business key (BillWorkflowID); run below tells the life in order. A long-lived bill continues
// as new at a quiet point, and the next run starts from resume (nil for a new bill).
func BillWorkflow(ctx workflow.Context, in BillInput, resume *Progress) (BillState, error) {
	if resume == nil {
		// Freeze the effective options once, in the history: a default changed in a later release
		// never changes the path of a bill already running (continue-as-new carries them as is).
		if err := workflow.SideEffect(ctx, func(workflow.Context) any {
			frozen := in.clone()
			frozen.Normalize()
			return frozen
		}).Get(&in); err != nil {
			return BillState{}, err
		}
	}
	if verr := in.Validate(); verr != nil {
		return BillState{}, temporal.NewNonRetryableApplicationError(verr.Error(), "ValidationError", nil, verr.Fields)
	}
	b := newBill(ctx, in, resume)
	if err := b.setup(ctx); err != nil {
		return BillState{}, err
	}
	b.outbox.deliver(ctx, b.in, func(ev calls.Event, err error) {
		b.note(b.View.Stage, fmt.Sprintf("event %s (%s) not delivered: %v", ev.ID, ev.Type, err))
	})
	err := b.run(ctx)
	if errors.Is(err, errContinueAsNew) {
		b.stopWatching()
		b.shown.flushNow()
		if workflow.GetVersion(ctx, changeContinueOnCurrentVersion, workflow.DefaultVersion, 1) >= 1 {
			// With Worker Versioning a bill is pinned to its version; its next run starts on the
			// deployment's current version (without versioning the server ignores this).
			return BillState{}, workflow.NewContinueAsNewErrorWithOptions(ctx, workflow.ContinueAsNewErrorOptions{
				InitialVersioningBehavior: workflow.ContinueAsNewVersioningBehaviorAutoUpgrade,
			}, BillWorkflowName, b.in, b.Progress)
		}
		return BillState{}, workflow.NewContinueAsNewError(ctx, BillWorkflowName, b.in, b.Progress)
	}
	b.finish(ctx)
	b.outbox.drained(ctx)
	b.shown.flushNow()
	return b.snapshot(), err
}

// Progress is the bill's state as plain data: everything a run knows that the next run needs,
// which continue-as-new carries (no closure, nothing in flight). Its parts are the bill's rooms,
// each with its own data and methods; embedded, their fields keep their place in the JSON.
type Progress struct {
	View          BillState      `json:"view"` // what the state query answers
	ledger                       // the bound set, its status, deliveries not bound yet (ledger.go)
	linkBook                     // the eventCodes issued (links.go)
	approvalRound                // where the bill is on its route, who decided in this round (round.go)
	Seq           map[string]int `json:"seq"` // per step: request ids drawn (msgID)
	saga                         // what the saga undoes, in the order done (bill_saga.go)
	Answered      []string       `json:"answered,omitempty"` // update ids applied (idempotent retries), newest last
	slaClock                     // when the current stage began, which SLA timers fired (sla.go)
	Runs          int            `json:"runs"` // runs before this one (continue-as-new)
	outbox                       // events for the ERP not delivered yet (outbox.go)
	// Uploads are the submitter's images (submitter mode with the image system) until the scan
	// task takes them at submit.
	Uploads []invoicecloud.ImageFile `json:"uploads,omitempty"`
	// HoldSigned: the voucher set holding the bill signed its hold, so it tells its outcome by
	// signed update and an outcome signal is the ops path (voucherset.go).
	HoldSigned bool `json:"holdSigned,omitempty"`
}

// bill is the running workflow: its Progress plus what lives only in this run. Handlers only
// validate, record and queue events (bill_inbox.go); run consumes the inbox in order, so every
// transition happens in one place and replays identically.
type bill struct {
	Progress
	ctx   workflow.Context // root context, for upserts from handlers
	in    BillInput
	route []Stage // the waiting stages after collecting: approvals and image review (Options.Route)

	inbox    inbox       // what run consumes next (inbox.go)
	timers   stageTimers // the current stage's SLA timers (sla.go)
	watchers watchers    // linkKey -> its running watcher (links.go)
	shown    publisher   // search attributes and details last shown (publisher.go)
	scanGen  int         // which wait for the image system's outcome is current
	resumed  bool        // this run continues an earlier one
	inflight []string    // update ids queued and not answered yet (idempotency.go)

	// reversalEpoch numbers this run's reversal windows; reversalClosed: the window has ended
	// (reversal.go).
	reversalEpoch  int
	reversalClosed bool

	identities identityRules // how people are told apart (identities.go)
	voice      voiceRules    // whether unsigned updates are the ops path (voice.go)
}

// ReissueMargin is Options.ReissueMargin's default: an eventCode expiring within this is replaced
// when a URL is asked for.
const ReissueMargin = 2 * time.Minute

// Bounds of what the state carries.
const (
	historyCap   = 50  // history entries kept in state
	digestCap    = 200 // delivery digests kept to drop redeliveries
	DeliveryCap  = 20  // deliveries listed in state
	approvalCap  = 100 // approval records kept in state (earlier ones stay in earlier runs' histories)
	liveLinksCap = 4   // eventCodes watched at once per bill (older ones are stopped)
	answeredCap  = 200 // update ids remembered to answer a retried request
	// MaxInvoicesPerBill bounds what one bill binds (and carries across continue-as-new).
	MaxInvoicesPerBill = 1000
)

// defaultHistoryLimit is how many events one run may hold before the bill continues as new at
// its next quiet point (Options.HistoryLimit overrides it); the server may suggest it earlier.
const defaultHistoryLimit = 2000

func newBill(ctx workflow.Context, in BillInput, resume *Progress) *bill {
	b := &bill{
		ctx:      ctx,
		in:       in,
		route:    in.Options.Route(),
		watchers: watchers{},
		shown:    publisher{ctx: ctx, published: map[string]any{}, builds: builds{firstRun: resume == nil}},
	}
	if resume != nil {
		b.Progress = *resume
		b.Runs++
		b.resumed = true
		b.restoreSaga(ctx)
	} else {
		b.Round = 1
		b.View = BillState{
			WorkflowID:  workflow.GetInfo(ctx).WorkflowExecution.ID,
			ID:          in.Resource + "/" + in.BillID,
			Stage:       StageCollecting,
			Bill:        in,
			Invoices:    []InvoiceView{},
			TotalAmount: "0.00",
			Approvals:   []ApprovalRecord{},
			History:     []HistoryEntry{},
		}
	}
	if b.Decided == nil {
		b.Decided = map[string]bool{}
	}
	if b.Seq == nil {
		b.Seq = map[string]int{}
	}
	return b
}

// run is the life of a bill, the vendor's flow chart in order. Each stage is a method that waits
// for its events (bill_inbox.go; the queue itself is the inbox, inbox.go) and returns the next
// stage (bill_collect.go, bill_stages.go, bill_images.go). The stages decide; what they change
// lives in small rooms the bill composes, each with its own data and methods:
//
//  1. collecting (collect): getEventCode issues the eventCode and linkKey behind the collect and
//     view URLs (the linkBook, links.go). While they live (and again whenever the ERP asks for a
//     URL) a watcher activity listens on the linkKey (watchers, links.go); every message it
//     receives is signalled to the bill and recorded at once in the ledger (ledger.go). Invoices
//     also come forwarded by the ERP. Every import is bound to the bill at once (billSave 30) so
//     no other bill can reimburse them. Collecting ends on submit, or after the first import with
//     autoSubmit.
//  2. approvals and image review (approval, imageReview), in the order Options.Route gives:
//     awaiting_<role> for each approval role (supervisor, finance by default), with image_review
//     just before finance in image modes basic and match. approve moves on; return (or an image
//     mismatch) goes back to 1 with the invoices still bound, in a new approval round (round.go);
//     reject ends in the saga (7).
//  3. mark used (advance): after the last of them, billSave 60 marks the invoices used.
//  4. awaiting_voucher (awaitVoucher): the ERP's voucher is written back (voucherSave). From here
//     nothing is undone: the books hold the voucher.
//  5. deducting (deduct), when Options.Deduction asks for it: the deductible invoices are selected
//     at once, or handed to the enterprise's DeductionBatchWorkflow.
//  6. completed. With Options.ReversalWindow the bill stays open there for that long: a voucher
//     reversal (反记账, reversal.go) takes the voucher off at the cloud and the bill back to 4.
//  7. cancel or reject (abort, bill_saga.go): the saga undoes what was done, in reverse (release
//     the invoices to status 1, unbind them), and the bill ends cancelled or rejected. A cancel
//     from Temporal itself runs the same saga. Every step registers its undo before it runs.
//
// A step the cloud refuses for good, or whose retries run out, moves the bill to failed with the
// reason (runOrPark, bill_failure.go); ops send retry (the step runs again) or cancel (7).
// A delivery is never dropped: one that cannot be bound now (failed, or past collecting) waits in
// Pending and is bound when the bill next collects.
// Every waiting stage has SLA timers (sla.go): past the soft SLA the bill is Overdue; past the
// hard deadline it is reminded or cancelled (onSLA, bill_sla.go). The state query (bill_view.go),
// search attributes and Temporal Web details (publisher.go) show all of it, and the ERP is told
// by webhook events (outbox.go). A long bill continues as new while it waits (wait).
func (b *bill) run(ctx workflow.Context) error {
	stage := b.View.Stage
	if !b.resumed {
		b.note(StageCollecting, "bill started")
		b.emit(calls.EventStarted, map[string]any{"bill": b.in})
	}
	for !stage.Final() || b.reversalOpen(ctx, stage) {
		var next Stage
		var err error
		switch {
		case stage == StageCompleted: // waits in its reversal window (reversal.go)
			next, err = b.reversalWindow(ctx)
		case stage == StageCollecting:
			next, err = b.collect(ctx)
		case stage == StageImageReview:
			next, err = b.imageReview(ctx)
		case stage == StageAwaitingVoucher:
			next, err = b.awaitVoucher(ctx)
		case stage == StageDeducting:
			next, err = b.deduct(ctx)
		default:
			next, err = b.approval(ctx, b.roleOf(stage))
		}
		var cancelReq *errCancelRequested
		switch {
		case err == nil:
			stage = next
		case errors.Is(err, errContinueAsNew):
			return err
		case errors.As(err, &cancelReq):
			stage, err = b.abort(ctx, StageCancelled, cancelReq.req, cancelReq.ev)
			if err != nil {
				return err
			}
		case ctx.Err() != nil || temporal.IsCanceledError(err):
			// The workflow itself was cancelled: undo on a disconnected context, then end cancelled.
			if _, aerr := b.abort(ctx, StageCancelled, CancelRequest{Reason: "workflow cancelled", By: "temporal"}, nil); aerr != nil {
				return aerr
			}
			return temporal.NewCanceledError()
		default:
			return err
		}
	}
	return nil
}

func (b *bill) roleOf(stage Stage) string {
	return string(stage)[len("awaiting_"):]
}

// finish stops the watchers, answers every queued update that can no longer be processed and
// waits for handlers.
func (b *bill) finish(ctx workflow.Context) {
	b.stopWatching()
	b.takeSignals() // a last delivery is still recorded; a late decision is noted as ignored
	for _, ev := range b.inbox.events {
		b.reply(ev, fmt.Errorf("the bill has ended in stage %s", b.View.Stage))
	}
	b.inbox.events = nil
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
}
