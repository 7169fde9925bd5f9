package activities

import (
	"container/heap"
	"sync"
	"time"
)

// hubTimers is the hub's one timer heap: every link's heartbeat and expiry wait here, in one
// goroutine, instead of a ticker (and its goroutine) per link. A timer's func runs on that
// goroutine, so it must not block: it only hands work to a pool or cancels a context.
type hubTimers struct {
	mu   sync.Mutex
	h    timerHeap
	wake chan struct{}
}

type hubTimer struct {
	at  time.Time
	fn  func()
	idx int // in the heap; -1 when not scheduled
}

func newHubTimer(fn func()) *hubTimer { return &hubTimer{fn: fn, idx: -1} }

func newHubTimers() *hubTimers { return &hubTimers{wake: make(chan struct{}, 1)} }

// schedule (re)arms t for at.
func (ts *hubTimers) schedule(t *hubTimer, at time.Time) {
	ts.mu.Lock()
	t.at = at
	if t.idx >= 0 {
		heap.Fix(&ts.h, t.idx)
	} else {
		heap.Push(&ts.h, t)
	}
	first := ts.h[0] == t
	ts.mu.Unlock()
	if first {
		select {
		case ts.wake <- struct{}{}:
		default:
		}
	}
}

// earlier arms t for at unless it is already armed sooner.
func (ts *hubTimers) earlier(t *hubTimer, at time.Time) {
	ts.mu.Lock()
	armed := t.idx >= 0 && !t.at.After(at)
	ts.mu.Unlock()
	if !armed {
		ts.schedule(t, at)
	}
}

// cancel disarms t.
func (ts *hubTimers) cancel(t *hubTimer) {
	ts.mu.Lock()
	if t.idx >= 0 {
		heap.Remove(&ts.h, t.idx)
	}
	ts.mu.Unlock()
}

// run fires the timers as they come due until stop is closed.
func (ts *hubTimers) run(stop <-chan struct{}) {
	clock := time.NewTimer(time.Hour)
	defer clock.Stop()
	var due []*hubTimer
	for {
		ts.mu.Lock()
		now := time.Now()
		due = due[:0]
		for len(ts.h) > 0 && !ts.h[0].at.After(now) {
			due = append(due, heap.Pop(&ts.h).(*hubTimer))
		}
		next := time.Hour
		if len(ts.h) > 0 {
			next = ts.h[0].at.Sub(now)
		}
		ts.mu.Unlock()
		for _, t := range due {
			t.fn()
		}
		clock.Reset(next)
		select {
		case <-clock.C:
		case <-ts.wake:
		case <-stop:
			return
		}
	}
}

type timerHeap []*hubTimer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*hubTimer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.idx = -1
	return t
}
