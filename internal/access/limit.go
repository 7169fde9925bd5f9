package access

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Failed authentication is limited per client address: a guesser gets DefaultFailureBurst wrong
// tokens at once, then one every DefaultFailureEvery; while its allowance is spent, no token
// from that address is even checked (429). A request without any token is not a guess and is
// not counted. Behind a proxy every caller shares the proxy's address, so one guesser slows the
// others' sign-ins too: put the limit at the proxy as well.
const (
	DefaultFailureBurst = 20
	DefaultFailureEvery = 3 * time.Second
	maxTrackedAddrs     = 10000
)

// FailureLimiter counts failed authentications per client address (a token bucket each).
type FailureLimiter struct {
	burst float64
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewFailureLimiter allows burst failures at once, then one per every (zero values: the defaults).
func NewFailureLimiter(burst int, every time.Duration) *FailureLimiter {
	if burst <= 0 {
		burst = DefaultFailureBurst
	}
	if every <= 0 {
		every = DefaultFailureEvery
	}
	return &FailureLimiter{burst: float64(burst), every: every, now: time.Now, buckets: map[string]*bucket{}}
}

// ClientAddr is the address a request came from (the connection's, without the port): the key
// of the limit. A forwarded-for header is not believed; anyone could send one.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// refill brings addr's bucket to now; the caller holds mu.
func (l *FailureLimiter) refill(addr string) *bucket {
	now := l.now()
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= maxTrackedAddrs {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
	return b
}

// prune drops the addresses whose allowance is whole again (they would start afresh anyway).
func (l *FailureLimiter) prune(now time.Time) {
	for a, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(l.every) >= l.burst {
			delete(l.buckets, a)
		}
	}
}

// Allow reports whether a token from addr may be checked now, and if not, how long until it may.
// A nil limiter allows everything.
func (l *FailureLimiter) Allow(addr string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(addr)
	if b.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.every))
}

// Fail records a wrong token from addr.
func (l *FailureLimiter) Fail(addr string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(addr)
	b.tokens = max(0, b.tokens-1)
}
