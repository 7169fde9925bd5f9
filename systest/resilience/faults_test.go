package resilience

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"rimflow/bench/kit"
	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// TestCloudFaults: the cloud answers 30 % of business calls with 5xx, adds 300 ms to every
// call, drops every socket 100 ms after it opens and expires every token issued so far (at the
// start and again mid-run). Every bill still ends as planned, no delivery is lost, and the
// cloud's counters show each step applied exactly as often as the bill's options require.
// The second round loses the answers instead (the cloud applies the call, then answers 5xx),
// the case the deterministic messageId exists for: a retry must be answered from the
// idempotency store (replayed), never sent again under a new messageId (unchanged).
func TestCloudFaults(t *testing.T) {
	t.Parallel() // its own server, simulator and worker: it runs beside the other cases
	for _, round := range []struct {
		name       string
		afterApply bool
	}{{"5xx before applying", false}, {"5xx after applying (lost answers)", true}} {
		t.Run(round.name, func(t *testing.T) {
			n := scale(10, 60)
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(scale(8, 20))*time.Minute)
			defer cancel()
			env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 21})
			startWorker(t, ctx, env, "")
			// The user takes a moment on the collect page: the worker's socket is open by then, so the
			// drop fault (100 ms after opening) bites and the watcher must reconnect to get the import.
			d := &kit.Driver{Env: env, Resource: "FAULT", StepTimeout: 5 * time.Minute, ThinkTime: 400 * time.Millisecond}
			// One clean bill first, so the worker holds a token the fault then revokes.
			if err := d.Life(ctx, "warm"); err != nil {
				t.Fatalf("bill before the faults: %v", err)
			}
			faults := simulator.Faults{ErrorRate: 0.3, FailAfterApply: round.afterApply, LatencyMs: 300,
				DropSockets: true, ExpireTokens: true}
			simFaults(t, env.Sim, faults)
			f := newFleet(d, "")
			again := make(chan error, 1)
			go func() { // tokens expire again while bills are in flight
				err := waitFor(ctx, 10*time.Minute, "half of the bills bound", func() bool { return int(f.bound.Load()) >= n/2 })
				if err == nil {
					err = env.Sim.SetFaults(faults)
				}
				again <- err
			}()
			errs := f.run(ctx, "f", n, n)
			env.Sim.ClearFaults()
			if err := <-again; err != nil {
				t.Errorf("second token expiry: %v", err)
			}
			reportErrors(t, "bill under cloud faults", errs)
			rep := f.verify(t, ctx, env)
			if rep.lost != 0 {
				t.Errorf("%d deliveries lost under cloud faults (bills %s); want 0: a dropped socket's messages stay queued",
					rep.lost, idsOf(rep.lostBills))
			}
			st := env.Sim.Stats()
			if st.FaultsInjected == 0 || st.SocketsDropped == 0 || st.TokenRejections == 0 {
				t.Errorf("the faults did not bite: %d 5xx, %d sockets dropped, %d token rejections",
					st.FaultsInjected, st.SocketsDropped, st.TokenRejections)
			}
			replayed := st.Calls.BillSave.InUse.Replayed + st.Calls.BillSave.Used.Replayed + st.Calls.VoucherSave.Replayed +
				st.Calls.BillDelete.Replayed + st.Calls.Deduction.Replayed
			if round.afterApply && replayed == 0 {
				t.Errorf("no lost answer was retried (0 replayed calls): the round proves nothing")
			}
			t.Logf("%d bills (%v) through %d injected 5xx, %d dropped sockets, %d rejected tokens (%d token fetches), "+
				"%d polls; %d retries answered from the idempotency store; deliveries lost %d; %s",
				rep.ledger.Bills, rep.byEnd, st.FaultsInjected, st.SocketsDropped, st.TokenRejections, st.TokensIssued.Access,
				st.Polls, replayed, rep.lost, rep.records())
		})
	}
}

// TestBusinessErrorThenRetry: a serialNo already bound to another bill is a business error. The
// bill ends in `failed` with a reason an operator understands (the serialNo, the bill holding it,
// the cloud's code); a retry before the cause is fixed runs the bind again and answers its
// failure (the cloud refuses a second bind); after the cause is fixed (the other bill is
// cancelled, which releases the invoice) `retry` binds it and the bill completes.
func TestBusinessErrorThenRetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 31})
	startWorker(t, ctx, env, "")
	d := &kit.Driver{Env: env, Resource: "BIZ", Invoices: 1, StepTimeout: 2 * time.Minute}

	// Bill A holds invoice X.
	if err := d.Park(ctx, "A"); err != nil {
		t.Fatalf("bill A: %v", err)
	}
	cloudA, _ := env.Sim.Bill("BIZ", "A")
	if len(cloudA.Invoices) != 1 {
		t.Fatalf("bill A has %d invoices in the cloud, want 1", len(cloudA.Invoices))
	}
	serial := cloudA.Invoices[0].SerialNo
	pooled, ok := env.Sim.Invoice(serial)
	if !ok {
		t.Fatalf("invoice %s not in the pool", serial)
	}
	var inv invoicecloud.Invoice
	raw, err := json.Marshal(pooled.Invoice)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &inv); err != nil {
		t.Fatalf("invoice record: %v", err)
	}

	// Bill B is handed the same invoice (the ERP forwards it from its browser).
	if _, err := d.Start(ctx, "B"); err != nil {
		t.Fatalf("start bill B: %v", err)
	}
	refB := d.Ref("B")
	if _, err := env.Bills.Invoices(ctx, refB, workflows.InvoicesSignal{InvoiceData: []invoicecloud.Invoice{inv}}); err != nil {
		t.Fatalf("forward the invoice to bill B: %v", err)
	}
	st := waitStage(t, ctx, env, refB.Resource, refB.BillID, workflows.StageFailed)
	if st.Error == nil {
		t.Fatalf("bill B is failed without a reason: %+v", st)
	}
	reason := st.Error.Reason
	t.Logf("bill B failed: step %q code %q: %s", st.Error.Step, st.Error.Code, reason)
	// The operator needs: which invoice, that another bill holds it, and which bill.
	if !strings.Contains(reason, serial) || !strings.Contains(reason, "BIZ/A") || !strings.Contains(reason, "2003") {
		t.Errorf("the reason should name the serialNo %s, the bill holding it (BIZ/A) and the cloud's code: %q", serial, reason)
	}
	if st.Error.Step != "bindInvoices" || st.Error.Code != "InvoiceCloud.2003" {
		t.Errorf("failure view: step %q code %q, want bindInvoices InvoiceCloud.2003", st.Error.Step, st.Error.Code)
	}
	if x, _ := env.Sim.Invoice(serial); x.BillID != "A" {
		t.Fatalf("invoice %s moved to %q while B failed", serial, x.BillID)
	}
	refused := func() int { b, _ := env.Sim.Bill("BIZ", "B"); return b.Calls.BillSave.InUse.Refused }
	if n := refused(); n != 1 {
		t.Fatalf("the cloud refused %d binds of B, want 1", n)
	}
	firstFailure := st.Error.At

	// A retry before the cause is fixed runs the bind again and answers its outcome: the cloud's
	// refusal, again, visibly.
	if _, err := env.Bills.Retry(ctx, refB, workflows.RetryRequest{By: "ops"}); err == nil ||
		!strings.Contains(err.Error(), "2003") || !strings.Contains(err.Error(), serial) {
		t.Fatalf("retry before the fix answered %v; want the cloud's refusal again (2003, naming %s)", err, serial)
	}
	if err := waitFor(ctx, time.Minute, "the retried bind refused by the cloud", func() bool { return refused() == 2 }); err != nil {
		t.Fatal(err)
	}
	st = waitStage(t, ctx, env, refB.Resource, refB.BillID, workflows.StageFailed)
	if st.Error == nil || !st.Error.At.After(firstFailure) || st.Error.Code != "InvoiceCloud.2003" {
		t.Fatalf("after the early retry: %+v, want a second failure (after %s) with code InvoiceCloud.2003", st.Error, firstFailure)
	}

	// Fix: bill A is cancelled, its invoices are released; then ops retry B.
	if _, err := env.Bills.Cancel(ctx, d.Ref("A"), workflows.CancelRequest{Reason: "duplicate claim", By: "ops"}); err != nil {
		t.Fatalf("cancel bill A: %v", err)
	}
	if err := waitFor(ctx, time.Minute, "invoice "+serial+" released by cancelling A", func() bool {
		x, _ := env.Sim.Invoice(serial)
		return x.Status == "1" && x.BillID == ""
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Bills.Retry(ctx, refB, workflows.RetryRequest{By: "ops"}); err != nil {
		t.Fatalf("retry bill B: %v", err)
	}
	if err := d.Drain(ctx, "B"); err != nil {
		t.Fatalf("bill B after the retry: %v", err)
	}
	x, _ := env.Sim.Invoice(serial)
	var trail []string
	for _, h := range x.History {
		trail = append(trail, fmt.Sprintf("%s %s/%s %s", h.Event, h.Resource, h.BillID, h.Status))
	}
	if x.BillID != "B" || x.Status != "60" || !x.Accounted {
		t.Errorf("invoice %s: bill %q status %s accounted %v, want B 60 accounted; history %v", serial, x.BillID, x.Status, x.Accounted, trail)
	}
	if _, err := kit.CheckBills(env.Sim, []kit.BillExpectation{
		{Resource: "BIZ", BillID: "A", Serials: []string{serial}, End: workflows.StageCancelled, Applied: kit.Applied{Bind: 1, Unbind: 1}},
		{Resource: "BIZ", BillID: "B", Serials: []string{serial}, End: workflows.StageCompleted,
			Applied: kit.Applied{Bind: 1, MarkUsed: 1, Voucher: 1}, BindsRefused: 2},
	}); err != nil {
		t.Errorf("the cloud's records of A and B:\n%v", err)
	}
	t.Logf("invoice %s history: %s", serial, strings.Join(trail, " → "))
}

// waitStage polls the bill's state until it reaches want.
func waitStage(t *testing.T, ctx context.Context, env *kit.Env, resource, billID string, want workflows.Stage) workflows.BillState {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var st workflows.BillState
	var err error
	ref := kit.Driver{Env: env, Resource: resource}
	for {
		st, err = env.Bills.State(ctx, ref.Ref(billID))
		if err == nil && st.Stage == want {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("bill %s/%s never reached %s (now %s, err %v)", resource, billID, want, st.Stage, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
