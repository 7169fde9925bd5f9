// Package tracing is rimflow's OpenTelemetry tracing: one trace per bill request, from the API's
// route through the Temporal client and the workflow to each activity and Invoice Cloud call.
// It is off unless the standard OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// is set; then spans go over OTLP/HTTP, configured by the standard OTEL_* variables (headers,
// timeout, OTEL_SERVICE_NAME…), which the exporter reads itself.
//
// Spans carry names and outcomes only, never business data: the API's spans the route pattern
// (not the path, which names the bill), the cloud's the call name and outcome.
package tracing

import (
	"context"
	"log/slog"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// Variables that turn tracing on (the exporter reads the rest of OTEL_*).
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
)

// Propagator carries a trace across HTTP (traceparent) and, through the Temporal interceptor's
// header, across Temporal.
var Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

var provider atomic.Pointer[sdktrace.TracerProvider]

// Setup turns tracing on when an OTLP endpoint is configured, for the service named. It returns
// what flushes and stops the exporter (a no-op when off).
func Setup(ctx context.Context, getenv func(string) string, service string) (shutdown func(context.Context) error, err error) {
	if getenv(EnvEndpoint) == "" && getenv(EnvTracesEndpoint) == "" {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))))
	Use(tp)
	return tp.Shutdown, nil
}

// Use makes tp this process's tracer provider (Setup's; a test's with an in-memory exporter).
func Use(tp *sdktrace.TracerProvider) {
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator)
	provider.Store(tp)
}

// Off turns tracing off again (tests that turned it on with Use).
func Off() {
	otel.SetTracerProvider(noop.NewTracerProvider())
	provider.Store(nil)
}

// On reports whether spans are recorded.
func On() bool { return provider.Load() != nil }

// Tracer is rimflow's tracer for a component.
func Tracer(component string) trace.Tracer { return otel.Tracer("rimflow/" + component) }

// TemporalInterceptors are the Temporal client's interceptors: the SDK's OpenTelemetry tracing
// when tracing is on (none otherwise, so nothing changes in what a worker sends). A client's
// interceptor is its workers' too. It creates no span while a history replays, and its header
// is not part of the commands a replay compares.
func TemporalInterceptors() ([]interceptor.ClientInterceptor, error) {
	if !On() {
		return nil, nil
	}
	i, err := opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{
		Tracer: Tracer("temporal"), TextMapPropagator: Propagator,
		// Queries (the API's state reads) would each make a span per poll: not part of a bill's path.
		DisableQueryTracing: true,
		SpanStarter:         withoutWorkflowID,
		SpanContextKey:      spanKey{},
	})
	if err != nil {
		return nil, err
	}
	// After the SDK's (so inside it): its spans are in the contexts this one sees.
	return []interceptor.ClientInterceptor{i, &billLinks{}}, nil
}

// spanKey is where the SDK's tracing interceptor keeps its current span in a workflow's or an
// activity's context, so billLinks can find it.
type spanKey struct{}

// withoutWorkflowID starts the interceptor's spans so that they drop the workflow ID attribute
// the interceptor sets: a bill's workflow ID is its ERP key (bill:<resource>:<billId>). The run ID
// (random) stays; the trace id is the API's X-Request-Id and is in its log line naming the bill.
func withoutWorkflowID(ctx context.Context, t trace.Tracer, name string, opts ...trace.SpanStartOption) trace.Span {
	_, span := t.Start(ctx, name, opts...)
	return filtered{span}
}

type filtered struct{ trace.Span }

func (f filtered) SetAttributes(kv ...attribute.KeyValue) {
	kept := make([]attribute.KeyValue, 0, len(kv))
	for _, a := range kv {
		if a.Key != "temporalWorkflowID" {
			kept = append(kept, a)
		}
	}
	f.Span.SetAttributes(kept...)
}

// TraceID is the id of the trace ctx belongs to ("" when none is recorded).
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// LogHandler adds traceId to every record logged with a context in a trace.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := TraceID(ctx); id != "" {
		r.AddAttrs(slog.String("traceId", id))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(as)}
}
func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }
