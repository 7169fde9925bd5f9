package apiit

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"rimflow/api"
	"rimflow/internal/callheader"
	"rimflow/workflows"
)

// callCounter records the Temporal calls a client makes (gRPC methods, in order) and the
// answers' payloads of the updates among them.
type callCounter struct {
	mu      sync.Mutex
	calls   []string
	answers [][]byte // UpdateWorkflowExecution outcomes' success payloads, as sent
}

func (c *callCounter) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	c.mu.Lock()
	c.calls = append(c.calls, method[strings.LastIndex(method, "/")+1:])
	c.mu.Unlock()
	err := invoker(ctx, method, req, reply, cc, opts...)
	if r, ok := reply.(*workflowservice.UpdateWorkflowExecutionResponse); ok && err == nil {
		for _, p := range r.GetOutcome().GetSuccess().GetPayloads() {
			c.mu.Lock()
			c.answers = append(c.answers, p.GetData())
			c.mu.Unlock()
		}
	}
	return err
}

// lastAnswer is the payload of the last update answered.
func (c *callCounter) lastAnswer() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.answers) == 0 {
		return nil
	}
	return c.answers[len(c.answers)-1]
}

// during returns the calls f made.
func (c *callCounter) during(f func()) []string {
	c.mu.Lock()
	c.calls = nil
	c.mu.Unlock()
	f()
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// TestOneTemporalCallPerDecision: a start is one call to Temporal (update-with-start, answered
// from the update's result) and a decision one call (the update, answered from its result): no
// describe or query after them. The voucher also claims its vouchId (a workflow of its own).
// Each decision's answer is the bill's Decision, asked in the update's header: a few hundred
// bytes, where the whole state (the query's answer, and the answer to an update without the
// header) carries the invoices, approvals and history.
func TestOneTemporalCallPerDecision(t *testing.T) {
	s := newStack(t, "")
	counter := &callCounter{}
	copts := client.Options{HostPort: s.frontend, Namespace: s.ns,
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(counter.intercept)}}}
	callheader.Install(&copts) // as every rimflow program's client (temporalclient.Dial)
	c, err := client.Dial(copts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	bills := api.NewBills(c, s.ns, workflows.DefaultTaskQueue)
	ctx := t.Context()
	expect := func(what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: Temporal calls %v, want %v", what, got, want)
		}
	}

	var resp api.StartResponse
	var created bool
	got := counter.during(func() { resp, created, err = bills.Start(ctx, bill("CALLS-1", "supervisor", "finance")) })
	if err != nil || !created || resp.Stage != workflows.StageCollecting || resp.Collect.PC == "" || resp.View.PC == "" {
		t.Fatalf("start: %+v created=%v %v", resp, created, err)
	}
	expect("start", got, "ExecuteMultiOperation")
	ref := api.BillRef{Resource: "OA", BillID: "CALLS-1"}
	got = counter.during(func() { resp, created, err = bills.Start(ctx, bill("CALLS-1", "supervisor", "finance")) })
	if err != nil || created || resp.Collect.PC == "" {
		t.Fatalf("start again (joins): %+v created=%v %v", resp, created, err)
	}
	expect("start joining the running bill", got, "ExecuteMultiOperation")

	s.collect(t, eventCodeOf(t, resp.Collect.PC), 1)
	s.waitStage(t, ref.ID(), workflows.StageAwaitingSupervisor)
	for _, role := range []string{"supervisor", "finance"} {
		var d workflows.Decision
		got = counter.during(func() {
			d, err = bills.Approve(ctx, ref, workflows.ApproveRequest{Role: role, Decision: workflows.DecisionApprove, Approver: "a-" + role})
		})
		if err != nil || d.ID != ref.ID() || d.InvoiceCount != 1 || d.Stage == workflows.StageAwaitingSupervisor {
			t.Fatalf("approve %s: %+v %v", role, d, err)
		}
		expect("approve "+role, got, "UpdateWorkflowExecution")
		compactAnswer(t, "approve "+role, counter.lastAnswer())
	}
	full, err := bills.State(ctx, ref)
	if err != nil || len(full.Approvals) != 2 {
		t.Fatalf("state after the approvals: %+v %v", full.Approvals, err)
	}
	s.waitStage(t, ref.ID(), workflows.StageAwaitingVoucher)
	var st workflows.Decision
	got = counter.during(func() { st, err = bills.Voucher(ctx, ref, voucherFor("V-CALLS-1")) })
	if err != nil || st.Stage != workflows.StageCompleted {
		t.Fatalf("voucher: %s %v", st.Stage, err)
	}
	expect("voucher (its vouchId's claim, then the update)", got, "StartWorkflowExecution", "UpdateWorkflowExecution")
	compactAnswer(t, "voucher", counter.lastAnswer())
	if st.Voucher == nil || st.Voucher.VouchNo != "V-CALLS-1" {
		t.Errorf("the voucher's answer names no voucher: %+v", st)
	}

	// A bill cancelled while collecting: the cancel is one call too.
	_, _, err = bills.Start(ctx, bill("CALLS-2"))
	if err != nil {
		t.Fatal(err)
	}
	got = counter.during(func() {
		st, err = bills.Cancel(ctx, api.BillRef{Resource: "OA", BillID: "CALLS-2"}, workflows.CancelRequest{Reason: "test"})
	})
	if err != nil || st.Stage != workflows.StageCancelled {
		t.Fatalf("cancel: %s %v", st.Stage, err)
	}
	expect("cancel", got, "UpdateWorkflowExecution")
	compactAnswer(t, "cancel", counter.lastAnswer())

	// An update without the header (Temporal Web, the CLI, an API of an earlier release) is
	// answered the whole state, so a caller that knows no Decision reads what it always read.
	plain, err := client.Dial(client.Options{HostPort: s.frontend, Namespace: s.ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plain.Close)
	if _, _, err := bills.Start(ctx, bill("CALLS-3")); err != nil {
		t.Fatal(err)
	}
	h, err := plain.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: api.BillRef{Resource: "OA", BillID: "CALLS-3"}.WorkflowID(),
		UpdateName: workflows.UpdateCancel, Args: []any{workflows.CancelRequest{Reason: "test", Actor: &workflows.Actor{Client: "ops"}}},
		WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		t.Fatal(err)
	}
	var whole workflows.BillState
	if err := h.Get(ctx, &whole); err != nil || whole.Stage != workflows.StageCancelled || whole.History == nil || whole.Invoices == nil {
		t.Fatalf("an update without the header: %+v %v", whole, err)
	}
}

// compactAnswer checks that an update's answer is a Decision: none of the whole state's lists,
// and small.
func compactAnswer(t *testing.T, what string, raw []byte) {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("%s: the update's answer %q: %v", what, raw, err)
	}
	for _, whole := range []string{"invoices", "approvals", "history", "bill"} {
		if _, ok := fields[whole]; ok {
			t.Errorf("%s: the update answered the whole state (%q, %d bytes), not its Decision", what, whole, len(raw))
		}
	}
	if _, ok := fields["stage"]; !ok {
		t.Errorf("%s: the update's answer has no stage: %s", what, raw)
	}
}
