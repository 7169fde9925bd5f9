package apiit

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"rimflow/api"
	"rimflow/workflows"
)

// callCounter records the Temporal calls a client makes (gRPC methods, in order).
type callCounter struct {
	mu    sync.Mutex
	calls []string
}

func (c *callCounter) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	c.mu.Lock()
	c.calls = append(c.calls, method[strings.LastIndex(method, "/")+1:])
	c.mu.Unlock()
	return invoker(ctx, method, req, reply, cc, opts...)
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
func TestOneTemporalCallPerDecision(t *testing.T) {
	s := newStack(t, "")
	counter := &callCounter{}
	c, err := client.Dial(client.Options{HostPort: s.frontend, Namespace: s.ns,
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(counter.intercept)}}})
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
		var st workflows.BillState
		got = counter.during(func() {
			st, err = bills.Approve(ctx, ref, workflows.ApproveRequest{Role: role, Decision: workflows.DecisionApprove, Approver: "a-" + role})
		})
		if err != nil || len(st.Approvals) == 0 || st.Approvals[len(st.Approvals)-1].Role != role {
			t.Fatalf("approve %s: %+v %v", role, st.Approvals, err)
		}
		expect("approve "+role, got, "UpdateWorkflowExecution")
	}
	s.waitStage(t, ref.ID(), workflows.StageAwaitingVoucher)
	var st workflows.BillState
	got = counter.during(func() { st, err = bills.Voucher(ctx, ref, voucherFor("V-CALLS-1")) })
	if err != nil || st.Stage != workflows.StageCompleted {
		t.Fatalf("voucher: %s %v", st.Stage, err)
	}
	expect("voucher (its vouchId's claim, then the update)", got, "StartWorkflowExecution", "UpdateWorkflowExecution")

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
}
