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
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"rimflow/bench/kit"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/config"
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
	// WorkerMemProfile is where the worker writes a heap profile at the end of the quiet window
	// with the collecting bills live (this build's worker only).
	WorkerMemProfile string
	// Profile is the bench process's own CPU profile (server, simulator, ERP clients) during the
	// bills scenario, to see where a bill's cost beyond the baseline goes.
	Profile string
	Verbose bool
	// WorkerExe is the program re-executed as the worker (default: this executable).
	WorkerExe string

	// Collecting bills sit in collecting with live collect URLs (nobody imports) from before the
	// bills scenario until their eventCodes expire (0 skips the collecting scenario).
	Collecting int
	// EventCodeTTL is the simulator's eventCode life and the one the worker reports (0: long enough
	// for the run, autoEventCodeTTL).
	EventCodeTTL time.Duration
	// ReissueMargin is stamped on the bench's bills (0: the workflow's, workflows.ReissueMargin);
	// the eventCode life must exceed it.
	ReissueMargin time.Duration
	// WatchGrace is the worker's RIMFLOW_WATCH_GRACE (watchers listen this long after expiry).
	WatchGrace time.Duration
	// IdleWindow is each quiet window's length: whole heartbeat intervals, so every idle watcher's
	// heartbeats are in it in proportion whatever their phase (one interval holds exactly one).
	IdleWindow time.Duration
	// Settle is how long after the last collecting bill started the live counts and the quiet
	// window begin: past the socket's silence (60 s), when an idle watcher waits on a long poll.
	Settle time.Duration
	// Probes is how many bills are started through POST /v1/bills with the collecting bills live.
	Probes int
	// WorkerBinary is another build's worker program to drive instead of this one's (the bills'
	// worker only; the baseline then runs in a second process, this binary's).
	WorkerBinary string
	// WorkerMemLimit is the worker's GOMEMLIMIT (the Go runtime's soft memory limit, e.g. 400MiB);
	// "" leaves the runtime's default (none). Only the worker gets it: the bench process holds
	// the server.
	WorkerMemLimit string
	// WorkerMetricsAddr, when set, is the worker's RIMFLOW_METRICS_ADDR: the watchers comparison
	// reads the Go runtime's figures (goroutines, heap, stacks) from its /metrics.
	WorkerMetricsAddr string
	// WatchersBefore, when set, runs only the watchers comparison (watchers.go): that worker
	// program against this build's, WatchersSmall and Collecting collecting bills each.
	WatchersBefore string
	WatchersSmall  int
}

func defaultConfig() Config {
	return Config{Bills: 500, Concurrency: 16, Waiting: 5000, Invoices: 1, Warmup: 10,
		Collecting: 5000, WatchGrace: 10 * time.Second, IdleWindow: heartbeatInterval,
		Settle: 65 * time.Second, Probes: 16}
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
	if c.Collecting < 0 {
		errs = append(errs, errors.New("-collecting: must be 0 (skip) or more"))
	}
	if c.ReissueMargin < 0 {
		errs = append(errs, errors.New("-reissue-margin: must not be negative"))
	}
	if c.EventCodeTTL != 0 && c.EventCodeTTL <= c.reissueMargin() {
		errs = append(errs, fmt.Errorf("-eventcode-ttl: must be longer than %s, the reissue margin (a start would replace its eventCode at once)", c.reissueMargin()))
	}
	if c.WatchGrace < time.Second || c.WatchGrace > 25*time.Minute {
		errs = append(errs, errors.New("-watch-grace: must be from 1s to 25m (RIMFLOW_WATCH_GRACE)"))
	}
	if c.Collecting > 0 && c.IdleWindow <= 0 {
		errs = append(errs, errors.New("-idle-window: must be positive"))
	}
	if c.Settle < 0 || c.Probes < 0 {
		errs = append(errs, errors.New("-settle and -probes: must be 0 or more"))
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
	// HistoryPerBill and BaselineHistoryPerWf: what one happy bill and one baseline workflow leave
	// in Temporal (events, upserts, visibility writes, bytes), from a sample of each.
	HistoryPerBill       *HistoryCost `json:"historyPerBill,omitempty"`
	BaselineHistoryPerWf *HistoryCost `json:"baselineHistoryPerWorkflow,omitempty"`
	Waiting              int          `json:"waiting"`
	WaitingParked        int          `json:"waitingParked,omitempty"`
	WaitingParkSeconds   float64      `json:"waitingParkSeconds,omitempty"`
	WaitingServerRssMB   float64      `json:"waitingServerRssMB,omitempty"`
	DrainSeconds         float64      `json:"drainSeconds,omitempty"`
	DrainPerSecond       float64      `json:"drainPerSecond,omitempty"`
	LedgerOK             bool         `json:"ledgerOk"`
	Store                string       `json:"store"` // the server's store: its SQLite file or PostgreSQL (no password)
	Errors               []string     `json:"errors,omitempty"`

	CollectingResult
}

// run performs the scenarios in order (see steps): warm-up, baseline, with collecting bills the
// control, the quiet windows and the collecting bills around the bills scenario, waiting, ledger.
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

	envOpts := kit.EnvOptions{DataDir: dir, Postgres: cfg.Postgres, Seed: 5, Logger: logger, ReissueMargin: cfg.ReissueMargin}
	var ttl time.Duration
	if cfg.Collecting > 0 {
		ttl = cfg.autoEventCodeTTL()
		envOpts.Sim.EventCodeTTL = ttl
	}
	env, err := kit.StartEnv(ctx, envOpts)
	if err != nil {
		return nil, err
	}
	defer env.Close()

	var workerLog io.Writer = logFile
	if cfg.Verbose {
		workerLog = io.MultiWriter(logFile, progress)
	}
	workers, err := startWorkers(ctx, cfg, env, ttl, workerLog)
	for _, w := range workers {
		defer func() { _ = w.Stop(10 * time.Second) }()
	}
	if err != nil {
		return nil, err
	}

	res := &Result{Bills: cfg.Bills, Concurrency: cfg.Concurrency, InvoicesPerBill: cfg.Invoices, Waiting: cfg.Waiting,
		Store: env.Server.Store()}
	res.CollectingBills, res.WorkerBinary = cfg.Collecting, cfg.WorkerBinary
	res.WorkerMemLimit = cfg.WorkerMemLimit
	if cfg.Collecting > 0 {
		res.EventCodeTTLSec, res.WatchGraceSec = ttl.Seconds(), cfg.WatchGrace.Seconds()
		res.IdleCPU = map[string]kit.IdleCPU{}
	}
	b := &bench{cfg: cfg, env: env, worker: workers[0], extra: workers[1:], res: res, progress: progress, coll: &collectingState{}}
	steps := []struct {
		name string
		fn   func(context.Context) error
		load bool // a bill load: skipped when new bills are refused
	}{
		{"warm-up", b.warmup, false},
		{"baseline", b.baseline, false},
		{"bills, no collecting bills yet (control)", b.billsAlone, false},
		{"quiet window, no collecting bills", b.idleBefore, false},
		{"collecting bills", b.parkCollecting, false},
		{"quiet window with their watchers", b.idleWatchers, false},
		{"start probes", b.probeStarts, false},
		{"bills", b.profiled(b.bills), true},
		{"history per bill", b.historyCosts, true},
		{"expiry of the collecting bills", b.expiry, false},
		{"waiting", b.waiting, true},
		{"ledger", b.ledger, false},
	}
	for _, s := range steps {
		if s.load && b.skip != "" {
			res.Skipped = append(res.Skipped, s.name+": "+b.skip)
			fmt.Fprintf(progress, "bench: %s skipped: %s\n", s.name, b.skip)
			continue
		}
		fmt.Fprintf(progress, "bench: %s…\n", s.name)
		if err := s.fn(ctx); err != nil {
			return res, fmt.Errorf("%s: %w (logs in %s)", s.name, err, logFile.Name())
		}
	}
	_ = b.tokens()
	if wm, err := b.worker.Memory(); err == nil {
		res.WorkerPeakRssMB = round1(wm.PeakMB)
	}
	if sm, err := harness.ReadMemory(0); err == nil {
		res.ServerPeakRssMB = round1(sm.PeakMB)
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("%d bill(s) did not complete", res.Failed)
	}
	if b.skip != "" {
		return res, fmt.Errorf("new bills refused: %s", b.skip)
	}
	return res, nil
}

// startWorkers starts the bills' worker (this binary in worker mode, or cfg.WorkerBinary) and,
// beside another build's worker, this binary serving only the baseline. The bills' worker is first.
func startWorkers(ctx context.Context, cfg Config, env *kit.Env, ttl time.Duration, log io.Writer) ([]*harness.Worker, error) {
	self := cfg.WorkerExe
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	wenv := env.WorkerEnv("warn")
	if cfg.WatchGrace > 0 {
		wenv = append(wenv, config.EnvWatchGrace+"="+cfg.WatchGrace.String())
	}
	if ttl > 0 {
		wenv = append(wenv, kit.EnvEventCodeTTL+"="+ttl.String())
	}
	if cfg.WorkerMemLimit != "" {
		wenv = append(wenv, "GOMEMLIMIT="+cfg.WorkerMemLimit) // the last of a duplicate key wins
	}
	if cfg.WorkerMetricsAddr != "" {
		wenv = append(wenv, config.EnvMetricsAddr+"="+cfg.WorkerMetricsAddr)
	}
	if cfg.WorkerBinary == "" {
		wenv = append(wenv, workerModeEnv+"="+workerModeBills)
		if cfg.WorkerProfile != "" {
			abs, _ := filepath.Abs(cfg.WorkerProfile)
			wenv = append(wenv, workerProfileEnv+"="+abs)
		}
		if cfg.WorkerMemProfile != "" {
			abs, _ := filepath.Abs(cfg.WorkerMemProfile)
			wenv = append(wenv, workerMemProfileEnv+"="+abs)
		}
		w, err := harness.StartWorker(ctx, env.Client, harness.WorkerOptions{Path: self, Env: wenv, Stderr: log,
			TaskQueues: []string{workflows.DefaultTaskQueue, kit.BaselineTaskQueue}})
		if err != nil {
			return nil, err
		}
		return []*harness.Worker{w}, nil
	}
	w, err := harness.StartWorker(ctx, env.Client, harness.WorkerOptions{Path: cfg.WorkerBinary, Env: wenv, Stderr: log,
		TaskQueues: []string{workflows.DefaultTaskQueue}})
	if err != nil {
		return nil, err
	}
	bw, err := harness.StartWorker(ctx, env.Client, harness.WorkerOptions{Path: self,
		Env: append(env.WorkerEnv("warn"), workerModeEnv+"="+workerModeBaseline), Stderr: log,
		TaskQueues: []string{kit.BaselineTaskQueue}})
	if err != nil {
		return []*harness.Worker{w}, err
	}
	return []*harness.Worker{w, bw}, nil
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
	worker   *harness.Worker   // the bills' worker
	extra    []*harness.Worker // the baseline's own process beside another build's worker
	res      *Result
	coll     *collectingState
	skip     string // why the bill loads are skipped (new bills refused), "" = they run
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
		_, failed, errs := kit.RunMany(ctx, b.cfg.Warmup, b.cfg.Concurrency, func(ctx context.Context, i int) error {
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
	ok, failed, errs := kit.RunMany(ctx, b.cfg.Bills, b.cfg.Concurrency, func(ctx context.Context, i int) error {
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
	ok, failed, errs := kit.RunMany(ctx, b.cfg.Bills, b.cfg.Concurrency, func(ctx context.Context, i int) error {
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
	if b.cfg.Collecting > 0 && time.Now().After(b.coll.firstExp) {
		r.addErrors([]error{errors.New("some collecting bills' eventCodes expired before the bills scenario ended: raise -eventcode-ttl")})
	}
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
	parked, failed, errs := kit.RunMany(ctx, m, b.cfg.Concurrency, func(ctx context.Context, i int) error {
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
	if sm, err := harness.ReadMemory(0); err == nil {
		b.res.WaitingServerRssMB = round1(sm.RSSMB)
	}
	fmt.Fprintf(b.progress, "bench: at rest worker %.1f MB, server %.1f MB; draining\n",
		b.res.WaitingWorkerRssMB, b.res.WaitingServerRssMB)

	began = time.Now()
	ok, failed, errs := kit.RunMany(ctx, m, b.cfg.Concurrency, func(ctx context.Context, i int) error {
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
	self, _ := harness.ReadCPUSeconds(0)
	var worker float64
	for _, w := range b.workers() {
		c, _ := w.CPUSeconds()
		worker += c
	}
	return cpuTimes{self, worker}
}

// workers are every worker process: the bills' first.
func (b *bench) workers() []*harness.Worker { return append([]*harness.Worker{b.worker}, b.extra...) }

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
