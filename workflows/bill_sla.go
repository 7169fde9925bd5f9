package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
)

// SLA timers: every waiting stage arms its soft SLA (Overdue) and the hard deadline (remind or
// cancel) when the bill enters it; leaving the stage cancels them.

// slaFired records which of the current stage's SLA timers have fired (carried across
// continue-as-new, so a resumed stage does not fire them twice).
type slaFired struct {
	Soft bool `json:"soft,omitempty"`
	Hard bool `json:"hard,omitempty"`
}

// startSLATimers arms the waiting stage's soft SLA and the hard deadline on the workflow clock,
// counted from when the stage was entered (a resumed run arms what is left).
func (b *bill) startSLATimers(ctx workflow.Context, stage Stage) {
	if !waiting(stage) {
		return
	}
	soft := b.in.Options.SLAFor(stage).D()
	hard := b.in.Options.SLA.Hard.D()
	if soft <= 0 && hard <= 0 {
		return
	}
	tctx, cancel := workflow.WithCancel(ctx)
	b.stageCancel = cancel
	epoch := b.epoch
	spent := workflow.Now(ctx).Sub(b.Entered)
	arm := func(d time.Duration, kind eventKind) {
		workflow.Go(tctx, func(gctx workflow.Context) {
			if err := workflow.NewTimer(gctx, max(d-spent, time.Millisecond)).Get(gctx, nil); err == nil {
				b.push(&event{kind: kind, epoch: epoch})
			}
		})
	}
	if soft > 0 && !b.SLAFired.Soft {
		arm(soft, evSLASoft)
	}
	if hard > 0 && !b.SLAFired.Hard {
		arm(hard, evSLAHard)
	}
}

// waiting reports whether a stage waits for people (and so has SLAs).
func waiting(s Stage) bool {
	switch s {
	case StageFailed, StageDeducting, StageCompleted, StageRejected, StageCancelled:
		return false
	}
	return true
}

// onSLA: soft → Overdue; hard → remind (note, keep waiting) or cancel (saga).
func (b *bill) onSLA(ctx workflow.Context, ev *event) (Stage, bool, error) {
	if ev.kind == evSLASoft {
		b.SLAFired.Soft = true
		b.View.Overdue = true
		b.emit(calls.EventOverdue, map[string]string{"sla": time.Duration(b.in.Options.SLAFor(b.View.Stage)).String()})
		b.note(b.View.Stage, fmt.Sprintf("overdue: past the %s SLA of %s", b.View.Stage, time.Duration(b.in.Options.SLAFor(b.View.Stage))))
		b.publish()
		return "", false, nil
	}
	b.SLAFired.Hard = true
	b.View.Overdue = true
	hard := time.Duration(b.in.Options.SLA.Hard)
	if b.in.Options.OnDeadline == DeadlineCancel {
		b.emit(calls.EventCancelledBySLA, map[string]string{"hard": hard.String(), "stage": string(b.View.Stage)})
		next, err := b.abort(ctx, StageCancelled, CancelRequest{Reason: fmt.Sprintf("hard deadline of %s passed in %s", hard, b.View.Stage), By: "sla"}, nil)
		return next, true, err
	}
	b.note(b.View.Stage, fmt.Sprintf("reminder: hard deadline of %s passed in %s; still waiting", hard, b.View.Stage))
	b.publish()
	return "", false, nil
}
