package resilience

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"rimflow/api"
	"rimflow/bench/kit"
	"rimflow/cloudsim/simulator"
	"rimflow/internal/config"
	"rimflow/invoicecloud"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// The standard-edition enterprise whose imports the simulator pushes to the API (AWS收票推送).
const (
	pushTaxNo    = "91320594MA1PWH2078"
	pushName     = "苏州推送示例有限公司"
	pushClientID = "PUSH-STD"
)

// TestPushReceiverKilled: the process that receives a push and records it in its bill is the API
// (`starter serve`); it is SIGKILLed in each of its two windows. The worker is SIGKILLed first, so
// no watcher can bring the invoices, only the push. Partitions (kit.Proxy) between the API and
// Temporal and between the simulator and the API hold the API exactly where the test kills it:
//
//   - before recording: the API has the push and has called Temporal about it (the bill check's
//     read, then the delivery signal), which Temporal has not got (the dead API's calls never
//     arrive);
//   - after recording, before answering: Temporal has the signal, the simulator has no answer.
//
// Either way the simulator, never answered, pushes again until a restarted API answers success;
// a new worker binds the invoices from the push. The bill records the delivery once (via push; a
// second copy is dropped as a duplicate), billSave 30 is applied once under the standard
// enterprise, and the bill completes.
func TestPushReceiverKilled(t *testing.T) {
	t.Run("before recording", func(t *testing.T) {
		t.Parallel()
		r := newPushRig(t, 15)
		r.temporal.Partition()
		r.collectAndAwaitPushAtPartition()
		held := r.temporal.Held()
		r.killAPI(r.temporal) // received and opened, not yet recorded
		r.awaitUnanswered()
		r.temporal.Heal()
		if err := waitFor(r.ctx, 10*time.Second, "the dead API's held signal to be dropped", func() bool { return r.temporal.Dropped() >= held }); err != nil {
			t.Fatalf("%v: dropped %d of %d bytes", err, r.temporal.Dropped(), held)
		}
		if got := testenv.DeliverySignals(t, r.ctx, r.env.Client, r.ref.WorkflowID()); len(got) != 0 {
			t.Fatalf("the killed API's delivery reached the bill: %+v; the kill did not land before the recording", got)
		}
		r.restartAPI()
		r.finish(1, fmt.Sprintf("killed with %d bytes of its delivery signal held, all dropped", held))
	})
	t.Run("after recording, before answering", func(t *testing.T) {
		t.Parallel()
		r := newPushRig(t, 16)
		r.temporal.Partition()
		r.collectAndAwaitPushAtPartition()
		// The push request has reached the API; from now on its answer is held. The signal goes on.
		r.front.Partition()
		r.temporal.Heal()
		if err := waitFor(r.ctx, 20*time.Second, "the bill to record the delivery and the API to answer into the partition", func() bool {
			return r.front.HeldReplies() > 0 && len(testenv.DeliverySignals(t, r.ctx, r.env.Client, r.ref.WorkflowID())) == 1
		}); err != nil {
			t.Fatalf("%v; answer bytes held %d, push %+v", err, r.front.HeldReplies(), r.push())
		}
		answer := r.front.HeldReplies()
		r.killAPI(r.front) // recorded, not answered
		r.front.Heal()
		r.awaitUnanswered()
		if err := waitFor(r.ctx, 10*time.Second, "the dead API's held answer to be dropped", func() bool { return r.front.Dropped() >= answer }); err != nil {
			t.Fatalf("%v: dropped %d of %d bytes", err, r.front.Dropped(), answer)
		}
		r.restartAPI()
		r.finish(2, fmt.Sprintf("killed with the delivery recorded and its %d-byte answer held, dropped", answer))
	})
}

// pushRig is one bill of a standard-edition enterprise with push, the real worker and API
// processes, the proxies around the API, and the checks both cases share.
type pushRig struct {
	t        *testing.T
	ctx      context.Context
	env      *kit.Env
	registry []string // the enterprise registry's variables (worker and API)
	apiVars  []string // the API's extra variables: the registry, and Temporal through the proxy
	front    *kit.Proxy
	temporal *kit.Proxy
	api      *apiProcess
	ref      api.BillRef
	page     string   // the bill's collect page
	serials  []string // what its user imported
}

func newPushRig(t *testing.T, seed int64) *pushRig {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	r := &pushRig{t: t, ctx: ctx, ref: api.BillRef{Resource: "PUSH", BillID: "P-1"}}
	// The push address is a proxy in front of the API, as a load balancer would be in production:
	// a restarted API listens on another port behind the same address.
	r.front = newProxy(t, "")
	std := simulator.Tenant{Edition: simulator.EditionStandard, Name: pushName, TaxNo: pushTaxNo, ClientID: pushClientID,
		ClientSecret: "push-secret-" + randomHex(), EncryptKey: randomHex()[:16],
		Push: []simulator.PushTarget{{Name: pushName, TaxNo: pushTaxNo, ClientID: pushClientID,
			URL: "http://" + r.front.Addr() + "/v1/push/" + pushTaxNo}}}
	r.env, _ = newEnv(t, ctx, kit.EnvOptions{Seed: seed, Sim: simulator.Options{Tenants: []simulator.Tenant{std},
		PushRetryMin: 200 * time.Millisecond, PushRetryMax: time.Second}})
	var err error
	if r.registry, err = r.env.EnterprisesFile(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	w := startRegistryWorker(t, ctx, r.env, r.registry)
	r.temporal = newProxy(t, r.env.TemporalAddr())
	r.apiVars = append(slices.Clone(r.registry), config.EnvTemporalAddress+"="+r.temporal.Addr())
	r.restartAPI()

	in := workflows.BillInput{BillID: r.ref.BillID, BillNo: "BX-" + r.ref.BillID, BillType: "expense", Resource: r.ref.Resource,
		BillTaxNo: pushTaxNo, UserID: "u-push", CompanyInfo: []invoicecloud.Company{{TaxNo: pushTaxNo, Name: pushName}}}
	status, raw := testenv.Do(t, ctx, http.MethodPost, "http://"+r.front.Addr()+"/v1/bills", "", in)
	var started api.StartResponse
	if status != http.StatusCreated || json.Unmarshal(raw, &started) != nil || started.Collect.PC == "" {
		t.Fatalf("start the bill on the standard enterprise: HTTP %d %.500s", status, raw)
	}
	r.page = started.Collect.PC
	// No worker from here on: its watcher is dead with it, so only the push can bring the invoices.
	if err := w.Kill(); err != nil {
		t.Fatal(err)
	}
	return r
}

// restartAPI starts an API process and puts it behind the push address.
func (r *pushRig) restartAPI() {
	r.api = startAPI(r.t, r.ctx, r.env, "info", r.apiVars...)
	r.front.SetTarget(strings.TrimPrefix(r.api.URL, "http://"))
}

// collect imports two invoices on the bill's page: the simulator pushes them to the API.
func (r *pushRig) collect() { r.serials = testenv.CollectOnPage(r.t, r.ctx, r.env.CloudURL, r.page, 2) }

// push is the simulator's one push for the bill.
func (r *pushRig) push() simulator.PushView {
	return pushOf(r.t, r.env.Sim, r.ref.Resource, r.ref.BillID)
}

// collectAndAwaitPushAtPartition imports the invoices, then waits until their push has reached
// the API and the API has sent something into the partition toward Temporal since, with the push
// not answered: whatever the API sent (the bill check's read, then the delivery signal) is held,
// so it has not recorded the push. The API's bill counts share its connection to Temporal, so a
// count may be what grew the held bytes; the kill then lands a moment earlier in the same window
// (the push received, not recorded), which is what the case is about.
func (r *pushRig) collectAndAwaitPushAtPartition() {
	r.t.Helper()
	pushed, held := r.front.Sent(), r.temporal.Held()
	r.collect()
	if err := waitFor(r.ctx, 30*time.Second, "the push to reach the API and the API to call Temporal into the partition", func() bool {
		return r.front.Sent() > pushed && r.temporal.Held() > held || r.push().Attempts > 0
	}); err != nil {
		r.t.Fatalf("%v; held %d bytes, push %+v", err, r.temporal.Held(), r.push())
	}
	if p := r.push(); p.Attempts != 0 || p.Delivered {
		r.t.Fatalf("the push was answered before the kill: %+v", p)
	}
}

// killAPI SIGKILLs the API with the push unanswered, and waits until the partitioned proxy has
// seen the API's connection end: only then is what the API sent into the partition lost, as it
// would be on a real network (before, a Heal would still deliver it).
func (r *pushRig) killAPI(partitioned *kit.Proxy) {
	r.t.Helper()
	before := partitioned.Gone()
	if err := r.api.Kill(); err != nil {
		r.t.Fatal(err)
	}
	if err := waitFor(r.ctx, 10*time.Second, "the proxy to see the killed API's connection end", func() bool { return partitioned.Gone() > before }); err != nil {
		r.t.Fatal(err)
	}
}

// awaitUnanswered waits for the simulator to count its attempt failed, with the connection
// closed by the API's death (not by its own client timeout, which would mean the kill did not
// end the attempt), and the push not delivered.
func (r *pushRig) awaitUnanswered() {
	r.t.Helper()
	if err := waitFor(r.ctx, 8*time.Second, "the simulator to see its push unanswered", func() bool { return r.push().Attempts > 0 }); err != nil {
		r.t.Fatal(err)
	}
	if p := r.push(); p.Delivered || strings.Contains(p.LastError, "Timeout") {
		r.t.Fatalf("after the API died without answering: push %+v; want an attempt failed by the closed connection", p)
	}
}

// finish waits for the push to succeed against the restarted API, checks the bill's history holds
// signals (copies of the push's one delivery), then runs the bill to its end on a new worker and
// checks what it and the cloud recorded.
func (r *pushRig) finish(signals int, how string) {
	t, ctx, env := r.t, r.ctx, r.env
	t.Helper()
	if err := waitFor(ctx, time.Minute, "the simulator's push retried until the API answered success", func() bool { return r.push().Delivered }); err != nil {
		t.Fatalf("%v; push %+v", err, r.push())
	}
	recorded := testenv.DeliverySignals(t, ctx, env.Client, r.ref.WorkflowID())
	if len(recorded) != signals {
		t.Fatalf("%d delivery signals after the push succeeded, want %d: %+v", len(recorded), signals, recorded)
	}
	for _, d := range recorded {
		if d.Via != workflows.ViaPush || d.Digest != recorded[0].Digest || len(d.InvoiceData) != len(r.serials) {
			t.Fatalf("delivery signals %+v; want each via push, the same digest, %d invoices", recorded, len(r.serials))
		}
	}

	// A worker again: the bill binds what the push recorded.
	startRegistryWorker(t, ctx, env, r.registry)
	var st workflows.BillState
	var err error
	if err := waitFor(ctx, 2*time.Minute, "the bill to bind the pushed invoices", func() bool {
		st, err = env.Bills.State(ctx, r.ref)
		return err == nil && st.InvoiceCount == len(r.serials) && len(st.Deliveries) >= signals
	}); err != nil {
		t.Fatalf("%v; stage %s, %d invoices, deliveries %+v", err, st.Stage, st.InvoiceCount, st.Deliveries)
	}
	d := &kit.Driver{Env: env, Resource: r.ref.Resource, StepTimeout: 2 * time.Minute}
	for _, role := range []string{"supervisor", "finance"} {
		if err := d.Approve(ctx, r.ref.BillID, role); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Voucher(ctx, r.ref.BillID); err != nil {
		t.Fatal(err)
	}
	end, err := d.WaitEnd(ctx, r.ref.BillID)
	if err != nil || end.Stage != workflows.StageCompleted || end.InvoiceCount != len(r.serials) {
		t.Fatalf("end: %v, stage %s with %d invoices; want completed with %d", err, end.Stage, end.InvoiceCount, len(r.serials))
	}
	var kept []workflows.DeliveryView
	duplicates := 0
	for _, dv := range end.Deliveries {
		if dv.Outcome == "duplicate" {
			duplicates++
			continue
		}
		kept = append(kept, dv)
	}
	// A watcher's copy can come only after the killed worker's heartbeat timeout: then a duplicate too.
	if len(kept) != 1 || kept[0].Via != workflows.ViaPush || kept[0].Outcome != "bound" || kept[0].Invoices != len(r.serials) ||
		duplicates < signals-1 {
		t.Errorf("deliveries %+v; want exactly one recorded (via push, %d invoices, bound), and %d more copies of it dropped as duplicates",
			end.Deliveries, len(r.serials), signals-1)
	}

	p := r.push()
	if p.Attempts < 2 || !p.Delivered || p.TaxNo != pushTaxNo {
		t.Errorf("push %+v; want ≥ 2 attempts for enterprise %s, delivered", p, pushTaxNo)
	}
	if _, err := kit.CheckBills(env.Sim, []kit.BillExpectation{{Resource: r.ref.Resource, BillID: r.ref.BillID, Serials: r.serials,
		End: workflows.StageCompleted, Applied: kit.Applied{Bind: 1, MarkUsed: 1, Voucher: 1},
		UnchangedBinds: 2, // the standard edition's status/update 30 after the bind, entry/save before marking used
	}}); err != nil {
		t.Errorf("the cloud's records of the bill:\n%v", err)
	}
	if b, ok := env.Sim.Bill(r.ref.Resource, r.ref.BillID); !ok || b.Edition != simulator.EditionStandard || b.Enterprise != pushTaxNo {
		t.Errorf("the cloud's bill: found %v, edition %q, enterprise %q; want standard, %s", ok, b.Edition, b.Enterprise, pushTaxNo)
	}
	for _, sn := range r.serials {
		if inv, ok := env.Sim.Invoice(sn); !ok || inv.Enterprise != pushTaxNo || inv.BillID != r.ref.BillID {
			t.Errorf("invoice %s: found %v, in bill %q of enterprise %q; want bill %s of %s", sn, ok, inv.BillID, inv.Enterprise, r.ref.BillID, pushTaxNo)
		}
	}
	t.Logf("API %s; the push took %d attempts; %d delivery signals, recorded once via push and bound (billSave 30 applied once, "+
		"%d invoices, enterprise %s), %d duplicates dropped; watchers handed %d messages",
		how, p.Attempts, signals, len(r.serials), pushTaxNo, duplicates, handedToWatchers(env.Sim, r.ref.Resource, r.ref.BillID))
}

// newProxy starts a kit.Proxy to target, closed when the test ends.
func newProxy(t *testing.T, target string) *kit.Proxy {
	t.Helper()
	p, err := kit.NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// pushOf is the simulator's one push for the bill; the test fails if there is none or several.
func pushOf(t *testing.T, sim *simulator.Sim, resource, billID string) simulator.PushView {
	t.Helper()
	var found []simulator.PushView
	for _, p := range sim.Pushes() {
		if p.Resource == resource && p.BillID == billID {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the simulator has %d pushes for bill %s/%s, want 1: %+v", len(found), resource, billID, found)
	}
	return found[0]
}

// handedToWatchers counts the messages the simulator handed to a socket or a poll for the bill.
func handedToWatchers(sim *simulator.Sim, resource, billID string) int {
	n := 0
	if b, ok := sim.Bill(resource, billID); ok {
		for _, lk := range b.LinkKeys {
			n += lk.Delivered
		}
	}
	return n
}
