package e2e

import (
	"context"
	"io"
	"slices"
	"strings"
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
// own trace. No span carries business data (the bill's id, number or tax number).
func TestOneTracePerBill(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracing.Use(tp)
	t.Cleanup(func() { tracing.Off(); _ = tp.Shutdown(context.Background()) })

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s, err := harness.Start(ctx, harness.Options{DataDir: t.TempDir(), TemporalAddr: "127.0.0.1:0", DisableUI: true,
		CloudAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Seed: 5})
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
	inBill := map[string][][]string{}
	var decisions []string
	for _, sp := range spans {
		if sp.SpanContext.TraceID() == root.SpanContext.TraceID() {
			inBill[sp.Name] = append(inBill[sp.Name], chain(sp))
		} else if strings.HasPrefix(sp.Name, "POST /v1/bills/{resource}/{billId}/") {
			decisions = append(decisions, sp.Name)
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
