package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
)

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
