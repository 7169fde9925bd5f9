package invoicecloud_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
	"rimflow/invoicecloud/ultimate"
)

// A 307 from the token endpoint must not carry the app secret to the host it points at: the client
// follows no redirect, and says so.
func TestTokenEndpointRedirectIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer other.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path+"?stolen=1", http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()

	h := newHarness(t, simulator.Options{})
	c := h.client(func(cfg *ultimate.Config) { cfg.BaseURL = redirecting.URL })
	b := newBill("socket")
	_, err := c.GetEventCode(context.Background(), b.msgID("ec"), b.req)
	e := mustError(t, err)
	if e.HTTPStatus != http.StatusTemporaryRedirect || e.Retryable || !strings.Contains(e.Message, "redirects are never followed") ||
		!strings.Contains(e.Message, other.URL) {
		t.Fatalf("error = %+v; want a non-retryable 307 naming the target host", e)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirect target got %d requests; the secret left for another host", n)
	}
	noSecrets(t, err, simulator.DefaultCredentials().AppSecret)
}

// Plain http is for this machine only: a remote cloud must be https, unless explicitly allowed.
func TestBaseURLMustBeHTTPSOffLoopback(t *testing.T) {
	cred := simulator.DefaultCredentials()
	legacy := func(base string, allow bool) ultimate.Config {
		return ultimate.Config{BaseURL: base, AppID: cred.AppID, AppSecret: cred.AppSecret, TenantID: cred.TenantID,
			AccountID: cred.AccountID, User: cred.User, AllowInsecureHTTP: allow}
	}
	for _, tc := range []struct {
		base  string
		allow bool
		ok    bool
	}{
		{"https://cosmic-sandbox.piaozone.com/tenant", false, true},
		{"http://127.0.0.1:8090", false, true},
		{"http://localhost:8090", false, true},
		{"http://[::1]:8090", false, true},
		{"http://cosmic-sandbox.piaozone.com/tenant", false, false},
		{"http://10.0.0.5:8090", false, false},
		{"http://cloudsim:8090", false, false},
		{"http://cloudsim:8090", true, true},
	} {
		_, err := ultimate.New(legacy(tc.base, tc.allow))
		if tc.ok && err != nil {
			t.Errorf("%s (allow %v): refused: %v", tc.base, tc.allow, err)
		}
		if !tc.ok {
			var e *invoicecloud.Error
			if !errors.As(err, &e) || e.Field != "baseURL" || !strings.Contains(e.Message, "https") {
				t.Errorf("%s: error %v, want baseURL must be https", tc.base, err)
			}
		}
	}
	std := standard.Config{BaseURL: "http://api.piaozone.com", TaxNo: stdTenant().TaxNo, CompanyName: "x",
		ClientID: "c", ClientSecret: "s", EncryptKey: stdTenant().EncryptKey}
	if _, err := standard.New(std); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("standard edition over remote http: %v", err)
	}
}

// A socket frame over the read limit ends the socket (close 1009) instead of being read into memory.
func TestSocketReadLimit(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	sim, _ := url.Parse(h.srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(sim)
	closeCodes := make(chan int, 10)
	upgrader := websocket.Upgrader{}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/msgwatch") {
			proxy.ServeHTTP(w, r)
			return
		}
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		// Read while writing: the client may hang up before the whole frame is sent.
		readDone := make(chan int, 1)
		go func() {
			_ = conn.SetReadDeadline(time.Now().Add(guard))
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						readDone <- ce.Code
					} else {
						readDone <- 0
					}
					return
				}
			}
		}()
		big := `{"invoiceData":[{"serialNo":"` + strings.Repeat("x", invoicecloud.MaxSocketMessageBytes) + `"}]}`
		writeErr := conn.WriteMessage(websocket.TextMessage, []byte(big))
		code := <-readDone
		if writeErr != nil && code != websocket.CloseMessageTooBig {
			code = -1 // the client hung up mid-frame: it did not read it whole either
		}
		closeCodes <- code
	}))
	defer front.Close()

	c := h.client(func(cfg *ultimate.Config) { cfg.BaseURL = front.URL })
	w := startWatch(t, c, "link-big", invoicecloud.WatchOptions{Silence: time.Minute, Handshake: time.Minute})
	select {
	case code := <-closeCodes:
		if code != websocket.CloseMessageTooBig && code != -1 {
			t.Fatalf("the socket ended with %d; want the client to refuse the frame (close %d, or hang up mid-frame)", code, websocket.CloseMessageTooBig)
		}
	case <-time.After(guard):
		t.Fatal("the client kept reading a frame over the limit")
	}
	w.cancel()
	select {
	case m := <-w.got:
		t.Fatalf("an oversized frame was delivered (%d invoices)", len(m.InvoiceData))
	default:
	}
}
