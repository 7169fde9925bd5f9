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
	// Step is exported so the saga crosses continue-as-new: unexported, it was carried as {}.
	Step string `json:"step,omitempty"` // compensateUnbind | compensateRelease; empty: lost (restoreSaga)
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
		if c.Step == step {
			return
		}
	}
	s.Compensations = append(s.Compensations, compensation{Step: step})
}

// sagaStepsRebuilt versions the rebuilding of a saga carried without its steps (restoreSaga).
const sagaStepsRebuilt = "saga-steps-rebuilt"

// restoreSaga rebuilds a saga carried by an earlier release, whose entries lost their step ({}:
// the field was unexported) and grew by one a run (register could not see the step already
// there). What the carried state records tells what to undo: any entry means binding was
// registered (it registers first, and undoing a bind that never happened is harmless); a drawn
// markUsed request id, or the used status, means marking used was. Each step once, in the order
// done. A run that began before this release keeps its list as it was (its history ran with it).
func (b *bill) restoreSaga(ctx workflow.Context) {
	lost := false
	for _, c := range b.Compensations {
		lost = lost || c.Step == ""
	}
	if !lost || workflow.GetVersion(ctx, sagaStepsRebuilt, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	b.Progress.rebuildSaga()
}

// sagaStepsRebuiltAtUndo versions the same rebuild when the saga runs: a run that began before
// restoreSaga's release (its GetVersion answered the default there) still carries the lost
// entries, and undoing them ("unknown compensation") parked the bill in failed.
const sagaStepsRebuiltAtUndo = "saga-steps-rebuilt-at-undo"

// restoreSagaAtUndo rebuilds a saga whose entries lost their step just before it runs.
func (b *bill) restoreSagaAtUndo(ctx workflow.Context) {
	lost := false
	for _, c := range b.Compensations {
		lost = lost || c.Step == ""
	}
	if !lost || workflow.GetVersion(ctx, sagaStepsRebuiltAtUndo, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	b.Progress.rebuildSaga()
}

// rebuildSaga is restoreSaga's rebuild, on the carried state alone.
func (p *Progress) rebuildSaga() {
	old := p.Compensations
	p.Compensations = nil
	p.register(compensateUnbind)
	if p.MarkedUsed || p.Status == invoicecloud.StatusUsed || p.Seq["markUsed"] > 0 {
		p.register(compensateRelease)
	}
	for _, c := range old {
		if c.Step != "" {
			p.register(c.Step)
		}
	}
}

// undo runs one compensation's activity.
func (b *bill) undo(ctx workflow.Context, c compensation) error {
	ctx = cloudCallOptions(ctx)
	switch c.Step {
	case compensateRelease:
		in := calls.BillSaveInput{MessageID: b.msgID("release"), Request: b.in.billSave(invoicecloud.StatusUnused, b.Invoices)}
		return callNoResult(ctx, acts.ReleaseInvoices, in)
	case compensateUnbind:
		in := calls.UnbindInput{MessageID: b.msgID("unbind"), TaxNo: b.in.BillTaxNo, Request: invoicecloud.UnbindRequest{BillID: b.in.BillID, Resource: b.in.Resource, BillType: b.in.BillType}}
		return callNoResult(ctx, acts.Unbind, in)
	}
	return fmt.Errorf("unknown compensation %q", c.Step)
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
	b.restoreSagaAtUndo(dctx)
	b.note(b.View.Stage, fmt.Sprintf("%s: %s; undoing %d step(s)", end, req.Reason, len(b.Compensations)))
	for i := len(b.Compensations) - 1; i >= 0; i-- {
		c := b.Compensations[i]
		err := b.runOrPark(dctx, compensatePrefix+c.Step, ev, func(ctx workflow.Context) error { return b.undo(ctx, c) })
		switch {
		case errors.Is(err, errResolvedByHand):
			b.note(b.View.Stage, "resolved by hand: "+c.Step)
		case err != nil:
			return "", err
		default:
			b.note(b.View.Stage, "undone: "+c.Step)
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
