package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Activity timeouts and retries: retryable cloud errors are retried with backoff for up to a day;
// non-retryable ones fail the step at once (the bill goes to failed, see do).
const (
	ActivityStartToClose    = 30 * time.Second
	ActivityScheduleToClose = 24 * time.Hour
	WatchStartToClose       = 15 * time.Minute // WatchInvoices returns after its span (10 min)
	// Cancellation reaches an activity only through a heartbeat, which the SDK sends at most every
	// 0.8 x HeartbeatTimeout: a short timeout ends a watcher (and notices a dead worker) in seconds.
	WatchHeartbeatTimeout = 10 * time.Second
)

// RetryPolicy is every activity's retry policy.
func RetryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
		MaximumAttempts:    0, // unlimited, bounded by ScheduleToClose
	}
}

func (b *bill) activityCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    ActivityStartToClose,
		ScheduleToCloseTimeout: ActivityScheduleToClose,
		RetryPolicy:            RetryPolicy(),
	})
}

func watchActivityCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    WatchStartToClose,
		HeartbeatTimeout:       WatchHeartbeatTimeout,
		ScheduleToCloseTimeout: ActivityScheduleToClose,
		RetryPolicy:            RetryPolicy(),
		// Do not wait for the watcher to acknowledge cancellation: the stage moves on at once and
		// the watcher closes its socket when its next heartbeat learns of the cancel.
		WaitForCancellation: false,
	})
}

// do runs one step. If it fails (a non-retryable cloud error, or retries exhausted), the bill moves
// to failed with the reason and waits: `retry` runs the step again, `cancel` ends the bill (not
// during compensation). ev, the update that caused the step, is answered with the failure.
func (b *bill) do(ctx workflow.Context, step string, ev *event, fn func(workflow.Context) error) error {
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || temporal.IsCanceledError(err) {
			return err
		}
		b.reply(ev, failureForCaller(step, err))
		if err := b.failAndWait(ctx, step, ev, err); err != nil {
			return err
		}
	}
}

// failureForCaller keeps the ApplicationError type (e.g. "InvoiceCloud.1301") for the update caller.
func failureForCaller(step string, err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s failed: %s", step, app.Message()), app.Type(), nil)
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s failed: %v", step, err), "StepFailed", nil)
}

// failAndWait records the failure and blocks until retry (returns nil) or cancel.
func (b *bill) failAndWait(ctx workflow.Context, step string, ev *event, cause error) error {
	prev := b.s.Stage
	reason, code := describe(cause)
	b.s.Error = &FailureView{Step: step, Reason: reason, Code: code, At: workflow.Now(ctx).UTC()}
	b.enter(ctx, StageFailed, fmt.Sprintf("failed in %s (stage %s): %s", step, prev, reason))
	compensating := len(step) > len("compensate:") && step[:len("compensate:")] == "compensate:"
	for {
		ev, err := b.next(ctx)
		if err != nil {
			return err
		}
		switch ev.kind {
		case evRetry:
			b.s.Error = nil
			b.enter(ctx, prev, fmt.Sprintf("retrying %s (asked by %s)", step, orStr(ev.retry.By, "ops")))
			b.reply(ev, nil)
			return nil
		case evCancel:
			if compensating {
				b.reply(ev, errors.New("the bill is already being undone; retry the failed compensation"))
				continue
			}
			b.reply(ev, nil)
			return &errCancelRequested{req: *ev.cancel}
		case evSLASoft, evSLAHard, evWatch:
			continue // belongs to the stage that was interrupted
		default:
			b.reply(ev, fmt.Errorf("not applied: the bill is failed (step %s: %s); retry or cancel it first", step, reason))
		}
	}
}

// describe extracts a person-readable reason and the error code (the ApplicationError type).
func describe(err error) (reason, code string) {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message(), app.Type()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "the cloud did not answer in time (retries exhausted): " + timeout.Error(), "Timeout"
	}
	return err.Error(), ""
}

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
