package resilience

import (
	"context"
	"testing"
	"time"

	"rimflow/bench/kit"
)

// TestWorkerKilled: the worker process is killed with SIGKILL while bills are in flight (some
// starting, some collecting, some in approval), and a new one is started. Every bill completes,
// and the simulator's ledger shows each invoice bound exactly once to its bill and no serialNo
// bound to two bills.
func TestWorkerKilled(t *testing.T) {
	n := scale(20, 200)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(scale(4, 12))*time.Minute)
	defer cancel()
	env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 11})
	w := startWorker(t, ctx, env, "", nil)
	d := &kit.Driver{Env: env, Resource: "KILL", Invoices: 2, StepTimeout: 3 * time.Minute}

	var f fleet
	struck := make(chan struct{})
	var inFlight int
	go func() {
		defer close(struck)
		if waitFor(ctx, func() bool { return int(f.parked.Load()) >= n/2 }) != nil {
			return
		}
		inFlight = n - int(f.completed.Load())
		if err := w.Kill(); err != nil {
			t.Errorf("kill worker: %v", err)
		}
		time.Sleep(time.Second) // the cluster notices nothing; work piles up for the next worker
		startWorker(t, ctx, env, "", nil)
	}()
	ids, errs := f.run(ctx, d, "k", n, 10)
	<-struck
	reportErrors(t, "bill after the worker was killed", errs)
	if inFlight == 0 {
		t.Fatalf("the worker was not killed while bills were in flight")
	}
	rep, err := kit.CheckLedger(env.Sim, keysOf(d, ids), true)
	if err != nil {
		t.Fatalf("ledger after the kill: %v", err)
	}
	t.Logf("worker SIGKILLed with %d of %d bills in flight; %d completed (%d re-imported by the user: their socket "+
		"delivery died with the worker), ledger: %d bills, %d invoices each bound once",
		inFlight, n, f.completed.Load(), d.Reimports.Load(), rep.Bills, rep.Invoices)
}

// TestServerRestarted: the embedded Temporal server is stopped and started again on the same
// data dir in the middle of a run; the worker process and the ERP's client reconnect. Every bill
// completes and the ledger is clean.
func TestServerRestarted(t *testing.T) {
	n := scale(20, 200)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(scale(4, 12))*time.Minute)
	defer cancel()
	env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 12})
	startWorker(t, ctx, env, "", nil)
	d := &kit.Driver{Env: env, Resource: "RESTART", Invoices: 1, StepTimeout: 3 * time.Minute}

	var f fleet
	struck := make(chan struct{})
	var inFlight int
	var down time.Duration
	go func() {
		defer close(struck)
		if waitFor(ctx, func() bool { return int(f.parked.Load()) >= n/2 }) != nil {
			return
		}
		inFlight = n - int(f.completed.Load())
		began := time.Now()
		if err := env.StopServer(); err != nil {
			t.Errorf("stop server: %v", err)
		}
		time.Sleep(time.Second)
		if err := env.StartServer(ctx); err != nil {
			t.Errorf("start server again: %v", err)
		}
		down = time.Since(began)
	}()
	ids, errs := f.run(ctx, d, "r", n, 10)
	<-struck
	reportErrors(t, "bill across the server restart", errs)
	if inFlight == 0 {
		t.Fatalf("the server was not restarted while bills were in flight")
	}
	rep, err := kit.CheckLedger(env.Sim, keysOf(d, ids), true)
	if err != nil {
		t.Fatalf("ledger after the restart: %v", err)
	}
	t.Logf("server restarted (down %.1fs) with %d of %d bills in flight; %d completed, ledger: %d bills, %d invoices",
		down.Seconds(), inFlight, n, f.completed.Load(), rep.Bills, rep.Invoices)
}
