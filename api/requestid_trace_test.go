package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"rimflow/internal/tracing"
)

// With tracing on, a request without a usable X-Request-Id is answered with its trace id as the
// request id: one id finds the answer, the log lines and the trace. A caller's traceparent is
// the trace it joins; its own X-Request-Id still wins.
func TestRequestIDIsTheTraceIDWhenTracing(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	t.Cleanup(tracing.Off)
	srv := httptest.NewServer(testServer(t, "", nil))
	defer srv.Close()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, c := range []struct {
		name, requestID, traceparent, want string
	}{
		{"the caller's trace", "", "00-" + traceID + "-00f067aa0ba902b7-01", traceID},
		{"the caller's own id", "erp-req-7", "00-" + traceID + "-00f067aa0ba902b7-01", "erp-req-7"},
		{"a new trace", "", "", ""},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/bills", strings.NewReader(`{}`)) // refused by validation
		if c.requestID != "" {
			req.Header.Set(HeaderRequestID, c.requestID)
		}
		if c.traceparent != "" {
			req.Header.Set("traceparent", c.traceparent)
		}
		before := len(spans.GetSpans())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get(HeaderRequestID)
		// The server span ends once the handler has returned, which may be after the answer.
		deadline := time.Now().Add(5 * time.Second)
		for len(spans.GetSpans()) <= before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		ended := spans.GetSpans()
		if len(ended) <= before {
			t.Fatalf("%s: no span ended for the request", c.name)
		}
		span := ended[len(ended)-1].SpanContext.TraceID().String()
		want := c.want
		if want == "" {
			want = span // a trace of its own: its id
		}
		if got != want || c.requestID == "" && got != span {
			t.Errorf("%s: X-Request-Id %q, want %q (the request's trace %s)", c.name, got, want, span)
		}
	}
}
