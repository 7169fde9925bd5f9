package production

import (
	"context"
	"flag"
	"testing"
	"time"

	"rimflow/bench/kit"
	"rimflow/devstack/harness"
	"rimflow/internal/config"
	"rimflow/systest/upgrade"
)

var long = flag.Bool("long", false, "run the long variants (more bills through the rolling upgrade)")

// TestRollingUpgradeFromPreviousRelease is a rolling deploy of a new release on the cluster
// shape under load: two workers of the previous release (upgrade.PreviousRelease, built from
// git) run bills; once a third of them hold their invoices, each old worker is stopped
// (SIGTERM) and replaced by a worker of this build, one at a time, while bills keep starting and
// deciding. Every bill completes, none through failed, and the cloud's ledger agrees. Unversioned
// workers: old and new code poll one queue meanwhile, which the replay gate makes safe
// (docs/releases.md).
func TestRollingUpgradeFromPreviousRelease(t *testing.T) {
	t.Parallel() // its own cluster, server and processes: two shapes at a time (go test -parallel)
	n := 12
	if *long {
		n = 60
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	previous := upgrade.BuildRelease(t, upgrade.PreviousRelease, "worker")
	s := newShape(t, ctx, shapeOptions{})
	env, err := kit.StartEnv(ctx, kit.EnvOptions{TemporalAddr: s.Frontend, Seed: 27, Codec: s.Codec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	s.CloudURL = env.CloudURL
	// A watcher task the server hands to an old worker's poller as that worker stops is dropped
	// by the SDK, not handed back by the hub: it comes back after its heartbeat timeout (5 minutes
	// by default, the bills' step timeout here). A minute keeps that rare case inside the test.
	beat := map[string]string{config.EnvWatchHeartbeat: "1m"}
	var old []*harness.Worker
	for range 2 {
		w, _ := s.StartWorkerBinary(previous, beat, nil, nil)
		old = append(old, w)
	}
	d := &kit.Driver{Env: env, Resource: "ROLLUP", Invoices: 2, StepTimeout: 5 * time.Minute}

	var f fleet
	fleetDone := make(chan struct{})
	rolled := make(chan struct{})
	var inFlight []int
	go func() {
		defer close(rolled)
		if waitFor(ctx, func() bool { return int(f.parked.Load()) >= n/3 || closed(fleetDone) }) != nil || closed(fleetDone) {
			return
		}
		for i, w := range old {
			inFlight = append(inFlight, f.inFlight())
			if err := w.Stop(time.Minute); err != nil {
				t.Errorf("stop old worker %d: %v", i+1, err)
			}
			s.StartWorker(beat, nil)
		}
	}()
	ids, errs := f.run(ctx, d, "roll", n, 6)
	close(fleetDone)
	<-rolled
	if len(inFlight) != len(old) || inFlight[0] == 0 {
		t.Fatalf("the workers were not replaced while bills were in flight (in flight at each swap: %v)", inFlight)
	}
	rep := checkFleet(t, ctx, env, d, ids, errs)
	t.Logf("rolled 2 workers from %s to this build with %v bills in flight; %d of %d completed; ledger: %d bills, %d invoices each bound once",
		upgrade.PreviousRelease[:7], inFlight, f.completed.Load(), n, rep.Bills, rep.Invoices)
}
