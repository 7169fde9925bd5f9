package apiit

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rimflow/activities/calls"
	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/workflows"
)

// TestERPWebhooks: the ERP's receiver (a real HTTP server here) gets every event of its bills, in
// order per bill, each signed, across an outage (longer than the first few retries, which back off
// from a second) and a worker restart, without the bills waiting for it.
func TestERPWebhooks(t *testing.T) {
	const resource, secret = "HOOK", "whsec-erp15-test"
	rcv := newReceiver(t, secret)

	ts := harness.NewTestServer(t)
	c := ts.GetDefaultClient()
	cloud := harness.NewCloud(t, simulator.Options{Seed: 11}, nil)
	stopWorker := startWebhookWorker(t, c, cloud, resource, rcv.srv.URL, secret)
	apiSrv := httptest.NewServer(apiHandler(t, api.Options{Client: c, Namespace: ts.GetDefaultNamespace(),
		TaskQueue: workflows.DefaultTaskQueue, Token: "hook-token",
		Notifies: func(r string) bool { return r == resource }}))
	t.Cleanup(apiSrv.Close)
	s := &stack{client: c, ns: ts.GetDefaultNamespace(), simURL: cloud.URL, api: apiSrv, token: "hook-token", cloud: cloud.Client}

	// Bill A lives a whole life; the ERP is down for 15 s in the middle of it (a refused
	// delivery is retried after 1, 2, 4, 8 s…), and the worker is restarted meanwhile.
	a := bill("HOOK-A", "supervisor", "finance")
	a.Resource = resource
	var started api.StartResponse
	if code := s.call(t, "POST", "/v1/bills", a, &started); code != http.StatusCreated {
		t.Fatalf("start A: %d", code)
	}
	serials := s.collect(t, eventCodeOf(t, started.Collect.PC), 2)
	s.waitStage(t, "HOOK/HOOK-A", workflows.StageAwaitingSupervisor)
	rcv.waitFor(t, started.ID, calls.EventInvoicesBound, time.Minute)

	rcv.down(true)
	outage := time.Now()
	for _, role := range []string{"supervisor", "finance"} {
		if code := s.call(t, "POST", "/v1/bills/HOOK/HOOK-A/approvals",
			workflows.ApproveRequest{Role: role, Decision: "approve", Approver: role + "-1"}, nil); code != 200 {
			t.Fatalf("%s approval while the ERP is down: %d", role, code) // the bill does not wait for the ERP
		}
	}
	s.waitStage(t, "HOOK/HOOK-A", workflows.StageAwaitingVoucher)
	stopWorker()
	stopWorker = startWebhookWorker(t, c, cloud, resource, rcv.srv.URL, secret)
	time.Sleep(time.Until(outage.Add(15 * time.Second)))
	rcv.down(false)
	if code := s.call(t, "POST", "/v1/bills/HOOK/HOOK-A/voucher", voucherFor("记-HOOK"), nil); code != 200 {
		t.Fatalf("voucher: %d", code)
	}
	s.waitStage(t, "HOOK/HOOK-A", workflows.StageCompleted)

	// Bill B fails at start (the cloud refuses its tax number), then is cancelled.
	b := bill("HOOK-B")
	b.Resource = resource
	s.sim(t, "/__sim/faults", map[string]any{"errorRate": 1, "messageTypes": []string{"getEventCode"},
		"refuseCode": "1001", "refuseField": "billTaxNo"})
	code := s.call(t, "POST", "/v1/bills", b, nil)
	s.sim(t, "/__sim/faults", map[string]any{})
	if code != http.StatusBadGateway {
		t.Fatalf("refused start of B: %d", code)
	}
	// Bill C waits past its SLAs: overdue, then cancelled by the hard deadline.
	cIn := bill("HOOK-C", "supervisor")
	cIn.Resource = resource
	cIn.Options.SLA = workflows.SLAs{Collect: workflows.Duration(2 * time.Second), Hard: workflows.Duration(5 * time.Second)}
	cIn.Options.OnDeadline = workflows.DeadlineCancel
	var cStarted api.StartResponse
	s.call(t, "POST", "/v1/bills", cIn, &cStarted)
	// Another resource's bill sends nothing.
	other := bill("HOOK-X")
	s.call(t, "POST", "/v1/bills", other, nil)

	aEvents := rcv.waitFor(t, started.ID, calls.EventCompleted, 3*time.Minute)
	bEvents := rcv.waitFor(t, resource+"/HOOK-B", calls.EventFailed, time.Minute)
	cEvents := rcv.waitFor(t, cStarted.ID, calls.EventCancelledBySLA, time.Minute)
	stopWorker()

	// A's life, in order: started, invoices bound (with the list), the stage changes, completed.
	if types := eventTypes(aEvents); types[0] != calls.EventStarted || types[len(types)-1] != calls.EventCompleted ||
		!slices.Contains(types, calls.EventInvoicesBound) || countOf(types, calls.EventStageChanged) < 4 {
		t.Errorf("bill A's events: %v", types)
	}
	for _, ev := range aEvents {
		if ev.Type != calls.EventInvoicesBound {
			continue
		}
		var data struct {
			Invoices []struct {
				SerialNo string `json:"serialNo"`
			} `json:"invoices"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil || len(data.Invoices) != len(serials) {
			t.Errorf("invoices.bound data: %s %v", ev.Data, err)
		}
	}
	var failed struct {
		Step, Reason, Code, Field string
	}
	i := slices.IndexFunc(bEvents, func(e calls.Event) bool { return e.Type == calls.EventFailed })
	if json.Unmarshal(bEvents[i].Data, &failed) != nil || failed.Code != "InvoiceCloud.1001" || failed.Field != "billTaxNo" || failed.Step == "" {
		t.Errorf("bill.failed data: %s", bEvents[i].Data)
	}
	if types := eventTypes(cEvents); !slices.Contains(types, calls.EventOverdue) {
		t.Errorf("bill C's events: %v", types)
	}
	ids := map[string]string{}
	for bill, evs := range rcv.byBill() {
		if !strings.HasPrefix(bill, resource+"/") {
			t.Errorf("events of a bill without webhooks: %s", bill)
		}
		for i, ev := range evs {
			if ev.Seq != i+1 {
				t.Errorf("bill %s: event %d has seq %d (want every event once, in order, without gaps)", bill, i, ev.Seq)
			}
			if other, dup := ids[ev.ID]; dup {
				t.Errorf("event id %s of bill %s is also %s's", ev.ID, bill, other)
			}
			ids[ev.ID] = bill
		}
	}
	if rcv.refusedDuringOutage() == 0 {
		t.Error("no delivery was tried during the outage")
	}
	if n := rcv.badSignatures(); n > 0 {
		t.Errorf("%d deliveries with a bad signature", n)
	}
}

// receiver is the ERP's webhook endpoint: it verifies each delivery, drops a repeat by event ID
// and keeps the events per bill in the order first received.
type receiver struct {
	srv    *httptest.Server
	secret string

	mu      sync.Mutex
	isDown  bool
	refused int
	badSig  int
	seen    map[string]bool
	events  map[string][]calls.Event // "resource/billId" -> events, first receipt order
	arrived chan struct{}
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{secret: secret, seen: map[string]bool{}, events: map[string][]calls.Event{}, arrived: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isDown {
		r.refused++
		http.Error(w, "ERP maintenance", http.StatusServiceUnavailable)
		return
	}
	eventID, err := verifyWebhook(r.secret, req, body)
	if err != nil {
		r.badSig++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev calls.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != eventID {
		r.badSig++
		http.Error(w, "the body is not the event the headers name", http.StatusBadRequest)
		return
	}
	if !r.seen[ev.ID] {
		r.seen[ev.ID] = true
		key := ev.Resource + "/" + ev.BillID
		r.events[key] = append(r.events[key], ev)
	}
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) down(on bool) {
	r.mu.Lock()
	r.isDown = on
	r.mu.Unlock()
}

func (r *receiver) refusedDuringOutage() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

func (r *receiver) badSignatures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.badSig
}

func (r *receiver) byBill() map[string][]calls.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]calls.Event{}
	for k, v := range r.events {
		out[k] = slices.Clone(v)
	}
	return out
}

// waitFor waits until the bill's ("resource/billId") events include one of type typ and returns them all.
func (r *receiver) waitFor(t *testing.T, bill, typ string, limit time.Duration) []calls.Event {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		evs := r.byBill()[bill]
		if slices.ContainsFunc(evs, func(e calls.Event) bool { return e.Type == typ }) {
			return evs
		}
		select {
		case <-r.arrived:
		case <-time.After(time.Second):
		case <-deadline.C:
			t.Fatalf("no %s event for %s within %s; got %v", typ, bill, limit, eventTypes(evs))
		}
	}
}

func eventTypes(evs []calls.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
