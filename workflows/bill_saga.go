package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// Stage 7, the saga: on reject or cancel, whatever was done at the cloud is undone in reverse.

// compensation undoes one completed step. It is plain data (which undo, not a closure), so the
// list can travel in the bill's state; the request is built when it runs, with a fresh messageId.
type compensation struct {
	step string // compensateUnbind | compensateRelease
}

const (
	compensateUnbind  = "unbind"  // undoes binding (billSave 30): billDelete releases the bill's invoices
	compensateRelease = "release" // undoes marking used (billSave 60): billSave 1
	// compensatePrefix names a compensation's step ("compensate:unbind") in failures.
	compensatePrefix = "compensate:"
)

// saga is the list of what must be undone if the bill is cancelled or rejected, in the order done.
type saga struct {
	Compensations []compensation `json:"compensations,omitempty"` // what the saga undoes, in the order done
}

// register records that step must be undone if the bill is cancelled or rejected; each kind is
// recorded once. Steps register it BEFORE they run: when the outcome is uncertain (the answer was
// lost, or the bill was cancelled while the call went on and applied) the saga still undoes it,
// and undoing what never happened is harmless (the cloud answers "nothing bound", which counts as
// done).
func (s *saga) register(step string) {
	for _, c := range s.Compensations {
		if c.step == step {
			return
		}
	}
	s.Compensations = append(s.Compensations, compensation{step: step})
}

// undo runs one compensation's activity.
func (b *bill) undo(ctx workflow.Context, c compensation) error {
	ctx = cloudCallOptions(ctx)
	switch c.step {
	case compensateRelease:
		in := calls.BillSaveInput{MessageID: b.msgID("release"), Request: b.in.billSave(invoicecloud.StatusUnused, b.Invoices)}
		return callNoResult(ctx, acts.ReleaseInvoices, in)
	case compensateUnbind:
		in := calls.UnbindInput{MessageID: b.msgID("unbind"), TaxNo: b.in.BillTaxNo, Request: invoicecloud.UnbindRequest{BillID: b.in.BillID, Resource: b.in.Resource, BillType: b.in.BillType}}
		return callNoResult(ctx, acts.Unbind, in)
	}
	return fmt.Errorf("unknown compensation %q", c.step)
}

// errCancelRequested carries a cancel accepted while the bill was failed (or in a step), with the
// update that asked for it (answered once the saga is done).
type errCancelRequested struct {
	req CancelRequest
	ev  *event
}

func (e *errCancelRequested) Error() string { return "cancel requested: " + e.req.Reason }

// abort runs the saga (compensations in reverse, on a disconnected context so a workflow
// cancellation cannot skip them) and ends the bill rejected or cancelled. ev, the decision that
// asked for it, is answered when the saga is done (with the bill's end), or with the failure of a
// compensation.
func (b *bill) abort(ctx workflow.Context, end Stage, req CancelRequest, ev *event) (Stage, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	b.stopWatching()
	if end == StageCancelled {
		r := req
		b.View.Cancel = &r
	}
	b.note(b.View.Stage, fmt.Sprintf("%s: %s; undoing %d step(s)", end, req.Reason, len(b.Compensations)))
	for i := len(b.Compensations) - 1; i >= 0; i-- {
		c := b.Compensations[i]
		err := b.runOrPark(dctx, compensatePrefix+c.step, ev, func(ctx workflow.Context) error { return b.undo(ctx, c) })
		switch {
		case errors.Is(err, errResolvedByHand):
			b.note(b.View.Stage, "resolved by hand: "+c.step)
		case err != nil:
			return "", err
		default:
			b.note(b.View.Stage, "undone: "+c.step)
		}
		b.Compensations = b.Compensations[:i]
	}
	if b.Status != "" {
		b.Status = invoicecloud.StatusUnused
		b.ledger.show(&b.View)
	}
	b.enter(dctx, end, "")
	b.reply(ev, nil)
	return end, nil
}
