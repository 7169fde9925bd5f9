// Package simulator is a local, faithful implementation of the parts of Kingdee Invoice Cloud
// (发票云, ultimate edition) that rimflow talks to: token endpoints, the rim message API, the
// deduction API, the msgwatch WebSocket, the long poll, the invoice-assistant pages and a JSON test
// interface under /__sim/ with fault injection. It never imports the client: it is an independent
// reading of the wire format, so contract tests catch mismatches on either side.
package simulator

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Sim is one simulated tenant. Safe for concurrent use.
type Sim struct {
	opts    Options
	log     *slog.Logger
	handler http.Handler
	pages   *pageRenderer

	clockMu sync.RWMutex
	now     func() time.Time
	offset  time.Duration

	mu         sync.Mutex
	codeRand   *rand.Rand // eventCodes and msgIds
	tokenRand  *rand.Rand
	faultRand  *rand.Rand
	tokens     map[string]*token
	eventCodes map[string]*eventCode
	bills      map[billKey]*bill
	pool       map[string]*poolInvoice
	covers     map[coverKey]billKey
	vouchers   map[string]*voucher
	answers    map[string]*storedAnswer // idempotency by messageId / requestId
	queues     map[string]*linkQueue    // by MD5(linkKey)
	receipts   map[string]*pollReceipt  // by msgId
	sockets    map[*socketConn]struct{}
	oauthCalls map[string]*rateWindow
	// refreshTokens are only remembered so IssuedTokens can list them.
	refreshTokens []string
	faults        Faults
	stats         Stats
	closed        bool
	done          chan struct{}

	tenants *tenantsState // the ultimate tenant and the standard ones (tenants.go)
	images  *imageState   // the image system's scan tasks (image_system.go)
	pushes  *pushState    // AWS收票推送 (push.go)
}

// New builds a simulator; its state lives in memory until the process ends.
func New(opts Options) *Sim {
	if err := opts.Validate(); err != nil {
		panic("simulator: bad Options: " + err.Error())
	}
	opts = opts.withDefaults()
	seed := uint64(opts.Seed)
	s := &Sim{
		opts:       opts,
		log:        opts.Logger,
		now:        opts.Now,
		codeRand:   rand.New(rand.NewPCG(seed, 0xC0DE)),
		tokenRand:  rand.New(rand.NewPCG(seed, 0x70CE)),
		faultRand:  rand.New(rand.NewPCG(seed, 0xFA17)),
		tokens:     map[string]*token{},
		eventCodes: map[string]*eventCode{},
		bills:      map[billKey]*bill{},
		pool:       map[string]*poolInvoice{},
		covers:     map[coverKey]billKey{},
		vouchers:   map[string]*voucher{},
		answers:    map[string]*storedAnswer{},
		queues:     map[string]*linkQueue{},
		receipts:   map[string]*pollReceipt{},
		sockets:    map[*socketConn]struct{}{},
		oauthCalls: map[string]*rateWindow{},
		stats:      newStats(),
		done:       make(chan struct{}),
		tenants:    newTenantsState(opts),
		images:     newImageState(),
		pushes:     newPushState(),
	}
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
	s.clockMu.Lock()
	s.now = now
	s.clockMu.Unlock()
}

// Advance moves the simulator clock forward by d (for TTL tests; also POST /__sim/clock).
func (s *Sim) Advance(d time.Duration) {
	s.clockMu.Lock()
	s.offset += d
	s.clockMu.Unlock()
	// Held polls re-check: an unreceipted message may now be due again.
	s.mu.Lock()
	for _, q := range s.queues {
		q.wake()
	}
	s.mu.Unlock()
}

// Now is the simulator clock.
func (s *Sim) Now() time.Time {
	s.clockMu.RLock()
	defer s.clockMu.RUnlock()
	return s.now().Add(s.offset)
}

// streamSeed derives an independent deterministic stream from the seed and some names,
// so samples of one bill never depend on what happened to another.
func (s *Sim) streamSeed(parts ...string) (uint64, uint64) {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return uint64(s.opts.Seed), h.Sum64()
}

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
