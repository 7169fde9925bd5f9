package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// Batch workflow defaults and bounds.
const (
	DefaultDeductionBatchSize = 100
	DefaultDeductionInterval  = time.Hour
	DefaultDeductionGrace     = 15 * 24 * time.Hour
	// deductionEventsBeforeCAN keeps the history short: after this many adds/batches the workflow
	// continues as new, carrying what is pending.
	deductionEventsBeforeCAN = 500
	deductionDoneCap         = 2000
)

// DeductionBatchState is the batch workflow's `state` query answer.
type DeductionBatchState struct {
	TaxNo           string                 `json:"taxNo"`
	Period          string                 `json:"period"`
	PendingBills    []string               `json:"pendingBills"`
	PendingInvoices int                    `json:"pendingInvoices"`
	Batches         []DeductionBatchRecord `json:"batches"` // of this run
	ClosesAt        time.Time              `json:"closesAt"`
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
// pending, or every Interval for a partial batch. It ends once the period plus Grace is over.
func DeductionBatchWorkflow(ctx workflow.Context, in calls.DeductionBatchInput) error {
	if in.TaxNo == "" {
		return temporal.NewNonRetryableApplicationError("taxNo: required", "ValidationError", nil)
	}
	start, err := time.Parse("2006-01", in.Period)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("period: want yyyy-MM, got %q", in.Period), "ValidationError", nil)
	}
	if in.BatchSize <= 0 {
		in.BatchSize = DefaultDeductionBatchSize
	}
	if in.Interval <= 0 {
		in.Interval = calls.Duration(DefaultDeductionInterval)
	}
	if in.Grace <= 0 {
		in.Grace = calls.Duration(DefaultDeductionGrace)
	}
	w := &batcher{in: in, done: map[string]bool{}}
	for _, id := range in.Done {
		w.done[id] = true
	}
	w.closesAt = start.AddDate(0, 1, 0).Add(in.Grace.D())
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryState, func() (DeductionBatchState, error) {
		return w.state(), nil
	}, workflow.QueryHandlerOptions{Description: "Pending bills and invoices, submitted batches of this run, closing time."}); err != nil {
		return err
	}
	adds := workflow.GetSignalChannelWithOptions(ctx, calls.SignalDeductionAdd, workflow.SignalChannelOptions{
		Description: "Add a bill's deductible invoices: {billWorkflowId, invoices}.",
	})
	events := 0
	for {
		for w.pendingInvoices() >= in.BatchSize {
			w.flush(ctx)
			events++
		}
		closed := !workflow.Now(ctx).Before(w.closesAt)
		if closed || events >= deductionEventsBeforeCAN || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Take in every signal already delivered, so none is lost by ending or continuing.
			for {
				var a calls.DeductionAdd
				if !adds.ReceiveAsync(&a) {
					break
				}
				w.add(ctx, a)
			}
			if closed {
				for w.pendingInvoices() > 0 {
					w.flush(ctx)
				}
				return nil
			}
			return workflow.NewContinueAsNewError(ctx, calls.DeductionWorkflowName, w.carry())
		}

		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(adds, func(c workflow.ReceiveChannel, _ bool) {
			var a calls.DeductionAdd
			c.Receive(ctx, &a)
			w.add(ctx, a)
		})
		wait := w.closesAt.Sub(workflow.Now(ctx))
		flushOnTimer := w.pendingInvoices() > 0 && in.Interval.D() < wait
		if flushOnTimer {
			wait = in.Interval.D()
		}
		sel.AddFuture(workflow.NewTimer(tctx, wait), func(f workflow.Future) {
			if f.Get(ctx, nil) == nil && flushOnTimer {
				for w.pendingInvoices() > 0 {
					w.flush(ctx)
				}
			}
		})
		sel.Select(ctx)
		cancel()
		events++
	}
}

type batcher struct {
	in       calls.DeductionBatchInput
	done     map[string]bool
	batches  []DeductionBatchRecord
	closesAt time.Time
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
	if len(invs) == 0 {
		return
	}
	w.in.Seq++
	info := workflow.GetInfo(ctx)
	req := calls.DeductionInput{
		RequestID: messageID(info.WorkflowExecution.ID, "", "deductionBatch", w.in.Seq),
		Request: invoicecloud.DeductionRequest{
			AuthenticateFlag: "1", TaxNo: w.in.TaxNo, DeductionPurpose: "1", BillType: "0", Invoices: invs,
		},
	}
	rec := DeductionBatchRecord{Seq: w.in.Seq, At: workflow.Now(ctx).UTC(), Invoices: len(invs), Bills: bills}
	res, err := call(cloudCallOptions(ctx), acts.SelectDeduction, req)
	if err != nil {
		// A refused batch is recorded, not retried forever: the invoices stay in the pool and the
		// cashier can select them by hand.
		rec.Error = err.Error()
		workflow.GetLogger(ctx).Error("deduction batch refused", "seq", rec.Seq, "error", err)
	} else {
		rec.TaskNo = res.TaskNo
	}
	w.batches = append(w.batches, rec)
	if len(w.batches) > 50 {
		w.batches = w.batches[len(w.batches)-50:]
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
		Batches: append([]DeductionBatchRecord{}, w.batches...), ClosesAt: w.closesAt, PendingBills: []string{}}
	for _, a := range w.in.Pending {
		s.PendingBills = append(s.PendingBills, a.BillWorkflowID)
	}
	return s
}
