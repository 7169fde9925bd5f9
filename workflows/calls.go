package workflows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities"
)

// How the workflows call their activities. Every remote call is a method of activities.Activities,
// called through a method value of this nil pointer: the SDK takes the activity's name from the
// method (the name the worker registered), and call/callNoResult make the compiler check the input
// and result types against the method's signature.
var acts *activities.Activities

// Activity timeouts and retries: retryable cloud errors are retried with backoff for up to a day;
// non-retryable ones fail the step at once (the bill goes to failed, see runOrPark).
const (
	ActivityStartToClose    = 30 * time.Second
	activityScheduleToClose = 24 * time.Hour
	// A watcher heartbeats at most every 0.8 x WatchHeartbeatTimeout, and every heartbeat is a write on
	// the server, paid for every watcher of every collecting bill: a long timeout keeps thousands of
	// idle watchers cheap. The price: a dead worker's watchers move to another worker, and a stopped
	// bill's watcher learns of the cancel when no delivery came just before, within that time
	// (deliveries meanwhile are not lost: a socket message waits in the cloud for the next
	// listener, a polled one until it is receipted). docs/watchers.md weighs it.
	WatchHeartbeatTimeout = 5 * time.Minute
	// watchHeartbeatTimeoutBefore is the watchers' heartbeat timeout of bills started before
	// watchHeartbeatLonger.
	watchHeartbeatTimeoutBefore = 2 * time.Minute
	// watchGraceAllowance bounds how long past its eventCode's expiry a watcher may run (the
	// worker's WatchGrace must be shorter).
	watchGraceAllowance = 30 * time.Minute
)

// WatchTaskQueue is where watchers run: the bills' task queue with "-bills" replaced by "-watchers"
// (rimflow-bills → rimflow-watchers). The same worker program serves it with its own limit, so
// cloud steps, updates and approvals never wait behind sockets.
func WatchTaskQueue(billTaskQueue string) string {
	return strings.TrimSuffix(billTaskQueue, "-bills") + "-watchers"
}

// RetryPolicy is every activity's retry policy.
func RetryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
		MaximumAttempts:    0, // unlimited, bounded by ScheduleToClose
	}
}

// cloudCallOptions are the options of every call but the watcher.
func cloudCallOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    ActivityStartToClose,
		ScheduleToCloseTimeout: activityScheduleToClose,
		RetryPolicy:            RetryPolicy(),
	})
}

// watchOptions are a watcher's: its own task queue, alive while its eventCode lives (plus grace).
func watchOptions(ctx workflow.Context, lives, heartbeat time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              WatchTaskQueue(workflow.GetInfo(ctx).TaskQueueName),
		ScheduleToCloseTimeout: lives + watchGraceAllowance,
		HeartbeatTimeout:       heartbeat,
		RetryPolicy:            RetryPolicy(),
		// Do not wait for the watcher to acknowledge cancellation: the stage moves on at once and
		// the watcher closes its socket when its next heartbeat learns of the cancel.
		WaitForCancellation: false,
	})
}

// call runs one activity with a result and waits for it.
func call[I, O any](ctx workflow.Context, fn func(context.Context, I) (O, error), in I) (O, error) {
	var out O
	err := workflow.ExecuteActivity(ctx, fn, in).Get(ctx, &out)
	return out, err
}

// callNoResult runs one activity that answers only success or failure and waits for it.
func callNoResult[I any](ctx workflow.Context, fn func(context.Context, I) error, in I) error {
	return workflow.ExecuteActivity(ctx, fn, in).Get(ctx, nil)
}

// messageID derives a request id from the run and the step: "<step>-<32 hex>" (at most 64 chars).
// Hashing keeps it short and free of the bill's business key.
func messageID(workflowID, runID, step string, seq int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%s/%d", workflowID, runID, step, seq))
	prefix := step
	if len(prefix) > 24 {
		prefix = prefix[:24]
	}
	return prefix + "-" + hex.EncodeToString(sum[:16])
}

// msgID is a deterministic request id per step execution (≤ 64 chars): a retried activity and a
// replay after a crash reuse it (the cloud answers idempotently), and it survives continue-as-new
// (the counters are carried, the first run's id is kept); an ops retry after a failure draws a new one.
func (b *bill) msgID(step string) string {
	b.Seq[step]++
	info := workflow.GetInfo(b.ctx)
	return messageID(info.WorkflowExecution.ID, info.FirstRunID, step, b.Seq[step])
}
