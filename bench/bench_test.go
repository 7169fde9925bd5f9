package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"rimflow/bench/kit"
	"rimflow/workflows"
)

// TestMain lets the test binary be the bench's worker process too: run re-executes itself
// with workerModeEnv set, exactly as `go run ./bench` does.
func TestMain(m *testing.M) {
	if os.Getenv(workerModeEnv) == "1" {
		os.Exit(workerMain())
	}
	os.Exit(m.Run())
}

// contractKeys are the JSON keys issue 5 fixes.
var contractKeys = []string{"ratio", "billsPerSecond", "baselinePerSecond", "startToUrlP99Ms",
	"pushToBoundP50Ms", "pushToBoundP99Ms", "approveP99Ms", "cloudCallsPerBill", "tokenFetches",
	"workerPeakRssMB", "serverPeakRssMB", "waitingWorkerRssMB", "completed", "failed"}

// TestBenchShort runs the whole harness small (5 bills, 20 waiting) so it cannot rot: every
// scenario runs on the real server, simulator and a worker process, and the figures it reports
// are consistent. Speed is reported, never asserted.
func TestBenchShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg := Config{Bills: 5, Concurrency: 3, Waiting: 20, Invoices: 2, Warmup: 1, DataDir: t.TempDir()}
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
	for _, k := range contractKeys {
		if _, ok := obj[k]; !ok {
			t.Errorf("JSON result lacks the contract key %q", k)
		}
	}
	if res.Completed != cfg.Bills+cfg.Waiting || res.Failed != 0 {
		t.Errorf("completed %d, failed %d; want %d and 0 (errors: %v)", res.Completed, res.Failed, cfg.Bills+cfg.Waiting, res.Errors)
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
	t.Logf("short run: %s", raw)
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
	w, err := kit.StartWorker(ctx, env.Client, kit.WorkerOptions{
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
