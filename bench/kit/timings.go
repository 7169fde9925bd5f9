package kit

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Timings collects latencies by name; safe for concurrent use; a nil *Timings records nothing.
type Timings struct {
	mu sync.Mutex
	m  map[string][]time.Duration
}

// NewTimings returns an empty collection.
func NewTimings() *Timings { return &Timings{m: map[string][]time.Duration{}} }

// Add records one latency.
func (t *Timings) Add(name string, d time.Duration) {
	if t == nil {
		return
	}
	if d < 0 {
		d = 0
	}
	t.mu.Lock()
	t.m[name] = append(t.m[name], d)
	t.mu.Unlock()
}

// Summary is the distribution of one latency in milliseconds.
type Summary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50Ms"`
	P95   float64 `json:"p95Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
}

// Summary summarises name (zero when nothing was recorded).
func (t *Timings) Summary(name string) Summary {
	if t == nil {
		return Summary{}
	}
	t.mu.Lock()
	ds := slices.Clone(t.m[name])
	t.mu.Unlock()
	if len(ds) == 0 {
		return Summary{}
	}
	slices.Sort(ds)
	return Summary{Count: len(ds), P50: Percentile(ds, 50), P95: Percentile(ds, 95), P99: Percentile(ds, 99),
		Max: ms(ds[len(ds)-1])}
}

// Percentile is the nearest-rank percentile of sorted durations, in milliseconds.
func Percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return ms(sorted[rank-1])
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }
