package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/invoicecloud"
)

// BillWorkflow is one bill's whole life, from eventCode to voucher and deduction (see design.md).
// The struct bill holds the state; setup registers the query, updates and signals; run walks the
// stages top-down like the vendor's flow chart.
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

// bill is the workflow's state. Handlers only validate and queue events; run consumes the inbox
// in order, so every transition happens in one place and replays identically.
type bill struct {
	ctx   workflow.Context // root context, for upserts from handlers
	in    BillInput
	route []Stage
	s     BillState

	invoices []invoicecloud.Invoice // the bound set, full records (s.Invoices is their view)
	status   string                 // cloud status of the bound set: 30, 60 (1 after release)

	linkKey     string
	pages       invoicecloud.Pages
	codeExpires time.Time

	inbox []*event

	routeIdx            int
	round               int
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

	seq           map[string]int
	compensations []compensation
	published     map[string]any
}

// compensation undoes one completed step; the saga runs them in reverse.
type compensation struct {
	step     string
	activity string
	input    func(b *bill) any // built when it runs, with a fresh messageId
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

// errCancelRequested carries a cancel accepted while the bill was failed (or in a step).
type errCancelRequested struct{ req CancelRequest }

func (e *errCancelRequested) Error() string { return "cancel requested: " + e.req.Reason }

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

// next blocks until an event is queued and takes it.
func (b *bill) next(ctx workflow.Context) (*event, error) {
	if err := workflow.Await(ctx, func() bool { return len(b.inbox) > 0 }); err != nil {
		return nil, err
	}
	ev := b.inbox[0]
	b.inbox = b.inbox[1:]
	return ev, nil
}

// forgetDecision lets a role decide again when its queued decision was not recorded.
func (b *bill) forgetDecision(role string) {
	for _, a := range b.s.Approvals {
		if a.Round == b.round && a.Role == role {
			return
		}
	}
	delete(b.decided, role)
}

func (b *bill) push(ev *event) { b.inbox = append(b.inbox, ev) }

// reply completes an event an update handler waits on (no-op for signals and internal events).
func (b *bill) reply(ev *event, err error) {
	if ev == nil || ev.done {
		return
	}
	ev.done = true
	ev.err = err
	b.unqueue(ev, err)
	if err != nil && ev.fromSignal {
		b.note(b.s.Stage, "ignored: signal: "+err.Error())
	}
}

// unqueue clears the "already queued" guards the validators use.
func (b *bill) unqueue(ev *event, err error) {
	switch ev.kind {
	case evApprove:
		if err != nil && b.s.Stage != StageFailed {
			// Not applied: the role may decide again. (If the decision was recorded and only the
			// following step failed, the record stands and a retry continues from it.)
			b.forgetDecision(ev.approve.Role)
		}
	case evSubmit:
		b.submitQueued = false
	case evImages:
		b.imagesQueued = false
	case evVoucher:
		b.voucherQueued = false
	}
}

// enter moves the bill to a stage: new SLA timers, history, search attributes, details.
func (b *bill) enter(ctx workflow.Context, stage Stage, note string) {
	if b.stageCancel != nil {
		b.stageCancel()
		b.stageCancel = nil
	}
	b.epoch++
	prev := b.s.Stage
	b.s.Stage = stage
	b.s.AwaitingRole = ""
	if slices.Contains(b.route, stage) && stage != StageImageReview {
		b.s.AwaitingRole = b.roleOf(stage)
	}
	if stage != StageFailed {
		b.s.Overdue = false
	}
	if prev != stage || note != "" {
		if note == "" {
			note = fmt.Sprintf("%s → %s", prev, stage)
		}
		b.note(stage, note)
	}
	b.startSLATimers(ctx, stage)
	b.publish()
}

// note appends to the bounded history.
func (b *bill) note(stage Stage, text string) {
	b.s.History = append(b.s.History, HistoryEntry{At: workflow.Now(b.ctx).UTC(), Stage: stage, Note: text})
	if over := len(b.s.History) - HistoryCap; over > 0 {
		b.s.History = append([]HistoryEntry(nil), b.s.History[over:]...)
	}
	workflow.GetLogger(b.ctx).Info("bill", "stage", string(stage), "note", text)
}

// abort runs the saga (compensations in reverse, on a disconnected context so a workflow
// cancellation cannot skip them) and ends the bill rejected or cancelled.
func (b *bill) abort(ctx workflow.Context, end Stage, req CancelRequest) (Stage, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	b.stopWatcher()
	if end == StageCancelled {
		r := req
		b.s.Cancel = &r
	}
	b.note(b.s.Stage, fmt.Sprintf("%s: %s; undoing %d step(s)", end, req.Reason, len(b.compensations)))
	for i := len(b.compensations) - 1; i >= 0; i-- {
		c := b.compensations[i]
		if err := b.do(dctx, "compensate:"+c.step, nil, func(ctx workflow.Context) error {
			return workflow.ExecuteActivity(b.activityCtx(ctx), c.activity, c.input(b)).Get(ctx, nil)
		}); err != nil {
			return "", err
		}
		b.compensations = b.compensations[:i]
		b.note(b.s.Stage, "undone: "+c.step)
	}
	if b.status != "" {
		b.status = invoicecloud.StatusUnused
		b.refreshInvoiceViews()
	}
	b.enter(dctx, end, "")
	return end, nil
}

// msgID is a deterministic request id per step execution (≤ 64 chars): a retried activity reuses
// it (the cloud answers idempotently); an ops retry after a failure gets a new one.
func (b *bill) msgID(step string) string {
	b.seq[step]++
	info := workflow.GetInfo(b.ctx)
	return messageID(info.WorkflowExecution.ID, info.WorkflowExecution.RunID, step, b.seq[step])
}
