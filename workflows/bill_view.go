package workflows

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
)

// What the bill shows: stage transitions with their history notes and the state query's answer
// (the search attributes and Temporal Web's details are the publisher's, publisher.go).

// enter moves the bill to a stage: new SLA timers, history, search attributes, details.
func (b *bill) enter(ctx workflow.Context, stage Stage, note string) {
	b.timers.next()
	prev := b.View.Stage
	if resumedHere := b.resumed && stage == prev; !resumedHere {
		b.slaClock.restart(workflow.Now(ctx).UTC())
	}
	b.resumed = false
	b.View.Stage = stage
	b.View.AwaitingRole = ""
	if slices.Contains(b.route, stage) && stage != StageImageReview {
		b.View.AwaitingRole = b.roleOf(stage)
	}
	if stage != StageFailed {
		b.View.Overdue = false
	}
	if prev != stage || note != "" {
		if note == "" {
			note = fmt.Sprintf("%s → %s", prev, stage)
		}
		b.note(stage, note)
	}
	if prev != stage {
		b.emit(calls.EventStageChanged, map[string]string{"from": string(prev), "to": string(stage), "awaitingRole": b.View.AwaitingRole})
	}
	if waiting(stage) {
		b.timers.arm(ctx, b.slaClock, b.in.Options.SLAFor(stage).D(), b.in.Options.SLA.Hard.D(), b.inbox.push)
	}
	b.publish()
}

// note appends to the bounded history.
func (b *bill) note(stage Stage, text string) {
	b.View.History = append(b.View.History, HistoryEntry{At: workflow.Now(b.ctx).UTC(), Stage: stage, Note: text})
	if over := len(b.View.History) - historyCap; over > 0 {
		b.View.History = append([]HistoryEntry(nil), b.View.History[over:]...)
	}
	// A note carries business data (totals, serial numbers, comments, reasons, voucher numbers),
	// which payload encryption seals in the history: at info the log says only that the bill moved.
	workflow.GetLogger(b.ctx).Info("bill", "stage", string(stage))
	workflow.GetLogger(b.ctx).Debug("bill note", "stage", string(stage), "note", text)
}

// snapshot is the `state` query's answer; slices are copied so callers cannot alias the state.
func (b *bill) snapshot() BillState {
	s := b.View
	s.Invoices = slices.Clone(b.View.Invoices)
	s.Approvals = slices.Clone(b.View.Approvals)
	s.History = slices.Clone(b.View.History)
	s.PendingInvoices = slices.Clone(b.View.PendingInvoices)
	s.Deliveries = slices.Clone(b.View.Deliveries)
	b.markVerified(s.Invoices, s.PendingInvoices) // verified.go
	return s
}

// answer is a decision's reply: the Decision when the caller asked for it in the update's
// header (the API does), else the whole state (Temporal Web, the CLI, an earlier release's API).
func (b *bill) answer(ctx workflow.Context) any {
	var asked string
	if p := interceptor.WorkflowHeader(ctx)[AnswerHeader]; p == nil ||
		converter.GetDefaultDataConverter().FromPayload(p, &asked) != nil || asked != AnswerCompact {
		return b.snapshot()
	}
	d := b.View.Decision()
	d.Reversals = slices.Clone(d.Reversals)
	return d
}

// publish shows the bill's state to ops: search attributes and Temporal Web's details.
func (b *bill) publish() { b.shown.publish(&b.View, b.in, len(b.Pending)) }

// emit queues an event for the ERP (outbox.go).
func (b *bill) emit(typ string, data any) { b.outbox.emit(b.ctx, b.in, b.View.Stage, typ, data) }
