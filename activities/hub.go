package activities

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
)

// Hub holds the watchers of one worker process. WatchInvoices hands it its link and returns
// pending (asynchronous completion), so a live watcher costs no activity goroutine, no SDK
// heartbeat batcher and no activity slot: only its socket's reader (or its held long poll), one
// goroutine. Every link's heartbeat and expiry wait in one timer heap; a small pool heartbeats
// the links through the Temporal client by task token, and the link's reader completes it when
// it ends. Durability is the watcher's: a message is signalled to its bill before the next is
// read, a polled one receipted only after that signal (invoicecloud's Watch).
type Hub struct {
	tc     client.Client
	max    int
	logger *slog.Logger

	timers     *hubTimers
	heartbeats chan *hubLink // each link queued at most once (hubLink.queued)
	signals    chan struct{} // bounds the deliveries signalled at once
	completes  chan struct{} // bounds the completions sent at once

	mu       sync.Mutex
	links    map[*hubLink]struct{}
	reserved int
	room     chan struct{} // closed (and replaced) when a link leaves
	stopping bool
	stop     chan struct{}
	wg       sync.WaitGroup // the links' readers
	pool     sync.WaitGroup // the heartbeat pool and the timer goroutine
}

// HubOptions configure NewHub. Zero values take the defaults.
type HubOptions struct {
	// MaxWatchers bounds the links held at once (RIMFLOW_MAX_WATCHERS): WatchInvoices waits for
	// room, so the watchers beyond it stay scheduled for another worker.
	MaxWatchers int
	// Heartbeaters is the heartbeat pool's size (default 4); Signallers bounds the deliveries
	// signalled at once (default 32).
	Heartbeaters, Signallers int
	Logger                   *slog.Logger // default slog.Default()
}

// The hub's heartbeat rhythm. A heartbeat is a write on the server, so an idle link heartbeats
// only as its timeout needs (0.8 x, like the SDK's throttle), phases spread. A bill usually
// moves on (autoSubmit) moments after a delivery, and only a heartbeat's answer tells the hub
// that its watcher was cancelled: after each delivery the link heartbeats every hotEvery for
// hotFor, so its socket closes within about hotEvery of the bill moving on.
const (
	hubHotEvery = time.Second
	hubHotFor   = 10 * time.Second
	// hubRetryEvery spaces heartbeats that failed for a transient reason (Temporal unreachable).
	hubRetryEvery  = 2 * time.Second
	hubCallTimeout = 10 * time.Second
)

// Why a link ended, as the cause of its context.
var (
	errHubStopping     = errors.New("the worker is stopping")
	errCancelRequested = errors.New("the bill stopped listening")
	errActivityGone    = errors.New("the watcher's activity is gone")
	errLinkExpired     = errors.New("the eventCode's pages died")
)

// NewHub starts a hub; Stop hands its links back.
func NewHub(tc client.Client, opts HubOptions) *Hub {
	h := &Hub{tc: tc, max: cmp.Or(max(opts.MaxWatchers, 0), 10000), logger: cmp.Or(opts.Logger, slog.Default()),
		timers: newHubTimers(), signals: make(chan struct{}, cmp.Or(opts.Signallers, 32)), completes: make(chan struct{}, 32),
		links: map[*hubLink]struct{}{}, room: make(chan struct{}), stop: make(chan struct{})}
	h.heartbeats = make(chan *hubLink, h.max)
	h.pool.Add(1)
	go func() { defer h.pool.Done(); h.timers.run(h.stop) }()
	for range cmp.Or(opts.Heartbeaters, 4) {
		h.pool.Add(1)
		go func() { defer h.pool.Done(); h.heartbeatLoop() }()
	}
	return h
}

// Len is the number of links held.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.links)
}

// hubLink is one watched linkKey: its activity's task token and the reader's context.
type hubLink struct {
	token           []byte
	billID, linkKey string
	firstRunID      string        // the bill's chain of runs (calls.WatchInput.FirstRunID)
	every           time.Duration // its regular heartbeat interval
	ctx             context.Context
	cancel          context.CancelCauseFunc
	state           atomic.Value // the watch state, the heartbeat's details
	hotUntil        atomic.Int64 // unix nanos: heartbeat every hubHotEvery until then
	queued          atomic.Bool  // in the heartbeat queue
	beat, expiry    *hubTimer
}

// take runs WatchInvoices through the hub: it waits for room, hands the link to a reader of its
// own and returns activity.ErrResultPending; the reader completes the activity.
func (h *Hub) take(ctx context.Context, a *Activities, in calls.WatchInput, until time.Time) error {
	e, err := a.enterprise(in)
	if err != nil {
		return err
	}
	if err := h.admit(ctx); err != nil {
		return err
	}
	info := activity.GetInfo(ctx)
	timeout := info.HeartbeatTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute // none given: heartbeat anyway, to hear of a cancel
	}
	l := &hubLink{token: info.TaskToken, billID: info.WorkflowExecution.ID, linkKey: in.LinkKey, firstRunID: in.FirstRunID, every: timeout * 8 / 10}
	l.ctx, l.cancel = context.WithCancelCause(context.Background())
	l.state.Store("starting")
	l.beat = newHubTimer(func() { h.queueHeartbeat(l) })
	l.expiry = newHubTimer(func() { l.cancel(errLinkExpired) })

	h.mu.Lock()
	h.reserved--
	if h.stopping {
		h.mu.Unlock()
		return temporal.NewApplicationError("watch handed back: the worker is stopping", "WorkerStopping")
	}
	h.links[l] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()

	h.timers.schedule(l.expiry, until)
	// The first heartbeat at a random phase: links taken together (a restart) do not heartbeat together.
	h.timers.schedule(l.beat, time.Now().Add(time.Duration(float64(l.every)*(0.4+0.6*rand.Float64()))))
	go h.run(a, e, l, in, until)
	return activity.ErrResultPending
}

// admit reserves room for one link, waiting while the hub is full (heartbeating the activity, so
// it stays this worker's) and refusing once the worker stops.
func (h *Hub) admit(ctx context.Context) error {
	stopping := temporal.NewApplicationError("watch handed back: the worker is stopping", "WorkerStopping")
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		h.mu.Lock()
		if h.stopping {
			h.mu.Unlock()
			return stopping
		}
		if len(h.links)+h.reserved < h.max {
			h.reserved++
			h.mu.Unlock()
			return nil
		}
		room := h.room
		h.mu.Unlock()
		select {
		case <-room:
		case <-tick.C:
			activity.RecordHeartbeat(ctx, "waiting for room")
		case <-activity.GetWorkerStopChannel(ctx):
			return stopping
		case <-h.stop:
			return stopping
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run is the link's reader: it watches until the link's context ends or the watch does, then
// completes the activity.
func (h *Hub) run(a *Activities, e *enterprises.Enterprise, l *hubLink, in calls.WatchInput, until time.Time) {
	defer h.release(l)
	if a.Metrics != nil {
		defer a.Metrics.WatchStarted()()
	}
	opts := a.Watch
	opts.PollOnly = in.PushType == "poll"
	userHook := opts.OnStateChange
	opts.OnStateChange = func(s string) {
		l.state.Store(s)
		if userHook != nil {
			userHook(s)
		}
	}
	err := e.Cloud.Watch(l.ctx, in.LinkKey, opts, func(m invoicecloud.Message) error {
		// A large message goes as several signals, each well under Temporal's payload limit.
		for _, d := range calls.DeliveriesOf(m, in.LinkKey) {
			if err := h.signal(a, l, d); err != nil {
				return err
			}
		}
		h.delivered(l)
		return nil
	})
	var result error
	switch cause := context.Cause(l.ctx); {
	case errors.Is(err, errBillEnded):
	case errors.Is(cause, errActivityGone):
		return // nobody to tell
	case errors.Is(cause, errHubStopping):
		result = temporal.NewApplicationError("watch handed back: the worker is stopping", "WorkerStopping")
	case errors.Is(cause, errCancelRequested):
		result = temporal.NewCanceledError()
	case errors.Is(cause, errLinkExpired), err == nil:
		// the pages died: nobody can import any more
	default:
		result = classify(context.Background(), e, err)
	}
	h.complete(l, result)
}

// signal makes one delivery durable (signalDelivery), a bounded number at once.
func (h *Hub) signal(a *Activities, l *hubLink, d calls.Delivery) error {
	h.signals <- struct{}{}
	defer func() { <-h.signals }()
	return a.signalDelivery(l.ctx, h.logger.Warn, l.billID, l.firstRunID, d)
}

// delivered makes the link heartbeat often for a while: its bill is likely to move on now.
func (h *Hub) delivered(l *hubLink) {
	now := time.Now()
	l.hotUntil.Store(now.Add(hubHotFor).UnixNano())
	h.timers.earlier(l.beat, now.Add(hubHotEvery))
}

func (h *Hub) queueHeartbeat(l *hubLink) {
	if l.ctx.Err() != nil || !l.queued.CompareAndSwap(false, true) {
		return
	}
	h.heartbeats <- l // never blocks: its capacity is the hub's, and a link is in it at most once
}

func (h *Hub) heartbeatLoop() {
	for {
		select {
		case <-h.stop:
			return
		case l := <-h.heartbeats:
			l.queued.Store(false)
			if l.ctx.Err() == nil {
				h.heartbeat(l)
			}
		}
	}
}

// heartbeat records one heartbeat; its answer tells whether the bill cancelled the watcher.
func (h *Hub) heartbeat(l *hubLink) {
	ctx, cancel := context.WithTimeout(context.Background(), hubCallTimeout)
	err := h.tc.RecordActivityHeartbeat(ctx, l.token, l.state.Load())
	cancel()
	var nf *serviceerror.NotFound
	now := time.Now()
	switch {
	case err == nil:
	case temporal.IsCanceledError(err):
		l.cancel(errCancelRequested)
		return
	case errors.As(err, &nf):
		l.cancel(errActivityGone) // the bill closed, or the activity timed out and was retried elsewhere
		return
	default:
		h.logger.Warn("watcher heartbeat failed; retrying", "error", err.Error())
		h.timers.schedule(l.beat, now.Add(hubRetryEvery))
		return
	}
	next := now.Add(l.every)
	if now.UnixNano() < l.hotUntil.Load() {
		next = now.Add(hubHotEvery)
	}
	h.timers.earlier(l.beat, next)
}

// complete reports the link's end to Temporal, a bounded number at once. When it cannot, the
// activity's heartbeat timeout hands it to another worker.
func (h *Hub) complete(l *hubLink, result error) {
	h.completes <- struct{}{}
	defer func() { <-h.completes }()
	for attempt := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), hubCallTimeout)
		err := h.tc.CompleteActivity(ctx, l.token, nil, result)
		cancel()
		var nf *serviceerror.NotFound
		if err == nil || errors.As(err, &nf) {
			return
		}
		if attempt == 2 {
			h.logger.Warn("watcher completion failed; its heartbeat timeout hands it on", "error", err.Error())
			return
		}
		time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
	}
}

func (h *Hub) release(l *hubLink) {
	l.cancel(context.Canceled)
	h.timers.cancel(l.beat)
	h.timers.cancel(l.expiry)
	h.mu.Lock()
	delete(h.links, l)
	close(h.room)
	h.room = make(chan struct{})
	h.mu.Unlock()
	h.wg.Done()
}

// Stop hands every link back at once: each reader closes its socket (delivering what it had
// read) and fails its activity retryably, so another worker takes it. It waits up to timeout for
// them, then stops the timers and the heartbeat pool.
func (h *Hub) Stop(timeout time.Duration) {
	h.mu.Lock()
	if h.stopping {
		h.mu.Unlock()
		return
	}
	h.stopping = true
	for l := range h.links {
		l.cancel(errHubStopping)
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		h.logger.Warn("watchers not handed back in time; their heartbeat timeout hands them on", "left", h.Len())
	}
	close(h.stop)
	h.pool.Wait()
}
