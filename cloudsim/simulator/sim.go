// Package simulator is a local, faithful implementation of the parts of Kingdee Invoice Cloud
// (发票云) that rimflow talks to, in both editions. The ultimate edition (旗舰版, one tenant):
// its token endpoints (app token, login, OAuth2), the rim message API (getEventCode, billSave,
// voucherSave, the unbind), the deduction API, the msgwatch WebSocket, the long poll and the
// invoice-assistant pages. The standard edition (标准版, any number of enterprises, each its own
// tenant): its access token, the linkKey and userKey calls, the entry and status calls, its
// deduction, its pages and the AWS收票推送 pushes. Both share the image system (影像系统), the
// invoice pool and the deliveries, and a JSON test interface under /__sim/ with fault injection
// (docs/cloudsim.md). The vendor's documents are cited by section of docs/invoicecloud.md. It never
// imports the client: it is an independent reading of the wire format, so contract tests catch
// mismatches on either side.
package simulator

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Sim is one simulated cloud: the ultimate tenant and the standard ones. Safe for concurrent use.
// It composes rooms, each owning its data and the methods that change it: the clock, the tokens
// issued (auth.go), the faults injected (faults.go), the books of bills, invoices and vouchers
// (model.go), the mailroom of deliveries waiting for sockets and polls (delivery.go), the tenants
// (tenants.go), the image system (image_system.go) and the pushes (push.go). One lock, mu, guards
// every room's data, so a call that touches several (an import binds, queues and counts) is atomic.
type Sim struct {
	opts    Options
	log     *slog.Logger
	handler http.Handler
	pages   *pageRenderer
	clock   clock

	mu        sync.Mutex
	codeRand  *rand.Rand // eventCodes and msgIds
	tokenBook            // tokens issued (auth.go)
	faultBox             // faults injected (faults.go)
	books                // bills, the invoice pool, vouchers, answers given (model.go)
	mailroom             // deliveries waiting for sockets and polls, by linkKey (delivery.go)
	sampler              // the invoices the assistant shows a bill (samples.go)
	stats     Stats
	closed    bool
	done      chan struct{}

	tenants *tenantsState // the ultimate tenant and the standard ones (tenants.go)
	images  *imageState   // the image system's scan tasks (image_system.go)
	pushes  *pushState    // AWS收票推送 (push.go)
}

// clock is the simulator's time: a replaceable now plus what Advance added.
type clock struct {
	mu     sync.RWMutex
	now    func() time.Time
	offset time.Duration
}

func (c *clock) read() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.now().Add(c.offset)
}

func (c *clock) set(now func() time.Time) {
	c.mu.Lock()
	c.now = now
	c.mu.Unlock()
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// New builds a simulator; its state lives in memory until the process ends.
func New(opts Options) *Sim {
	if err := opts.Validate(); err != nil {
		panic("simulator: bad Options: " + err.Error())
	}
	opts = opts.withDefaults()
	seed := uint64(opts.Seed)
	s := &Sim{
		opts:     opts,
		log:      opts.Logger,
		clock:    clock{now: opts.Now},
		codeRand: rand.New(rand.NewPCG(seed, 0xC0DE)),
		mailroom: mailroom{strict: opts.Strict, queues: map[string]*linkQueue{}, receipts: map[string]*pollReceipt{}, sockets: map[*socketConn]struct{}{}},
		sampler:  sampler{seed: opts.Seed, strict: opts.Strict},
		stats:    newStats(),
		done:     make(chan struct{}),
		tenants:  newTenantsState(opts),
		images:   newImageState(),
		pushes:   newPushState(),
	}
	s.tokenBook = tokenBook{tokenRand: rand.New(rand.NewPCG(seed, 0x70CE)), tokens: map[string]*token{}, oauthCalls: map[string]*rateWindow{},
		ttl: opts.TokenTTL, clock: &s.clock, stats: &s.stats}
	s.faultBox = faultBox{faultRand: rand.New(rand.NewPCG(seed, 0xFA17)), stats: &s.stats}
	s.books = books{eventCodes: map[string]*eventCode{}, bills: map[billKey]*bill{}, pool: map[string]*poolInvoice{},
		covers: map[coverKey]billKey{}, vouchers: map[billKey]*voucher{}, answers: map[string]*storedAnswer{}, clock: &s.clock}
	s.pages = newPageRenderer()
	s.handler = s.routes()
	return s
}

// Handler serves every endpoint: auth, message, deduction, socket, poll, pages and /__sim/.
func (s *Sim) Handler() http.Handler { return s.handler }

// Options returns the effective options (defaults filled in).
func (s *Sim) Options() Options { return s.opts }

// Close ends live sockets and held polls; the handler keeps answering afterwards
// (polls answer 1307 at once) so an http.Server can shut down cleanly.
func (s *Sim) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	conns := make([]*socketConn, 0, len(s.sockets))
	for c := range s.sockets {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.drop()
	}
	s.pushes.wg.Wait() // pushes stop retrying once done is closed
}

// SetNow replaces the simulator clock (the Advance offset is kept).
func (s *Sim) SetNow(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.clock.set(now)
}

// Advance moves the simulator clock forward by d (for TTL tests; also POST /__sim/clock).
func (s *Sim) Advance(d time.Duration) {
	s.clock.advance(d)
	// Held polls re-check: an unreceipted message may now be due again.
	s.mu.Lock()
	for _, q := range s.queues {
		q.wake()
	}
	s.mu.Unlock()
}

// Now is the simulator clock.
func (s *Sim) Now() time.Time { return s.clock.read() }

// randomHex draws n hex digits from r (caller holds s.mu for the shared streams).
func randomHex(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

func randomDigits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"encoding failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

var errClosed = errors.New("simulator: closed")

func asTypeError(err error, target **json.UnmarshalTypeError) bool { return errors.As(err, target) }
func asFieldError(err error, target **FieldError) bool             { return errors.As(err, target) }
