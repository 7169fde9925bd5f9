package invoicecloud

import (
	"context"
	"sync"
	"time"
)

// Token is one access token and when to stop using it: what an edition's token fetch returns
// (NewToken).
type Token struct {
	value     string
	expires   time.Time // the cloud's expiry (as seen by our clock)
	refreshAt time.Time // start fetching a successor from here on
}

// NewToken derives the refresh point. The margin is capped at half the lifetime so a
// short-lived token is still used for a while instead of refetched on every call, and an
// expiry already in the past (the cloud's clock disagrees with ours) falls back to
// DefaultTokenLifetime: the cloud's 401 will tell us if that was optimistic.
func NewToken(value string, now, expires time.Time, refreshBefore time.Duration) Token {
	life := expires.Sub(now)
	if life <= 0 {
		life = DefaultTokenLifetime
		expires = now.Add(life)
	}
	margin := refreshBefore
	if margin > life/2 {
		margin = life / 2
	}
	return Token{value: value, expires: expires, refreshAt: expires.Add(-margin)}
}

// tokenCache shares one access token among all goroutines of a Transport. At most one fetch is in
// flight: callers that need a token while it runs wait for the same result. A token that is due
// for refresh but not yet expired is still handed out while its successor is fetched.
type tokenCache struct {
	fetch         func(context.Context) (Token, error)
	refreshBefore time.Duration
	fetchTimeout  time.Duration
	now           func() time.Time

	mu     sync.Mutex
	cur    Token
	flight *tokenFlight
}

type tokenFlight struct {
	done chan struct{}
	tok  Token
	err  error
}

func newTokenCache(fetch func(context.Context) (Token, error), refreshBefore, callTimeout time.Duration, now func() time.Time) *tokenCache {
	return &tokenCache{fetch: fetch, refreshBefore: refreshBefore, fetchTimeout: 3 * callTimeout, now: now}
}

// get returns a usable token, fetching one if needed.
func (tc *tokenCache) get(ctx context.Context) (string, error) {
	tc.mu.Lock()
	now := tc.now()
	if tc.cur.value != "" && now.Before(tc.cur.refreshAt) {
		v := tc.cur.value
		tc.mu.Unlock()
		return v, nil
	}
	f := tc.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		tc.flight = f
		go tc.run(f)
	}
	if tc.cur.value != "" && now.Before(tc.cur.expires) {
		// Refresh in the background; the current token is still good.
		v := tc.cur.value
		tc.mu.Unlock()
		return v, nil
	}
	tc.mu.Unlock()

	select {
	case <-f.done:
		if f.err != nil {
			return "", f.err
		}
		return f.tok.value, nil
	case <-ctx.Done():
		return "", transportError("auth", ctx.Err())
	}
}

// run performs one fetch on a context detached from any single caller, so a caller that gives
// up does not fail the others waiting for the same token.
func (tc *tokenCache) run(f *tokenFlight) {
	ctx, cancel := context.WithTimeout(context.Background(), tc.fetchTimeout)
	defer cancel()
	f.tok, f.err = tc.fetch(ctx)
	tc.mu.Lock()
	if f.err == nil {
		tc.cur = f.tok
	}
	tc.flight = nil
	tc.mu.Unlock()
	close(f.done)
}

// invalidate forgets value if it is still the current token (the cloud refused it). Many
// callers refused with the same token cause one refetch, not many.
func (tc *tokenCache) invalidate(value string) {
	tc.mu.Lock()
	if tc.cur.value == value {
		tc.cur = Token{}
	}
	tc.mu.Unlock()
}

// put installs a token fetched outside the cache (CheckLogin's fresh one), so it is used.
func (tc *tokenCache) put(t Token) {
	tc.mu.Lock()
	tc.cur = t
	tc.mu.Unlock()
}
