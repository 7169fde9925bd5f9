package activities

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

var errDelivered = errors.New("message delivered")

// WatchInvoices runs the client's watcher (socket, long poll after silence) for a linkKey and returns
// the first message delivered, or an empty result when WatchSpan ends without one. It heartbeats its
// connection state, so a dead worker is noticed within the HeartbeatTimeout and the workflow's
// cancellation (end of collecting) reaches it.
//
// Delivery is at least once: the workflow deduplicates by serialNo and acknowledges polled messages
// (PollReceipt) only after binding them.
func (a *Activities) WatchInvoices(ctx context.Context, in calls.WatchInput) (calls.WatchResult, error) {
	span := orDefault(a.WatchSpan, DefaultWatchSpan)
	watchCtx, cancel := context.WithTimeout(ctx, span)
	defer cancel()

	var state atomic.Value
	state.Store("starting")
	activity.RecordHeartbeat(ctx, "starting")
	go func() {
		t := time.NewTicker(orDefault(a.HeartbeatEvery, DefaultHeartbeatEvery))
		defer t.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, state.Load())
			}
		}
	}()

	opts := a.Watch
	userHook := opts.OnStateChange
	opts.OnStateChange = func(s string) {
		state.Store(s)
		activity.RecordHeartbeat(ctx, s)
		if userHook != nil {
			userHook(s)
		}
	}
	var got *invoicecloud.Message
	err := a.Cloud.Watch(watchCtx, in.LinkKey, opts, func(m invoicecloud.Message) error {
		got = &m
		return errDelivered
	})
	switch {
	case got != nil:
		return calls.WatchResult{LinkKey: in.LinkKey, Message: got}, nil
	case ctx.Err() != nil:
		// Cancelled by the workflow (collecting ended), the bill closed, or the worker stops: normal
		// operation, so benign (logged at debug, not as an error) and retryable (a stopping worker's
		// watch is picked up by another).
		return calls.WatchResult{}, temporal.NewApplicationErrorWithOptions("watch ended: "+ctx.Err().Error(),
			"WatchEnded", temporal.ApplicationErrorOptions{Category: temporal.ApplicationErrorCategoryBenign, Cause: ctx.Err()})
	case watchCtx.Err() != nil:
		return calls.WatchResult{LinkKey: in.LinkKey}, nil
	case err == nil:
		return calls.WatchResult{LinkKey: in.LinkKey}, nil
	}
	return calls.WatchResult{}, classify(err)
}
