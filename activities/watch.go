package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// errBillEnded: the bill closed, so nobody is left to deliver to.
var errBillEnded = errors.New("the bill has ended")

// WatchInvoices listens on one linkKey while the eventCode's pages live (until in.Until plus
// WatchGrace) and signals every message to the bill that started it before reading the next
// one: once the signal is accepted the delivery is durable, and only then is a polled message
// receipted. It ends with nil when its time is up or the bill has ended, is cancelled when the
// bill stops listening, and fails retryably when the worker stops, after closing its socket
// cleanly and delivering what it had read, so another worker goes on. With a Hub (the worker's)
// it hands the link over and returns activity.ErrResultPending; the hub completes it (hub.go).
func (a *Activities) WatchInvoices(ctx context.Context, in calls.WatchInput) error {
	until := in.Until.Add(cmp.Or(a.WatchGrace, DefaultWatchGrace))
	if !time.Now().Before(until) {
		return nil
	}
	if a.Hub != nil {
		return a.Hub.take(ctx, a, in, until)
	}
	watchCtx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	defer a.Metrics.WatchStarted()()
	// One goroutine per watcher for both the worker's stop and the heartbeat: with thousands of
	// watchers live, each goroutine is memory (issue 9 measured about five per watcher).
	// The SDK sends at most one heartbeat per 0.8 x the heartbeat timeout the workflow gave; each
	// is a write on the server, so the state is only recorded here and the SDK batches it.
	var workerStopping atomic.Bool
	var state atomic.Value
	state.Store("starting")
	activity.RecordHeartbeat(ctx, "starting")
	go func() {
		t := time.NewTicker(cmp.Or(a.HeartbeatEvery, DefaultHeartbeatEvery))
		defer t.Stop()
		for {
			select {
			case <-activity.GetWorkerStopChannel(ctx):
				workerStopping.Store(true)
				cancel()
				return
			case <-watchCtx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, state.Load())
			}
		}
	}()

	opts := a.Watch
	opts.PollOnly = in.PushType == "poll"
	userHook := opts.OnStateChange
	opts.OnStateChange = func(s string) {
		state.Store(s)
		if userHook != nil {
			userHook(s)
		}
	}
	billID := activity.GetInfo(ctx).WorkflowExecution.ID
	e, err := a.enterprise(in)
	if err != nil {
		return err
	}
	err = e.Cloud.Watch(watchCtx, in.LinkKey, opts, func(m invoicecloud.Message) error {
		// A large message goes as several signals, each well under Temporal's payload limit.
		for _, d := range calls.DeliveriesOf(m, in.LinkKey) {
			if err := a.signalDelivery(ctx, activity.GetLogger(ctx).Warn, billID, in.FirstRunID, d); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errBillEnded):
		return nil
	case workerStopping.Load():
		return temporal.NewApplicationError("watch handed back: the worker is stopping", "WorkerStopping")
	case ctx.Err() != nil:
		// Cancelled by the bill (collecting ended) or it closed: normal operation, so benign.
		return temporal.NewApplicationErrorWithOptions("watch ended: "+ctx.Err().Error(),
			"WatchEnded", temporal.ApplicationErrorOptions{Category: temporal.ApplicationErrorCategoryBenign, Cause: ctx.Err()})
	case watchCtx.Err() != nil, err == nil:
		return nil // the pages died: nobody can import any more
	}
	return classify(ctx, e, err)
}

// signalDelivery makes one message durable: it signals the bill, retrying while Temporal does
// not answer. It does not give up when the watch is being stopped (the message is already read
// and the cloud will not send it again), only after DeliveryPatience. With firstRunID it signals
// only a run of that bill (its chain of runs): a bill started again under the same key after this
// one ended is another bill, and the watcher ends as for an ended bill.
func (a *Activities) signalDelivery(ctx context.Context, warn func(string, ...any), billID, firstRunID string, d calls.Delivery) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(a.DeliveryPatience, DefaultDeliveryPatience))
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		runID, err := a.runOf(sctx, billID, firstRunID)
		if err == nil {
			err = a.Temporal.SignalWorkflow(sctx, billID, runID, calls.SignalDelivery, d)
		}
		var nf *serviceerror.NotFound
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errBillEnded):
			return err
		case errors.As(err, &nf) && runID == "":
			return errBillEnded
		case errors.As(err, &nf):
			// That run has just closed (continued as new, or ended): look again.
		case sctx.Err() != nil:
			return fmt.Errorf("delivery to %s not recorded within %s: %w", billID, cmp.Or(a.DeliveryPatience, DefaultDeliveryPatience), err)
		default:
			warn("signal delivery failed; retrying", "error", err.Error())
		}
		select {
		case <-sctx.Done():
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// runOf is the running run of the bill whose first run is firstRunID ("" when firstRunID is:
// whichever run is current); errBillEnded when that bill runs no more.
func (a *Activities) runOf(ctx context.Context, billID, firstRunID string) (string, error) {
	if firstRunID == "" {
		return "", nil
	}
	desc, err := a.Temporal.DescribeWorkflowExecution(ctx, billID, "")
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return "", errBillEnded
	case err != nil:
		return "", err
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetFirstRunId() != firstRunID || info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return "", errBillEnded
	}
	return info.GetExecution().GetRunId(), nil
}
