package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"rimflow/bench/kit"
	"rimflow/cloudsim/simulator"
	"rimflow/workflows"
)

// Config is one bench run.
type Config struct {
	Bills         int
	Concurrency   int
	Waiting       int
	Invoices      int
	Warmup        int
	DataDir       string
	Postgres      string // the server's store: "" = SQLite in DataDir
	WorkerProfile string
	// Profile is the bench process's own CPU profile (server, simulator, ERP clients) during the
	// bills scenario, to see where a bill's cost beyond the baseline goes.
	Profile string
	Verbose bool
	// WorkerExe is the program re-executed as the worker (default: this executable).
	WorkerExe string
}

func defaultConfig() Config {
	return Config{Bills: 500, Concurrency: 16, Waiting: 5000, Invoices: 1, Warmup: 10}
}

func (c Config) validate() error {
	var errs []error
	if c.Bills < 1 {
		errs = append(errs, errors.New("-bills: must be at least 1"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("-concurrency: must be at least 1"))
	}
	if c.Waiting < 0 {
		errs = append(errs, errors.New("-waiting: must be 0 (skip) or more"))
	}
	if c.Invoices < 1 || c.Invoices > 20 {
		errs = append(errs, errors.New("-invoices: must be between 1 and 20"))
	}
	if c.Warmup < 0 {
		errs = append(errs, errors.New("-warmup: must be 0 or more"))
	}
	return errors.Join(errs...)
}

// Result is the JSON the bench prints. The first block of keys is a contract (issue 5); the
// rest are extra detail.
type Result struct {
	Ratio              float64            `json:"ratio"`
	BillsPerSecond     float64            `json:"billsPerSecond"`
	BaselinePerSecond  float64            `json:"baselinePerSecond"`
	StartToURLP99Ms    float64            `json:"startToUrlP99Ms"`
	PushToBoundP50Ms   float64            `json:"pushToBoundP50Ms"`
	PushToBoundP99Ms   float64            `json:"pushToBoundP99Ms"`
	ApproveP99Ms       float64            `json:"approveP99Ms"`
	CloudCallsPerBill  map[string]float64 `json:"cloudCallsPerBill"`
	TokenFetches       int                `json:"tokenFetches"`
	WorkerPeakRssMB    float64            `json:"workerPeakRssMB"`
	ServerPeakRssMB    float64            `json:"serverPeakRssMB"`
	WaitingWorkerRssMB float64            `json:"waitingWorkerRssMB"`
	Completed          int                `json:"completed"`
	Failed             int                `json:"failed"`

	Bills                 int                    `json:"bills"`
	Concurrency           int                    `json:"concurrency"`
	InvoicesPerBill       int                    `json:"invoicesPerBill"`
	BillsSeconds          float64                `json:"billsSeconds"`
	BaselineSeconds       float64                `json:"baselineSeconds"`
	BaselineCompleted     int                    `json:"baselineCompleted"`
	Latency               map[string]kit.Summary `json:"latency"`
	BaselineLatency       map[string]kit.Summary `json:"baselineLatency"`
	CloudEndpointsPerBill map[string]float64     `json:"cloudEndpointsPerBill"`
	TokensIssued          simulator.TokenCounts  `json:"tokensIssued"`
	TokenRejections       int                    `json:"tokenRejections"`
	CPUSecondsPerBill     float64                `json:"cpuSecondsPerBill"`
	WorkerCPUPerBill      float64                `json:"workerCpuSecondsPerBill"`
	ServerCPUPerBill      float64                `json:"serverCpuSecondsPerBill"`
	BaselineCPUPerWf      float64                `json:"baselineCpuSecondsPerWorkflow"`
	Waiting               int                    `json:"waiting"`
	WaitingParked         int                    `json:"waitingParked,omitempty"`
	WaitingParkSeconds    float64                `json:"waitingParkSeconds,omitempty"`
	WaitingServerRssMB    float64                `json:"waitingServerRssMB,omitempty"`
	DrainSeconds          float64                `json:"drainSeconds,omitempty"`
	DrainPerSecond        float64                `json:"drainPerSecond,omitempty"`
	LedgerOK              bool                   `json:"ledgerOk"`
	Store                 string                 `json:"store"` // the server's store: its SQLite file or PostgreSQL (no password)
	Errors                []string               `json:"errors,omitempty"`
}

// run performs the scenarios in order: warm-up, baseline, bills, waiting.
func run(ctx context.Context, cfg Config, progress io.Writer) (*Result, error) {
	if !cfg.Verbose {
		progress = io.Discard
	}
	dir := cfg.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "rimflow-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	logFile, err := os.Create(filepath.Join(dir, "bench.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))

	env, err := kit.StartEnv(ctx, kit.EnvOptions{DataDir: dir, Postgres: cfg.Postgres, Seed: 5, Logger: logger})
	if err != nil {
		return nil, err
	}
	defer env.Close()

	exe := cfg.WorkerExe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	wenv := append(env.WorkerEnv("warn"), workerModeEnv+"=1")
	if cfg.WorkerProfile != "" {
		abs, _ := filepath.Abs(cfg.WorkerProfile)
		wenv = append(wenv, workerProfileEnv+"="+abs)
	}
	var workerLog io.Writer = logFile
	if cfg.Verbose {
		workerLog = io.MultiWriter(logFile, progress)
	}
	w, err := kit.StartWorker(ctx, env.Client, kit.WorkerOptions{
		Path: exe, Env: wenv, Stderr: workerLog,
		TaskQueues: []string{workflows.DefaultTaskQueue, kit.BaselineTaskQueue},
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop(10 * time.Second) }()

	res := &Result{Bills: cfg.Bills, Concurrency: cfg.Concurrency, InvoicesPerBill: cfg.Invoices, Waiting: cfg.Waiting,
		Store: env.Server.Store()}
	b := &bench{cfg: cfg, env: env, worker: w, res: res, progress: progress}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"warm-up", b.warmup},
		{"baseline", b.baseline},
		{"bills", b.profiled(b.bills)},
		{"waiting", b.waiting},
		{"ledger", b.ledger},
	}
	for _, s := range steps {
		fmt.Fprintf(progress, "bench: %s…\n", s.name)
		if err := s.fn(ctx); err != nil {
			return res, fmt.Errorf("%s: %w (logs in %s)", s.name, err, logFile.Name())
		}
	}
	if wm, err := w.Memory(); err == nil {
		res.WorkerPeakRssMB = round1(wm.PeakMB)
	}
	if sm, err := kit.ReadMemory(0); err == nil {
		res.ServerPeakRssMB = round1(sm.PeakMB)
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("%d bill(s) did not complete", res.Failed)
	}
	return res, nil
}

// profiled wraps a scenario with the bench process's CPU profile when -cpuprofile is set.
func (b *bench) profiled(fn func(context.Context) error) func(context.Context) error {
	if b.cfg.Profile == "" {
		return fn
	}
	return func(ctx context.Context) error {
		f, err := os.Create(b.cfg.Profile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
		return fn(ctx)
	}
}

type bench struct {
	cfg      Config
	env      *kit.Env
	worker   *kit.Worker
	res      *Result
	progress io.Writer
	billIDs  []string // every real bill driven, for the ledger
	mu       sync.Mutex
}

func (b *bench) driver(baseline bool, t *kit.Timings) *kit.Driver {
	d := &kit.Driver{Env: b.env, Invoices: b.cfg.Invoices, Timings: t, StepTimeout: 3 * time.Minute}
	if baseline {
		d.Bills, d.Resource, d.Baseline = b.env.BillsOn(kit.BaselineTaskQueue), "BASE", true
	}
	return d
}

func (b *bench) track(d *kit.Driver, id string) {
	if d.Baseline {
		return
	}
	b.mu.Lock()
	b.billIDs = append(b.billIDs, d.Ref(id).Resource+"/"+id)
	b.mu.Unlock()
}

func (b *bench) warmup(ctx context.Context) error {
	if b.cfg.Warmup == 0 {
		return nil
	}
	for _, baseline := range []bool{true, false} {
		d := b.driver(baseline, nil)
		_, failed, errs := runMany(ctx, b.cfg.Warmup, b.cfg.Concurrency, func(ctx context.Context, i int) error {
			id := fmt.Sprintf("warm-%d", i)
			b.track(d, id)
			return d.Life(ctx, id)
		})
		if failed > 0 {
			return fmt.Errorf("%d warm-up bill(s) failed: %v", failed, errs[0])
		}
	}
	return nil
}

func (b *bench) baseline(ctx context.Context) error {
	t := kit.NewTimings()
	d := b.driver(true, t)
	cpu0 := b.cpu()
	began := time.Now()
	ok, failed, errs := runMany(ctx, b.cfg.Bills, b.cfg.Concurrency, func(ctx context.Context, i int) error {
		return d.Life(ctx, fmt.Sprintf("base-%d", i))
	})
	took := time.Since(began)
	cpu := b.cpu().minus(cpu0)
	b.res.BaselineSeconds = round3(took.Seconds())
	b.res.BaselineCompleted = ok
	b.res.BaselinePerSecond = round2(float64(ok) / took.Seconds())
	b.res.BaselineCPUPerWf = round4(cpu.total() / float64(max(ok, 1)))
	b.res.BaselineLatency = summaries(t, kit.LatStartToURL, kit.LatApprove, kit.LatVoucher)
	if failed > 0 {
		return fmt.Errorf("%d baseline workflow(s) failed: %v", failed, errs[0])
	}
	return nil
}

func (b *bench) bills(ctx context.Context) error {
	t := kit.NewTimings()
	d := b.driver(false, t)
	stats0 := b.env.Sim.Stats()
	cpu0 := b.cpu()
	began := time.Now()
	ok, failed, errs := runMany(ctx, b.cfg.Bills, b.cfg.Concurrency, func(ctx context.Context, i int) error {
		id := fmt.Sprintf("bill-%d", i)
		b.track(d, id)
		return d.Life(ctx, id)
	})
	took := time.Since(began)
	cpu := b.cpu().minus(cpu0)
	stats := b.env.Sim.Stats()

	r := b.res
	r.BillsSeconds = round3(took.Seconds())
	r.BillsPerSecond = round2(float64(ok) / took.Seconds())
	if r.BaselinePerSecond > 0 {
		r.Ratio = round3(r.BillsPerSecond / r.BaselinePerSecond)
	}
	r.Completed += ok
	r.Failed += failed
	r.addErrors(errs)
	r.Latency = summaries(t, kit.LatStartToURL, kit.LatPushToBound, kit.LatApprove, kit.LatVoucher)
	r.StartToURLP99Ms = r.Latency[kit.LatStartToURL].P99
	r.PushToBoundP50Ms = r.Latency[kit.LatPushToBound].P50
	r.PushToBoundP99Ms = r.Latency[kit.LatPushToBound].P99
	r.ApproveP99Ms = r.Latency[kit.LatApprove].P99
	n := float64(b.cfg.Bills)
	r.CloudCallsPerBill = perBill(stats.MessageTypes, stats0.MessageTypes, n)
	r.CloudEndpointsPerBill = perBill(stats.Endpoints, stats0.Endpoints, n)
	r.CPUSecondsPerBill = round4(cpu.total() / n)
	r.WorkerCPUPerBill = round4(cpu.worker / n)
	r.ServerCPUPerBill = round4(cpu.self / n)
	return nil
}

func (b *bench) waiting(ctx context.Context) error {
	m := b.cfg.Waiting
	if m == 0 {
		return b.tokens()
	}
	d := b.driver(false, nil)
	d.Resource = "WAIT"
	began := time.Now()
	parked, failed, errs := runMany(ctx, m, b.cfg.Concurrency, func(ctx context.Context, i int) error {
		id := fmt.Sprintf("wait-%d", i)
		b.track(d, id)
		return d.Park(ctx, id)
	})
	b.res.WaitingParked = parked
	b.res.WaitingParkSeconds = round3(time.Since(began).Seconds())
	b.res.Failed += failed
	b.res.addErrors(errs)
	fmt.Fprintf(b.progress, "bench: %d bills parked in %.1fs; waiting for them to rest in %s\n",
		parked, b.res.WaitingParkSeconds, workflows.StageAwaitingSupervisor)
	if err := b.waitCount(ctx, "WAIT", workflows.StageAwaitingSupervisor, parked); err != nil {
		return err
	}
	time.Sleep(3 * time.Second) // let in-flight tasks and GC settle: RSS "at rest"
	if wm, err := b.worker.Memory(); err == nil {
		b.res.WaitingWorkerRssMB = round1(wm.RSSMB)
	}
	if sm, err := kit.ReadMemory(0); err == nil {
		b.res.WaitingServerRssMB = round1(sm.RSSMB)
	}
	fmt.Fprintf(b.progress, "bench: at rest worker %.1f MB, server %.1f MB; draining\n",
		b.res.WaitingWorkerRssMB, b.res.WaitingServerRssMB)

	began = time.Now()
	ok, failed, errs := runMany(ctx, m, b.cfg.Concurrency, func(ctx context.Context, i int) error {
		return d.Drain(ctx, fmt.Sprintf("wait-%d", i))
	})
	b.res.DrainSeconds = round3(time.Since(began).Seconds())
	b.res.DrainPerSecond = round2(float64(ok) / b.res.DrainSeconds)
	b.res.Completed += ok
	b.res.Failed += max(failed-(m-parked), 0) // a bill that never parked is counted once
	b.res.addErrors(errs)
	return b.tokens()
}

// waitCount waits until visibility lists want bills of the resource in stage.
func (b *bench) waitCount(ctx context.Context, resource string, stage workflows.Stage, want int) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	q := fmt.Sprintf("%s = '%s' AND %s = '%s'", workflows.SABillResource.GetName(), resource,
		workflows.SABillStage.GetName(), stage)
	var last int64
	for {
		resp, err := b.env.Client.CountWorkflow(ctx, &workflowCountRequest{Query: q})
		if err == nil {
			last = resp.GetCount()
			if last >= int64(want) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("only %d of %d bills reached %s: %w", last, want, stage, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (b *bench) tokens() error {
	st := b.env.Sim.Stats()
	b.res.TokensIssued = st.TokensIssued
	b.res.TokenFetches = st.TokensIssued.Access + st.TokensIssued.OAuth2
	b.res.TokenRejections = st.TokenRejections
	return nil
}

func (b *bench) ledger(context.Context) error {
	b.mu.Lock()
	ids := append([]string(nil), b.billIDs...)
	b.mu.Unlock()
	_, err := kit.CheckLedger(b.env.Sim, ids, b.res.Failed == 0)
	b.res.LedgerOK = err == nil
	if err != nil {
		b.res.addErrors([]error{err})
	}
	return nil
}

type cpuTimes struct{ self, worker float64 }

func (c cpuTimes) total() float64 { return c.self + c.worker }
func (c cpuTimes) minus(o cpuTimes) cpuTimes {
	return cpuTimes{c.self - o.self, c.worker - o.worker}
}

func (b *bench) cpu() cpuTimes {
	self, _ := kit.ReadCPUSeconds(0)
	worker, _ := b.worker.CPUSeconds()
	return cpuTimes{self, worker}
}

// runMany runs fn for 0..n-1 on c goroutines; it returns the successes, failures and errors.
func runMany(ctx context.Context, n, c int, fn func(context.Context, int) error) (ok, failed int, errs []error) {
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(c, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				err := fn(ctx, i)
				mu.Lock()
				if err != nil {
					failed++
					errs = append(errs, err)
				} else {
					ok++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if rest := n - ok - failed; rest > 0 {
		failed += rest
		errs = append(errs, fmt.Errorf("%d not run: %w", rest, context.Cause(ctx)))
	}
	return ok, failed, errs
}

func (r *Result) addErrors(errs []error) {
	for _, err := range errs {
		if len(r.Errors) >= 5 {
			return
		}
		r.Errors = append(r.Errors, err.Error())
	}
}

func summaries(t *kit.Timings, names ...string) map[string]kit.Summary {
	out := map[string]kit.Summary{}
	for _, n := range names {
		out[n] = t.Summary(n)
	}
	return out
}

func perBill(after, before map[string]int, n float64) map[string]float64 {
	out := map[string]float64{}
	for k := range maps.Keys(after) {
		if d := after[k] - before[k]; d > 0 {
			out[k] = round3(float64(d) / n)
		}
	}
	return out
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
func round4(v float64) float64 { return math.Round(v*10000) / 10000 }

type workflowCountRequest = workflowservice.CountWorkflowExecutionsRequest
