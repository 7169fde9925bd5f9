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
// start and again mid-run). Every bill still completes, each invoice bound exactly once.
// The second round loses the answers instead (the cloud applies the call, then answers 5xx),
// the case the deterministic messageId exists for.
func TestCloudFaults(t *testing.T) {
	for _, round := range []struct {
		name       string
		afterApply bool
	}{{"5xx before applying", false}, {"5xx after applying (lost answers)", true}} {
		t.Run(round.name, func(t *testing.T) {
			n := scale(8, 60)
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(scale(4, 12))*time.Minute)
			defer cancel()
			env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 21})
			startWorker(t, ctx, env, "", nil)
			// The user takes a moment on the collect page: the worker's socket is open by then, so the
			// drop fault (100 ms after opening) bites and the watcher must reconnect to get the import.
			d := &kit.Driver{Env: env, Resource: "FAULT", Invoices: 2, StepTimeout: 3 * time.Minute,
				ThinkTime: 400 * time.Millisecond}
			// One clean bill first, so the worker holds a token the fault then revokes.
			if err := d.Life(ctx, "warm"); err != nil {
				t.Fatalf("bill before the faults: %v", err)
			}
			faults := simulator.Faults{ErrorRate: 0.3, FailAfterApply: round.afterApply, LatencyMs: 300,
				DropSockets: true, ExpireTokens: true}
			if err := env.Sim.SetFaults(faults); err != nil {
				t.Fatal(err)
			}
			var f fleet
			go func() { // tokens expire again while bills are in flight
				if waitFor(ctx, func() bool { return int(f.parked.Load()) >= n/2 }) == nil {
					_ = env.Sim.SetFaults(faults)
				}
			}()
			ids, errs := f.run(ctx, d, "f", n, 8)
			env.Sim.ClearFaults()
			reportErrors(t, "bill under cloud faults", errs)
			rep, err := kit.CheckLedger(env.Sim, keysOf(d, append(ids, "warm")), true)
			if err != nil {
				t.Fatalf("ledger after the faults: %v", err)
			}
			st := env.Sim.Stats()
			if st.FaultsInjected == 0 || st.SocketsDropped == 0 || st.TokenRejections == 0 {
				t.Errorf("the faults did not bite: %d 5xx, %d sockets dropped, %d token rejections",
					st.FaultsInjected, st.SocketsDropped, st.TokenRejections)
			}
			t.Logf("%d bills completed through %d injected 5xx, %d dropped sockets, %d rejected tokens (%d token fetches), "+
				"%d polls; ledger: %d invoices each bound once; cloud calls %v",
				rep.Completed, st.FaultsInjected, st.SocketsDropped, st.TokenRejections, st.TokensIssued.Access,
				st.Polls, rep.Invoices, st.MessageTypes)
		})
	}
}

// TestBusinessErrorThenRetry: a serialNo already bound to another bill is a business error. The
// bill ends in `failed` with a reason an operator understands (the serialNo, that it is bound
// elsewhere); after the cause is fixed (the other bill is cancelled, which releases the invoice)
// `retry` binds it and the bill completes.
func TestBusinessErrorThenRetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 31})
	startWorker(t, ctx, env, "", nil)
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
	raw, _ := json.Marshal(pooled.Invoice)
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
	if st.Error.Step == "" || !strings.HasPrefix(st.Error.Code, "InvoiceCloud.") {
		t.Errorf("failure view lacks the step or the cloud's code: %+v", st.Error)
	}
	if x, _ := env.Sim.Invoice(serial); x.BillID != "A" {
		t.Fatalf("invoice %s moved to %q while B failed", serial, x.BillID)
	}

	// A retry before the cause is fixed fails again, visibly.
	if _, err := env.Bills.Retry(ctx, refB, workflows.RetryRequest{By: "ops"}); err == nil {
		t.Log("retry accepted; the bind fails again until the invoice is released")
	}
	waitStage(t, ctx, env, refB.Resource, refB.BillID, workflows.StageFailed)

	// Fix: bill A is cancelled, its invoices are released; then ops retry B.
	if _, err := env.Bills.Cancel(ctx, d.Ref("A"), workflows.CancelRequest{Reason: "duplicate claim", By: "ops"}); err != nil {
		t.Fatalf("cancel bill A: %v", err)
	}
	if err := waitFor(ctx, func() bool { x, _ := env.Sim.Invoice(serial); return x.Status == "1" }); err != nil {
		t.Fatalf("invoice %s not released after cancelling A", serial)
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
