package app_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/app"
	"rimflow/internal/enterprises"
	"rimflow/workflows"
)

// hubRig is a real server, the simulator and workers built by NewWorker (so with the watcher hub).
type hubRig struct {
	t     *testing.T
	tc    client.Client
	cloud *harness.Cloud
	bills *api.Bills
}

func newHubRig(t *testing.T) *hubRig {
	ts := harness.NewTestServer(t)
	cloud := harness.NewCloud(t, simulator.Options{Seed: 11}, nil)
	tc := ts.GetDefaultClient()
	return &hubRig{t: t, tc: tc, cloud: cloud, bills: api.NewBills(tc, ts.GetDefaultNamespace(), workflows.DefaultTaskQueue)}
}

func (r *hubRig) worker() *app.Worker {
	r.t.Helper()
	w, err := app.NewWorker(r.tc, enterprises.Single(r.cloud.Client), app.WorkerOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		r.t.Fatal(err)
	}
	return w
}

// start starts a bill and returns its eventCode.
func (r *hubRig) start(ctx context.Context, billID string) string {
	r.t.Helper()
	in, e := api.DecodeStart([]byte(`{"billId":"` + billID + `","billNo":"BX-` + billID + `","billType":"er_dailyreimbursebill","resource":"OA",
		"billTaxNo":"91330100MA2B3C4D5N","userId":"u-1"}`))
	if e != nil {
		r.t.Fatal(e)
	}
	resp, _, err := r.bills.Start(ctx, in)
	if err != nil || resp.Stage != workflows.StageCollecting {
		r.t.Fatalf("start %s: %+v %v", billID, resp, err)
	}
	u, err := url.Parse(resp.Collect.PC)
	if err != nil || u.Query().Get("eventCode") == "" {
		r.t.Fatalf("collect URL %q: %v", resp.Collect.PC, err)
	}
	return u.Query().Get("eventCode")
}

// waitSockets waits up to limit for the simulator to hold exactly n sockets on the eventCode's
// linkKey, and says whether it did.
func (r *hubRig) waitSockets(eventCode string, n int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if r.cloud.Sim.SocketsFor(eventCode) == n {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A watcher whose bill moved on closes its socket within 2 s of that (the product's contract):
// the import binds, autoSubmit ends collecting, the bill cancels its watcher, and the hub hears of
// the cancel from the heartbeat it sends soon after a delivery.
func TestHubClosesACancelledWatchersSocket(t *testing.T) {
	r := newHubRig(t)
	w := r.worker()
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eventCode := r.start(ctx, "HUB-1")
	if !r.waitSockets(eventCode, 1, time.Minute) {
		t.Fatalf("the watcher opened no socket: %+v", r.cloud.Sim.Stats())
	}
	if _, err := r.cloud.Sim.Collect(eventCode, 1); err != nil {
		t.Fatal(err)
	}
	r.waitLeftCollecting(ctx, "HUB-1", "the bill never left collecting")
	if !r.waitSockets(eventCode, 0, 2*time.Second) {
		t.Fatalf("the socket of a bill that moved on was still open 2 s later: %+v", r.cloud.Sim.Stats())
	}
}

// Stopping a worker hands its links back at once: another worker holds the socket again long
// before the watcher's heartbeat timeout (5 minutes) could have moved it, and an import then
// reaches the bill.
func TestHubHandsLinksBackOnStop(t *testing.T) {
	r := newHubRig(t)
	first := r.worker()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eventCode := r.start(ctx, "HUB-2")
	if !r.waitSockets(eventCode, 1, time.Minute) {
		t.Fatalf("the watcher opened no socket: %+v", r.cloud.Sim.Stats())
	}
	first.Stop()
	if n := first.Hub.Len(); n != 0 {
		t.Fatalf("the stopped hub still holds %d links", n)
	}
	if !r.waitSockets(eventCode, 0, 5*time.Second) {
		t.Fatalf("the stopped worker's socket stayed open: %+v", r.cloud.Sim.Stats())
	}
	second := r.worker()
	defer second.Stop()
	// Well inside the 5-minute heartbeat timeout: only a handed-back watcher is retried this soon.
	if !r.waitSockets(eventCode, 1, 30*time.Second) {
		t.Fatalf("no worker took the handed-back watcher: %+v", r.cloud.Sim.Stats())
	}
	if second.Hub.Len() != 1 {
		t.Fatalf("the second worker's hub holds %d links, want 1", second.Hub.Len())
	}
	if _, err := r.cloud.Sim.Collect(eventCode, 1); err != nil {
		t.Fatal(err)
	}
	r.waitLeftCollecting(ctx, "HUB-2", "the import after the hand-back never reached the bill")
}

// waitLeftCollecting waits until the bill has left collecting, failing with never when ctx ends.
func (r *hubRig) waitLeftCollecting(ctx context.Context, billID, never string) {
	r.t.Helper()
	ref := api.BillRef{Resource: "OA", BillID: billID}
	for {
		st, err := r.bills.State(ctx, ref)
		if err != nil {
			r.t.Fatal(err)
		}
		if st.Stage != workflows.StageCollecting {
			return
		}
		if ctx.Err() != nil {
			r.t.Fatal(never)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
