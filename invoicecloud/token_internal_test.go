package invoicecloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// authServer is a tiny legacy auth endpoint for token-cache unit tests: it counts logins and
// hands out tok-1, tok-2, ... with the expiry the test chooses. Business behaviour is tested
// against the real simulator in contract_test.go.
type authServer struct {
	logins  atomic.Int64
	release chan struct{} // when set, logins wait for it (to make callers pile up)
	expires func() time.Time
}

func (a *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/getAppToken.do":
		_ = json.NewEncoder(w).Encode(map[string]any{"state": "success", "data": map[string]any{
			"app_token": "app", "success": true, "error_code": "0", "expire_time": a.expires().UnixMilli()}})
	case "/api/login.do":
		if a.release != nil {
			select {
			case <-a.release:
			case <-r.Context().Done(): // the caller gave up (or the test ended)
				return
			}
		}
		n := a.logins.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"state": "success", "data": map[string]any{
			"access_token": fmt.Sprintf("tok-%d", n), "success": true, "error_code": "0", "expire_time": a.expires().UnixMilli()}})
	default:
		http.NotFound(w, r)
	}
}

func newTestClient(t *testing.T, h http.Handler) *Transport {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return NewTransport(TransportConfig{BaseURL: srv.URL}, loginAt(srv.URL, "s"))
}

// loginAt is a token fetch from authServer's login (the editions' own logins are tested against
// the simulator).
func loginAt(base, secret string) func(context.Context) (Token, error) {
	return func(ctx context.Context) (Token, error) {
		body, _ := json.Marshal(map[string]string{"user": "u", "appSecret": secret})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/login.do", strings.NewReader(string(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return Token{}, transportError("auth", err)
		}
		defer resp.Body.Close()
		var a struct {
			Data struct {
				AccessToken string `json:"access_token"`
				ExpireTime  int64  `json:"expire_time"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			return Token{}, err
		}
		now := time.Now()
		return NewToken(a.Data.AccessToken, now, time.UnixMilli(a.Data.ExpireTime), DefaultRefreshBefore), nil
	}
}

func TestTokenCacheOneFetchForConcurrentCallers(t *testing.T) {
	a := &authServer{release: make(chan struct{}), expires: func() time.Time { return time.Now().Add(2 * time.Hour) }}
	c := newTestClient(t, a)
	var wg sync.WaitGroup
	tokens := make([]string, 100)
	errs := make([]error, 100)
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tokens[i], errs[i] = c.tokens.get(context.Background())
		}()
	}
	close(a.release)
	wg.Wait()
	for i := range tokens {
		if errs[i] != nil || tokens[i] != "tok-1" {
			t.Fatalf("caller %d: %q %v", i, tokens[i], errs[i])
		}
	}
	if n := a.logins.Load(); n != 1 {
		t.Fatalf("logins = %d, want 1", n)
	}
}

func TestTokenCacheRefreshesBeforeExpiry(t *testing.T) {
	base := time.Now()
	a := &authServer{expires: func() time.Time { return base.Add(2 * time.Hour) }}
	c := newTestClient(t, a)
	var now atomic.Int64
	now.Store(base.UnixNano())
	c.tokens.now = func() time.Time { return time.Unix(0, now.Load()) }
	ctx := context.Background()

	if tok, _ := c.tokens.get(ctx); tok != "tok-1" {
		t.Fatalf("first token %q", tok)
	}
	now.Store(base.Add(time.Hour).UnixNano()) // well before the refresh point
	if tok, _ := c.tokens.get(ctx); tok != "tok-1" || a.logins.Load() != 1 {
		t.Fatalf("refetched too early: %q, %d logins", tok, a.logins.Load())
	}
	// Inside RefreshBefore (5 min) of expiry: the old token is still handed out while its
	// successor is fetched in the background.
	now.Store(base.Add(2*time.Hour - 2*time.Minute).UnixNano())
	if tok, _ := c.tokens.get(ctx); tok != "tok-1" {
		t.Fatalf("a still-valid token must be used during refresh, got %q", tok)
	}
	waitFlight(t, c.tokens)
	if tok, _ := c.tokens.get(ctx); tok != "tok-2" || a.logins.Load() != 2 {
		t.Fatalf("after refresh: %q, %d logins", tok, a.logins.Load())
	}
}

func TestTokenCacheInvalidateRefetchesOnce(t *testing.T) {
	a := &authServer{expires: func() time.Time { return time.Now().Add(2 * time.Hour) }}
	c := newTestClient(t, a)
	ctx := context.Background()
	old, _ := c.tokens.get(ctx)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.tokens.invalidate(old) // 50 calls refused with the same token
			if tok, err := c.tokens.get(ctx); err != nil || tok == old {
				t.Errorf("got %q %v", tok, err)
			}
		}()
	}
	wg.Wait()
	if n := a.logins.Load(); n != 2 {
		t.Fatalf("logins = %d, want 2 (one initial, one after invalidation)", n)
	}
}

func TestTokenSkewedExpiryFallsBack(t *testing.T) {
	now := time.Now()
	tok := NewToken("x", now, now.Add(-time.Hour), 5*time.Minute) // the cloud's clock is behind ours
	if !tok.expires.After(now) || !tok.refreshAt.After(now) {
		t.Fatalf("expired-on-arrival token not given a lifetime: %+v", tok)
	}
	short := NewToken("y", now, now.Add(2*time.Second), 5*time.Minute)
	if got := short.refreshAt.Sub(now); got != time.Second {
		t.Fatalf("refresh margin of a 2 s token = %v, want 1 s (half its life)", got)
	}
}

func TestCallerCancelDoesNotFailOthers(t *testing.T) {
	a := &authServer{release: make(chan struct{}), expires: func() time.Time { return time.Now().Add(time.Hour) }}
	c := newTestClient(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.tokens.get(ctx); done <- err }()
	other := make(chan string, 1)
	go func() { tok, _ := c.tokens.get(context.Background()); other <- tok }()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a canceled caller must get an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the canceled caller did not return within 10s")
	}
	close(a.release)
	select {
	case tok := <-other:
		if tok != "tok-1" {
			t.Fatalf("the other caller got %q", tok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other caller got no token within 10s")
	}
}

func TestTransportErrorsAndLogsAreRedacted(t *testing.T) {
	a := &authServer{expires: func() time.Time { return time.Now().Add(time.Hour) }}
	mux := http.NewServeMux()
	mux.Handle("/api/", a)
	mux.HandleFunc("/kapi/app/rim/message", func(w http.ResponseWriter, r *http.Request) {
		// Drop the connection without an answer: the transport error quotes the URL.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := NewTransport(TransportConfig{BaseURL: srv.URL, TokenInQuery: true, Logger: logger, SocketPath: "/msgwatch/",
		PollDataPath: "/polling/fpzs/invoice/data/v2", PollReceiptPath: "/polling/fpzs/portal/receipt"},
		loginAt(srv.URL, "app-secret-value"))
	err := c.RoundTrip(context.Background(), Request{Name: "billDelete", Method: http.MethodPost, Path: "/kapi/app/rim/message",
		Body: map[string]string{"messageType": "billDelete"}}, func(int, []byte) error { return nil })
	var e *Error
	if !errors.As(err, &e) || !e.Retryable {
		t.Fatalf("a dropped connection must be a retryable *Error, got %v", err)
	}
	if !strings.Contains(err.Error(), "access_token=REDACTED") {
		t.Fatalf("expected the redacted URL in %q", err.Error())
	}
	// The socket URL carries the token too: a failed dial must not leak it either.
	werr := c.Watch(context.Background(), "lk", WatchOptions{Silence: 50 * time.Millisecond, MinBackoff: time.Millisecond},
		func(Message) error { return nil })
	if !errors.As(werr, &e) || e.HTTPStatus != http.StatusNotFound || e.MessageType != "poll" {
		t.Fatalf("Watch on a server without socket and poll: %v", werr)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "socket dial failed") {
		t.Fatalf("the dial failures were not logged: %s", logs.String())
	}
	for _, text := range []string{err.Error(), logs.String()} {
		if strings.Contains(text, "tok-1") || strings.Contains(text, "app-secret-value") {
			t.Fatalf("secret in %q", text)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// waitFlight waits (at most 10 s) until a background fetch, if any, has finished.
func waitFlight(t *testing.T, tc *tokenCache) {
	t.Helper()
	tc.mu.Lock()
	f := tc.flight
	tc.mu.Unlock()
	if f != nil {
		select {
		case <-f.done:
		case <-time.After(10 * time.Second):
			t.Fatal("the background token fetch did not finish within 10s")
		}
	}
}
