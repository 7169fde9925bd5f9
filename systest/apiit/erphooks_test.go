package apiit

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/access"
	"rimflow/internal/app"
	"rimflow/internal/enterprises"
	"rimflow/internal/webhooks"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// The webhooks an ERP manages through the API (docs/webhooks.md), over the real stack: the API,
// the worker and Temporal's test server, a receiver of the ERP's on loopback.

const (
	hooksA    = "hooks-a-token-0123456789abcdef"
	hooksB    = "hooks-b-token-0123456789abcdef"
	hooksSAP  = "hooks-sap-token-0123456789abcdef"
	hookRes   = "HK"
	secretEnv = webhooks.EnvSecretPrefix + "APIIT_A"
	secretB   = webhooks.EnvSecretPrefix + "APIIT_B"
)

type hookStack struct {
	api *httptest.Server
	sim string

	start func() // starts the worker and the API (again)
	stop  func()
}

// newHookStack: three clients — A and B both act on HK (A starts bills), the third only on SAP.
func newHookStack(t *testing.T) *hookStack {
	t.Helper()
	t.Setenv(secretEnv, "whsec-apiit-a-0123456789abcdef")
	t.Setenv(secretB, "whsec-apiit-b-0123456789abcdef")
	ts := harness.NewTestServer(t)
	c := ts.GetDefaultClient()
	cloud := harness.NewCloud(t, simulator.Options{Seed: 27}, nil)
	clients, err := access.New(
		access.Spec{Name: "erp-a", Token: hooksA, Resources: []string{hookRes}, Operations: []string{"start", "read", "webhooks"}},
		access.Spec{Name: "erp-b", Token: hooksB, Resources: []string{hookRes}, Operations: []string{"read", "webhooks"}},
		access.Spec{Name: "erp-sap", Token: hooksSAP, Resources: []string{"SAP"}, Operations: []string{"read", "webhooks"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	s := &hookStack{sim: cloud.URL}
	s.start = func() {
		w, err := app.NewWorker(c, enterprises.Single(cloud.Client), app.WorkerOptions{TaskQueue: workflows.DefaultTaskQueue})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(apiHandler(t, api.Options{Client: c, Namespace: ts.GetDefaultNamespace(),
			TaskQueue: workflows.DefaultTaskQueue, Clients: clients}))
		s.api = srv
		s.stop = func() { srv.Close(); w.Stop() }
	}
	s.start()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *hookStack) do(t *testing.T, token, method, path string, body, out any) (int, []byte) {
	t.Helper()
	status, raw := testenv.Do(t, t.Context(), method, s.api.URL+path, token, body)
	if out != nil && status/100 == 2 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return status, raw
}

// hookReceiver is the ERP's endpoint: it verifies each POST with its secret and keeps what came,
// in order of arrival (repeats too).
type hookReceiver struct {
	srv    *httptest.Server
	secret string

	mu     sync.Mutex
	down   bool
	got    []hookDelivery
	badSig int
}

type hookDelivery struct {
	ID, Type    string
	Seq         int64 // the body's sequence
	HeaderSeq   string
	BillID      string
	SignatureOK bool
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	r := &hookReceiver{secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.down {
			http.Error(w, "ERP maintenance", http.StatusServiceUnavailable)
			return
		}
		var ev struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Sequence int64  `json:"sequence"`
			BillID   string `json:"billId"`
		}
		ok := webhooks.Verify([]byte(r.secret), req.Header, body, time.Now(), time.Minute) == nil
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(webhooks.HeaderEventID) {
			ok = false
		}
		if !ok {
			r.badSig++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		r.got = append(r.got, hookDelivery{ID: ev.ID, Type: ev.Type, Seq: ev.Sequence, HeaderSeq: req.Header.Get(webhooks.HeaderSequence),
			BillID: ev.BillID, SignatureOK: ok})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) setDown(on bool) { r.mu.Lock(); r.down = on; r.mu.Unlock() }

func (r *hookReceiver) deliveries() []hookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// forget is the ERP losing what it stored (restored from a backup after its outage).
func (r *hookReceiver) forget() { r.mu.Lock(); r.got = nil; r.mu.Unlock() }

// waitBills waits until the receiver holds a bill.started event of each bill.
func (r *hookReceiver) waitBills(t *testing.T, bills ...string) []hookDelivery {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := r.deliveries()
		all := true
		for _, b := range bills {
			if !slices.ContainsFunc(got, func(d hookDelivery) bool { return d.BillID == b && d.Type == "bill.started" }) {
				all = false
			}
		}
		if all {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver did not get bill.started of %v: %+v", bills, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestWebhookRegistrationRefusesBadInput: every refusal names its field, nothing is stored, and
// a secret is never taken inline (nor any variable the server holds, nor a file outside its folder).
func TestWebhookRegistrationRefusesBadInput(t *testing.T) {
	s := newHookStack(t)
	path := "/v1/webhooks/" + hookRes
	for _, c := range []struct {
		name  string
		body  string
		field string
		want  string
	}{
		{"inline secret", `{"urls":["https://erp.example.com/h"],"secret":"whsec-inline-0123456789"}`, "secret", "by reference only"},
		{"another variable of the server's", `{"urls":["https://erp.example.com/h"],"secret":"env:RIMFLOW_API_TOKEN"}`, "secret", webhooks.EnvSecretPrefix},
		{"an unset variable", `{"urls":["https://erp.example.com/h"],"secret":"env:` + webhooks.EnvSecretPrefix + `NOPE"}`, "secret", webhooks.EnvSecretPrefix + "NOPE is empty or unset"},
		{"a file without a secrets folder", `{"urls":["https://erp.example.com/h"],"secret":"file:/etc/passwd"}`, "secret", "RIMFLOW_WEBHOOK_SECRETS_DIR"},
		{"plain http off loopback", `{"urls":["http://erp.example.com/h"],"secret":"env:` + secretEnv + `"}`, "urls[0]", "https"},
		{"a password in the URL", `{"urls":["https://erp:pw@erp.example.com/h"],"secret":"env:` + secretEnv + `"}`, "urls[0]", "no user or password"},
		{"no URL", `{"urls":[],"secret":"env:` + secretEnv + `"}`, "urls", "at least one"},
		{"not a URL", `{"urls":["https://erp.example.com/h","ftp://x"],"secret":"env:` + secretEnv + `"}`, "urls[1]", "http(s)"},
	} {
		status, raw := s.do(t, hooksA, "PUT", path, c.body, nil)
		var e apiError
		_ = json.Unmarshal(raw, &e)
		if status != http.StatusBadRequest || e.Error.BusinessCode != "RF1001" || !strings.Contains(e.Error.Fields[c.field], c.want) {
			t.Errorf("%s: %d %s; want 400 RF1001 naming %s (%q)", c.name, status, raw, c.field, c.want)
		}
		if strings.Contains(string(raw), "whsec-") {
			t.Errorf("%s: the answer repeats a secret: %s", c.name, raw)
		}
	}
	if status, raw := s.do(t, hooksA, "PUT", path, `{"urls":["https://erp.example.com/h"],"secret":"env:`+secretEnv+`","colour":"red"}`, nil); status != http.StatusBadRequest || !strings.Contains(string(raw), "colour") {
		t.Errorf("an unknown field: %d %s", status, raw)
	}
	if status, raw := s.do(t, hooksA, "GET", path, nil, nil); status != http.StatusNotFound || !strings.Contains(string(raw), "RF1202") {
		t.Errorf("a refused registration was stored: %d %s", status, raw)
	}
}

// TestWebhookIsolationBetweenClients: a client sees, tests and removes only its own webhook; a
// client of another resource cannot touch the resource's at all.
func TestWebhookIsolationBetweenClients(t *testing.T) {
	s := newHookStack(t)
	rcv := newHookReceiver(t, "whsec-apiit-a-0123456789abcdef")
	path := "/v1/webhooks/" + hookRes
	if status, raw := s.do(t, hooksA, "PUT", path, map[string]any{"urls": []string{rcv.srv.URL}, "secret": "env:" + secretEnv}, nil); status != http.StatusCreated {
		t.Fatalf("A registers: %d %s", status, raw)
	}
	for _, c := range []struct{ method, path string }{{"GET", path}, {"DELETE", path}, {"POST", path + "/test"}} {
		var body any
		if c.method == "POST" {
			body = map[string]any{}
		}
		if status, raw := s.do(t, hooksB, c.method, c.path, body, nil); status != http.StatusNotFound || !strings.Contains(string(raw), "RF1202") {
			t.Errorf("B %s %s: %d %s, want 404: A's webhook is not B's", c.method, c.path, status, raw)
		}
		if status, raw := s.do(t, hooksSAP, c.method, c.path, body, nil); status != http.StatusForbidden {
			t.Errorf("the SAP client %s %s: %d %s, want 403", c.method, c.path, status, raw)
		}
	}
	if status, raw := s.do(t, hooksSAP, "PUT", path, map[string]any{"urls": []string{rcv.srv.URL}, "secret": "env:" + secretEnv}, nil); status != http.StatusForbidden {
		t.Errorf("the SAP client registers for HK: %d %s", status, raw)
	}
	var list api.WebhookList
	if status, raw := s.do(t, hooksB, "GET", "/v1/webhooks", nil, &list); status != http.StatusOK || len(list.Webhooks) != 0 {
		t.Errorf("B's list shows another client's webhook: %d %s", status, raw)
	}
	// B registers its own: A's stays as it was, each list shows its own.
	if status, raw := s.do(t, hooksB, "PUT", path, map[string]any{"urls": []string{"https://erp-b.example.com/h"}, "secret": "env:" + secretB}, nil); status != http.StatusCreated {
		t.Fatalf("B registers: %d %s", status, raw)
	}
	if status, raw := s.do(t, hooksA, "GET", "/v1/webhooks", nil, &list); status != http.StatusOK || len(list.Webhooks) != 1 ||
		list.Webhooks[0].URLs[0] != rcv.srv.URL || list.Webhooks[0].Secret != "env:"+secretEnv {
		t.Errorf("A's list: %d %s", status, raw)
	}
	if status, raw := s.do(t, hooksB, "DELETE", path, nil, nil); status != http.StatusOK {
		t.Errorf("B removes its own: %d %s", status, raw)
	}
	var v api.WebhookView
	if status, raw := s.do(t, hooksA, "GET", path, nil, &v); status != http.StatusOK || v.URLs[0] != rcv.srv.URL {
		t.Errorf("A's webhook after B removed its own: %d %s", status, raw)
	}
}

// TestWebhookTestSendAndReplayAfterOutage: a test event reaches the receiver signed and the API
// answers what it answered; the bills' events carry the resource's sequence; after an outage and
// a restart of the API and the worker, the ERP, which lost what it had, has them sent again from
// sequence 1 — the same ids and sequences, in order, signed, paginated.
func TestWebhookTestSendAndReplayAfterOutage(t *testing.T) {
	s := newHookStack(t)
	rcv := newHookReceiver(t, "whsec-apiit-a-0123456789abcdef")
	path := "/v1/webhooks/" + hookRes
	var reg api.WebhookView
	if status, raw := s.do(t, hooksA, "PUT", path, map[string]any{"urls": []string{rcv.srv.URL}, "secret": "env:" + secretEnv}, &reg); status != http.StatusCreated || !reg.Created {
		t.Fatalf("register: %d %s", status, raw)
	}

	var test api.WebhookTestResponse
	if status, raw := s.do(t, hooksA, "POST", path+"/test", map[string]any{}, &test); status != http.StatusOK || !test.OK ||
		len(test.Attempts) != 1 || test.Attempts[0].Status != http.StatusNoContent {
		t.Fatalf("test: %d %s", status, raw)
	}
	if got := rcv.deliveries(); len(got) != 1 || got[0].ID != test.EventID || got[0].Type != api.EventWebhookTest {
		t.Fatalf("the receiver got %+v, want the test event %s", got, test.EventID)
	}
	rcv.setDown(true)
	if status, raw := s.do(t, hooksA, "POST", path+"/test", map[string]any{}, &test); status != http.StatusOK || test.OK ||
		test.Attempts[0].Status != http.StatusServiceUnavailable || test.Attempts[0].Error != "HTTP 503" {
		t.Errorf("test while the receiver is down: %d %s", status, raw)
	}
	rcv.setDown(false)
	rcv.forget()

	start := func(id string) {
		b := bill(id)
		b.Resource = hookRes
		if status, raw := s.do(t, hooksA, "POST", "/v1/bills", b, nil); status/100 != 2 {
			t.Fatalf("start %s: %d %s", id, status, raw)
		}
	}
	start("HK-1")
	start("HK-2")
	rcv.waitBills(t, "HK-1", "HK-2")
	// The outage: the next bill's first event is journaled (its sequence given) but refused, and
	// delivered once the receiver is back (the bill's outbox retries).
	rcv.setDown(true)
	start("HK-3")
	var page api.WebhookEventsResponse
	for deadline := time.Now().Add(30 * time.Second); ; {
		if status, raw := s.do(t, hooksA, "GET", path+"/events?fromSeq=1", nil, &page); status != http.StatusOK {
			t.Fatalf("events: %d %s", status, raw)
		}
		if slices.ContainsFunc(page.Events, func(e api.WebhookEvent) bool {
			var ev struct {
				BillID string `json:"billId"`
			}
			return json.Unmarshal(e.Event, &ev) == nil && ev.BillID == "HK-3"
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HK-3's event was never journaled: %+v", page)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rcv.setDown(false)
	first := rcv.waitBills(t, "HK-1", "HK-2", "HK-3")

	// Every delivery carries its sequence (body, signed, and header); they are 1… without gaps.
	bySeq := map[int64]hookDelivery{}
	for _, d := range first {
		if d.Seq < 1 || d.HeaderSeq != strconv.FormatInt(d.Seq, 10) {
			t.Errorf("delivery %+v: sequence missing or header and body disagree", d)
		}
		if prev, ok := bySeq[d.Seq]; ok && prev.ID != d.ID {
			t.Errorf("sequence %d given to %s and %s", d.Seq, prev.ID, d.ID)
		}
		bySeq[d.Seq] = d
	}
	last := page.LastSeq
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, _ = s.do(t, hooksA, "GET", path+"/events?fromSeq=1", nil, &page)
		if int(page.LastSeq) == len(page.Events) && page.LastSeq >= last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal: %+v", page)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i, e := range page.Events {
		if e.Sequence != int64(i+1) {
			t.Errorf("journal position %d holds sequence %d", i, e.Sequence)
		}
	}

	// The API and the worker restart: the registration and the journal are still there.
	s.stop()
	s.start()
	if status, raw := s.do(t, hooksA, "GET", path, nil, &reg); status != http.StatusOK || reg.URLs[0] != rcv.srv.URL {
		t.Fatalf("the webhook after a restart: %d %s", status, raw)
	}

	// The ERP lost everything: replay from 1, two per call.
	rcv.forget()
	var ids []string
	next := int64(1)
	for calls := 0; ; calls++ {
		var rep api.ReplayResponse
		if status, raw := s.do(t, hooksA, "POST", path+"/replay", map[string]any{"fromSeq": next, "limit": 2}, &rep); status != http.StatusOK || rep.Failed != nil {
			t.Fatalf("replay from %d: %d %s", next, status, raw)
		}
		if rep.Sent > 2 || rep.FromSeq != next {
			t.Fatalf("replay from %d answered %+v", next, rep)
		}
		ids = append(ids, rep.EventIDs...)
		next = rep.NextSeq
		if !rep.More {
			break
		}
		if calls > 20 {
			t.Fatal("the replay never ends")
		}
	}
	replayed := rcv.deliveries()
	// (The bills may journal more events meanwhile: the replay holds at least the page read before.)
	if len(replayed) < len(page.Events) || len(ids) != len(replayed) {
		t.Fatalf("replayed %d (%v), the journal held %d", len(replayed), ids, len(page.Events))
	}
	for i, d := range replayed[:len(page.Events)] {
		want := page.Events[i]
		if d.Seq != want.Sequence || d.ID != want.ID || ids[i] != want.ID {
			t.Errorf("replay %d: %s seq %d, want %s seq %d", i, d.ID, d.Seq, want.ID, want.Sequence)
		}
		if orig, ok := bySeq[d.Seq]; ok && orig.ID != d.ID {
			t.Errorf("sequence %d was %s when delivered, %s when replayed", d.Seq, orig.ID, d.ID)
		}
	}

	// The receiver down during a replay: it stops at the first refusal, saying where to go on from.
	rcv.setDown(true)
	var rep api.ReplayResponse
	if status, raw := s.do(t, hooksA, "POST", path+"/replay", map[string]any{"fromSeq": 2}, &rep); status != http.StatusOK || rep.Sent != 0 ||
		rep.NextSeq != 2 || rep.Failed == nil || rep.Failed.Status != http.StatusServiceUnavailable || !rep.More {
		t.Errorf("replay while down: %d %s", status, raw)
	}
	rcv.setDown(false)
	if status, raw := s.do(t, hooksA, "POST", path+"/replay", map[string]any{"fromSeq": 0}, nil); status != http.StatusBadRequest || !strings.Contains(string(raw), "fromSeq") {
		t.Errorf("replay from 0: %d %s", status, raw)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.badSig > 0 {
		t.Errorf("%d deliveries with a bad signature", rcv.badSig)
	}
}
