package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
)

// Failure and retry: a step that fails for good parks the bill in `failed` until ops decide.

// runOrPark runs one step. If it fails (a non-retryable cloud error, or retries exhausted), it parks
// the bill in failed with the reason and waits: `retry` runs the step again, `cancel` ends the bill
// (not during compensation), and a failed compensation may be `resolve`d by hand
// (errResolvedByHand). ev, the update that caused the step, is answered with the failure.
func (b *bill) runOrPark(ctx workflow.Context, step string, ev *event, fn func(workflow.Context) error) error {
	var retry *event // the retry that runs the step again: answered with its outcome
	for {
		err := fn(ctx)
		if err == nil {
			b.reply(retry, nil)
			return nil
		}
		if ctx.Err() != nil || temporal.IsCanceledError(err) {
			return err
		}
		b.reply(ev, failureForCaller(step, err))
		b.reply(retry, failureForCaller(step, err))
		if retry, err = b.park(ctx, step, ev, err); err != nil {
			return err
		}
	}
}

// errResolvedByHand: ops closed a failed compensation by hand (the step counts as done).
var errResolvedByHand = errors.New("resolved by hand")

// failureForCaller keeps the ApplicationError type (e.g. "InvoiceCloud.1301") for the update caller.
func failureForCaller(step string, err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s failed: %s", step, app.Message()), app.Type(), nil)
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s failed: %v", step, err), "StepFailed", nil)
}

// park records the failure, moves the bill to failed and blocks until retry (returns the retry's
// event, answered once the step has run again) or cancel.
func (b *bill) park(ctx workflow.Context, step string, ev *event, cause error) (*event, error) {
	prev := b.View.Stage
	reason, code := describe(cause)
	b.View.Error = &FailureView{Step: step, Reason: reason, Code: code, Field: causeField(cause), At: workflow.Now(ctx).UTC()}
	b.emit(calls.EventFailed, map[string]string{"step": step, "reason": reason, "code": code, "field": b.View.Error.Field})
	b.enter(ctx, StageFailed, fmt.Sprintf("failed in %s (stage %s): %s", step, prev, reason))
	countFailure(ctx, step)
	compensating := strings.HasPrefix(step, compensatePrefix)
	for {
		ev, err := b.next(ctx)
		if err != nil {
			return nil, err
		}
		switch ev.kind {
		case evRetry:
			b.View.Error = nil
			b.enter(ctx, prev, fmt.Sprintf("retrying %s (asked by %s)", step, orStr(ev.retry.By, "ops")))
			return ev, nil
		case evResolve:
			r := *ev.resolve
			rec := ResolutionRecord{Step: step, By: r.By, Reason: r.Reason, Done: r.Done, At: workflow.Now(ctx).UTC()}
			if r.Actor != nil {
				rec.Client = r.Actor.Client
			}
			b.View.Resolutions = append(b.View.Resolutions, rec)
			b.View.Error = nil
			b.enter(ctx, prev, fmt.Sprintf("%s resolved by hand by %s: %s (done: %s)", step, r.By, r.Reason, r.Done))
			b.reply(ev, nil)
			return nil, errResolvedByHand
		case evCancel:
			if compensating {
				b.reply(ev, errors.New("the bill is already being undone; retry the failed compensation"))
				continue
			}
			return nil, &errCancelRequested{req: *ev.cancel, ev: ev}
		case evAmend:
			b.amend(*ev.amend)
			b.reply(ev, nil)
		case evRemove:
			b.reply(ev, b.removeInvoice(ctx, *ev.remove))
		case evViewURL:
			b.reply(ev, b.prepareViewURL(ctx))
		case evSLASoft, evSLAHard, evDelivery, evScanned:
			continue // belongs to the stage that was interrupted (a delivery waits in Pending)
		case evWatchEnded:
			delete(b.watchers, ev.linkKey) // retry watches the live links again
		default:
			b.reply(ev, fmt.Errorf("not applied: the bill is failed (step %s: %s); retry or cancel it first", step, reason))
		}
	}
}

// causeField is the field a cloud refusal named (the activity puts it in the error's details).
func causeField(err error) string {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.HasDetails() {
		return ""
	}
	var d map[string]string
	if app.Details(&d) != nil {
		return ""
	}
	return d["field"]
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
