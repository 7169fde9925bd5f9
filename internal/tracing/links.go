package tracing

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"
)

// billLinks ties what the SDK's tracing interceptor records on a worker to the bill:
//   - a decision (an update or a signal) arrives in the caller's trace, its own; its handler's span
//     gets a link to the bill's run span, so a trace viewer leads from the decision to the bill;
//   - an activity's log lines carry the trace id, as the API's request lines do.
//
// It only reads and decorates spans and loggers: nothing it does reaches the workflow's commands.
type billLinks struct {
	interceptor.InterceptorBase
}

func (billLinks) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &workflowLinks{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

func (billLinks) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &activityLogs{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}}
}

// spanOf is the span the SDK's interceptor put in a context, if it is an OpenTelemetry one.
func spanOf(v any) trace.Span {
	s, _ := v.(trace.Span)
	return s
}

type workflowLinks struct {
	interceptor.WorkflowInboundInterceptorBase
	bill trace.SpanContext // the run's span: in the bill's trace (its start's)
}

func (w *workflowLinks) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	if s := spanOf(ctx.Value(spanKey{})); s != nil {
		w.bill = s.SpanContext()
	}
	return w.Next.ExecuteWorkflow(ctx, in)
}

func (w *workflowLinks) HandleSignal(ctx workflow.Context, in *interceptor.HandleSignalInput) error {
	w.link(ctx)
	return w.Next.HandleSignal(ctx, in)
}

func (w *workflowLinks) ExecuteUpdate(ctx workflow.Context, in *interceptor.UpdateInput) (any, error) {
	w.link(ctx)
	return w.Next.ExecuteUpdate(ctx, in)
}

// link adds the bill's run span to the decision's handler span when that is in another trace
// (a decision sent in the bill's own trace needs none).
func (w *workflowLinks) link(ctx workflow.Context) {
	s := spanOf(ctx.Value(spanKey{}))
	if s == nil || !w.bill.IsValid() || s.SpanContext().TraceID() == w.bill.TraceID() {
		return
	}
	s.AddLink(trace.Link{SpanContext: w.bill})
}

type activityLogs struct {
	interceptor.ActivityInboundInterceptorBase
}

func (a *activityLogs) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	return a.Next.Init(&activityLogger{ActivityOutboundInterceptorBase: interceptor.ActivityOutboundInterceptorBase{Next: outbound}})
}

type activityLogger struct {
	interceptor.ActivityOutboundInterceptorBase
}

func (a *activityLogger) GetLogger(ctx context.Context) log.Logger {
	l := a.Next.GetLogger(ctx)
	if id := TraceID(ctx); id != "" {
		return log.With(l, "traceId", id)
	}
	return l
}
