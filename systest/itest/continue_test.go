package itest

import (
	"context"
	"flag"
	"fmt"
	"os"
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

// long runs TestLongBillContinuesAsNew at its full sizes as well (bench and resilience take the same flag).
var long = flag.Bool("long", os.Getenv("RIMFLOW_LONG") == "1", "run TestLongBillContinuesAsNew at its full sizes: 300 return rounds, 1,000 collect URL requests (also RIMFLOW_LONG=1)")

// longBillSizes is how long the bill lives and how soon it must continue as new.
type longBillSizes struct {
	billID  string
	rounds  int   // returns and re-collects, one invoice each
	urls    int   // collect URL requests, eight at a time
	limit   int   // events per run: small, so the bill continues many times
	slack   int64 // one round's or one update burst's events past the limit before the next quiet point
	minRuns int   // runs the bill must have had at least: well below what its events over limit give
	record  bool  // a release's continued_* histories come from this variant: the one a plain run runs (docs/releases.md)
}

// A bill that lives long — many returns and re-collects, then many collect URL requests, some at
// the same time — continues as new at quiet points: it completes, no run's history grows past the
// limit (plus the one step that crosses it), no update is lost across a continue-as-new, and the
// cloud's ledger holds every invoice the user imported, used, once. The short variant proves it
// with a low history limit, so a few rounds already continue as new several times; the long one
// (-long) is the bill that lives for months.
func TestLongBillContinuesAsNew(t *testing.T) {
	t.Run("short", func(t *testing.T) {
		// 10 rounds and 100 updates at 100 events a run made 7 runs (the long sizes: 42, floor
		// 10); concurrent updates vary how many events a run holds at its quiet point, so five is
		// the floor here. Each phase must continue as new at least once besides (checked).
		longBill(t, longBillSizes{billID: "LONG-S", rounds: 10, urls: 100, limit: 100, slack: 80, minRuns: 5, record: true})
	})
	t.Run("long", func(t *testing.T) {
		if !*long {
			skips.Skip(t, "needs -long (300 rounds and 1,000 updates, minutes)", "go test ./systest/itest/ -run TestLongBillContinuesAsNew -long")
		}
		longBill(t, longBillSizes{billID: "LONG-1", rounds: 300, urls: 1000, limit: 400, slack: 80, minRuns: 10})
	})
}

func longBill(t *testing.T, z longBillSizes) {
	rounds, urls, limit, slack := z.rounds, z.urls, z.limit, z.slack
	s := newStack(t, 11, lenient)
	in := input(z.billID, workflows.Options{Approvals: []string{"supervisor"}, HistoryLimit: limit})
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
	afterRounds := currentRun(ctx, t, id)
	if afterRounds == run.GetRunID() {
		t.Errorf("%d return rounds and the bill still runs its first run: it did not continue as new", rounds)
	}

	// The collect URL requests, eight at a time: each must be answered, none lost to a
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

	if currentRun(ctx, t, id) == afterRounds {
		t.Errorf("%d collect URL requests and the bill did not continue as new", urls)
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
	if n := len(runs.Executions); n < z.minRuns {
		t.Errorf("%d run(s): the bill did not continue as new as its history grew", n)
	}
	for _, e := range runs.Executions {
		if e.HistoryLength > int64(limit)+slack {
			t.Errorf("run %s holds %d events, past the limit %d (+%d)", e.Execution.RunId, e.HistoryLength, limit, slack)
		}
	}
	t.Logf("%d runs, longest %d events", len(runs.Executions), longest(runs.Executions))

	// The cloud: every imported invoice bound to this bill once and used.
	b := s.bill(z.billID)
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
	if !z.record {
		return
	}
	recordRun(t, id, run.GetRunID(), "continued_first_run")
	record(t, id, "continued_final_run")
}

// currentRun is the run id of the bill's latest run.
func currentRun(ctx context.Context, t *testing.T, id string) string {
	t.Helper()
	d, err := tc.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

func longest(execs []*workflowpb.WorkflowExecutionInfo) int64 {
	var n int64
	for _, e := range execs {
		n = max(n, e.HistoryLength)
	}
	return n
}
