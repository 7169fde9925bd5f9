package itest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"rimflow/invoicecloud"
	"rimflow/systest/skips"
	"rimflow/workflows"
)

// A bill that lives long — 300 returns and re-collects, then 1,000 collect URL requests, some at
// the same time — continues as new at quiet points: it completes, no run's history grows past the
// limit (plus the one step that crosses it), no update is lost across a continue-as-new, and the
// cloud's ledger holds every invoice the user imported, used, once.
func TestLongBillContinuesAsNew(t *testing.T) {
	if testing.Short() {
		skips.Skip(t, "-short (300 rounds and 1,000 updates)", "go test ./systest/itest/ -run TestLongBillContinuesAsNew")
	}
	const (
		rounds = 300
		urls   = 1000
		limit  = 400 // events per run: small, so the bill continues many times
		slack  = 80  // one round's or one update burst's events past the limit before the next quiet point
	)
	s := newStack(t, 11, lenient)
	in := input("LONG-1", workflows.Options{Approvals: []string{"supervisor"}, HistoryLimit: limit})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.BillWorkflowID(in.Resource, in.BillID), TaskQueue: s.queue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.BillWorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	id := run.GetID()

	var imported []string
	for round := 1; round <= rounds; round++ {
		// After a delivery the linkKey is spent: each round's URL is a fresh eventCode.
		url := s.collectURL(id)
		imported = append(imported, s.collect(url.EventCode, 1)...)
		waitStage(t, id, workflows.StageAwaitingSupervisor)
		if round < rounds {
			mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionReturn))
		}
	}
	mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionReturn))
	waitStage(t, id, workflows.StageCollecting)

	// 1,000 collect URL requests, eight at a time: each must be answered, none lost to a
	// continue-as-new that happens between them.
	var wg sync.WaitGroup
	errs := make(chan error, urls)
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if _, err := update[workflows.CollectURLResponse](t, id, workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: "pc"}); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < urls; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("collectUrl: %v", err)
	}

	mustUpdate(t, id, workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
	mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
	waitStage(t, id, workflows.StageAwaitingVoucher)
	mustUpdate(t, id, workflows.UpdateVoucher, voucher())
	var final workflows.BillState
	if err := tc.GetWorkflow(ctx, id, "").Get(ctx, &final); err != nil {
		t.Fatalf("result: %v", err)
	}
	if final.Stage != workflows.StageCompleted || final.InvoiceCount != rounds {
		t.Fatalf("final stage %s with %d invoices, want completed with %d", final.Stage, final.InvoiceCount, rounds)
	}
	if rec := len(final.Approvals); rec == 0 || final.Approvals[rec-1].Round != rounds+1 {
		t.Errorf("approval records do not reach round %d: %+v", rounds+1, final.Approvals[max(0, rec-3):])
	}

	// Every run of the bill: how many, and none longer than the limit allows.
	runs, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = '%s'", id), PageSize: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(runs.Executions); n < 10 {
		t.Errorf("%d run(s): the bill did not continue as new as its history grew", n)
	}
	for _, e := range runs.Executions {
		if e.HistoryLength > limit+slack {
			t.Errorf("run %s holds %d events, past the limit %d (+%d)", e.Execution.RunId, e.HistoryLength, limit, slack)
		}
	}
	t.Logf("%d runs, longest %d events", len(runs.Executions), longest(runs.Executions))

	// The cloud: every imported invoice bound to this bill once and used.
	b := s.bill("LONG-1")
	if len(b.Invoices) != rounds {
		t.Errorf("the cloud holds %d invoices on the bill, want %d", len(b.Invoices), rounds)
	}
	for _, sn := range imported {
		if got := s.invoiceStatus(sn); got != invoicecloud.StatusUsed {
			t.Errorf("invoice %s status %s, want 60", sn, got)
		}
	}
	if c := b.Calls; c.BillSave.Used.Applied != 1 || c.VoucherSave.Applied != 1 || c.BillSave.InUse.Refused != 0 {
		t.Errorf("calls at the cloud: %+v", c)
	}
	// The first run (it ends by continuing as new) and the last (it starts from the carried state).
	recordRun(t, id, run.GetRunID(), "continued_first_run")
	record(t, id, "continued_final_run")
}

func longest(execs []*workflowpb.WorkflowExecutionInfo) int64 {
	var n int64
	for _, e := range execs {
		n = max(n, e.HistoryLength)
	}
	return n
}
