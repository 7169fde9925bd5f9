// Package callheader carries Temporal headers from a call's context into the update or
// update-with-start the call sends: the API's signature (internal/voice) and the kind of answer
// it asks of a bill (workflows.AnswerHeader) travel this way, so no update's arguments change
// shape and a worker of an earlier release, which knows no such header, ignores it.
package callheader

import (
	"context"
	"maps"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
)

type carriedKey struct{}

// With carries header key = p to the client's interceptor (Install). A nil p carries nothing.
func With(ctx context.Context, key string, p *commonpb.Payload) context.Context {
	if p == nil {
		return ctx
	}
	carried, _ := ctx.Value(carriedKey{}).(map[string]*commonpb.Payload)
	next := maps.Clone(carried)
	if next == nil {
		next = map[string]*commonpb.Payload{}
	}
	next[key] = p
	return context.WithValue(ctx, carriedKey{}, next)
}

// Install adds the interceptor that writes the carried headers to opts, once.
func Install(opts *client.Options) {
	for _, i := range opts.Interceptors {
		if _, ok := i.(*clientInterceptor); ok {
			return
		}
	}
	opts.Interceptors = append(opts.Interceptors, &clientInterceptor{})
}

type clientInterceptor struct {
	interceptor.ClientInterceptorBase
}

func (*clientInterceptor) InterceptClient(next interceptor.ClientOutboundInterceptor) interceptor.ClientOutboundInterceptor {
	return &clientOutbound{ClientOutboundInterceptorBase: interceptor.ClientOutboundInterceptorBase{Next: next}}
}

type clientOutbound struct {
	interceptor.ClientOutboundInterceptorBase
}

func (c *clientOutbound) UpdateWorkflow(ctx context.Context, in *interceptor.ClientUpdateWorkflowInput) (client.WorkflowUpdateHandle, error) {
	write(ctx)
	return c.Next.UpdateWorkflow(ctx, in)
}

// UpdateWithStartWorkflow: the header is the start's and the update's both; the bill reads it in
// the update.
func (c *clientOutbound) UpdateWithStartWorkflow(ctx context.Context, in *interceptor.ClientUpdateWithStartWorkflowInput) (client.WorkflowUpdateHandle, error) {
	write(ctx)
	return c.Next.UpdateWithStartWorkflow(ctx, in)
}

func write(ctx context.Context) {
	carried, _ := ctx.Value(carriedKey{}).(map[string]*commonpb.Payload)
	if len(carried) == 0 {
		return
	}
	if h := interceptor.Header(ctx); h != nil {
		maps.Copy(h, carried)
	}
}
