package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"rimflow/devstack/harness"
	"rimflow/internal/tracing"
)

// One trace per bill: POST /v1/bills is the root, the workflow runs in it, and its activities
// and their Invoice Cloud calls are its descendants; a decision (an approval, the voucher) is its
// own trace, linked to the bill's. No span carries business data (the bill's id, number or tax
// number). The worker's lines logged in an activity carry the bill's trace id.
func TestOneTracePerBill(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracing.Use(tp)
	t.Cleanup(func() { tracing.Off(); _ = tp.Shutdown(context.Background()) })

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	logs := &lockedBuffer{}
	workerLog := slog.New(tracing.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	s, err := harness.Start(ctx, harness.Options{DataDir: t.TempDir(), TemporalAddr: "127.0.0.1:0", DisableUI: true,
		CloudAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Seed: 5, WorkerLogger: workerLog})
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	defer s.Close()
	const billID = "TRACE-1"
	if _, err := (harness.Demo{APIURL: s.APIURL(), CloudURL: s.CloudURL(), BillID: billID, Wait: time.Minute}).Run(ctx, io.Discard); err != nil {
		t.Fatal(err)
	}

	spans := exp.GetSpans()
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, sp := range spans {
		byID[sp.SpanContext.SpanID()] = sp
	}
	var root *tracetest.SpanStub
	for i, sp := range spans {
		if sp.Name == "POST /v1/bills" {
			root = &spans[i]
		}
	}
	if root == nil {
		t.Fatalf("no span POST /v1/bills among %d", len(spans))
	}
	// The names in the bill's trace, and each one's chain of parents up to the root.
	chain := func(sp tracetest.SpanStub) []string {
		var out []string
		for {
			out = append(out, sp.Name)
			p, ok := byID[sp.Parent.SpanID()]
			if !sp.Parent.IsValid() || !ok {
				return out
			}
			sp = p
		}
	}
	billTrace := root.SpanContext.TraceID()
	inBill := map[string][][]string{}
	var decisions []string
	linked := map[trace.TraceID]bool{} // decision traces whose handler span links to the bill's
	for _, sp := range spans {
		if sp.SpanContext.TraceID() == billTrace {
			inBill[sp.Name] = append(inBill[sp.Name], chain(sp))
		} else if strings.HasPrefix(sp.Name, "POST /v1/bills/{resource}/{billId}/") {
			decisions = append(decisions, sp.Name)
		}
		if sp.SpanContext.TraceID() != billTrace && strings.HasPrefix(sp.Name, "HandleUpdate:") &&
			slices.ContainsFunc(sp.Links, func(l sdktrace.Link) bool { return l.SpanContext.TraceID() == billTrace }) {
			linked[sp.SpanContext.TraceID()] = true
		}
		for _, a := range sp.Attributes {
			if v := a.Value.Emit(); strings.Contains(v, billID) || strings.Contains(v, harness.DemoTaxNo) {
				t.Errorf("span %s carries business data: %s=%s", sp.Name, a.Key, v)
			}
		}
	}
	for _, want := range [][]string{
		{"RunWorkflow:BillWorkflow"},
		{"StartActivity:GetEventCode", "RunWorkflow:BillWorkflow"},
		{"RunActivity:GetEventCode", "StartActivity:GetEventCode", "RunWorkflow:BillWorkflow"},
		{"invoicecloud getEventCode", "RunActivity:GetEventCode"},
		{"RunActivity:BindInvoices", "StartActivity:BindInvoices", "RunWorkflow:BillWorkflow"},
		{"invoicecloud billSave", "RunActivity:BindInvoices"},
	} {
		chains, ok := inBill[want[0]]
		if !ok {
			t.Errorf("the bill's trace has no %s span; it has %v", want[0], slices.Sorted(mapsKeys(inBill)))
			continue
		}
		if !slices.ContainsFunc(chains, func(got []string) bool {
			return len(got) >= len(want) && slices.Equal(got[:len(want)], want) && got[len(got)-1] == "POST /v1/bills"
		}) {
			t.Errorf("%s descends from %v; want %v … POST /v1/bills", want[0], chains, want)
		}
	}
	if !slices.Contains(decisions, "POST /v1/bills/{resource}/{billId}/approvals") || !slices.Contains(decisions, "POST /v1/bills/{resource}/{billId}/voucher") {
		t.Errorf("the decisions are not traces of their own: %v", decisions)
	}
	// Each decision's trace leads to the bill: its update handler's span links to the bill's run.
	for _, sp := range spans {
		if sp.SpanContext.TraceID() != billTrace && strings.HasPrefix(sp.Name, "POST /v1/bills/{resource}/{billId}/") &&
			!linked[sp.SpanContext.TraceID()] {
			t.Errorf("the decision %s's trace has no span linked to the bill's trace", sp.Name)
		}
	}

	// The worker's lines logged in an activity (each cloud call's) carry the bill's trace id.
	var calls, inTrace int
	for _, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
		var rec struct{ Msg, Call, TraceID string }
		if json.Unmarshal(line, &rec) != nil || rec.Msg != "invoicecloud call" {
			continue
		}
		calls++
		if rec.TraceID == billTrace.String() {
			inTrace++
		}
		if rec.TraceID == "" {
			t.Errorf("a cloud call's log line has no traceId: %s", line)
		}
	}
	if calls == 0 || inTrace == 0 {
		t.Errorf("%d cloud-call log lines, %d in the bill's trace; want the bill's calls in it", calls, inTrace)
	}
}

// lockedBuffer is a log sink the worker's goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
