package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"rimflow/bench/kit"
	"rimflow/devstack/harness"
	"rimflow/workflows"
)

// long runs TestBenchShort at ten times its sizes: `go test ./bench/ -long` (the real figures
// come from `go run ./bench`).
var long = flag.Bool("long", false, "run TestBenchShort at ten times its sizes (50 bills, 100 waiting, 30 collecting)")

// TestMain lets the test binary be the bench's worker process too: run re-executes itself
// with workerModeEnv set, exactly as `go run ./bench` does.
func TestMain(m *testing.M) {
	if mode := os.Getenv(workerModeEnv); mode != "" {
		os.Exit(workerMain(mode))
	}
	os.Exit(m.Run())
}

// contractKeys are the JSON keys issue 5 fixes.
var contractKeys = []string{"ratio", "billsPerSecond", "baselinePerSecond", "startToUrlP99Ms",
	"pushToBoundP50Ms", "pushToBoundP99Ms", "approveP99Ms", "cloudCallsPerBill", "tokenFetches",
	"workerPeakRssMB", "serverPeakRssMB", "waitingWorkerRssMB", "completed", "failed"}

// collectingKeys are the collecting scenario's keys (issue 9).
var collectingKeys = []string{"collectingBills", "watcherIdleCores", "watcherCpuMsPerMinute", "heartbeatIntervalSeconds",
	"watchersLive", "socketsLive", "pollsHeldLive", "watchersAfterExpiry", "socketsAfterExpiry", "pollsHeldAfterExpiry",
	"collectingWorkerRssMB", "idleCpu", "startProbes"}

// TestBenchShort runs the whole harness small (5 bills, 10 waiting, 3 collecting; -long: ten
// times that) so it cannot rot: every scenario runs on the real server, simulator and a worker
// process, and the figures it reports are consistent. Speed is reported, never asserted. It lasts
// about as long as the eventCodes of its collecting bills, which must expire for the last counts:
// a short life (40 s) with a short reissue margin (10 s, as RIMFLOW_REISSUE_MARGIN sets it), so
// a start keeps its first eventCode; -long keeps the product's margin and a longer life.
func TestBenchShort(t *testing.T) {
	cfg := Config{Bills: 5, Concurrency: 3, Waiting: 10, Invoices: 2, Warmup: 1, DataDir: t.TempDir(),
		Collecting: 3, ReissueMargin: 10 * time.Second, EventCodeTTL: 40 * time.Second, WatchGrace: time.Second,
		IdleWindow: 2 * time.Second, Settle: 2 * time.Second, Probes: 2}
	if *long {
		cfg.Bills, cfg.Concurrency, cfg.Waiting, cfg.Collecting = 50, 8, 100, 30
		// 30 collecting bills and 50 bills must fit in their life.
		cfg.ReissueMargin, cfg.EventCodeTTL = 0, workflows.ReissueMargin+80*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Minute+cfg.EventCodeTTL)
	defer cancel()
	res, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		t.Fatalf("bench run: %v", err)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	for _, k := range append(contractKeys, collectingKeys...) {
		if _, ok := obj[k]; !ok {
			t.Errorf("JSON result lacks the contract key %q", k)
		}
	}
	// The bills run twice with collecting bills: alone (the control), then beside them.
	if want := 2*cfg.Bills + cfg.Waiting; res.Completed != want || res.Failed != 0 {
		t.Errorf("completed %d, failed %d; want %d and 0 (errors: %v)", res.Completed, res.Failed, want, res.Errors)
	}
	if res.BaselineCompleted != cfg.Bills {
		t.Errorf("baseline completed %d, want %d", res.BaselineCompleted, cfg.Bills)
	}
	if !res.LedgerOK {
		t.Errorf("the simulator's ledger disagrees: %v", res.Errors)
	}
	// Default options (two approvals, no deduction, autoSubmit): the minimum is one eventCode,
	// bind (30), used (60) and the voucher. No retries happen without faults.
	for mt, want := range map[string]float64{"getEventCode": 1, "billSave": 2, "voucherSave": 1} {
		if got := res.CloudCallsPerBill[mt]; got != want {
			t.Errorf("cloud calls per bill %s = %v, want %v (all: %v)", mt, got, want, res.CloudCallsPerBill)
		}
	}
	if res.TokenFetches != 1 {
		t.Errorf("token fetches = %d, want 1 (one worker, one token lifetime)", res.TokenFetches)
	}
	for name, v := range map[string]float64{"billsPerSecond": res.BillsPerSecond, "baselinePerSecond": res.BaselinePerSecond,
		"ratio": res.Ratio, "pushToBoundP99Ms": res.PushToBoundP99Ms, "approveP99Ms": res.ApproveP99Ms,
		"startToUrlP99Ms": res.StartToURLP99Ms, "workerPeakRssMB": res.WorkerPeakRssMB,
		"serverPeakRssMB": res.ServerPeakRssMB, "waitingWorkerRssMB": res.WaitingWorkerRssMB,
		"cpuSecondsPerBill": res.CPUSecondsPerBill, "drainSeconds": res.DrainSeconds} {
		if v <= 0 {
			t.Errorf("%s = %v, want a measured (positive) figure", name, v)
		}
	}
	if res.WorkerPeakRssMB < res.WaitingWorkerRssMB {
		t.Errorf("worker peak RSS %.1f MB below its RSS at rest %.1f MB", res.WorkerPeakRssMB, res.WaitingWorkerRssMB)
	}
	checkCollecting(t, cfg, res)
	t.Logf("short run: %s", raw)
}

// checkCollecting: the collecting bills each held one running watcher and a socket or a poll
// while they lived, new bills still started beside them, and after their eventCodes expired
// nothing was left; the quiet windows were measured.
func checkCollecting(t *testing.T, cfg Config, res *Result) {
	t.Helper()
	if res.CollectingParked != cfg.Collecting {
		t.Errorf("collecting bills started %d, want %d", res.CollectingParked, cfg.Collecting)
	}
	if w := res.WatchersLive; w.Running != cfg.Collecting || w.Scheduled != 0 || w.Unanswered != 0 {
		t.Errorf("watchers while live: %+v, want %d running", w, cfg.Collecting)
	}
	// A warm-up bill's cancelled watcher may still hold its socket (it learns of the cancel at its
	// next heartbeat): at least one per collecting bill.
	if held := res.SocketsLive + res.PollsHeldLive; held < cfg.Collecting {
		t.Errorf("while live the simulator held %d sockets and %d polls, want at least %d together",
			res.SocketsLive, res.PollsHeldLive, cfg.Collecting)
	}
	if p := res.StartProbes; p == nil || p.Started != cfg.Probes || p.Statuses["201"] != cfg.Probes {
		t.Errorf("POST /v1/bills beside the collecting bills: %+v, want %d started with 201", p, cfg.Probes)
	}
	if w := res.WatchersAfterExpiry; w.Running+w.Scheduled+w.Unanswered != 0 || w.Bills != cfg.Collecting+cfg.Probes ||
		res.SocketsAfterExpiry != 0 || res.PollsHeldAfterExpiry != 0 || res.ZeroAfterExpirySeconds < 0 {
		t.Errorf("after expiry: watchers %+v, %d sockets, %d polls, zero after %vs; want nothing left",
			w, res.SocketsAfterExpiry, res.PollsHeldAfterExpiry, res.ZeroAfterExpirySeconds)
	}
	for _, name := range []string{"none", "watchers", "noneAfterExpiry"} {
		c, ok := res.IdleCPU[name]
		// A quiet process may use no CPU tick in a short window: only the window itself is checked.
		if !ok || c.Seconds < cfg.IdleWindow.Seconds() || c.ServerCores < 0 || c.SimulatorCores < 0 || c.WorkerCores < 0 {
			t.Errorf("quiet window %q: %+v (measured: %v), want at least %s", name, c, ok, cfg.IdleWindow)
		}
	}
	if res.WatcherIdleReference != "noneAfterExpiry" {
		t.Errorf("the watchers' cost was taken against %q, want noneAfterExpiry", res.WatcherIdleReference)
	}
	if res.AloneLatency[kit.LatPushToBound].Count != cfg.Bills {
		t.Errorf("the control run's push→bound: %+v, want %d measured", res.AloneLatency[kit.LatPushToBound], cfg.Bills)
	}
	if res.CollectingWorkerRssMB <= 0 || len(res.Skipped) != 0 {
		t.Errorf("RSS with the collecting bills %.1f MB, skipped %v", res.CollectingWorkerRssMB, res.Skipped)
	}
}

// BenchmarkBillLife: one op is one bill's whole life (16 concurrent ERP clients on 2 cores),
// on the real server, simulator and worker process. Compare with BenchmarkBaselineLife:
//
//	go test -run '^$' -bench Life -benchtime 100x ./bench/
func BenchmarkBillLife(b *testing.B) { benchLife(b, false) }

// BenchmarkBaselineLife: one op is one no-op workflow of a bill's shape, driven the same way.
func BenchmarkBaselineLife(b *testing.B) { benchLife(b, true) }

func benchLife(b *testing.B, baseline bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env, err := kit.StartEnv(ctx, kit.EnvOptions{DataDir: b.TempDir(), Seed: 9})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	w, err := harness.StartWorker(ctx, env.Client, harness.WorkerOptions{
		Path: exe, Env: append(env.WorkerEnv("error"), workerModeEnv+"=1"),
		TaskQueues: []string{workflows.DefaultTaskQueue, kit.BaselineTaskQueue},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = w.Stop(10 * time.Second) }()
	d := &kit.Driver{Env: env, Resource: "GOBENCH"}
	if baseline {
		d.Bills, d.Resource, d.Baseline = env.BillsOn(kit.BaselineTaskQueue), "GOBASE", true
	}
	if err := d.Life(ctx, "warm"); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	began := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := d.Life(ctx, fmt.Sprintf("b-%d", seq.Add(1))); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "bills/s")
}
