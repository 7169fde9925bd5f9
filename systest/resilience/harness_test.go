package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"rimflow/bench/kit"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/config"
	"rimflow/workflows"
)

// tailOf returns the last n bytes of s, for failure messages.
func tailOf(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// newEnv starts the server and the simulator for one test; their logs (warn and up unless the
// options say otherwise) go to logs and are printed if the test fails.
func newEnv(t testing.TB, ctx context.Context, opts kit.EnvOptions) (*kit.Env, *harness.LogBuffer) {
	t.Helper()
	logs := &harness.LogBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	opts.DataDir = t.TempDir()
	env, err := kit.StartEnv(ctx, opts)
	if err != nil {
		t.Fatalf("start server and simulator: %v", err)
	}
	t.Cleanup(func() {
		env.Close()
		if t.Failed() {
			t.Logf("server/simulator logs (tail):\n%s", tailOf(logs.String(), 6000))
		}
	})
	return env, logs
}

// launchWorker starts the built ./worker against env with extra environment variables; its
// stderr goes to a buffer printed if the test fails. It only reports errors, so a goroutine may
// call it (a test's Fatal must stay on the test's goroutine).
func launchWorker(t testing.TB, ctx context.Context, env *kit.Env, logLevel string, extra ...string) (*harness.Worker, error) {
	return launchWorkerWith(t, ctx, env, append(env.WorkerEnv(logLevel), extra...))
}

// watchHeartbeat is the workers' watcher heartbeat timeout here (RIMFLOW_WATCH_HEARTBEAT_TIMEOUT,
// production's 5 minutes otherwise): a killed worker's watchers move to the next worker after it,
// so the cases that kill one wait seconds for that, not minutes.
const watchHeartbeat = 10 * time.Second

// launchWorkerWith starts the built ./worker with this environment and the heartbeat above.
func launchWorkerWith(t testing.TB, ctx context.Context, env *kit.Env, vars []string) (*harness.Worker, error) {
	vars = append(slices.Clip(vars), config.EnvWatchHeartbeat+"="+watchHeartbeat.String())
	stderr := &harness.LogBuffer{}
	w, err := harness.StartWorker(ctx, env.Client, harness.WorkerOptions{Path: workerBin, Env: vars, Stderr: stderr})
	if err != nil {
		return nil, fmt.Errorf("start worker: %w; its stderr: %s", err, tailOf(stderr.String(), 2000))
	}
	t.Cleanup(func() {
		_ = w.Stop(30 * time.Second)
		if t.Failed() {
			t.Logf("worker %d stderr (tail):\n%s", w.PID(), tailOf(stderr.String(), 4000))
		}
	})
	return w, nil
}

// startWorker is launchWorker for the test's own goroutine: an error fails the test at once.
func startWorker(t testing.TB, ctx context.Context, env *kit.Env, logLevel string, extra ...string) *harness.Worker {
	t.Helper()
	w, err := launchWorker(t, ctx, env, logLevel, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// startRegistryWorker starts a worker whose enterprises are the registry's (env.EnterprisesFile).
func startRegistryWorker(t testing.TB, ctx context.Context, env *kit.Env, registry []string) *harness.Worker {
	t.Helper()
	w, err := launchWorkerWith(t, ctx, env, env.RegistryWorkerEnv("", registry))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// waitFor polls cond every 20 ms until it holds; it fails with what it waited for when ctx ends
// or within (whichever comes first) passes.
func waitFor(ctx context.Context, within time.Duration, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %s for %s: %w", within, what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func reportErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	for i, err := range errs {
		if i == 5 {
			t.Errorf("… and %d more", len(errs)-5)
			break
		}
		t.Errorf("%s: %v", what, err)
	}
}

func asNotFound(err error, target **serviceerror.NotFound) bool { return errors.As(err, target) }

// ---- the fleet: many ERP users driving bills of several kinds at once ----

// plan is one kind of bill life. Bill i of a fleet follows plans[i % len(plans)].
type plan struct {
	name string
	end  workflows.Stage
	tune func(*workflows.BillInput)
	// life runs the bill from its collect URL to its end; the fleet has started it.
	life func(ctx context.Context, f *fleet, b *fleetBill, url string) error
	// applied is what the bill's options require of the cloud, given what its user imported.
	applied func(env *kit.Env, serials []string) kit.Applied
}

var (
	usedOnce    = func(*kit.Env, []string) kit.Applied { return kit.Applied{Bind: 1, MarkUsed: 1, Voucher: 1} }
	boundTwice  = func(*kit.Env, []string) kit.Applied { return kit.Applied{Bind: 2, MarkUsed: 1, Voucher: 1} }
	autoOff     = func(in *workflows.BillInput) { f := false; in.Options.AutoSubmit = &f }
	defaultPlan = []plan{
		{name: "one import, approved", end: workflows.StageCompleted, applied: usedOnce,
			life: func(ctx context.Context, f *fleet, b *fleetBill, url string) error {
				if err := f.importInvoices(ctx, b, url, 2); err != nil {
					return err
				}
				return f.approveAndVoucher(ctx, b)
			}},
		{name: "two imports, then submit", end: workflows.StageCompleted, applied: boundTwice, tune: autoOff,
			life: func(ctx context.Context, f *fleet, b *fleetBill, url string) error {
				if err := f.importInvoices(ctx, b, url, 1); err != nil {
					return err
				}
				// After a delivery the bill hands out a fresh eventCode (a linkKey delivers once).
				again, err := f.d.CollectURL(ctx, b.id)
				if err != nil {
					return err
				}
				if kit.EventCodeOf(again) == kit.EventCodeOf(url) {
					return fmt.Errorf("bill %s: the collect URL after a delivery has the same eventCode", b.id)
				}
				// The new linkKey's watcher runs now; the user imports only after the strike, so a
				// killed worker's watcher must move on before the bill gets it.
				if f.gate != nil && !f.gateOpen() {
					b.heldImport.Store(true)
				}
				if err := f.hold(ctx); err != nil {
					return err
				}
				if err := f.importInvoices(ctx, b, again, 1); err != nil {
					return err
				}
				if err := f.d.Submit(ctx, b.id); err != nil {
					return err
				}
				return f.approveAndVoucher(ctx, b)
			}},
		{name: "returned, re-collected", end: workflows.StageCompleted, applied: boundTwice,
			life: func(ctx context.Context, f *fleet, b *fleetBill, url string) error {
				if err := f.importInvoices(ctx, b, url, 1); err != nil {
					return err
				}
				if err := f.decide(ctx, b); err != nil {
					return err
				}
				if err := f.d.Decide(ctx, b.id, "supervisor", workflows.DecisionReturn); err != nil {
					return err
				}
				f.setPhase(b, 2) // collecting again
				again, err := f.d.CollectURL(ctx, b.id)
				if err != nil {
					return err
				}
				if err := f.importInvoices(ctx, b, again, 1); err != nil { // adds to the bound set
					return err
				}
				return f.approveAndVoucher(ctx, b)
			}},
		{name: "rejected by finance", end: workflows.StageRejected,
			applied: func(*kit.Env, []string) kit.Applied { return kit.Applied{Bind: 1, Unbind: 1} },
			life: func(ctx context.Context, f *fleet, b *fleetBill, url string) error {
				if err := f.importInvoices(ctx, b, url, 2); err != nil {
					return err
				}
				if err := f.decide(ctx, b); err != nil {
					return err
				}
				if err := f.d.Approve(ctx, b.id, "supervisor"); err != nil {
					return err
				}
				return f.d.Decide(ctx, b.id, "finance", workflows.DecisionReject)
			}},
		{name: "deduction selected", end: workflows.StageCompleted,
			tune: func(in *workflows.BillInput) { in.Options.Deduction = workflows.DeductionImmediate },
			applied: func(env *kit.Env, serials []string) kit.Applied {
				a := kit.Applied{Bind: 1, MarkUsed: 1, Voucher: 1}
				for _, sn := range serials {
					if inv, ok := env.Sim.Invoice(sn); ok && workflows.Deductible(inv.Invoice.InvoiceType) {
						a.Deduction = 1 // one selection of the bill's deductible invoices
					}
				}
				return a
			},
			life: func(ctx context.Context, f *fleet, b *fleetBill, url string) error {
				if err := f.importInvoices(ctx, b, url, 2); err != nil {
					return err
				}
				return f.approveAndVoucher(ctx, b)
			}},
	}
)

// fleet drives bills on concurrent ERP clients and knows where each is, so a test can strike
// while bills are in flight and count them honestly.
type fleet struct {
	d     *kit.Driver
	plans []plan

	starting, collecting, deciding, ended atomic.Int32 // bills in each phase now
	bound                                 atomic.Int32 // bills whose first import is bound

	gate     chan struct{} // nil, or shut until openDecisions
	gateOnce sync.Once

	mu    sync.Mutex
	bills []*fleetBill
}

type fleetBill struct {
	id    string
	plan  *plan
	phase atomic.Int32 // 0 waiting, 1 starting, 2 collecting, 3 deciding, 4 ended
	// heldImport: the user's second import waited for the strike, its linkKey's watcher
	// already scheduled before it.
	heldImport atomic.Bool
	mu         sync.Mutex
	imports    []time.Time // when each import was sent
	err        error
}

// newFleet drives bills with d; pushType "" keeps the default (socket).
func newFleet(d *kit.Driver, pushType string) *fleet {
	f := &fleet{d: d, plans: defaultPlan}
	d.Tune = func(in *workflows.BillInput) {
		if pushType != "" {
			in.PushType = pushType
		}
		if b := f.bill(in.BillID); b != nil && b.plan.tune != nil {
			b.plan.tune(in)
		}
	}
	return f
}

func (f *fleet) bill(id string) *fleetBill {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.bills {
		if b.id == id {
			return b
		}
	}
	return nil
}

func (f *fleet) setPhase(b *fleetBill, to int32) {
	counters := map[int32]*atomic.Int32{1: &f.starting, 2: &f.collecting, 3: &f.deciding, 4: &f.ended}
	if from := b.phase.Swap(to); from != to {
		if c := counters[from]; c != nil {
			c.Add(-1)
		}
		if c := counters[to]; c != nil {
			c.Add(1)
		}
	}
}

// decide moves the bill to its decisions; while the fleet's gate is shut, the approvers wait
// (the bill waits in approval, in flight, for the strike).
func (f *fleet) decide(ctx context.Context, b *fleetBill) error {
	f.setPhase(b, 3)
	return f.hold(ctx)
}

// hold waits while the fleet's gate is shut.
func (f *fleet) hold(ctx context.Context) error {
	if f.gate == nil {
		return nil
	}
	select {
	case <-f.gate:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the strike: %w", ctx.Err())
	}
}

// holdDecisions makes approvers, and users about to import a second time, wait until
// openDecisions: bills that have collected stay in flight until the test strikes.
func (f *fleet) holdDecisions() { f.gate = make(chan struct{}) }

// openDecisions lets the approvers and users go on (idempotent).
func (f *fleet) openDecisions() {
	f.gateOnce.Do(func() {
		if f.gate != nil {
			close(f.gate)
		}
	})
}

// importInvoices imports n invoices on url and waits until they are bound.
func (f *fleet) importInvoices(ctx context.Context, b *fleetBill, url string, n int) error {
	b.mu.Lock()
	b.imports = append(b.imports, time.Now())
	first := len(b.imports) == 1
	b.mu.Unlock()
	if _, err := f.d.Import(ctx, b.id, url, n); err != nil {
		return err
	}
	if first {
		f.bound.Add(1)
	}
	return nil
}

func (f *fleet) approveAndVoucher(ctx context.Context, b *fleetBill) error {
	if err := f.decide(ctx, b); err != nil {
		return err
	}
	for _, role := range []string{"supervisor", "finance"} {
		if err := f.d.Approve(ctx, b.id, role); err != nil {
			return err
		}
	}
	return f.d.Voucher(ctx, b.id)
}

// inFlight is where the fleet's bills are at one moment.
type inFlight struct {
	Starting, Collecting, Deciding, Ended, Total int
}

// InFlight counts the bills started and not yet finished.
func (s inFlight) InFlight() int { return s.Collecting + s.Deciding }

func (s inFlight) String() string {
	return fmt.Sprintf("%d of %d bills in flight (%d collecting, %d in approval or voucher; %d still starting, %d finished)",
		s.InFlight(), s.Total, s.Collecting, s.Deciding, s.Starting, s.Ended)
}

func (f *fleet) snapshot() inFlight {
	f.mu.Lock()
	total := len(f.bills)
	f.mu.Unlock()
	return inFlight{Starting: int(f.starting.Load()), Collecting: int(f.collecting.Load()),
		Deciding: int(f.deciding.Load()), Ended: int(f.ended.Load()), Total: total}
}

// run drives n bills (prefix-0…) on c concurrent ERP clients until each has ended, and returns
// every error.
func (f *fleet) run(ctx context.Context, prefix string, n, c int) []error {
	f.mu.Lock()
	for i := 0; i < n; i++ {
		f.bills = append(f.bills, &fleetBill{id: fmt.Sprintf("%s-%d", prefix, i), plan: &f.plans[i%len(f.plans)]})
	}
	bills := f.bills
	f.mu.Unlock()
	for _, b := range bills[:n] {
		b.err = errors.New("not run: the test's context ended first")
	}
	kit.RunMany(ctx, n, c, func(ctx context.Context, i int) error {
		bills[i].err = f.life(ctx, bills[i])
		return bills[i].err
	})
	var errs []error
	for _, b := range bills {
		if b.err != nil {
			errs = append(errs, fmt.Errorf("bill %s (%s): %w", b.id, b.plan.name, b.err))
		}
	}
	return errs
}

func (f *fleet) life(ctx context.Context, b *fleetBill) error {
	f.setPhase(b, 1)
	start, err := f.d.Start(ctx, b.id)
	if err != nil {
		return err
	}
	f.setPhase(b, 2)
	if err := b.plan.life(ctx, f, b, start.Collect.PC); err != nil {
		return err
	}
	st, err := f.d.WaitEnd(ctx, b.id)
	if err != nil {
		return err
	}
	f.setPhase(b, 4)
	if st.Stage != b.plan.end {
		return fmt.Errorf("ended in %s, want %s", st.Stage, b.plan.end)
	}
	return nil
}

// fleetReport is what the cloud and the bills say after a fleet ran.
type fleetReport struct {
	ledger    kit.LedgerReport
	lost      int          // deliveries the cloud handed to a receiver that never reached the bill
	lostBills []*fleetBill // the bills that lost one
	byEnd     map[workflows.Stage]int
	recordsOK bool // kit.CheckBills found nothing wrong
}

// records sums up the cloud's records for a log line.
func (r fleetReport) records() string {
	if !r.recordsOK {
		return "the cloud's records are WRONG (see the errors)"
	}
	return fmt.Sprintf("cloud records of %d bills exact: calls applied as their options require, %d invoices of completed bills bound once",
		r.ledger.Bills, r.ledger.Invoices)
}

// verify checks every bill of the fleet: its end stage, that it never entered failed, each of its
// deliveries recorded (lost ones are counted, not excused), and the cloud's records of it
// (kit.CheckBills: applied calls as its options require, the bound set its user imported, each
// invoice bound once).
func (f *fleet) verify(t *testing.T, ctx context.Context, env *kit.Env) fleetReport {
	t.Helper()
	rep := fleetReport{byEnd: map[workflows.Stage]int{}}
	var want []kit.BillExpectation
	for _, b := range f.bills {
		ref := f.d.Ref(b.id)
		serials := f.d.Imported(b.id)
		want = append(want, kit.BillExpectation{Resource: ref.Resource, BillID: ref.BillID, Serials: serials,
			End: b.plan.end, Applied: b.plan.applied(env, serials)})

		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		st, err := env.Bills.State(sctx, ref)
		cancel()
		if err != nil {
			t.Errorf("bill %s: state: %v", b.id, err)
			continue
		}
		rep.byEnd[st.Stage]++
		for _, h := range st.History {
			if h.Stage == workflows.StageFailed {
				t.Errorf("bill %s (%s) entered failed: %s", b.id, b.plan.name, h.Note)
				break
			}
		}
		recorded := 0
		for _, d := range st.Deliveries {
			switch {
			case d.Outcome == "pending":
				t.Errorf("bill %s: a delivery (%s, %d invoices) was never bound", b.id, d.Via, d.Invoices)
			case (d.Via == workflows.ViaSocket || d.Via == workflows.ViaPoll) && d.Outcome != "duplicate":
				recorded++
			}
		}
		if len(st.Deliveries) >= workflows.DeliveryCap {
			t.Errorf("bill %s lists %d deliveries (the cap): the count would be unsure", b.id, len(st.Deliveries))
		}
		handed := 0
		if cb, ok := env.Sim.Bill(ref.Resource, ref.BillID); ok {
			for _, lk := range cb.LinkKeys {
				handed += lk.Delivered
			}
		}
		switch lost := handed - recorded; {
		case lost > 0:
			rep.lost += lost
			rep.lostBills = append(rep.lostBills, b)
		case lost < 0:
			t.Errorf("bill %s recorded %d deliveries from watchers, the cloud handed out %d", b.id, recorded, handed)
		}
	}
	ledger, err := kit.CheckBills(env.Sim, want)
	if err != nil {
		t.Errorf("the cloud's records of the bills:\n%v", err)
	}
	rep.ledger, rep.recordsOK = ledger, err == nil
	return rep
}

// awaitStrike waits for the moment a test strikes a fleet of n bills: half of them bound, and
// half of the second imports (one bill in five has one) waiting, their watchers scheduled.
func (f *fleet) awaitStrike(ctx context.Context, n int) error {
	return waitFor(ctx, 10*time.Minute, "half of the bills bound and half of the second imports waiting", func() bool {
		return int(f.bound.Load()) >= n/2 && f.heldImports() >= max(1, n/10)
	})
}

// heldImports counts the bills whose second import waited for the strike.
func (f *fleet) heldImports() int {
	n := 0
	for _, b := range f.bills {
		if b.heldImport.Load() {
			n++
		}
	}
	return n
}

// gateOpen: the strike has come.
func (f *fleet) gateOpen() bool {
	select {
	case <-f.gate:
		return true
	default:
		return false
	}
}

// importedBetween: one of the bill's imports was sent within [from, to].
func (b *fleetBill) importedBetween(from, to time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, at := range b.imports {
		if !at.Before(from) && !at.After(to) {
			return true
		}
	}
	return false
}

// idsOf lists bill ids, for messages.
func idsOf(bills []*fleetBill) string {
	ids := make([]string, len(bills))
	for i, b := range bills {
		ids[i] = b.id
	}
	return strings.Join(ids, ", ")
}

// simFaults sets faults or fails the test.
func simFaults(t *testing.T, sim *simulator.Sim, f simulator.Faults) {
	t.Helper()
	if err := sim.SetFaults(f); err != nil {
		t.Fatalf("set faults %+v: %v", f, err)
	}
}
