package invoicecloud_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/ultimate"
)

// guard bounds how long a test waits for something that must happen; it is a hang guard, not
// a speed assertion (the events themselves are awaited, never slept for).
const guard = 30 * time.Second

// watchRun is one Watch call running in the background.
type watchRun struct {
	t      *testing.T
	states chan string
	got    chan invoicecloud.Message
	done   chan error
	cancel context.CancelFunc
}

func startWatch(t *testing.T, c invoicecloud.Cloud, linkKey string, opts invoicecloud.WatchOptions) *watchRun {
	t.Helper()
	return startWatchRefusing(t, c, linkKey, opts, nil)
}

// startWatchRefusing is startWatch whose deliver func answers refuse (nil: accepts) after
// passing the message on to next.
func startWatchRefusing(t *testing.T, c invoicecloud.Cloud, linkKey string, opts invoicecloud.WatchOptions, refuse error) *watchRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watchRun{t: t, states: make(chan string, 1000), got: make(chan invoicecloud.Message, 100), done: make(chan error, 1), cancel: cancel}
	opts.OnStateChange = func(s string) { w.states <- s }
	go func() {
		w.done <- c.Watch(ctx, linkKey, opts, func(m invoicecloud.Message) error {
			w.got <- m
			return refuse
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(guard):
			t.Errorf("Watch did not return within %s of its cancel", guard)
		}
	})
	return w
}

func (w *watchRun) waitState(want string) {
	w.t.Helper()
	deadline := time.After(guard)
	for {
		select {
		case s := <-w.states:
			if s == want {
				return
			}
		case err := <-w.done:
			w.t.Fatalf("Watch ended while waiting for %q: %v", want, err)
		case <-deadline:
			w.t.Fatalf("Watch never reached state %q", want)
		}
	}
}

func (w *watchRun) next() invoicecloud.Message {
	w.t.Helper()
	select {
	case m := <-w.got:
		return m
	case err := <-w.done:
		w.t.Fatalf("Watch ended while waiting for a message: %v", err)
	case <-time.After(guard):
		w.t.Fatal("no message delivered")
	}
	return invoicecloud.Message{}
}

// stop cancels the Watch and returns what it returned.
func (w *watchRun) stop() error {
	w.cancel()
	select {
	case err := <-w.done:
		w.done <- err // for the cleanup
		return err
	case <-time.After(guard):
		w.t.Fatal("Watch did not stop on cancel")
	}
	return nil
}

// stopWithNothingMore stops the Watch, which must return context.Canceled having delivered
// nothing beyond what the test took.
func (w *watchRun) stopWithNothingMore() {
	w.t.Helper()
	if err := w.stop(); !errors.Is(err, context.Canceled) {
		w.t.Fatalf("Watch returned %v", err)
	}
	select {
	case extra := <-w.got:
		w.t.Fatalf("an extra delivery: %v", serialsOf(extra.InvoiceData))
	default:
	}
}

func serialsOf(invs []invoicecloud.Invoice) []string {
	out := make([]string, len(invs))
	for i, inv := range invs {
		out[i] = inv.SerialNo
	}
	return out
}

func sameSerials(t *testing.T, got, want []invoicecloud.Invoice) {
	t.Helper()
	g, w := serialsOf(got), serialsOf(want)
	if len(g) != len(w) {
		t.Fatalf("delivered %v, want %v", g, w)
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("delivered %v, want %v", g, w)
		}
	}
}

// waitStats polls the simulator's stats until cond holds (guarded).
func (h *harness) waitStats(what string, cond func(simulator.Stats) bool) simulator.Stats {
	h.t.Helper()
	deadline := time.Now().Add(guard)
	for {
		st := h.stats()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("simulator never reached: %s (stats %+v)", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestContractWatchSocketDelivers(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 20})
	c := h.client(nil)
	b := newBill("socket")
	ec := eventCode(t, c, b)
	w := startWatch(t, c, b.req.LinkKey, invoicecloud.WatchOptions{Handshake: 20 * time.Millisecond, Silence: time.Hour})
	w.waitState(invoicecloud.WatchConnected)

	collected := h.collect(ec, 2)
	m := w.next()
	if m.Via != "socket" || len(m.InvoiceData[0].Raw) == 0 {
		t.Fatalf("message: %+v", m)
	}
	sameSerials(t, m.InvoiceData, collected)
	h.waitStats("the heartbeat {\"handshake\":false} reached the cloud", func(st simulator.Stats) bool { return st.Handshakes >= 2 })

	if err := w.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v on cancel, want context.Canceled", err)
	}
	if st := h.stats(); st.DeliveredBySocket != 1 || st.DeliveredByPoll != 0 || st.Polls != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if h.observedCount("socket/ok") != 1 {
		t.Fatalf("Observe: %v", h.observed)
	}
}

func TestContractWatchReconnectsWithoutDuplicates(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 21})
	c := h.client(nil)
	b := newBill("socket")
	ec := eventCode(t, c, b)
	w := startWatch(t, c, b.req.LinkKey, invoicecloud.WatchOptions{Silence: time.Hour, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	w.waitState(invoicecloud.WatchConnected)

	delivered := map[string]int{}
	record := func(m invoicecloud.Message) {
		for _, inv := range m.InvoiceData {
			delivered[inv.SerialNo]++
		}
	}
	first := h.collect(ec, 2)
	m := w.next()
	sameSerials(t, m.InvoiceData, first)
	record(m)

	// Drop the live socket once and revoke every token: the client must redial, get a 401,
	// re-authenticate once and connect again (new sockets live 10 minutes: one drop only).
	h.setFaults(map[string]any{"dropSockets": true, "dropAfterMs": 600000, "expireTokens": true})
	w.waitState(invoicecloud.WatchReconnecting)
	w.waitState(invoicecloud.WatchConnected)
	h.clearFaults()

	second := h.collect(ec, 3)
	m = w.next()
	sameSerials(t, m.InvoiceData, second)
	record(m)
	third := h.collect(ec, 1)
	m = w.next()
	sameSerials(t, m.InvoiceData, third)
	record(m)

	w.stopWithNothingMore()
	for sn, n := range delivered {
		if n != 1 {
			t.Fatalf("serialNo %s delivered %d times", sn, n)
		}
	}
	if len(delivered) != 6 {
		t.Fatalf("delivered %d distinct invoices, want 6", len(delivered))
	}
	st := h.stats()
	if st.SocketsAccepted != 2 || st.TokensIssued.Access != 2 || st.TokenRejections != 1 {
		t.Fatalf("reconnect: accepted=%d tokens=%+v rejections=%d", st.SocketsAccepted, st.TokensIssued, st.TokenRejections)
	}
}

func TestContractWatchFallsBackToPollAfterSilence(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 22, PollHold: 200 * time.Millisecond})
	c := h.client(nil)
	b := newBill("socket")
	ec := eventCode(t, c, b)
	w := startWatch(t, c, b.req.LinkKey, invoicecloud.WatchOptions{Silence: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	// (Whether the socket connected within 100 ms depends on the machine; the fallback must not.)
	w.waitState(invoicecloud.WatchPolling)
	h.waitStats("the socket is closed", func(st simulator.Stats) bool { return st.SocketsOpen == 0 && st.Polls >= 1 })

	collected := h.collect(ec, 2)
	m := w.next()
	if m.Via != "poll" || m.MsgID == "" {
		t.Fatalf("message after fallback: %+v", m)
	}
	sameSerials(t, m.InvoiceData, collected)
	h.waitStats("the receipt was sent", func(st simulator.Stats) bool { return st.Receipts == 1 })

	more := h.collect(ec, 1)
	sameSerials(t, w.next().InvoiceData, more)
	if err := w.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v", err)
	}
	if st := h.stats(); st.DeliveredBySocket != 0 || st.DeliveredByPoll != 2 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestContractPolledMessageIsNotRedeliveredBySocket(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 23, PollHold: 100 * time.Millisecond})
	c := h.client(nil)
	ctx := context.Background()
	b := newBill("socket")
	ec := eventCode(t, c, b)

	polled := h.collect(ec, 2)
	msg, err := c.Poll(ctx, b.req.LinkKey)
	if err != nil || msg == nil {
		t.Fatalf("Poll: %v %v", msg, err)
	}
	sameSerials(t, msg.InvoiceData, polled)
	if err := c.Receipt(ctx, b.req.LinkKey, msg.MsgID); err != nil {
		t.Fatal(err)
	}

	// The socket opened afterwards must not get the polled message: the first thing it delivers
	// is the next collection.
	w := startWatch(t, c, b.req.LinkKey, invoicecloud.WatchOptions{Silence: time.Hour})
	w.waitState(invoicecloud.WatchConnected)
	next := h.collect(ec, 1)
	sameSerials(t, w.next().InvoiceData, next)
	if err := w.stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	// And what the socket consumed is not given to a poll either.
	if msg, err := c.Poll(ctx, b.req.LinkKey); err != nil || msg != nil {
		t.Fatalf("poll after the socket consumed everything: %+v %v", msg, err)
	}
}

func TestContractWatchStops(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 24})
	t.Run("deliver error", func(t *testing.T) {
		c := h.client(nil)
		b := newBill("socket")
		ec := eventCode(t, c, b)
		errFull := errors.New("workflow refused the invoices")
		connected := make(chan struct{}, 1)
		done := make(chan error, 1)
		go func() {
			done <- c.Watch(context.Background(), b.req.LinkKey, invoicecloud.WatchOptions{
				Silence: time.Hour,
				OnStateChange: func(s string) {
					if s == invoicecloud.WatchConnected {
						connected <- struct{}{}
					}
				},
			}, func(invoicecloud.Message) error { return errFull })
		}()
		select {
		case <-connected:
		case <-time.After(guard):
			t.Fatal("Watch never connected")
		}
		h.collect(ec, 1)
		select {
		case err := <-done:
			if !errors.Is(err, errFull) {
				t.Fatalf("Watch returned %v, want the deliver error", err)
			}
		case <-time.After(guard):
			t.Fatal("Watch did not return the deliver error")
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		c := h.client(func(c *ultimate.Config) { c.AppSecret = "wrong-secret-3" })
		err := c.Watch(context.Background(), "lk", invoicecloud.WatchOptions{}, func(invoicecloud.Message) error { return nil })
		if e := mustError(t, err); e.Field != "appSecret" || e.Retryable {
			t.Fatalf("Watch with a wrong secret: %+v", e)
		}
		noSecrets(t, err, "wrong-secret-3")
	})
}
