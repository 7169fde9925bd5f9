package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Tap wraps the simulator's handler and notes when each bill's invoices were bound: the moment
// the simulator answered a successful billSave with status 30, and which serialNos it named. That
// is "bound" as the cloud sees it, measured on the wire, with no polling of the workflow.
type Tap struct {
	next http.Handler
	// QueryTokens counts business calls that carried their access token in the URL's query
	// (RIMFLOW_CLOUD_TOKEN_PLACEMENT=query) rather than in a header.
	QueryTokens atomic.Int64

	mu    sync.Mutex
	bound map[string]*boundEntry
}

type boundEntry struct {
	first   time.Time            // the first successful bind
	serials map[string]time.Time // every serialNo a successful bind named, with its first such bind
	changed chan struct{}        // closed and replaced at each successful bind
}

// NewTap wraps h.
func NewTap(h http.Handler) *Tap {
	return &Tap{next: h, bound: map[string]*boundEntry{}}
}

func (t *Tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/kapi/app/rim/message" {
		t.next.ServeHTTP(w, r)
		return
	}
	if r.URL.Query().Get("access_token") != "" {
		t.QueryTokens.Add(1)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	t.next.ServeHTTP(rec, r)
	if rec.status != http.StatusOK {
		return
	}
	var req struct {
		MessageType string `json:"messageType"`
		Data        struct {
			BillID      string `json:"billId"`
			Resource    string `json:"resource"`
			Status      string `json:"status"`
			InvoiceData []struct {
				SerialNo string `json:"serialNo"`
			} `json:"invoiceData"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &req) != nil || req.MessageType != "billSave" || req.Data.Status != "30" {
		return
	}
	var answer struct {
		ErrorCode string `json:"errorCode"`
	}
	if json.Unmarshal(rec.body.Bytes(), &answer) != nil || answer.ErrorCode != "0000" {
		return
	}
	serials := make([]string, 0, len(req.Data.InvoiceData))
	for _, l := range req.Data.InvoiceData {
		serials = append(serials, l.SerialNo)
	}
	t.markBound(req.Data.Resource, req.Data.BillID, time.Now(), serials)
}

func (t *Tap) entry(key string) *boundEntry {
	e := t.bound[key]
	if e == nil {
		e = &boundEntry{serials: map[string]time.Time{}, changed: make(chan struct{})}
		t.bound[key] = e
	}
	return e
}

func (t *Tap) markBound(resource, billID string, at time.Time, serials []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(resource + "/" + billID)
	if e.first.IsZero() {
		e.first = at
	}
	for _, s := range serials {
		if _, ok := e.serials[s]; !ok {
			e.serials[s] = at
		}
	}
	close(e.changed)
	e.changed = make(chan struct{})
}

// WaitBound blocks until the bill's first successful bind, and returns when it was answered.
func (t *Tap) WaitBound(ctx context.Context, resource, billID string) (time.Time, error) {
	return t.WaitSerials(ctx, resource, billID, nil)
}

// WaitSerials blocks until successful binds of the bill have named every serialNo given (with
// none given: until its first successful bind), and returns when the last of them was answered.
func (t *Tap) WaitSerials(ctx context.Context, resource, billID string, serials []string) (time.Time, error) {
	key := resource + "/" + billID
	for {
		t.mu.Lock()
		e := t.entry(key)
		done, at := !e.first.IsZero(), e.first
		for _, s := range serials {
			bound, ok := e.serials[s]
			done = done && ok
			if bound.After(at) {
				at = bound
			}
		}
		changed := e.changed
		t.mu.Unlock()
		if done {
			return at, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// recorder keeps the status and a copy of the body while writing through.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
