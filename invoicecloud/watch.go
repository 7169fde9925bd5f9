package invoicecloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// WatchOptions tune Watch.
type WatchOptions struct {
	Handshake     time.Duration      // default 20 s
	Silence       time.Duration      // fall back to long poll after this long without a message (default 60 s)
	MinBackoff    time.Duration      // first reconnect delay (default 200 ms)
	MaxBackoff    time.Duration      // reconnect delay cap (default 10 s)
	OnStateChange func(state string) // "connected", "reconnecting", "polling" — for heartbeats/logs
	// PollOnly skips the socket: the bill asked for pushType poll.
	PollOnly bool
	// Drain is how long, once Watch is told to stop, it keeps reading a closing socket so that
	// frames already on their way are delivered, not dropped (default 2 s).
	Drain time.Duration
}

// Watch states reported to OnStateChange.
const (
	WatchConnected    = "connected"
	WatchReconnecting = "reconnecting"
	WatchPolling      = "polling"
)

func (o WatchOptions) withDefaults() WatchOptions {
	if o.Handshake <= 0 {
		o.Handshake = 20 * time.Second
	}
	if o.Silence <= 0 {
		o.Silence = 60 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Drain <= 0 {
		o.Drain = 2 * time.Second
	}
	return o
}

// handshakeFrame is what the vendor's demo sends every 20 s to keep the socket alive.
const handshakeFrame = `{"handshake":false}`

// errSilence ends the socket phase: nothing arrived for Silence, switch to the long poll.
var errSilence = errors.New("invoicecloud: socket silent")

// Watch receives the invoices collected for linkKey: socket first (unless PollOnly), long poll
// after silence, reconnecting with backoff; each message is delivered once, and deliver returns
// before the next message is read (a polled one is receipted only after deliver succeeds). When
// ctx ends, a socket is closed with the close handshake and every frame read by then is still
// delivered. Returns when ctx ends (ctx.Err())
// or deliver errs (that error), or with an *Error the cloud will keep answering (e.g. wrong
// credentials). Once it has fallen back to the long poll it stays there: a linkKey's messages
// go to whichever channel asks, and the poll is the channel that does not depend on a socket.
func (c *Transport) Watch(ctx context.Context, linkKey string, opts WatchOptions, deliver func(Message) error) error {
	switch {
	case strings.TrimSpace(linkKey) == "":
		return FieldError("watch", "linkKey", "required")
	case deliver == nil:
		return FieldError("watch", "deliver", "required")
	}
	w := &watcher{c: c, linkKey: linkKey, opts: opts.withDefaults(), deliver: deliver, seen: map[string]bool{}}
	w.silenceAt = time.Now().Add(w.opts.Silence)
	if w.opts.PollOnly || c.cfg.SocketPath == "" {
		return w.pollPhase(ctx) // pushType poll, or an edition without a known socket: the long poll only
	}
	if err := w.socketPhase(ctx); !errors.Is(err, errSilence) {
		return err
	}
	return w.pollPhase(ctx)
}

type watcher struct {
	c         *Transport
	linkKey   string
	opts      WatchOptions
	deliver   func(Message) error
	seen      map[string]bool // invoice keys delivered by this Watch call
	silenceAt time.Time       // when to give up on the socket
	state     string
	backoff   backoff
}

func (w *watcher) setState(s string) {
	if s == w.state {
		return
	}
	w.state = s
	w.c.cfg.Logger.Debug("invoicecloud: watch state", "state", s)
	if w.opts.OnStateChange != nil {
		w.opts.OnStateChange(s)
	}
}

// socketPhase connects and reconnects until silence (errSilence), ctx end or a terminal error.
func (w *watcher) socketPhase(ctx context.Context) error {
	w.backoff = backoff{min: w.opts.MinBackoff, max: w.opts.MaxBackoff}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !time.Now().Before(w.silenceAt) {
			return errSilence
		}
		conn, err := w.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if isConfigError(err) {
				return err // wrong credentials will not fix themselves
			}
			w.c.cfg.Logger.Debug("invoicecloud: socket dial failed", "err", err.Error())
		} else {
			w.setState(WatchConnected)
			opened := time.Now()
			err = w.readLoop(ctx, conn)
			if err == nil || errors.Is(err, errSilence) || ctx.Err() != nil || isDeliverError(err) {
				return unwrapDeliver(err)
			}
			w.c.cfg.Logger.Debug("invoicecloud: socket dropped", "err", Redact(err.Error()))
			if time.Since(opened) >= w.opts.MaxBackoff {
				w.backoff.reset() // it was a healthy connection: reconnect quickly
			}
		}
		w.setState(WatchReconnecting)
		if err := w.sleep(ctx, w.backoff.next()); err != nil {
			return err
		}
	}
}

// sleep waits d, but not past the silence deadline (returns errSilence then) or ctx's end.
func (w *watcher) sleep(ctx context.Context, d time.Duration) error {
	untilSilence := time.Until(w.silenceAt)
	silent := untilSilence <= d
	if silent {
		d = max(untilSilence, 0)
	}
	if err := sleepCtx(ctx, d); err != nil {
		return err
	}
	if silent {
		return errSilence
	}
	return nil
}

// dial opens the socket. The URL carries the token (the vendor's shape), so it is never logged
// and dial errors are redacted. A 401 answer means the token died: drop it and try once more.
func (w *watcher) dial(ctx context.Context) (*websocket.Conn, error) {
	c := w.c
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return nil, err
		}
		u := socketBase(c.base) + c.cfg.SocketPath + "?identifytype=" + url.QueryEscape(w.linkKey) +
			"&token=" + url.QueryEscape(tok)
		h := http.Header{}
		if !c.cfg.TokenInQuery {
			h.Set("access_token", tok)
		}
		d := websocket.Dialer{HandshakeTimeout: c.cfg.Timeout, Proxy: http.ProxyFromEnvironment,
			ReadBufferSize: socketReadBuffer, WriteBufferPool: socketWriteBuffers}
		start := time.Now()
		conn, resp, err := d.DialContext(ctx, u, h)
		if err == nil {
			conn.SetReadLimit(MaxSocketMessageBytes)
			c.Observe("socket", start, nil)
			return conn, nil
		}
		var e *Error
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if rejected, _, _ := tokenRejected(resp.StatusCode, body); rejected {
				c.tokens.invalidate(tok)
				if attempt == 0 {
					c.Observe("socket", start, &Error{Retryable: true})
					continue
				}
			}
			e = StatusError("socket", resp.StatusCode, body)
			e.Retryable = true // within Watch every socket failure is retried or replaced by the poll
		} else {
			e = transportError("socket", err)
		}
		c.Observe("socket", start, e)
		return nil, e
	}
}

// A socket mostly sits idle between a handshake frame every 20 s, and a worker holds thousands:
// a small read buffer (a large frame is read in several pieces, not refused) and write buffers
// borrowed only while a frame is written keep an idle socket's memory small.
const socketReadBuffer = 1024

var socketWriteBuffers = &sync.Pool{}

// socketBase turns http(s)://host/tenant into ws(s)://host/tenant.
func socketBase(base string) string {
	switch {
	case strings.HasPrefix(base, "https://"):
		return "wss://" + strings.TrimPrefix(base, "https://")
	case strings.HasPrefix(base, "http://"):
		return "ws://" + strings.TrimPrefix(base, "http://")
	}
	return base
}

// readLoop reads messages until the socket drops, silence, ctx's end or a delivery error. It owns
// conn and closes it before returning. The calling goroutine is the socket's only reader, and it
// delivers each frame before it reads the next: a worker holds thousands of sockets, so nothing
// else runs per socket. The handshake and the silence deadline are runtime timers (no goroutine
// while they wait); ctx's end, silence, or a failed handshake stop the reading: the first two
// with the close handshake, still delivering what arrives until the peer answers or Drain passes.
func (w *watcher) readLoop(ctx context.Context, conn *websocket.Conn) error {
	var (
		mu     sync.Mutex
		why    error // set once: why the reading stops (ctx's end, errSilence, the handshake's write error)
		closed bool  // the loop returned: timers must not re-arm
	)
	defer func() {
		mu.Lock()
		closed = true
		mu.Unlock()
		_ = conn.Close()
	}()
	stopReading := func(err error, graceful bool) {
		mu.Lock()
		defer mu.Unlock()
		if why != nil || closed {
			return
		}
		why = err
		if !graceful {
			_ = conn.Close() // the reader gets an error at once
			return
		}
		w.closeGracefully(conn) // WriteControl may run beside the reader and the handshake
		_ = conn.SetReadDeadline(time.Now().Add(w.opts.Drain))
	}
	var handshake *time.Timer
	beat := func() {
		// The only writer of data frames: one handshake at a time, re-armed after the write.
		_ = conn.SetWriteDeadline(time.Now().Add(w.c.cfg.Timeout))
		if err := conn.WriteMessage(websocket.TextMessage, []byte(handshakeFrame)); err != nil {
			stopReading(err, false)
			return
		}
		mu.Lock()
		if !closed && why == nil {
			handshake.Reset(w.opts.Handshake)
		}
		mu.Unlock()
	}
	mu.Lock()
	handshake = time.AfterFunc(w.opts.Handshake, beat)
	mu.Unlock()
	defer handshake.Stop()
	silence := time.AfterFunc(time.Until(w.silenceAt), func() { stopReading(errSilence, true) })
	defer silence.Stop()
	defer context.AfterFunc(ctx, func() { stopReading(ctx.Err(), true) })()

	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			mu.Lock()
			reason := why
			mu.Unlock()
			if reason != nil {
				return reason // a peer's close answer, the drain's deadline or our own Close end it
			}
			return err
		}
		if err := w.offerFrame(b); err != nil {
			return err
		}
		mu.Lock()
		stopping := why != nil
		mu.Unlock()
		if !stopping {
			w.silenceAt = time.Now().Add(w.opts.Silence)
			silence.Reset(w.opts.Silence)
			w.backoff.reset()
		}
	}
}

// offerFrame delivers a socket frame that carries invoices; handshake answers and anything that
// is not a delivery are skipped.
func (w *watcher) offerFrame(b []byte) error {
	msg, err := DecodeMessage(b)
	if err != nil || len(msg.InvoiceData) == 0 {
		return nil
	}
	msg.Via = "socket"
	return w.offer(msg)
}

func (w *watcher) closeGracefully(conn *websocket.Conn) {
	_ = conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}

// pollPhase long-polls until ctx ends or a terminal error, sending a receipt after each message.
func (w *watcher) pollPhase(ctx context.Context) error {
	w.setState(WatchPolling)
	w.backoff = backoff{min: w.opts.MinBackoff, max: w.opts.MaxBackoff}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		msg, err := w.c.Poll(ctx, w.linkKey)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !IsRetryable(err) {
				return err
			}
			w.c.cfg.Logger.Debug("invoicecloud: poll failed", "err", err.Error())
			if err := sleepCtx(ctx, w.backoff.next()); err != nil {
				return err
			}
			continue
		}
		if msg == nil {
			// An empty answer should have been held; one that comes back at once (a server
			// shutting down, a proxy) must not turn this loop into a busy loop.
			if time.Since(start) < time.Second {
				if err := sleepCtx(ctx, w.backoff.next()); err != nil {
					return err
				}
			} else {
				w.backoff.reset()
			}
			continue
		}
		w.backoff.reset()
		if err := w.offer(*msg); err != nil {
			return unwrapDeliver(err)
		}
		if msg.MsgID != "" {
			if err := w.c.Receipt(ctx, w.linkKey, msg.MsgID); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// Delivered already; a missing receipt at worst makes the cloud send it again,
				// which the dedupe absorbs.
				w.c.cfg.Logger.Warn("invoicecloud: receipt failed", "err", err.Error())
			}
		}
	}
}

// deliverError marks an error returned by the caller's deliver func.
type deliverError struct{ err error }

func (e deliverError) Error() string { return e.err.Error() }
func (e deliverError) Unwrap() error { return e.err }

func isDeliverError(err error) bool {
	var d deliverError
	return errors.As(err, &d)
}

func unwrapDeliver(err error) error {
	var d deliverError
	if errors.As(err, &d) {
		return d.err
	}
	return err
}

// offer delivers the invoices of msg this Watch has not delivered yet; a message with nothing
// new is dropped. Invoices are keyed by serialNo (or by their bytes when they have none).
func (w *watcher) offer(msg Message) error {
	fresh := msg
	fresh.InvoiceData = nil
	keys := make([]string, 0, len(msg.InvoiceData))
	batch := map[string]bool{}
	for _, inv := range msg.InvoiceData {
		k := invoiceKey(inv)
		if w.seen[k] || batch[k] {
			continue
		}
		batch[k] = true
		keys = append(keys, k)
		fresh.InvoiceData = append(fresh.InvoiceData, inv)
	}
	if len(fresh.InvoiceData) == 0 {
		w.c.cfg.Logger.Debug("invoicecloud: duplicate delivery dropped", "via", msg.Via)
		return nil
	}
	if err := w.deliver(fresh); err != nil {
		return deliverError{err}
	}
	for _, k := range keys {
		w.seen[k] = true
	}
	return nil
}

func invoiceKey(inv Invoice) string {
	if inv.SerialNo != "" {
		return "serial:" + inv.SerialNo
	}
	sum := sha256.Sum256(inv.Raw)
	return "raw:" + hex.EncodeToString(sum[:])
}

// isConfigError: an *Error that names a configuration field and will not succeed on retry.
func isConfigError(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.Retryable
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff is exponential with jitter: each delay is drawn from [d/2, d], d doubling up to max.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	half := b.cur / 2
	return half + rand.N(b.cur-half+1)
}

func (b *backoff) reset() { b.cur = 0 }
