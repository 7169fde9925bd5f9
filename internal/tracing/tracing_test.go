package tracing

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
)

func TestOffWithoutAnEndpoint(t *testing.T) {
	stop, err := Setup(t.Context(), func(string) string { return "" }, "rimflow-test")
	if err != nil {
		t.Fatal(err)
	}
	defer stop(context.Background())
	if On() {
		t.Fatal("tracing is on without OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	if ics, err := TemporalInterceptors(); err != nil || len(ics) != 0 {
		t.Fatalf("interceptors without tracing: %v %v", ics, err)
	}
}

func TestLogLinesCarryTheTraceAndSpansNoWorkflowID(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	Use(tp)
	defer Off()
	ctx, span := Tracer("test").Start(context.Background(), "op")
	var buf bytes.Buffer
	slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "api").InfoContext(ctx, "api request")
	if id := TraceID(ctx); id == "" || !strings.Contains(buf.String(), `"traceId":"`+id+`"`) {
		t.Errorf("log line %s lacks traceId %s", buf.String(), id)
	}
	span.End()

	s := withoutWorkflowID(context.Background(), Tracer("test"), "RunWorkflow:BillWorkflow")
	s.SetAttributes(attribute.String("temporalWorkflowID", "bill:OA:B-1"), attribute.String("temporalRunID", "r1"))
	s.End()
	got := exp.GetSpans()
	last := got[len(got)-1]
	for _, a := range last.Attributes {
		if a.Key == "temporalWorkflowID" {
			t.Errorf("span %s keeps the workflow ID", last.Name)
		}
	}
	if len(last.Attributes) != 1 {
		t.Errorf("attributes = %v, want the run ID only", last.Attributes)
	}
}

// A line an activity logs through the SDK's logger carries the trace id of the activity's span.
func TestActivityLogLinesCarryTheTraceID(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	Use(tp)
	defer Off()
	ics, err := TemporalInterceptors()
	if err != nil {
		t.Fatal(err)
	}
	var wics []interceptor.WorkerInterceptor
	for _, i := range ics {
		wics = append(wics, i.(interceptor.WorkerInterceptor))
	}
	var buf bytes.Buffer
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: wics})
	var traceID string
	env.RegisterActivityWithOptions(func(ctx context.Context) error {
		traceID = TraceID(ctx)
		activity.GetLogger(ctx).Info("calling the cloud")
		return nil
	}, activity.RegisterOptions{Name: "Call"})
	if _, err := env.ExecuteActivity("Call"); err != nil {
		t.Fatal(err)
	}
	if traceID == "" || !strings.Contains(buf.String(), `"traceId":"`+traceID+`"`) {
		t.Errorf("activity log %s lacks the trace id %q", buf.String(), traceID)
	}
}
