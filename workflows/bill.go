package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/invoicecloud"
)

// BillWorkflow is one bill's whole life, from eventCode to voucher and deduction. Its ID is the
// business key (BillWorkflowID); run below tells the life in order.
func BillWorkflow(ctx workflow.Context, in BillInput) (BillState, error) {
	in.Normalize()
	if verr := in.Validate(); verr != nil {
		return BillState{}, temporal.NewNonRetryableApplicationError(verr.Error(), "ValidationError", nil, verr.Fields)
	}
	b := newBill(ctx, in)
	if err := b.setup(ctx); err != nil {
		return BillState{}, err
	}
	err := b.run(ctx)
	b.finish(ctx)
	return b.snapshot(), err
}

// bill is the workflow's state. Handlers only validate and queue events (bill_inbox.go); run
// consumes the inbox in order, so every transition happens in one place and replays identically.
type bill struct {
	ctx   workflow.Context // root context, for upserts from handlers
	in    BillInput
	route []Stage // the waiting stages after collecting: approvals and image review (Options.Route)
	s     BillState

	invoices []invoicecloud.Invoice // the bound set, full records (s.Invoices is their view)
	status   string                 // cloud status of the bound set: 30, 60 (1 after release)

	linkKey     string
	pages       invoicecloud.Pages
	codeExpires time.Time

	inbox []*event

	routeIdx            int
	round               int             // +1 after each return to collecting
	decided             map[string]bool // role -> decided (or queued) in this round
	submitQueued        bool
	imagesQueued        bool
	voucherQueued       bool
	replaceOnNextImport bool
	markedUsed          bool

	epoch       int // stage generation: timers and watchers of an older one are ignored
	stageCancel workflow.CancelFunc
	watcherGen  int
	watchCancel workflow.CancelFunc

	seq           map[string]int // per step: how many request ids were drawn (msgID)
	compensations []compensation // what the saga undoes, in the order the steps were done
	published     map[string]any // search attribute values last upserted
}

// ReissueMargin: an eventCode expiring within this is replaced when a URL is asked for.
const ReissueMargin = 2 * time.Minute

// HistoryCap bounds the history kept in state.
const HistoryCap = 50

func newBill(ctx workflow.Context, in BillInput) *bill {
	info := workflow.GetInfo(ctx)
	b := &bill{
		ctx:       ctx,
		in:        in,
		route:     in.Options.Route(),
		round:     1,
		decided:   map[string]bool{},
		seq:       map[string]int{},
		published: map[string]any{},
	}
	b.s = BillState{
		WorkflowID:  info.WorkflowExecution.ID,
		Stage:       StageCollecting,
		Bill:        in,
		Invoices:    []InvoiceView{},
		TotalAmount: "0.00",
		Approvals:   []ApprovalRecord{},
		History:     []HistoryEntry{},
	}
	return b
}

// run is the life of a bill, the vendor's flow chart in order. Each stage is a method that waits
// for its events (bill_inbox.go) and returns the next stage (bill_stages.go):
//
//  1. collecting (collect): getEventCode issues the eventCode and linkKey behind the collect and
//     view URLs; invoices arrive from the cloud's socket or long poll (a watcher activity) or
//     forwarded by the ERP (the invoices signal), and every import is bound to the bill at once
//     (billSave 30) so no other bill can reimburse them. It ends on submit, or after the first
//     import with autoSubmit.
//  2. approvals and image review (approval, imageReview), in the order Options.Route gives:
//     awaiting_<role> for each approval role (supervisor, finance by default), with image_review
//     just before finance in image modes basic and match. approve moves on; return (or an image
//     mismatch) goes back to 1 with the invoices still bound; reject ends in the saga (7).
//  3. mark used (advance): after the last of them, billSave 60 marks the invoices used.
//  4. awaiting_voucher (awaitVoucher): the ERP's voucher is written back (voucherSave). From here
//     nothing is undone: the books hold the voucher.
//  5. deducting (deduct), when Options.Deduction asks for it: the deductible invoices are selected
//     at once, or handed to the enterprise's DeductionBatchWorkflow.
//  6. completed.
//  7. cancel or reject (abort, bill_saga.go): the saga undoes what was done, in reverse (release
//     the invoices to status 1, unbind them), and the bill ends cancelled or rejected. A cancel
//     from Temporal itself runs the same saga.
//
// A step the cloud refuses for good, or whose retries run out, moves the bill to failed with the
// reason (runOrPark, bill_failure.go); ops send retry (the step runs again) or cancel (7).
// Every waiting stage has SLA timers (bill_sla.go): past the soft SLA the bill is Overdue; past
// the hard deadline it is reminded or cancelled. The state query, search attributes and Temporal
// Web details show all of it (bill_view.go).
func (b *bill) run(ctx workflow.Context) error {
	b.note(StageCollecting, "bill started")
	stage := StageCollecting
	for !stage.Final() {
		var next Stage
		var err error
		switch {
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
		case errors.As(err, &cancelReq):
			stage, err = b.abort(ctx, StageCancelled, cancelReq.req)
			if err != nil {
				return err
			}
		case ctx.Err() != nil || temporal.IsCanceledError(err):
			// The workflow itself was cancelled: undo on a disconnected context, then end cancelled.
			if _, aerr := b.abort(ctx, StageCancelled, CancelRequest{Reason: "workflow cancelled", By: "temporal"}); aerr != nil {
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

// finish answers every queued update that can no longer be processed and waits for handlers.
func (b *bill) finish(ctx workflow.Context) {
	for _, ev := range b.inbox {
		b.reply(ev, fmt.Errorf("the bill has ended in stage %s", b.s.Stage))
	}
	b.inbox = nil
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
}
