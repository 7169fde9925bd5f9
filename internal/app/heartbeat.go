package app

import (
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"
)

// watchActivity is the watcher's activity type: the name the SDK gives activities.WatchInvoices.
const watchActivity = "WatchInvoices"

// watchHeartbeat gives the watchers a bill schedules another heartbeat timeout than the
// workflow's workflows.WatchHeartbeatTimeout: a setting of the worker (RIMFLOW_WATCH_HEARTBEAT_TIMEOUT;
// tests shorten it so a killed worker's watchers move on in seconds). NewWorker leaves it out at the
// default, so the commands a default worker sends are the workflow's own.
//
// Replay stays deterministic: the SDK matches a scheduled activity to its recorded event by id and
// type, not by timeouts, and the server keeps the recorded timeout for an activity already
// scheduled; a worker with another setting gives it only to the watchers it schedules itself.
type watchHeartbeat struct {
	interceptor.WorkerInterceptorBase
	timeout time.Duration
}

func (w *watchHeartbeat) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &watchHeartbeatInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, timeout: w.timeout}
}

type watchHeartbeatInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	timeout time.Duration
}

func (w *watchHeartbeatInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return w.Next.Init(&watchHeartbeatOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, timeout: w.timeout})
}

type watchHeartbeatOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	timeout time.Duration
}

func (w *watchHeartbeatOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	if activityType == watchActivity {
		ctx = workflow.WithHeartbeatTimeout(ctx, w.timeout)
	}
	return w.Next.ExecuteActivity(ctx, activityType, args...)
}
