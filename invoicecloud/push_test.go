package invoicecloud_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
)

// pushSink is the receiving side mounted on a loopback server: PushReceiver.Serve with a deliver
// func that fails the first failures times; it records every body and delivery.
type pushSink struct {
	srv      *httptest.Server
	receiver *invoicecloud.PushReceiver

	mu        sync.Mutex
	failures  int
	bodies    [][]byte
	delivered []invoicecloud.Push
	answered  chan int // HTTP status of each answer
}

func newPushSink(t *testing.T, cfg invoicecloud.PushReceiverConfig, failures int) *pushSink {
	t.Helper()
	r, err := invoicecloud.NewPushReceiver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &pushSink{receiver: r, failures: failures, answered: make(chan int, 100)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, body)
		s.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		r.Serve(rec, req, buyerTaxNo, func(_ context.Context, p invoicecloud.Push) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.delivered = append(s.delivered, p)
			if s.failures > 0 {
				s.failures--
				return errors.New("the bill could not record it yet")
			}
			return nil
		})
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		select {
		case s.answered <- rec.Code:
		default: // nobody is counting any more (the cloud keeps retrying a refused push)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// snapshot copies what the sink received and delivered so far.
func (s *pushSink) snapshot() ([]invoicecloud.Push, [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]invoicecloud.Push(nil), s.delivered...), append([][]byte(nil), s.bodies...)
}

// next waits for the next answer the sink gave.
func (s *pushSink) next(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.answered:
		return code
	case <-time.After(guard):
		t.Fatal("no push arrived")
	}
	return 0
}

func pushEnterprise() invoicecloud.PushEnterprise {
	st := stdTenant()
	return invoicecloud.PushEnterprise{TaxNo: st.TaxNo, Name: st.Name, ClientID: st.ClientID, EncryptKey: st.EncryptKey}
}

// pushHarness runs the simulator whose standard tenant pushes to sink.
func pushHarness(t *testing.T, sink *pushSink) *harness {
	tenant := stdTenant()
	tenant.Push = []simulator.PushTarget{{Name: tenant.Name, TaxNo: tenant.TaxNo, ClientID: tenant.ClientID, URL: sink.srv.URL + "/push"}}
	return newHarness(t, simulator.Options{Seed: 50, Tenants: []simulator.Tenant{tenant},
		PushRetryMin: 5 * time.Millisecond, PushRetryMax: 20 * time.Millisecond})
}

func TestPushIsRetriedUntilAcknowledged(t *testing.T) {
	sink := newPushSink(t, invoicecloud.PushReceiverConfig{Enterprises: []invoicecloud.PushEnterprise{pushEnterprise()}}, 2)
	h := pushHarness(t, sink)
	c := h.standard(nil)
	b := newBill("poll")
	collected := h.collect(eventCode(t, c, b), 3)

	for i, want := range []int{http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusOK} {
		if got := sink.next(t); got != want {
			t.Fatalf("answer %d: HTTP %d, want %d", i+1, got, want)
		}
	}
	h.waitStats("the push is recorded as delivered", func(st simulator.Stats) bool { return st.PushesDelivered == 1 })
	delivered, bodies := sink.snapshot()
	if len(delivered) != 3 {
		t.Fatalf("delivered %d times, want 3", len(delivered))
	}
	for i, p := range delivered {
		if p.MsgID != delivered[0].MsgID || p.BillID != b.req.BillID || p.Resource != "ERP" || p.TaxNo != buyerTaxNo || p.Message.Via != "push" {
			t.Fatalf("push: %+v", p)
		}
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatal("a retry carried another body")
		}
		sameSerials(t, p.Message.InvoiceData, collected)
	}
	var pushes struct {
		Pushes []simulator.PushView `json:"pushes"`
	}
	h.simJSON(http.MethodGet, "/__sim/pushes", nil, &pushes)
	if len(pushes.Pushes) != 1 || pushes.Pushes[0].Attempts != 3 || !pushes.Pushes[0].Delivered {
		t.Fatalf("pushes: %+v", pushes.Pushes)
	}

	// A replay of the acknowledged push is answered success and not delivered again.
	replay, err := http.Post(sink.srv.URL+"/push", "text/plain", bytes.NewReader(bodies[0]))
	if err != nil {
		t.Fatal(err)
	}
	replay.Body.Close()
	if delivered, _ = sink.snapshot(); replay.StatusCode != http.StatusOK || len(delivered) != 3 {
		t.Fatalf("replay: HTTP %d, %d deliveries", replay.StatusCode, len(delivered))
	}
	p, err := sink.receiver.Open(buyerTaxNo, bodies[0])
	if err != nil || !p.Replayed {
		t.Fatalf("Open of a replay: %+v %v", p, err)
	}
}

func TestPushWithTheWrongKeyIsRefused(t *testing.T) {
	wrong := pushEnterprise()
	wrong.EncryptKey = "WRONGKEY-0123456"
	sink := newPushSink(t, invoicecloud.PushReceiverConfig{Enterprises: []invoicecloud.PushEnterprise{wrong}}, 0)
	h := pushHarness(t, sink)
	c := h.standard(nil)
	h.collect(eventCode(t, c, newBill("poll")), 1)

	for range 2 { // refused, and the cloud keeps trying
		if got := sink.next(t); got != http.StatusUnauthorized {
			t.Fatalf("a push that does not decrypt: HTTP %d", got)
		}
	}
	delivered, bodies := sink.snapshot()
	body := bodies[0]
	if len(delivered) != 0 {
		t.Fatal("an unauthenticated push was delivered")
	}
	_, err := sink.receiver.Open(buyerTaxNo, body)
	if e := mustError(t, err); e.Field != "encryptKey" || e.Retryable {
		t.Fatalf("Open with the wrong key: %+v", e)
	}
	noSecrets(t, err, "WRONGKEY-0123456", stdTenant().EncryptKey)
}

// A push the receiver never took is refused past MaxAge (a captured push cannot be replayed
// later); the cloud's retry of one it took, the same msgId with the same body, is known past
// MaxAge and answered as before (pushseen.go), even by the receiver a registry reload built.
func TestPushReplayedLaterIsStale(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := invoicecloud.PushReceiverConfig{Enterprises: []invoicecloud.PushEnterprise{pushEnterprise()}, Now: clock}
	sink := newPushSink(t, cfg, 0)
	h := pushHarness(t, sink)
	c := h.standard(nil)
	h.collect(eventCode(t, c, newBill("poll")), 1)
	if got := sink.next(t); got != http.StatusOK {
		t.Fatalf("push: HTTP %d", got)
	}
	_, bodies := sink.snapshot()
	body := bodies[0]

	mu.Lock()
	now = now.Add(invoicecloud.DefaultPushMaxAge + time.Minute)
	mu.Unlock()
	stranger, err := invoicecloud.NewPushReceiver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = stranger.Open(buyerTaxNo, body)
	if e := mustError(t, err); e.Code != invoicecloud.PushCodeStale || e.Field != "timestamp" {
		t.Fatalf("a push never taken, replayed after MaxAge: %+v", e)
	}
	if p, err := sink.receiver.Open(buyerTaxNo, body); err != nil || !p.Replayed {
		t.Fatalf("the cloud's retry of a push taken, after MaxAge: %+v %v", p, err)
	}
	reloaded, err := invoicecloud.NewPushReceiver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reloaded.Remember(sink.receiver)
	if p, err := reloaded.Open(buyerTaxNo, body); err != nil || !p.Replayed {
		t.Fatalf("the retry after a reload: %+v %v", p, err)
	}
	// Another enterprise's endpoint does not take it either.
	_, err = sink.receiver.Open(testTaxNo, body)
	if e := mustError(t, err); e.Field != "taxNo" {
		t.Fatalf("a push for an enterprise without push: %+v", e)
	}
}

// TestPushRetriedPastTheWindowIsTaken: the receiver could not record a push for longer than
// MaxAge (the bill's Temporal was down); the cloud's retries of it are taken once it can.
func TestPushRetriedPastTheWindowIsTaken(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sink := newPushSink(t, invoicecloud.PushReceiverConfig{Enterprises: []invoicecloud.PushEnterprise{pushEnterprise()}, Now: clock}, 1)
	h := pushHarness(t, sink)
	c := h.standard(nil)
	h.collect(eventCode(t, c, newBill("poll")), 1)
	if got := sink.next(t); got != http.StatusServiceUnavailable {
		t.Fatalf("first push: HTTP %d, want 503", got)
	}
	_, bodies := sink.snapshot()
	mu.Lock()
	now = now.Add(invoicecloud.DefaultPushMaxAge + time.Minute)
	mu.Unlock()
	p, err := sink.receiver.Open(buyerTaxNo, bodies[0])
	if err != nil || p.Replayed {
		t.Fatalf("the cloud's retry past MaxAge of a push not recorded yet: %+v %v, want it taken (not a replay)", p, err)
	}
	// The same msgId with another body is no retry: past MaxAge it is stale.
	other := bytes.Clone(bodies[0])
	other[len(other)/2] ^= 1
	if _, err := sink.receiver.Open(buyerTaxNo, other); err == nil {
		t.Fatal("another body under a seen msgId was taken past MaxAge")
	}
}

// TestPushForNoBillIsAnsweredSuccess: a push whose bill has ended or is unknown can never be
// recorded: it is answered success (the cloud stops) once, then known as a replay.
func TestPushForNoBillIsAnsweredSuccess(t *testing.T) {
	r, err := invoicecloud.NewPushReceiver(invoicecloud.PushReceiverConfig{Enterprises: []invoicecloud.PushEnterprise{pushEnterprise()}})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.Serve(w, req, buyerTaxNo, func(context.Context, invoicecloud.Push) error {
			calls.Add(1)
			return fmt.Errorf("bill ERP/X has ended: %w", invoicecloud.ErrPushForNoBill)
		})
	}))
	t.Cleanup(srv.Close)
	tenant := stdTenant()
	tenant.Push = []simulator.PushTarget{{Name: tenant.Name, TaxNo: tenant.TaxNo, ClientID: tenant.ClientID, URL: srv.URL + "/push"}}
	h := newHarness(t, simulator.Options{Seed: 51, Tenants: []simulator.Tenant{tenant}, PushRetryMin: 5 * time.Millisecond, PushRetryMax: 20 * time.Millisecond})
	c := h.standard(nil)
	h.collect(eventCode(t, c, newBill("poll")), 1)
	h.waitStats("the push is answered success", func(st simulator.Stats) bool { return st.PushesDelivered == 1 })
	var pushes struct {
		Pushes []simulator.PushView `json:"pushes"`
	}
	h.simJSON(http.MethodGet, "/__sim/pushes", nil, &pushes)
	if len(pushes.Pushes) != 1 || pushes.Pushes[0].Attempts != 1 || calls.Load() != 1 {
		t.Fatalf("pushes %+v, %d deliveries: want one push answered at its first attempt", pushes.Pushes, calls.Load())
	}
}

func TestNewPushReceiverNamesTheBadField(t *testing.T) {
	good := pushEnterprise()
	for field, mutate := range map[string]func(*invoicecloud.PushEnterprise){
		"enterprises[0].taxNo":      func(e *invoicecloud.PushEnterprise) { e.TaxNo = "x" },
		"enterprises[0].clientId":   func(e *invoicecloud.PushEnterprise) { e.ClientID = "" },
		"enterprises[0].encryptKey": func(e *invoicecloud.PushEnterprise) { e.EncryptKey = "short" },
	} {
		e := good
		mutate(&e)
		_, err := invoicecloud.NewPushReceiver(invoicecloud.PushReceiverConfig{Enterprises: []invoicecloud.PushEnterprise{e}})
		assertFieldError(t, err, field)
	}
	_, err := invoicecloud.NewPushReceiver(invoicecloud.PushReceiverConfig{Enterprises: []invoicecloud.PushEnterprise{good, good}})
	assertFieldError(t, err, "enterprises[1].taxNo")
}
