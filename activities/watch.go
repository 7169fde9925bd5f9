package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

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
// cleanly and delivering what it had read, so another worker goes on.
func (a *Activities) WatchInvoices(ctx context.Context, in calls.WatchInput) error {
	until := in.Until.Add(cmp.Or(a.WatchGrace, DefaultWatchGrace))
	if !time.Now().Before(until) {
		return nil
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
			if err := a.signalDelivery(ctx, billID, d); err != nil {
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
// and the cloud will not send it again), only after DeliveryPatience.
func (a *Activities) signalDelivery(ctx context.Context, billID string, d calls.Delivery) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(a.DeliveryPatience, DefaultDeliveryPatience))
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := a.Temporal.SignalWorkflow(sctx, billID, "", calls.SignalDelivery, d)
		var nf *serviceerror.NotFound
		switch {
		case err == nil:
			return nil
		case errors.As(err, &nf):
			return errBillEnded
		case sctx.Err() != nil:
			return fmt.Errorf("delivery to %s not recorded within %s: %w", billID, cmp.Or(a.DeliveryPatience, DefaultDeliveryPatience), err)
		}
		activity.GetLogger(ctx).Warn("signal delivery failed; retrying", "error", err.Error())
		select {
		case <-sctx.Done():
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
