package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"rimflow/bench/kit"
	"rimflow/devstack/harness"
	"rimflow/workflows"
)

// The watchers comparison (-watchers-before PATH): what live watchers cost, measured for another
// build's worker (PATH, e.g. the previous main's ./worker) and for this build's, one after the
// other in one run, each on a fresh server and simulator, and reported side by side with the
// ratios this/before. Per build: a quiet window with no bill; -watchers-small collecting bills,
// settle, the worker's RSS; up to -collecting, settle, the RSS again (memory per watcher is the
// difference over the difference in watchers: the process's fixed part drops out); a quiet window
// with them all live (idle CPU, less the first window); then cancel → close: a few of them import,
// the bill binds and moves on (autoSubmit), and the time from the bill leaving collecting to the
// simulator's socket on its linkKey closing.

// WatcherBuild is one build's figures.
type WatcherBuild struct {
	Build      string `json:"build"`
	SmallBills int    `json:"smallBills"`
	LargeBills int    `json:"largeBills"`
	// RssNoneMB is the worker's RSS with no bill (after the first quiet window).
	RssNoneMB  float64 `json:"rssNoneMB"`
	RssSmallMB float64 `json:"rssSmallMB"`
	RssLargeMB float64 `json:"rssLargeMB"`
	// The worker's Go runtime at each of the three points (its /metrics): where the RSS goes.
	RuntimeNone  GoRuntime `json:"runtimeNone"`
	RuntimeSmall GoRuntime `json:"runtimeSmall"`
	RuntimeLarge GoRuntime `json:"runtimeLarge"`
	KBPerWatcher float64   `json:"kbPerWatcher"`
	SocketsLive  int       `json:"socketsLive"`
	PollsLive    int       `json:"pollsLive"`
	// Idle CPU with the large number live, less the window with no bill (server + worker cores).
	IdleNone        kit.IdleCPU `json:"idleNone"`
	IdleLive        kit.IdleCPU `json:"idleLive"`
	IdleCores       float64     `json:"idleCores"`
	IdleWorkerCores float64     `json:"idleWorkerCores"`
	IdleServerCores float64     `json:"idleServerCores"`
	// CancelToClose: from the bill leaving collecting to its socket closing, in ms; NotClosed the
	// sockets still open at the deadline (two heartbeat intervals and 30 s).
	CancelToClose kit.Summary `json:"cancelToClose"`
	NotClosed     int         `json:"notClosed"`
}

// GoRuntime is what a worker's /metrics says of its Go runtime (Prometheus' Go collector), in MB.
type GoRuntime struct {
	Goroutines  int     `json:"goroutines"`
	HeapInuseMB float64 `json:"heapInuseMB"` // spans in use: live objects and garbage not yet swept
	HeapAllocMB float64 `json:"heapAllocMB"` // objects allocated and not yet freed
	StackMB     float64 `json:"stackMB"`
	SysMB       float64 `json:"sysMB"` // all the runtime took from the OS
}

// readGoRuntime scrapes addr's /metrics; the zero value when it cannot.
func readGoRuntime(ctx context.Context, addr string) GoRuntime {
	var g GoRuntime
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return g
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return g
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_goroutines":
			g.Goroutines = int(v)
		case "go_memstats_heap_inuse_bytes":
			g.HeapInuseMB = round1(v / (1 << 20))
		case "go_memstats_heap_alloc_bytes":
			g.HeapAllocMB = round1(v / (1 << 20))
		case "go_memstats_stack_inuse_bytes":
			g.StackMB = round1(v / (1 << 20))
		case "go_memstats_sys_bytes":
			g.SysMB = round1(v / (1 << 20))
		}
	}
	return g
}

// freeAddr is a loopback address with a port free now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// WatchersResult is the comparison's JSON.
type WatchersResult struct {
	Before WatcherBuild       `json:"before"`
	After  WatcherBuild       `json:"after"`
	Ratios map[string]float64 `json:"ratiosAfterOverBefore"`
	Errors []string           `json:"errors,omitempty"`
}

// cancelSamples is how many bills import for the cancel → close measure.
const cancelSamples = 20

func runWatchers(ctx context.Context, cfg Config, progress io.Writer) (*WatchersResult, error) {
	if !cfg.Verbose {
		progress = io.Discard
	}
	res := &WatchersResult{Ratios: map[string]float64{}}
	var err error
	before := cfg
	before.WorkerBinary = cfg.WatchersBefore
	if res.Before, err = watcherBuild(ctx, before, "before: "+cfg.WatchersBefore, progress); err != nil {
		return res, fmt.Errorf("before: %w", err)
	}
	// The after build's worker is this build's ./worker program when -worker-binary names it: the
	// bench's own binary (re-executed) carries the Temporal server's code and a baseline worker
	// beside the bills', which a worker program does not, so only two programs compare evenly.
	after := cfg
	name := "this build"
	if cfg.WorkerBinary != "" {
		name = "after: " + cfg.WorkerBinary
	}
	if res.After, err = watcherBuild(ctx, after, name, progress); err != nil {
		return res, fmt.Errorf("this build: %w", err)
	}
	ratio := func(key string, a, b float64) {
		if b != 0 {
			res.Ratios[key] = round3(a / b)
		}
	}
	ratio("rssLarge", res.After.RssLargeMB, res.Before.RssLargeMB)
	ratio("kbPerWatcher", res.After.KBPerWatcher, res.Before.KBPerWatcher)
	ratio("idleCores", res.After.IdleCores, res.Before.IdleCores)
	ratio("cancelToCloseP50", res.After.CancelToClose.P50, res.Before.CancelToClose.P50)
	ratio("cancelToCloseMax", res.After.CancelToClose.Max, res.Before.CancelToClose.Max)
	return res, nil
}

func watcherBuild(ctx context.Context, cfg Config, name string, progress io.Writer) (WatcherBuild, error) {
	out := WatcherBuild{Build: name, SmallBills: cfg.WatchersSmall, LargeBills: cfg.Collecting}
	dir, err := os.MkdirTemp("", "rimflow-bench-watchers-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	logFile, err := os.Create(filepath.Join(dir, "bench.log"))
	if err != nil {
		return out, err
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ttl := cfg.EventCodeTTL
	if ttl == 0 {
		ttl = 40 * time.Minute
	}
	envOpts := kit.EnvOptions{DataDir: dir, Seed: 5, Logger: logger, ReissueMargin: cfg.ReissueMargin}
	envOpts.Sim.EventCodeTTL = ttl
	env, err := kit.StartEnv(ctx, envOpts)
	if err != nil {
		return out, err
	}
	defer env.Close()
	if cfg.WorkerMetricsAddr, err = freeAddr(); err != nil {
		return out, err
	}
	workers, err := startWorkers(ctx, cfg, env, ttl, logFile)
	for _, w := range workers {
		defer func() { _ = w.Stop(30 * time.Second) }()
	}
	if err != nil {
		return out, err
	}
	fmt.Fprintf(progress, "bench: watchers, %s: quiet window, no bill…\n", name)
	if out.IdleNone, err = env.MeasureIdle(ctx, cfg.IdleWindow, workers...); err != nil {
		return out, err
	}
	out.RssNoneMB, out.RuntimeNone = rss(workers[0]), readGoRuntime(ctx, cfg.WorkerMetricsAddr)
	d := &kit.Driver{Env: env, Invoices: 1, StepTimeout: 3 * time.Minute, Resource: "WATCH"}
	var mu sync.Mutex
	codes := map[string]string{} // billID → eventCode
	park := func(from, to int) error {
		_, failed, errs := kit.RunMany(ctx, to-from, cfg.Concurrency, func(ctx context.Context, i int) error {
			id := fmt.Sprintf("w-%d", from+i)
			resp, err := d.Start(ctx, id)
			if err != nil {
				return err
			}
			mu.Lock()
			codes[id] = kit.EventCodeOf(resp.Collect.PC)
			mu.Unlock()
			return nil
		})
		if failed > 0 {
			return fmt.Errorf("%d bills did not start: %v", failed, errs[0])
		}
		return nil
	}
	if err := park(0, cfg.WatchersSmall); err != nil {
		return out, err
	}
	settle(ctx, cfg.Settle)
	out.RssSmallMB, out.RuntimeSmall = rss(workers[0]), readGoRuntime(ctx, cfg.WorkerMetricsAddr)
	fmt.Fprintf(progress, "bench: watchers, %s: %d collecting, worker RSS %.1f MB\n", name, cfg.WatchersSmall, out.RssSmallMB)
	if err := park(cfg.WatchersSmall, cfg.Collecting); err != nil {
		return out, err
	}
	settle(ctx, cfg.Settle)
	out.RssLargeMB, out.RuntimeLarge = rss(workers[0]), readGoRuntime(ctx, cfg.WorkerMetricsAddr)
	out.SocketsLive, out.PollsLive = env.Sim.Stats().SocketsOpen, env.PollsHeld()
	if n := cfg.Collecting - cfg.WatchersSmall; n > 0 {
		out.KBPerWatcher = round1((out.RssLargeMB - out.RssSmallMB) * 1024 / float64(n))
	}
	fmt.Fprintf(progress, "bench: watchers, %s: %d collecting, worker RSS %.1f MB (%.1f KB per watcher), %d sockets, %d polls; quiet window…\n",
		name, cfg.Collecting, out.RssLargeMB, out.KBPerWatcher, out.SocketsLive, out.PollsLive)
	if out.IdleLive, err = env.MeasureIdle(ctx, cfg.IdleWindow, workers...); err != nil {
		return out, err
	}
	out.IdleCores = round4(out.IdleLive.Cores() - out.IdleNone.Cores())
	out.IdleWorkerCores = round4(out.IdleLive.WorkerCores - out.IdleNone.WorkerCores)
	out.IdleServerCores = round4(out.IdleLive.ServerCores - out.IdleNone.ServerCores)

	// cancel → close: import into a few bills at once; each binds, autoSubmits and cancels its watcher.
	bills := env.BillsOn(workflows.DefaultTaskQueue)
	t := kit.NewTimings()
	var notClosed sync.WaitGroup
	var open int
	limit := 2*heartbeatInterval + 30*time.Second
	for i := range min(cancelSamples, cfg.Collecting) {
		id := fmt.Sprintf("w-%d", i)
		notClosed.Add(1)
		go func() {
			defer notClosed.Done()
			ec := codes[id]
			if _, err := env.Sim.Collect(ec, 1); err != nil {
				mu.Lock()
				open++
				mu.Unlock()
				return
			}
			deadline := time.Now().Add(limit)
			var moved time.Time
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if moved.IsZero() {
					if st, err := bills.State(ctx, d.Ref(id)); err == nil && st.Stage != workflows.StageCollecting {
						moved = time.Now()
					}
				}
				if !moved.IsZero() && env.Sim.SocketsFor(ec) == 0 {
					t.Add("cancelToClose", time.Since(moved))
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			mu.Lock()
			open++
			mu.Unlock()
		}()
	}
	notClosed.Wait()
	out.CancelToClose, out.NotClosed = t.Summary("cancelToClose"), open
	fmt.Fprintf(progress, "bench: watchers, %s: idle %.3f cores (worker %.3f, server %.3f); cancel → close p50 %.0f ms, max %.0f ms, %d not closed\n",
		name, out.IdleCores, out.IdleWorkerCores, out.IdleServerCores, out.CancelToClose.P50, out.CancelToClose.Max, out.NotClosed)
	return out, ctx.Err()
}

// rss is the worker process's resident memory now, in MB (0 when it cannot be read).
func rss(w *harness.Worker) float64 {
	m, err := w.Memory()
	if err != nil {
		return 0
	}
	return round1(m.RSSMB)
}

func printWatchers(w io.Writer, r *WatchersResult) {
	row := func(name string, a, b float64, unit string) {
		fmt.Fprintf(w, "%-34s %12.3f %12.3f %8.3f  %s\n", name, a, b, safeRatio(b, a), unit)
	}
	fmt.Fprintf(w, "%-34s %12s %12s %8s\n", "watchers", "before", "this build", "ratio")
	row("worker RSS, large", r.Before.RssLargeMB, r.After.RssLargeMB, "MB")
	row("worker RSS, small", r.Before.RssSmallMB, r.After.RssSmallMB, "MB")
	row("worker RSS, no bill", r.Before.RssNoneMB, r.After.RssNoneMB, "MB")
	row("goroutines, large", float64(r.Before.RuntimeLarge.Goroutines), float64(r.After.RuntimeLarge.Goroutines), "")
	row("heap in use, large", r.Before.RuntimeLarge.HeapInuseMB, r.After.RuntimeLarge.HeapInuseMB, "MB")
	row("stacks, large", r.Before.RuntimeLarge.StackMB, r.After.RuntimeLarge.StackMB, "MB")
	row("memory per watcher", r.Before.KBPerWatcher, r.After.KBPerWatcher, "KB")
	row("idle cores (server + worker)", r.Before.IdleCores, r.After.IdleCores, "cores")
	row("idle worker cores", r.Before.IdleWorkerCores, r.After.IdleWorkerCores, "cores")
	row("idle server cores", r.Before.IdleServerCores, r.After.IdleServerCores, "cores")
	row("idle cores, no bill (server + worker)", r.Before.IdleNone.Cores(), r.After.IdleNone.Cores(), "cores")
	row("cancel → close p50", r.Before.CancelToClose.P50, r.After.CancelToClose.P50, "ms")
	row("cancel → close max", r.Before.CancelToClose.Max, r.After.CancelToClose.Max, "ms")
}

func safeRatio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
