package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"
)

// SLA timers: every waiting stage arms its soft SLA (Overdue) and the hard deadline (remind or
// cancel) when the bill enters it; leaving the stage cancels them.

// startSLATimers arms the waiting stage's soft SLA and the hard deadline on the workflow clock.
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
	arm := func(d time.Duration, kind eventKind) {
		workflow.Go(tctx, func(gctx workflow.Context) {
			if err := workflow.NewTimer(gctx, d).Get(gctx, nil); err == nil {
				b.push(&event{kind: kind, epoch: epoch})
			}
		})
	}
	if soft > 0 {
		arm(soft, evSLASoft)
	}
	if hard > 0 {
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
		b.s.Overdue = true
		b.note(b.s.Stage, fmt.Sprintf("overdue: past the %s SLA of %s", b.s.Stage, time.Duration(b.in.Options.SLAFor(b.s.Stage))))
		b.publish()
		return "", false, nil
	}
	b.s.Overdue = true
	hard := time.Duration(b.in.Options.SLA.Hard)
	if b.in.Options.OnDeadline == DeadlineCancel {
		next, err := b.abort(ctx, StageCancelled, CancelRequest{Reason: fmt.Sprintf("hard deadline of %s passed in %s", hard, b.s.Stage), By: "sla"})
		return next, true, err
	}
	b.note(b.s.Stage, fmt.Sprintf("reminder: hard deadline of %s passed in %s; still waiting", hard, b.s.Stage))
	b.publish()
	return "", false, nil
}
