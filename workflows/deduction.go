package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// Batch workflow defaults and bounds.
const (
	defaultDeductionBatchSize = 100
	defaultDeductionInterval  = time.Hour
	defaultDeductionGrace     = 15 * 24 * time.Hour
	// defaultDeductionContinueAfter keeps the history short: after this many adds and batches the
	// workflow continues as new, carrying what is pending (DeductionBatchInput.ContinueAfter).
	defaultDeductionContinueAfter = 500
	deductionDoneCap              = 2000
	// SignalDeductionRetry resubmits the batches the cloud refused.
	SignalDeductionRetry = "retry"
)

// DeductionBatchState is the batch workflow's `state` query answer.
type DeductionBatchState struct {
	TaxNo           string     `json:"taxNo"`
	Period          string     `json:"period"`
	PendingBills    []string   `json:"pendingBills"`
	PendingInvoices int        `json:"pendingInvoices"`
	PendingSince    *time.Time `json:"pendingSince,omitempty"`
	// Submitting are the bills of the batch whose selection call is in flight: taken off pending,
	// not yet a batch of this run, so a bill handed over is always named somewhere.
	Submitting []string               `json:"submitting,omitempty"`
	Batches    []DeductionBatchRecord `json:"batches"` // of this run
	Refused    []calls.RefusedBatch   `json:"refused"` // waiting for a retry
	ClosesAt   time.Time              `json:"closesAt"`
}

// DeductionBatchRecord is one submitted batch.
type DeductionBatchRecord struct {
	Seq      int       `json:"seq"`
	At       time.Time `json:"at"`
	Invoices int       `json:"invoices"`
	Bills    []string  `json:"bills"`
	TaskNo   string    `json:"taskNo,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// DeductionBatchWorkflow collects the deductible invoices of one enterprise (tax number) and tax
// period from many bills and selects them for deduction in batches: when BatchSize invoices are
// pending, or Interval after the oldest pending one came (a steady trickle cannot postpone it).
// A batch the cloud refuses is kept, flagged (NeedsAttention, a metric) and resubmitted by the
// "retry" signal. It ends once the period plus Grace is over and nothing is refused.
func DeductionBatchWorkflow(ctx workflow.Context, in calls.DeductionBatchInput) error {
	if in.TaxNo == "" {
		return temporal.NewNonRetryableApplicationError("taxNo: required", "ValidationError", nil)
	}
	start, err := time.Parse("2006-01", in.Period)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("period: want yyyy-MM, got %q", in.Period), "ValidationError", nil)
	}
	if in.BatchSize <= 0 {
		in.BatchSize = defaultDeductionBatchSize
	}
	if in.Interval <= 0 {
		in.Interval = calls.Duration(defaultDeductionInterval)
	}
	if in.Grace <= 0 {
		in.Grace = calls.Duration(defaultDeductionGrace)
	}
	if in.ContinueAfter <= 0 {
		in.ContinueAfter = defaultDeductionContinueAfter
	}
	w := &batcher{in: in, done: map[string]bool{}, closesAt: start.AddDate(0, 1, 0).Add(in.Grace.D())}
	for _, id := range in.Done {
		w.done[id] = true
	}
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryState, func() (DeductionBatchState, error) {
		return w.state(), nil
	}, workflow.QueryHandlerOptions{Description: "Pending bills and invoices, batches of this run, refused batches, closing time."}); err != nil {
		return err
	}
	adds := workflow.GetSignalChannelWithOptions(ctx, calls.SignalDeductionAdd, workflow.SignalChannelOptions{
		Description: "Add a bill's deductible invoices: {billWorkflowId, invoices}.",
	})
	retries := workflow.GetSignalChannelWithOptions(ctx, SignalDeductionRetry, workflow.SignalChannelOptions{
		Description: "Resubmit the batches the cloud refused (once their cause is fixed).",
	})
	w.flag(ctx)
	events := 0
	for {
		for w.pendingInvoices() >= in.BatchSize {
			w.flush(ctx)
			events++
		}
		now := workflow.Now(ctx)
		closed := !now.Before(w.closesAt)
		if closed && len(w.in.Refused) == 0 || events >= in.ContinueAfter || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Take in every signal already delivered, so none is lost by ending or continuing.
			for {
				var a calls.DeductionAdd
				if !adds.ReceiveAsync(&a) {
					break
				}
				w.add(ctx, a)
			}
			for retries.ReceiveAsync(nil) {
				w.resubmit(ctx)
			}
			if closed && len(w.in.Refused) == 0 {
				for w.pendingInvoices() > 0 {
					w.flush(ctx)
				}
				if len(w.in.Refused) == 0 {
					return nil
				}
			} else {
				return workflow.NewContinueAsNewError(ctx, calls.DeductionWorkflowName, w.carry())
			}
		}

		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(adds, func(c workflow.ReceiveChannel, _ bool) {
			var a calls.DeductionAdd
			c.Receive(ctx, &a)
			w.add(ctx, a)
		})
		sel.AddReceive(retries, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			w.resubmit(ctx)
		})
		// Wake for the flush due since the oldest pending add, or for the period's close.
		wait := w.closesAt.Sub(now)
		flushDue := w.pendingInvoices() > 0
		if flushDue {
			if due := w.in.PendingSince.Add(in.Interval.D()).Sub(now); due < wait {
				wait = due
			} else {
				flushDue = false
			}
		}
		switch {
		case closed:
			// Past the period with a refused batch: only the retry signal (or a late add) moves it.
		case wait > 0:
			sel.AddFuture(workflow.NewTimer(tctx, wait), func(workflow.Future) {})
		default:
			sel.AddDefault(func() {})
		}
		sel.Select(ctx)
		cancel()
		if flushDue && !workflow.Now(ctx).Before(w.in.PendingSince.Add(in.Interval.D())) {
			for w.pendingInvoices() > 0 {
				w.flush(ctx)
			}
		}
		events++
	}
}

type batcher struct {
	in       calls.DeductionBatchInput
	done     map[string]bool
	batches  []DeductionBatchRecord
	inFlight []string // the bills of the batch being submitted (the state query's Submitting)
	closesAt time.Time
	flagged  *bool // NeedsAttention as last upserted
}

func (w *batcher) pendingInvoices() int {
	n := 0
	for _, a := range w.in.Pending {
		n += len(a.Invoices)
	}
	return n
}

// add queues a bill's invoices unless that bill is already pending or submitted (a retried
// EnqueueDeduction signals twice).
func (w *batcher) add(ctx workflow.Context, a calls.DeductionAdd) {
	if a.BillWorkflowID == "" || len(a.Invoices) == 0 || w.done[a.BillWorkflowID] {
		return
	}
	for _, p := range w.in.Pending {
		if p.BillWorkflowID == a.BillWorkflowID {
			return
		}
	}
	if len(w.in.Pending) == 0 {
		w.in.PendingSince = workflow.Now(ctx).UTC()
	}
	w.in.Pending = append(w.in.Pending, a)
	workflow.GetLogger(ctx).Info("deduction queued", "bill", a.BillWorkflowID, "invoices", len(a.Invoices))
}

// flush submits up to BatchSize pending invoices; a bill may be split across two batches.
func (w *batcher) flush(ctx workflow.Context) {
	var invs []invoicecloud.DeductionInvoice
	var bills []string
	for len(w.in.Pending) > 0 && len(invs) < w.in.BatchSize {
		a := &w.in.Pending[0]
		take := min(w.in.BatchSize-len(invs), len(a.Invoices))
		invs = append(invs, a.Invoices[:take]...)
		a.Invoices = a.Invoices[take:]
		bills = append(bills, a.BillWorkflowID)
		if len(a.Invoices) == 0 {
			w.markDone(a.BillWorkflowID)
			w.in.Pending = w.in.Pending[1:]
		}
	}
	if len(w.in.Pending) > 0 {
		// What is left waits as long as a new add would: the interval runs from now.
		w.in.PendingSince = workflow.Now(ctx).UTC()
	}
	if len(invs) > 0 {
		w.submit(ctx, bills, invs)
	}
}

// submit selects one batch. Its request id is unique for this batch workflow's whole life (the
// first run's id and the carried sequence): a period's workflow that is started again after it
// ended never sends a request id the cloud has answered before.
func (w *batcher) submit(ctx workflow.Context, bills []string, invs []invoicecloud.DeductionInvoice) {
	w.in.Seq++
	info := workflow.GetInfo(ctx)
	req := calls.DeductionInput{
		RequestID: messageID(info.WorkflowExecution.ID, info.FirstRunID, "deductionBatch", w.in.Seq),
		Request: invoicecloud.DeductionRequest{
			AuthenticateFlag: "1", TaxNo: w.in.TaxNo, DeductionPurpose: "1", BillType: "0", Invoices: invs,
		},
	}
	rec := DeductionBatchRecord{Seq: w.in.Seq, At: workflow.Now(ctx).UTC(), Invoices: len(invs), Bills: bills}
	w.inFlight = bills
	res, err := call(cloudCallOptions(ctx), acts.SelectDeduction, req)
	w.inFlight = nil
	if err != nil {
		// Refused (or retries exhausted): kept for a retry, flagged for ops, counted.
		rec.Error = err.Error()
		w.in.Refused = append(w.in.Refused, calls.RefusedBatch{Seq: rec.Seq, Bills: bills, Invoices: invs, Error: rec.Error, At: rec.At})
		workflow.GetMetricsHandler(ctx).Counter("rimflow_deduction_batches_refused").Inc(1)
		workflow.GetLogger(ctx).Error("deduction batch refused; send the retry signal once fixed", "seq", rec.Seq, "error", err)
	} else {
		rec.TaskNo = res.TaskNo
	}
	w.batches = append(w.batches, rec)
	if len(w.batches) > 50 {
		w.batches = w.batches[len(w.batches)-50:]
	}
	w.flag(ctx)
}

// resubmit sends every refused batch again (each with a new request id).
func (w *batcher) resubmit(ctx workflow.Context) {
	refused := w.in.Refused
	w.in.Refused = nil
	for _, r := range refused {
		w.submit(ctx, r.Bills, r.Invoices)
	}
	w.flag(ctx)
}

// flag shows ops whether a refused batch waits (NeedsAttention).
func (w *batcher) flag(ctx workflow.Context) {
	attention := len(w.in.Refused) > 0
	if w.flagged != nil && *w.flagged == attention {
		return
	}
	w.flagged = &attention
	if err := workflow.UpsertTypedSearchAttributes(ctx, SANeedsAttention.ValueSet(attention)); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes", "error", err)
	}
}

func (w *batcher) markDone(id string) {
	if w.done[id] {
		return
	}
	w.done[id] = true
	w.in.Done = append(w.in.Done, id)
	if over := len(w.in.Done) - deductionDoneCap; over > 0 {
		for _, old := range w.in.Done[:over] {
			delete(w.done, old)
		}
		w.in.Done = append([]string(nil), w.in.Done[over:]...)
	}
}

func (w *batcher) carry() calls.DeductionBatchInput { return w.in }

func (w *batcher) state() DeductionBatchState {
	s := DeductionBatchState{TaxNo: w.in.TaxNo, Period: w.in.Period, PendingInvoices: w.pendingInvoices(),
		Batches: append([]DeductionBatchRecord{}, w.batches...), Refused: append([]calls.RefusedBatch{}, w.in.Refused...),
		ClosesAt: w.closesAt, PendingBills: []string{}, Submitting: slices.Clone(w.inFlight)}
	for _, a := range w.in.Pending {
		s.PendingBills = append(s.PendingBills, a.BillWorkflowID)
	}
	if len(w.in.Pending) > 0 {
		t := w.in.PendingSince
		s.PendingSince = &t
	}
	return s
}
