package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// SLA timers: every waiting stage arms its soft SLA (Overdue) and the hard deadline (remind or
// cancel) when the bill enters it; leaving the stage cancels them. What they do when they fire is
// the bill's (onSLA, bill_sla.go).

// slaFired records which of the current stage's SLA timers have fired (carried across
// continue-as-new, so a resumed stage does not fire them twice).
type slaFired struct {
	Soft bool `json:"soft,omitempty"`
	Hard bool `json:"hard,omitempty"`
}

// slaClock is when the current stage began and which of its timers have fired.
type slaClock struct {
	Entered  time.Time `json:"entered"`  // when the current stage began (SLA timers)
	SLAFired slaFired  `json:"slaFired"` // which SLA timers of this stage have fired
}

// restart counts the stage's SLAs from now.
func (c *slaClock) restart(now time.Time) {
	c.Entered = now
	c.SLAFired = slaFired{}
}

// stageTimers are this run's timers of the current stage. epoch is the stage generation: a timer
// armed in an earlier one (the stage was left and perhaps entered again) is ignored.
type stageTimers struct {
	epoch  int
	cancel workflow.CancelFunc
}

// next cancels the timers of the stage being left and starts a new generation.
func (t *stageTimers) next() {
	if t.cancel != nil {
		t.cancel()
		t.cancel = nil
	}
	t.epoch++
}

// current: ev was armed in this stage generation.
func (t *stageTimers) current(ev *event) bool { return ev.epoch == t.epoch }

// arm starts the soft SLA and the hard deadline (0: none) on the workflow clock, counted from when
// the stage was entered (a resumed run arms what is left), skipping those that fired already;
// fire queues the event of one that expires.
func (t *stageTimers) arm(ctx workflow.Context, c slaClock, soft, hard time.Duration, fire func(*event)) {
	if soft <= 0 && hard <= 0 {
		return
	}
	tctx, cancel := workflow.WithCancel(ctx)
	t.cancel = cancel
	epoch := t.epoch
	spent := workflow.Now(ctx).Sub(c.Entered)
	start := func(d time.Duration, kind eventKind) {
		workflow.Go(tctx, func(gctx workflow.Context) {
			if err := workflow.NewTimer(gctx, max(d-spent, time.Millisecond)).Get(gctx, nil); err == nil {
				fire(&event{kind: kind, epoch: epoch})
			}
		})
	}
	if soft > 0 && !c.SLAFired.Soft {
		start(soft, evSLASoft)
	}
	if hard > 0 && !c.SLAFired.Hard {
		start(hard, evSLAHard)
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
