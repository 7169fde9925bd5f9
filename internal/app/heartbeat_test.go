package app

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities"
	"rimflow/activities/calls"
)

// The worker's watch heartbeat setting reaches the watcher the workflow schedules (named as the
// SDK names activities.WatchInvoices), and only it: another activity keeps the timeout its
// workflow gave.
func TestWatchHeartbeatTimeoutReachesOnlyTheWatcher(t *testing.T) {
	const given, setting = 2 * time.Minute, 7 * time.Second
	var acts *activities.Activities
	twoCalls := func(ctx workflow.Context) ([]time.Duration, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, HeartbeatTimeout: given})
		var watcher, other time.Duration
		if err := workflow.ExecuteActivity(ctx, acts.WatchInvoices, calls.WatchInput{}).Get(ctx, &watcher); err != nil {
			return nil, err
		}
		if err := workflow.ExecuteActivity(ctx, "BindInvoices").Get(ctx, &other); err != nil {
			return nil, err
		}
		return []time.Duration{watcher, other}, nil
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&watchHeartbeat{timeout: setting}},
		DeadlockDetectionTimeout: time.Minute}) // a busy box may stall the first workflow task past the 1 s default
	env.RegisterWorkflowWithOptions(twoCalls, workflow.RegisterOptions{Name: "TwoCalls"})
	env.RegisterActivityWithOptions(func(ctx context.Context, _ calls.WatchInput) (time.Duration, error) {
		return activity.GetInfo(ctx).HeartbeatTimeout, nil
	}, activity.RegisterOptions{Name: watchActivity})
	env.RegisterActivityWithOptions(func(ctx context.Context) (time.Duration, error) {
		return activity.GetInfo(ctx).HeartbeatTimeout, nil
	}, activity.RegisterOptions{Name: "BindInvoices"})
	env.ExecuteWorkflow("TwoCalls")
	var got []time.Duration
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{setting, given}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("heartbeat timeouts (watcher, other) = %v, want %v", got, want)
	}
}
