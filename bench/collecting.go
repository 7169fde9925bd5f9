package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"rimflow/api"
	"rimflow/bench/kit"
	"rimflow/devstack/harness"
	"rimflow/workflows"
)

// The collecting scenario: M bills sit in collecting with live collect URLs while nobody imports,
// each with its watcher (a socket, then after its silence a long poll) on the worker. The bench
// measures what they cost at rest (CPU of quiet windows with and without them), what Temporal and
// the simulator hold for them while they live and after their eventCodes expire, and whether new
// bills still start (POST /v1/bills) and the normal bill load keeps its latencies beside them.

// heartbeatInterval is how often the SDK sends a watcher's heartbeat in this build: 0.8 x the
// heartbeat timeout the workflow gives (internal/app lifts the SDK's one-minute cap for watchers).
const heartbeatInterval = workflows.WatchHeartbeatTimeout * 8 / 10

// CollectingResult is the scenario's part of the JSON result (flat keys; see bench/README.md).
type CollectingResult struct {
	CollectingBills  int     `json:"collectingBills"`
	CollectingParked int     `json:"collectingParked"`
	EventCodeTTLSec  float64 `json:"eventCodeTtlSeconds,omitempty"`
	WatchGraceSec    float64 `json:"watchGraceSeconds,omitempty"`
	WorkerBinary     string  `json:"workerBinary,omitempty"`
	WorkerMemLimit   string  `json:"workerMemLimit,omitempty"` // the worker's GOMEMLIMIT
	// CollectingParkSeconds is how long starting them took; CollectingStartToURL their start→URL.
	CollectingParkSeconds float64     `json:"collectingParkSeconds,omitempty"`
	CollectingStartToURL  kit.Summary `json:"collectingStartToUrl"`
	// While they live (after Settle): Temporal's pending watcher activities, the simulator's open
	// sockets and held long polls; the most sockets seen open while they were being started.
	WatchersLive    kit.Watchers `json:"watchersLive"`
	SocketsLive     int          `json:"socketsLive"`
	PollsHeldLive   int          `json:"pollsHeldLive"`
	PeakSocketsOpen int          `json:"peakSocketsOpen"`
	// After every eventCode has expired and its watch grace has passed.
	WatchersAfterExpiry  kit.Watchers `json:"watchersAfterExpiry"`
	SocketsAfterExpiry   int          `json:"socketsAfterExpiry"`
	PollsHeldAfterExpiry int          `json:"pollsHeldAfterExpiry"`
	// ZeroAfterExpirySeconds is when, counted from the last eventCode's expiry, no watcher, socket
	// or poll was left (-1: some were still there at the deadline).
	ZeroAfterExpirySeconds float64 `json:"zeroAfterExpirySeconds"`
	// Worker and server RSS with the collecting bills live (end of the quiet window with them).
	CollectingWorkerRssMB float64 `json:"collectingWorkerRssMB,omitempty"`
	CollectingServerRssMB float64 `json:"collectingServerRssMB,omitempty"`
	// IdleCPU: quiet windows before the collecting bills exist ("none"), with them live
	// ("watchers"), and after their eventCodes expired ("noneAfterExpiry", the same bills, no
	// watchers). The reference is noneAfterExpiry when measured, else none.
	IdleCPU map[string]kit.IdleCPU `json:"idleCpu,omitempty"`
	// WatcherIdleCores is what the live watchers cost rimflow's side (server + worker, without the
	// simulator) over the reference window; per watcher in ms of CPU per minute.
	WatcherIdleCores          float64 `json:"watcherIdleCores"`
	WatcherIdleServerCores    float64 `json:"watcherIdleServerCores"`
	WatcherIdleWorkerCores    float64 `json:"watcherIdleWorkerCores"`
	WatcherIdleSimulatorCores float64 `json:"watcherIdleSimulatorCores"`
	WatcherCPUMsPerMinute     float64 `json:"watcherCpuMsPerMinute"`
	WatcherIdleReference      string  `json:"watcherIdleReference,omitempty"`
	// HeartbeatIntervalSeconds is the median gap between two heartbeats of one watcher as the
	// server recorded them (sampled on a few watchers during the window); HeartbeatsPerSecond is
	// the live watchers divided by it; PollsPerSecond the simulator's long polls in the window.
	HeartbeatIntervalSeconds float64 `json:"heartbeatIntervalSeconds"`
	HeartbeatSamples         int     `json:"heartbeatSamples"`
	HeartbeatsPerSecond      float64 `json:"heartbeatsPerSecond"`
	PollsPerSecond           float64 `json:"pollsPerSecond"`
	// The same bill load run once before the collecting bills exist, in the same run: the control
	// for the latencies and the rate the bills scenario reaches beside them.
	AloneBillsPerSecond float64                `json:"aloneBillsPerSecond,omitempty"`
	AloneRatio          float64                `json:"aloneRatio,omitempty"`
	AloneLatency        map[string]kit.Summary `json:"aloneLatency,omitempty"`
	// StartProbes: POST /v1/bills through the real HTTP API with the collecting bills live.
	StartProbes *kit.Probes `json:"startProbes,omitempty"`
	// Skipped names the scenarios not run, and why.
	Skipped []string `json:"skipped,omitempty"`
}

// collectingState is what the scenario keeps between its steps.
type collectingState struct {
	mu         sync.Mutex
	ids        []string // workflow IDs of the collecting bills and the probes
	firstExp   time.Time
	lastExp    time.Time
	watchersUp bool // the live watchers' window was measured
}

func (c *collectingState) add(workflowID string, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = append(c.ids, workflowID)
	if c.firstExp.IsZero() || exp.Before(c.firstExp) {
		c.firstExp = exp
	}
	if exp.After(c.lastExp) {
		c.lastExp = exp
	}
}

func (c *collectingState) workflowIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ids...)
}

// billsAlone runs the bills scenario's load before any collecting bill exists: the control.
func (b *bench) billsAlone(ctx context.Context) error {
	if b.cfg.Collecting == 0 {
		return nil
	}
	t := kit.NewTimings()
	d := b.driver(false, t)
	began := time.Now()
	ok, failed, errs := kit.RunMany(ctx, b.cfg.Bills, b.cfg.Concurrency, func(ctx context.Context, i int) error {
		id := fmt.Sprintf("alone-%d", i)
		b.track(d, id)
		return d.Life(ctx, id)
	})
	r := b.res
	r.AloneBillsPerSecond = round2(float64(ok) / time.Since(began).Seconds())
	if r.BaselinePerSecond > 0 {
		r.AloneRatio = round3(r.AloneBillsPerSecond / r.BaselinePerSecond)
	}
	r.AloneLatency = summaries(t, kit.LatStartToURL, kit.LatPushToBound, kit.LatApprove, kit.LatVoucher)
	r.Completed += ok
	r.Failed += failed
	r.addErrors(errs)
	// Their watchers were cancelled when they submitted; each learns of it at its next heartbeat.
	// Wait for that (a window shorter than a heartbeat interval is not worth the wait) so the
	// quiet window that follows has none.
	deadline := time.Now().Add(min(heartbeatInterval+5*time.Second, b.cfg.IdleWindow))
	for time.Now().Before(deadline) && b.env.Sim.Stats().SocketsOpen+b.env.PollsHeld() > 0 {
		settle(ctx, time.Second)
	}
	return ctx.Err()
}

// idleBefore measures the quiet window before any collecting bill exists.
func (b *bench) idleBefore(ctx context.Context) error {
	if b.cfg.Collecting == 0 {
		return nil
	}
	settle(ctx, 3*time.Second)
	idle, err := b.env.MeasureIdle(ctx, b.cfg.IdleWindow, b.workers()...)
	if err != nil {
		return err
	}
	b.res.IdleCPU["none"] = idle
	fmt.Fprintf(b.progress, "bench: quiet, no collecting bills: server %.3f, simulator %.3f, worker %.3f cores\n",
		idle.ServerCores, idle.SimulatorCores, idle.WorkerCores)
	return nil
}

// parkCollecting starts the collecting bills (nobody imports), waits Settle, then counts what
// holds them: Temporal's watcher activities, the simulator's sockets and held polls.
func (b *bench) parkCollecting(ctx context.Context) error {
	n := b.cfg.Collecting
	if n == 0 {
		return nil
	}
	r := b.res
	t := kit.NewTimings()
	d := b.driver(false, t)
	d.Resource = "COLLECT"
	stopPeak := b.samplePeakSockets(ctx)
	began := time.Now()
	ok, failed, errs := kit.RunMany(ctx, n, b.cfg.Concurrency, func(ctx context.Context, i int) error {
		id := fmt.Sprintf("collect-%d", i)
		resp, err := d.Start(ctx, id)
		if err != nil {
			return err
		}
		if resp.Collect.ExpiresAt == nil || kit.EventCodeOf(resp.Collect.PC) == "" {
			return fmt.Errorf("bill %s started without a live collect URL", id)
		}
		b.coll.add(resp.WorkflowID, *resp.Collect.ExpiresAt)
		return nil
	})
	r.CollectingParkSeconds = round3(time.Since(began).Seconds())
	r.CollectingParked = ok
	r.CollectingStartToURL = t.Summary(kit.LatStartToURL)
	r.addErrors(errs)
	if failed > 0 {
		stopPeak()
		return fmt.Errorf("%d of %d collecting bills did not start: %v", failed, n, errs[0])
	}
	fmt.Fprintf(b.progress, "bench: %d collecting bills started in %.1fs; settling %s\n", ok, r.CollectingParkSeconds, b.cfg.Settle)
	settle(ctx, b.cfg.Settle)
	stopPeak()
	r.SocketsLive = b.env.Sim.Stats().SocketsOpen
	r.PollsHeldLive = b.env.PollsHeld()
	r.WatchersLive = kit.CountWatchers(ctx, b.env.Client, b.coll.workflowIDs(), 8)
	fmt.Fprintf(b.progress, "bench: live: %d watchers running (%d scheduled), %d sockets open, %d polls held\n",
		r.WatchersLive.Running, r.WatchersLive.Scheduled, r.SocketsLive, r.PollsHeldLive)
	return ctx.Err()
}

// samplePeakSockets notes the most sockets open at once until the returned stop is called.
func (b *bench) samplePeakSockets(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			b.res.PeakSocketsOpen = max(b.res.PeakSocketsOpen, b.env.Sim.Stats().SocketsOpen)
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// idleWatchers measures the quiet window with the collecting bills' watchers live, sampling a
// few watchers' heartbeats meanwhile, and the RSS with them.
func (b *bench) idleWatchers(ctx context.Context) error {
	if b.cfg.Collecting == 0 {
		return nil
	}
	r := b.res
	ids := b.coll.workflowIDs()
	hctx, hcancel := context.WithCancel(ctx)
	gapsCh := make(chan []time.Duration, 1)
	go func() { gapsCh <- kit.HeartbeatIntervals(hctx, b.env.Client, ids[:min(3, len(ids))], 2*time.Second) }()
	idle, err := b.env.MeasureIdle(ctx, b.cfg.IdleWindow, b.workers()...)
	hcancel()
	gaps := <-gapsCh
	if err != nil {
		return err
	}
	r.IdleCPU["watchers"] = idle
	b.coll.watchersUp = true
	if time.Now().After(b.coll.firstExp) {
		r.addErrors([]error{fmt.Errorf("the first collecting bill's eventCode expired before the quiet window with watchers ended: raise -eventcode-ttl")})
	}
	r.HeartbeatSamples = len(gaps)
	if g := kit.MedianDuration(gaps); g > 0 {
		r.HeartbeatIntervalSeconds = round1(g.Seconds())
		r.HeartbeatsPerSecond = round2(float64(r.WatchersLive.Running) / g.Seconds())
	}
	r.PollsPerSecond = round2(float64(idle.Polls) / idle.Seconds)
	if wm, err := b.worker.Memory(); err == nil {
		r.CollectingWorkerRssMB = round1(wm.RSSMB)
	}
	if sm, err := harness.ReadMemory(0); err == nil {
		r.CollectingServerRssMB = round1(sm.RSSMB)
	}
	b.watcherCost()
	if b.cfg.WorkerMemProfile != "" && b.cfg.WorkerBinary == "" {
		b.heapProfile(ctx)
	}
	fmt.Fprintf(b.progress, "bench: quiet, %d watchers: server %.3f, simulator %.3f, worker %.3f cores; heartbeat every %.1fs (%d gaps); RSS worker %.1f MB\n",
		r.WatchersLive.Running, idle.ServerCores, idle.SimulatorCores, idle.WorkerCores, r.HeartbeatIntervalSeconds, len(gaps), r.CollectingWorkerRssMB)
	return nil
}

// heapProfile asks the worker for its heap profile (SIGUSR1) and waits up to 30 s for the file.
func (b *bench) heapProfile(ctx context.Context) {
	path, _ := filepath.Abs(b.cfg.WorkerMemProfile)
	_ = os.Remove(path)
	if err := b.worker.Signal(syscall.SIGUSR1); err != nil {
		b.res.addErrors([]error{fmt.Errorf("-worker-memprofile: %w", err)})
		return
	}
	for range 60 {
		if st, err := os.Stat(path); err == nil && st.Size() > 0 {
			return
		}
		settle(ctx, 500*time.Millisecond)
	}
	b.res.addErrors([]error{fmt.Errorf("-worker-memprofile: no profile in %s after 30s", path)})
}

// watcherCost is the live window less the reference (after expiry when measured, else before).
func (b *bench) watcherCost() {
	r := b.res
	live, ok := r.IdleCPU["watchers"]
	if !ok {
		return
	}
	refName := "noneAfterExpiry"
	ref, ok := r.IdleCPU[refName]
	if !ok {
		refName = "none"
		if ref, ok = r.IdleCPU[refName]; !ok {
			return
		}
	}
	r.WatcherIdleReference = refName
	r.WatcherIdleServerCores = round4(live.ServerCores - ref.ServerCores)
	r.WatcherIdleWorkerCores = round4(live.WorkerCores - ref.WorkerCores)
	r.WatcherIdleSimulatorCores = round4(live.SimulatorCores - ref.SimulatorCores)
	r.WatcherIdleCores = round4(live.Cores() - ref.Cores())
	if n := r.WatchersLive.Running; n > 0 {
		r.WatcherCPUMsPerMinute = round3((live.Cores() - ref.Cores()) * 60_000 / float64(n))
	}
}

// probeStarts starts bills through the real HTTP API with the collecting bills live: does an ERP
// still get its collect URL? Refusals (the API answers 503 when the worker does not answer in
// time) skip the bill scenarios, which could only time out.
func (b *bench) probeStarts(ctx context.Context) error {
	if b.cfg.Collecting == 0 || b.cfg.Probes == 0 {
		return nil
	}
	a, err := b.env.StartLocalAPI()
	if err != nil {
		return err
	}
	defer a.Close()
	d := b.driver(false, nil)
	d.Resource = "PROBE"
	bills := make([]workflows.BillInput, b.cfg.Probes)
	for i := range bills {
		bills[i] = d.Input(fmt.Sprintf("probe-%d", i))
	}
	p := a.ProbeStarts(ctx, bills, b.cfg.Concurrency)
	b.res.StartProbes = &p
	// The probes were only to see them start: cancel them, so their watchers (stopped within a
	// heartbeat) do not outlive the collecting bills'. They are still counted after expiry.
	var cancelled atomic.Int64
	var wg sync.WaitGroup
	for _, in := range bills {
		b.coll.add(d.Ref(in.BillID).WorkflowID(), b.coll.lastExp)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, api.DefaultRequestTimeout)
			defer cancel()
			if _, err := b.env.Bills.Cancel(cctx, d.Ref(in.BillID), workflows.CancelRequest{Reason: "bench probe", By: "bench"}); err == nil {
				cancelled.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(b.progress, "bench: %d of %d probe starts answered with a URL (%v); p99 %.0f ms; %d cancelled\n",
		p.Started, p.Count, p.Statuses, p.Latency.P99, cancelled.Load())
	if p.Started < p.Count {
		b.skip = fmt.Sprintf("POST /v1/bills with %d collecting bills live: %d of %d started (%v)",
			b.res.CollectingParked, p.Started, p.Count, p.Statuses)
	}
	return ctx.Err()
}

// expiry waits for every eventCode to expire and its watch grace to pass, then until no watcher
// activity, socket or held poll is left (or a deadline: one heartbeat timeout and a minute more),
// and measures the quiet window after them when they are gone.
func (b *bench) expiry(ctx context.Context) error {
	if b.cfg.Collecting == 0 {
		return nil
	}
	r := b.res
	lastExp := b.coll.lastExp
	fmt.Fprintf(b.progress, "bench: waiting for the eventCodes to expire (last at %s, in %s)\n",
		lastExp.Format(time.TimeOnly), time.Until(lastExp).Round(time.Second))
	settle(ctx, time.Until(lastExp.Add(b.cfg.WatchGrace)))
	deadline := lastExp.Add(b.cfg.WatchGrace + workflows.WatchHeartbeatTimeout + time.Minute)
	ids := b.coll.workflowIDs()
	r.ZeroAfterExpirySeconds = -1
	for {
		st := b.env.Sim.Stats()
		r.SocketsAfterExpiry, r.PollsHeldAfterExpiry = st.SocketsOpen, b.env.PollsHeld()
		quiet := r.SocketsAfterExpiry == 0 && r.PollsHeldAfterExpiry == 0
		if quiet || !time.Now().Before(deadline) {
			r.WatchersAfterExpiry = kit.CountWatchers(ctx, b.env.Client, ids, 8)
			w := r.WatchersAfterExpiry
			if quiet && w.Running+w.Scheduled == 0 && w.Unanswered == 0 {
				r.ZeroAfterExpirySeconds = round1(time.Since(lastExp).Seconds())
				break
			}
			if !time.Now().Before(deadline) {
				break
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		settle(ctx, 2*time.Second)
	}
	fmt.Fprintf(b.progress, "bench: after expiry: %d watchers running (%d scheduled), %d sockets, %d polls held\n",
		r.WatchersAfterExpiry.Running, r.WatchersAfterExpiry.Scheduled, r.SocketsAfterExpiry, r.PollsHeldAfterExpiry)
	if r.ZeroAfterExpirySeconds < 0 {
		r.Skipped = append(r.Skipped, "quiet window after expiry: watchers were still running")
		return nil
	}
	idle, err := b.env.MeasureIdle(ctx, b.cfg.IdleWindow, b.workers()...)
	if err != nil {
		return err
	}
	r.IdleCPU["noneAfterExpiry"] = idle
	b.watcherCost()
	fmt.Fprintf(b.progress, "bench: quiet, collecting bills without watchers: server %.3f, simulator %.3f, worker %.3f cores\n",
		idle.ServerCores, idle.SimulatorCores, idle.WorkerCores)
	return nil
}

// settle sleeps d unless ctx ends first.
func settle(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// autoEventCodeTTL is an eventCode life long enough for the collecting bills to stay live from
// their start through the bills scenario, from conservative rates of this 2-core box (10 starts/s
// while parking, 4 bills/s through their life), and never under what a start needs to keep its
// first eventCode (the reissue margin).
func (c Config) autoEventCodeTTL() time.Duration {
	if c.EventCodeTTL > 0 {
		return c.EventCodeTTL
	}
	est := time.Duration(c.Collecting)*time.Second/10 + c.Settle + c.IdleWindow + 45*time.Second +
		time.Duration(c.Bills)*time.Second/4 + 2*time.Minute
	return max(est, c.reissueMargin()+30*time.Second).Round(time.Second)
}

// reissueMargin is the margin the bench's bills are started with.
func (c Config) reissueMargin() time.Duration {
	return cmp.Or(c.ReissueMargin, workflows.ReissueMargin)
}
