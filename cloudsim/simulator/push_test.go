package simulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"rimflow/invoicecloud/aesecb"
)

// receiver is an AWS收票推送 address that answers failure the first fail times.
type receiver struct {
	srv *httptest.Server

	mu     sync.Mutex
	fail   int
	bodies [][]byte
	got    chan struct{}
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{fail: fail, got: make(chan struct{}, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		failing := r.fail > 0
		r.fail--
		r.mu.Unlock()
		select {
		case r.got <- struct{}{}:
		default:
		}
		if failing {
			http.Error(w, `{"errcode":"5000"}`, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"errcode":"0000","description":"成功"}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) wait(t *testing.T, n int) [][]byte {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		if len(r.bodies) >= n {
			out := append([][]byte(nil), r.bodies...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("the receiver never got %d pushes", n)
		}
	}
}

func pushTenant(url string) Tenant {
	t := stdTenantOpts()
	t.Push = []PushTarget{{Name: t.Name, TaxNo: t.TaxNo, ClientID: t.ClientID, URL: url}}
	return t
}

func TestPushRetriesUntilSuccess(t *testing.T) {
	rcv := newReceiver(t, 2)
	h := newHarness(t, Options{Seed: 8, Tenants: []Tenant{pushTenant(rcv.srv.URL + "/aws/push")},
		PushRetryMin: 5 * time.Millisecond, PushRetryMax: 20 * time.Millisecond})
	tok := h.stdToken()
	uk := h.stdOK(h.stdCall(tok, stdUserKeyPath, stdKey, userKeyBody("PU")))["userKey"].(string)
	collected := h.collect(uk, 3)

	bodies := rcv.wait(t, 3)
	deadline := time.Now().Add(30 * time.Second)
	for !h.sim.Pushes()[0].Delivered {
		if time.Now().After(deadline) {
			t.Fatalf("the push is never recorded as delivered: %+v", h.sim.Pushes())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // more than the longest backoff: a 4th attempt would show
	if bodies = rcv.wait(t, 3); len(bodies) != 3 {
		t.Fatalf("%d pushes, want 3 (two failures, one success)", len(bodies))
	}
	for _, b := range bodies[1:] {
		if !bytes.Equal(b, bodies[0]) {
			t.Fatal("a retry carried another body")
		}
	}
	plain, err := aesecb.Decrypt(stdKey, string(bodies[0]))
	if err != nil {
		t.Fatalf("the push does not decrypt with the tenant's encrypt_key: %v", err)
	}
	var p struct {
		MsgID     string `json:"msgId"`
		Timestamp int64  `json:"timestamp"`
		ClientID  string `json:"client_id"`
		Tin       string `json:"tin"`
		BxdKey    string `json:"bxd_key"`
		Resource  string `json:"resource"`
		Data      struct {
			Data []struct {
				SerialNo string `json:"serialNo"`
			} `json:"data"`
			InvoicesAmount json.Number `json:"invoicesAmount"`
		} `json:"data"`
	}
	if err := json.Unmarshal(plain, &p); err != nil {
		t.Fatal(err)
	}
	if p.MsgID == "" || p.ClientID != stdClient || p.Tin != stdTaxNo || p.BxdKey != "PU" || p.Resource != "ERP" ||
		p.Timestamp != h.sim.Now().UnixMilli() || len(p.Data.Data) != 3 || p.Data.InvoicesAmount == "" {
		t.Fatalf("push payload: %+v", p)
	}
	for i, inv := range p.Data.Data {
		if inv.SerialNo != collected[i] {
			t.Fatalf("pushed %v, collected %v", p.Data.Data, collected)
		}
	}
	v := h.sim.Pushes()[0]
	st := h.sim.Stats()
	if v.Attempts != 3 || v.MsgID != p.MsgID || v.LastError != "" || st.PushAttempts != 3 || st.PushFailures != 2 || st.PushesDelivered != 1 {
		t.Fatalf("push view %+v, stats attempts=%d failures=%d delivered=%d", v, st.PushAttempts, st.PushFailures, st.PushesDelivered)
	}
	// The poll still gets the same import: the push is an extra channel.
	if st.MessagesQueued != 1 {
		t.Fatalf("queued for the poll: %d", st.MessagesQueued)
	}
}

func TestPushStopsRetryingOnClose(t *testing.T) {
	rcv := newReceiver(t, 1<<30)
	h := newHarness(t, Options{Seed: 9, Tenants: []Tenant{pushTenant(rcv.srv.URL)},
		PushRetryMin: 5 * time.Millisecond, PushRetryMax: 10 * time.Millisecond})
	tok := h.stdToken()
	uk := h.stdOK(h.stdCall(tok, stdUserKeyPath, stdKey, userKeyBody("PC")))["userKey"].(string)
	h.collect(uk, 1)
	rcv.wait(t, 3)
	h.sim.Close() // waits for the push loop to end
	n := len(rcv.wait(t, 0))
	time.Sleep(50 * time.Millisecond)
	if after := len(rcv.wait(t, 0)); after != n {
		t.Fatalf("pushes went on after Close: %d then %d", n, after)
	}
	if v := h.sim.Pushes()[0]; v.Delivered || v.LastError == "" {
		t.Fatalf("a push never acknowledged: %+v", v)
	}
}

// An ultimate bill and a standard tenant without push addresses push nothing.
func TestNoPushWithoutAddress(t *testing.T) {
	h := newStdHarness(t, nil)
	h.collect(h.eventCode(h.accessToken(), "N1"), 1)
	uk := h.stdOK(h.stdCall(h.stdToken(), stdUserKeyPath, stdKey, userKeyBody("N2")))["userKey"].(string)
	h.collect(uk, 1)
	if st := h.sim.Stats(); st.PushesQueued != 0 || len(h.sim.Pushes()) != 0 {
		t.Fatalf("pushes: %+v", h.sim.Pushes())
	}
}
