package resilience

import (
	"context"
	"fmt"
	"testing"
	"time"

	"rimflow/bench/kit"
	"rimflow/cloudsim/simulator"
	"rimflow/workflows"
)

// The socket's loss window (this package's README, "What a crash can lose"): a frame the cloud
// wrote to the killed worker before its watcher signalled it to the bill. Only bills whose import
// was sent in this window around the kill may lose a delivery; any other loss fails the test.
const (
	lossWindowBefore = 10 * time.Second
	lossWindowAfter  = 2 * time.Second
	// forwardAfter is longer than a dead worker's watcher takes to move to another worker (its
	// heartbeat timeout, a retry, a reconnect), so only a lost delivery is forwarded.
	forwardAfter = time.Minute + 3*watchHeartbeat
)

// TestWorkerKilled: the worker process is killed with SIGKILL once half of the bills have their
// first import bound, while the others are starting, collecting or in approval (counted at that
// moment), and a new one starts a second later. Bills of five kinds (one import; two imports and
// a submit; returned and re-collected; rejected; with a deduction) all end as planned; the cloud's
// counters show each step applied exactly as often as the bill's options require, each bill's
// bound set is what its user imported, each invoice bound once.
//
// Lost deliveries are counted from the cloud's and the bills' own records (messages the cloud
// handed out minus messages the bills recorded). Poll: 0 by construction (a message is receipted
// only after the bill recorded it; the cloud sends an unreceipted one again). Socket: a frame
// already written to the killed process is gone; the test allows a loss only for bills whose
// import was sent within the kill's window, and the ERP then forwards its copy (counted).
func TestWorkerKilled(t *testing.T) {
	for _, push := range []string{workflows.PushSocket, workflows.PushPoll} {
		t.Run(push, func(t *testing.T) {
			t.Parallel()
			workerKilled(t, push)
		})
	}
}

func workerKilled(t *testing.T, push string) {
	n := scale(20, 200)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(scale(15, 40))*time.Minute)
	defer cancel()
	// A message the killed worker polled and never receipted comes again once its receipt is
	// overdue: after 15 s here rather than the simulator's default minute (a live watcher receipts
	// within a second or two; a redelivery to it would only be a duplicate).
	env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 11, Sim: simulator.Options{ReceiptTimeout: 15 * time.Second}})
	w := startWorker(t, ctx, env, "")
	d := &kit.Driver{Env: env, Resource: "KILL", StepTimeout: 8 * time.Minute}
	if push == workflows.PushSocket {
		d.ForwardAfter = forwardAfter
	}
	f := newFleet(d, push)
	f.holdDecisions() // approvers wait for the strike: every bill that has collected is in flight

	type strike struct {
		at  time.Time
		in  inFlight
		err error
	}
	struck := make(chan strike, 1)
	go func() {
		var s strike
		defer func() { struck <- s }()
		defer f.openDecisions()
		if s.err = f.awaitStrike(ctx, n); s.err != nil {
			return
		}
		s.in, s.at = f.snapshot(), time.Now()
		if s.err = w.Kill(); s.err != nil {
			return
		}
		time.Sleep(time.Second) // the cluster notices nothing; work piles up for the next worker
		_, s.err = launchWorker(t, ctx, env, "")
	}()
	errs := f.run(ctx, "k", n, n)
	s := <-struck // sent at the latest when ctx ends
	if s.err != nil {
		t.Fatalf("kill and restart the worker: %v", s.err)
	}
	reportErrors(t, "bill after the worker was killed", errs)
	if s.in.InFlight() < n/2 {
		t.Errorf("the kill did not strike a fleet in flight: %s", s.in)
	}
	waited := f.heldImports()
	if waited == 0 {
		t.Errorf("no import waited for the kill: no watcher had to move to the new worker")
	}
	rep := f.verify(t, ctx, env)

	forwarded := d.ForwardedBills()
	switch push {
	case workflows.PushPoll:
		if rep.lost != 0 || len(forwarded) != 0 {
			t.Errorf("poll: %d deliveries lost (bills %s), %d forwarded; want 0: a polled message is receipted only once recorded",
				rep.lost, idsOf(rep.lostBills), len(forwarded))
		}
	case workflows.PushSocket:
		from, to := s.at.Add(-lossWindowBefore), s.at.Add(lossWindowAfter)
		for _, b := range rep.lostBills {
			if !b.importedBetween(from, to) {
				t.Errorf("bill %s lost a delivery although none of its imports was sent within %s before to %s after the kill",
					b.id, lossWindowBefore, lossWindowAfter)
			}
			if forwarded[b.id] != 1 {
				t.Errorf("bill %s lost a delivery but the ERP forwarded %d times", b.id, forwarded[b.id])
			}
		}
		if len(forwarded) != len(rep.lostBills) {
			t.Errorf("the ERP forwarded for %d bills, %d lost a delivery (%s): a late delivery was taken for a lost one",
				len(forwarded), len(rep.lostBills), idsOf(rep.lostBills))
		}
	}
	st := env.Sim.Stats()
	t.Logf("%s: worker SIGKILLed with %s; %d second imports waited for the kill (their watcher scheduled before it); ended %v; deliveries lost %d (bills: %s; the ERP forwarded %d); "+
		"cloud: %d delivered by socket, %d by poll, %d redelivered by poll; %s",
		push, s.in, waited, rep.byEnd, rep.lost, idsOf(rep.lostBills), d.Forwarded.Load(),
		st.DeliveredBySocket, st.DeliveredByPoll, st.RedeliveredByPoll, rep.records())
}

// TestWorkerKilledBetweenPollAndReceipt makes the poll's one risky moment deterministic: the
// cloud holds the receipt (holdReceipts) after the watcher has signalled the message to the bill,
// and the worker is SIGKILLed right then. The cloud delivers the unreceipted message again to the
// next worker's watcher; the bill records it as a duplicate, and its invoices are bound exactly
// once (one billSave 30 applied, none sent again).
func TestWorkerKilledBetweenPollAndReceipt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 13, Sim: simulator.Options{ReceiptTimeout: 5 * time.Second}})
	w := startWorker(t, ctx, env, "")
	d := &kit.Driver{Env: env, Resource: "RECEIPT", StepTimeout: 5 * time.Minute, Tune: func(in *workflows.BillInput) {
		in.PushType = workflows.PushPoll
		autoOff(in) // the bill keeps collecting, so the next watcher polls the redelivery
	}}
	const id = "R-1"
	start, err := d.Start(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	simFaults(t, env.Sim, simulator.Faults{HoldReceipts: true})
	serials, err := d.Import(ctx, id, start.Collect.PC, 2)
	if err != nil {
		t.Fatalf("import with receipts held: %v", err)
	}
	if err := waitFor(ctx, time.Minute, "the watcher's receipt held by the cloud", func() bool { return env.Sim.Stats().ReceiptsHeld > 0 }); err != nil {
		t.Fatal(err)
	}
	linkKey := func() simulator.LinkKeyView {
		b, _ := env.Sim.Bill("RECEIPT", id)
		if len(b.LinkKeys) != 1 {
			t.Fatalf("bill has %d linkKeys, want 1: %+v", len(b.LinkKeys), b.LinkKeys)
		}
		return b.LinkKeys[0]
	}
	if lk := linkKey(); lk.Delivered != 1 || lk.Receipted != 0 || lk.AwaitingReceipt != 1 {
		t.Fatalf("before the kill: %+v, want delivered 1, receipted 0, awaiting 1", lk)
	}
	if err := w.Kill(); err != nil { // between the poll (recorded by the bill) and its receipt
		t.Fatal(err)
	}
	// The fault stays on until the cloud has seen the dead worker's connection close and dropped
	// its receipt: cleared earlier, the held receipt would be applied as if the worker lived.
	if err := waitFor(ctx, 10*time.Second, "the dead worker's held receipt to be dropped", func() bool { return env.Sim.Stats().ReceiptsHeld == 0 }); err != nil {
		t.Fatal(err)
	}
	env.Sim.ClearFaults()
	if lk := linkKey(); lk.Receipted != 0 {
		t.Fatalf("the killed worker's receipt was applied: %+v", lk)
	}
	startWorker(t, ctx, env, "")
	// The watcher moves to the new worker within its heartbeat timeout, polls, gets the message
	// again (same msgId, receipt timeout passed) and receipts it once the bill has recorded it.
	if err := waitFor(ctx, watchHeartbeat+time.Minute, "the redelivered message receipted by the new worker", func() bool {
		lk := linkKey()
		return lk.Redelivered > 0 && lk.Receipted == 1 && lk.AwaitingReceipt == 0
	}); err != nil {
		t.Fatalf("%v; linkKey %+v", err, linkKey())
	}
	var st workflows.BillState
	if err := waitFor(ctx, 30*time.Second, "the bill to record the redelivery", func() bool {
		st, err = env.Bills.State(ctx, d.Ref(id))
		return err == nil && len(st.Deliveries) == 2
	}); err != nil {
		t.Fatalf("%v; deliveries %+v", err, st.Deliveries)
	}
	if st.Deliveries[0].Outcome != "bound" || st.Deliveries[1].Outcome != "duplicate" || st.Deliveries[1].Via != workflows.ViaPoll {
		t.Errorf("deliveries %+v, want the first bound and the redelivery a duplicate", st.Deliveries)
	}
	if err := d.Submit(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"supervisor", "finance"} {
		if err := d.Approve(ctx, id, role); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Voucher(ctx, id); err != nil {
		t.Fatal(err)
	}
	if end, err := d.WaitEnd(ctx, id); err != nil || end.Stage != workflows.StageCompleted || end.InvoiceCount != 2 {
		t.Fatalf("end: %v, stage %s with %d invoices; want completed with 2", err, end.Stage, end.InvoiceCount)
	}
	ref := d.Ref(id)
	if _, err := kit.CheckBills(env.Sim, []kit.BillExpectation{{Resource: ref.Resource, BillID: ref.BillID, Serials: serials,
		End: workflows.StageCompleted, Applied: kit.Applied{Bind: 1, MarkUsed: 1, Voucher: 1}}}); err != nil {
		t.Errorf("the cloud's records of the bill:\n%v", err)
	}
	t.Logf("killed between poll and receipt; the message came again (linkKey %+v) and was recorded as a duplicate; "+
		"billSave 30 applied once", linkKey())
}

// TestWorkerStopped: the worker is stopped gracefully (SIGTERM) with bills in flight and cloud
// calls under way (each takes 1.5 s then), and a new one starts after it has exited. A worker stopping is retryable, never a business failure: no
// bill enters failed, no delivery is lost (a stopping watcher drains its socket and hands back),
// and every bill ends as planned with the cloud's records exact.
func TestWorkerStopped(t *testing.T) {
	t.Parallel() // its own server, simulator and worker: it runs beside the other cases
	n := scale(20, 200)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(scale(10, 30))*time.Minute)
	defer cancel()
	env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 14})
	w := startWorker(t, ctx, env, "")
	d := &kit.Driver{Env: env, Resource: "STOP", StepTimeout: 5 * time.Minute}
	f := newFleet(d, "")
	f.holdDecisions()

	type strike struct {
		at     time.Time
		in     inFlight
		took   time.Duration
		err    error
		exited error
	}
	struck := make(chan strike, 1)
	go func() {
		var s strike
		defer func() { struck <- s }()
		defer f.openDecisions()
		if s.err = f.awaitStrike(ctx, n); s.err != nil {
			return
		}
		// Every cloud call takes 1.5 s from now on, so calls are in flight when the stop comes: the
		// worker lets them finish (RIMFLOW_WORKER_STOP_TIMEOUT, 20 s) or hands them back.
		if s.err = env.Sim.SetFaults(simulator.Faults{LatencyMs: 1500}); s.err != nil {
			return
		}
		time.Sleep(time.Second)
		s.in, s.at = f.snapshot(), time.Now()
		s.exited = w.Stop(time.Minute) // the stop timeout (20 s) bounds it
		s.took = time.Since(s.at)
		_, s.err = launchWorker(t, ctx, env, "")
		env.Sim.ClearFaults()
	}()
	errs := f.run(ctx, "s", n, n)
	s := <-struck
	if s.err != nil {
		t.Fatalf("stop and restart the worker: %v", s.err)
	}
	if s.exited != nil {
		t.Errorf("the worker did not stop cleanly: %v", s.exited)
	}
	reportErrors(t, "bill across a graceful worker stop", errs)
	if s.in.InFlight() < n/2 {
		t.Errorf("the stop did not strike a fleet in flight: %s", s.in)
	}
	waited := f.heldImports()
	if waited == 0 {
		t.Errorf("no import waited for the stop: no handed-back watcher had to move to the new worker")
	}
	rep := f.verify(t, ctx, env)
	if rep.lost != 0 || d.Forwarded.Load() != 0 {
		t.Errorf("%d deliveries lost across a graceful stop (bills %s); want 0", rep.lost, idsOf(rep.lostBills))
	}
	t.Logf("worker stopped gracefully in %.1fs with %s; %d second imports waited for the stop (their watcher scheduled before it); ended %v; deliveries lost %d; %s",
		s.took.Seconds(), s.in, waited, rep.byEnd, rep.lost, rep.records())
}

// TestServerRestarted: the embedded Temporal server is stopped and started again on the same
// data dir in the middle of a run; the worker process and the ERP's client reconnect. Every bill
// ends as planned, no delivery is lost, and the cloud's records are exact.
func TestServerRestarted(t *testing.T) {
	t.Parallel() // its own server, simulator and worker: it runs beside the other cases
	n := scale(20, 200)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(scale(10, 30))*time.Minute)
	defer cancel()
	env, _ := newEnv(t, ctx, kit.EnvOptions{Seed: 12})
	startWorker(t, ctx, env, "")
	d := &kit.Driver{Env: env, Resource: "RESTART", StepTimeout: 5 * time.Minute}
	f := newFleet(d, "")
	f.holdDecisions()

	type strike struct {
		in   inFlight
		down time.Duration
		err  error
	}
	struck := make(chan strike, 1)
	go func() {
		var s strike
		defer func() { struck <- s }()
		defer f.openDecisions()
		if s.err = f.awaitStrike(ctx, n); s.err != nil {
			return
		}
		s.in = f.snapshot()
		began := time.Now()
		if err := env.StopServer(); err != nil {
			s.err = fmt.Errorf("stop server: %w", err)
			return
		}
		time.Sleep(time.Second)
		if err := env.StartServer(ctx); err != nil {
			s.err = fmt.Errorf("start server again: %w", err)
		}
		s.down = time.Since(began)
	}()
	errs := f.run(ctx, "r", n, n)
	s := <-struck
	if s.err != nil {
		t.Fatal(s.err)
	}
	reportErrors(t, "bill across the server restart", errs)
	if s.in.InFlight() < n/2 {
		t.Errorf("the restart did not strike a fleet in flight: %s", s.in)
	}
	rep := f.verify(t, ctx, env)
	if rep.lost != 0 || d.Forwarded.Load() != 0 {
		t.Errorf("%d deliveries lost across the restart (bills %s); want 0", rep.lost, idsOf(rep.lostBills))
	}
	t.Logf("server restarted (down %.1fs) with %s; ended %v; deliveries lost %d; %s",
		s.down.Seconds(), s.in, rep.byEnd, rep.lost, rep.records())
}
