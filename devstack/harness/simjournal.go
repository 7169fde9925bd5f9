package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"rimflow/cloudsim/simulator"
)

// The simulator keeps its invoice pool and bills in memory, while Temporal keeps the bills in the
// data dir: after a restart a bill waiting for approval would meet a cloud that never saw its
// invoices. So devstack journals every request that changes the simulator's state and replays
// the journal into a fresh simulator with the same seed on the next start; the simulator is
// deterministic for the same sequence of calls, so it comes back with the same pool, bills,
// eventCodes and tokens.

// SimJournalFile is the journal's name in the data dir.
const SimJournalFile = "cloudsim.journal"

type journalHeader struct {
	Version int   `json:"version"`
	Seed    int64 `json:"seed"`
	// Sockets: the journal records each message a socket took (a "SOCKET" entry: the queue's
	// hash and the msgId). A journal without it (written before) settles the socket queues
	// after its replay instead (simulator.SettleSocketQueues).
	Sockets bool `json:"sockets,omitempty"`
	Strict  bool `json:"strict,omitempty"` // the simulator's -strict mode
	// Assume are the [assumed] behaviours switched off (cloudsim -assume-*=false).
	Assume simulator.Assumptions `json:"assume,omitzero"`
}

type journalEntry struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query,omitempty"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
	// At is when the simulator took the request (Unix ms): the replay runs it at that time, so a
	// request whose timestamp the simulator checks (a standard token's, within OAuth2Skew) is
	// taken as it was, however long after the restart comes. Absent in journals written before.
	At int64 `json:"at,omitempty"`
}

// simJournal serves the simulator and appends each state-changing request to the journal.
// Those requests are handled one at a time so the journal's order is the order the simulator
// applied them in (its eventCode and token sequences depend on it).
type simJournal struct {
	now  func() time.Time // the simulator's clock without its test offset
	next http.Handler
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	err  error
}

// journaled reports whether a request changes simulator state worth keeping. Fault injection
// and the test clock are test knobs of the moment, not state.
func journaled(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	return !strings.HasPrefix(r.URL.Path, "/__sim/faults") && !strings.HasPrefix(r.URL.Path, "/__sim/clock")
}

// openSimJournal replays path into a new simulator (creating the journal if absent) and returns
// the simulator, the journaling handler and the header in force. opts' seed and strict mode are
// used for a new journal; an existing one keeps those it was written with (a replay under other
// rules would not rebuild the same cloud).
func openSimJournal(path string, opts simulator.Options) (*simulator.Sim, *simJournal, journalHeader, error) {
	entries, hdr, err := readJournal(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		hdr = journalHeader{Version: 1, Seed: opts.Seed, Sockets: true, Strict: opts.Strict, Assume: opts.Assume}
	case err != nil:
		return nil, nil, hdr, err
	}
	opts.Seed, opts.Strict, opts.Assume = hdr.Seed, hdr.Strict, hdr.Assume
	j := &simJournal{now: opts.Now}
	if j.now == nil {
		j.now = time.Now
	}
	opts.OnSocketDelivery = j.socketDelivered
	// The replay's clock is each request's own time; the simulator's is the real one afterwards.
	var replayAt atomic.Pointer[time.Time]
	opts.Now = func() time.Time {
		if at := replayAt.Load(); at != nil {
			return *at
		}
		return j.now()
	}
	sim := simulator.New(opts)
	h := sim.Handler()
	for _, e := range entries {
		if e.Method == methodSocket {
			sim.HandedOver(e.Path, string(e.Body))
			continue
		}
		if e.At != 0 {
			at := time.UnixMilli(e.At)
			replayAt.Store(&at)
		}
		req := httptest.NewRequest(e.Method, e.Path+querySuffix(e.Query), bytes.NewReader(e.Body))
		for k, v := range e.Header {
			req.Header[k] = v
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	replayAt.Store(nil)
	if !hdr.Sockets {
		sim.SettleSocketQueues()
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		sim.Close()
		return nil, nil, hdr, fmt.Errorf("simulator journal %s: %w", path, err)
	}
	j.mu.Lock()
	j.next, j.f, j.w = h, f, bufio.NewWriter(f)
	j.mu.Unlock()
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		j.append(hdr)
	}
	return sim, j, hdr, j.flush()
}

func querySuffix(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

func readJournal(path string) ([]journalEntry, journalHeader, error) {
	var hdr journalHeader
	f, err := os.Open(path)
	if err != nil {
		return nil, hdr, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	if !sc.Scan() {
		// An empty file: treat as new.
		return nil, hdr, fs.ErrNotExist
	}
	if err := json.Unmarshal(sc.Bytes(), &hdr); err != nil || hdr.Version != 1 {
		return nil, hdr, fmt.Errorf("simulator journal %s: unknown header %q (delete the file to start the simulator afresh)", path, sc.Text())
	}
	var entries []journalEntry
	for sc.Scan() {
		var e journalEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// A torn last line (the process died mid-write) ends the journal.
			break
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, hdr, fmt.Errorf("simulator journal %s: %w", path, err)
	}
	return entries, hdr, nil
}

func (j *simJournal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !journaled(r) {
		j.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}

	j.mu.Lock()
	defer j.mu.Unlock()
	at := j.now()
	j.next.ServeHTTP(rec, r)
	// 5xx answers (injected faults) changed nothing worth replaying.
	if rec.status < 500 {
		j.append(journalEntry{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body,
			At: at.UnixMilli()})
		_ = j.flush()
	}
}

// methodSocket marks a journal entry that is no request: a socket took a message (Path: its
// queue's hash, Body: its msgId).
const methodSocket = "SOCKET"

// socketDelivered journals a message a socket took. It waits for the request that queued the
// message to be journaled first (mu), so a replay meets them in that order.
func (j *simJournal) socketDelivered(queueHash, msgID string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.w == nil {
		return // the replay itself: nothing to write
	}
	j.append(journalEntry{Method: methodSocket, Path: queueHash, Body: []byte(msgID)})
	_ = j.flush()
}

// append writes one JSON line; the first error sticks and stops journaling.
func (j *simJournal) append(v any) {
	if j.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		b = append(b, '\n')
		_, err = j.w.Write(b)
	}
	j.err = err
}

func (j *simJournal) flush() error {
	if j.err == nil {
		j.err = j.w.Flush()
	}
	return j.err
}

// Close flushes and closes the journal file.
func (j *simJournal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.flush()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	return err
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
