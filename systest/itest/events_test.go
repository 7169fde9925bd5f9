package itest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"rimflow/activities/calls"
	"rimflow/internal/webhooks"
	"rimflow/workflows"
)

const webhookSecret = "itest-webhook-secret-0123456789"

// erpReceiver is the ERP's webhook endpoint: a real HTTP server that verifies every delivery's
// signature, drops repeats by event ID, and can be down (503) for a while.
type erpReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	down      bool
	refused   int                      // deliveries answered 503 while down
	repeats   int                      // deliveries of an event already taken
	badSigned int                      // deliveries whose signature or timestamp did not verify
	seen      map[string]bool          // event IDs taken
	byBill    map[string][]calls.Event // events taken, in arrival order, per billId
}

func newERPReceiver(t *testing.T) *erpReceiver {
	r := &erpReceiver{t: t, seen: map[string]bool{}, byBill: map[string][]calls.Event{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *erpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		r.refused++
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	if err := webhooks.Verify([]byte(webhookSecret), req.Header, body, time.Now(), 5*time.Minute); err != nil {
		r.badSigned++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev calls.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ev.ID != req.Header.Get(webhooks.HeaderEventID) {
		http.Error(w, "event id header differs from the body", http.StatusBadRequest)
		return
	}
	if r.seen[ev.ID] {
		r.repeats++
		w.WriteHeader(http.StatusOK)
		return
	}
	r.seen[ev.ID] = true
	r.byBill[ev.BillID] = append(r.byBill[ev.BillID], ev)
	w.WriteHeader(http.StatusOK)
}

func (r *erpReceiver) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

func (r *erpReceiver) events(billID string) []calls.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.byBill[billID])
}

func (r *erpReceiver) counts() (refused, repeats, badSigned int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused, r.repeats, r.badSigned
}

// waitFor waits until billID's events include one that satisfies match.
func (r *erpReceiver) waitFor(billID, what string, match func(calls.Event) bool, within time.Duration) []calls.Event {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if evs := r.events(billID); slices.ContainsFunc(evs, match) {
			return evs
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("bill %s: no %s event within %s; got %v", billID, what, within, eventTypes(r.events(billID)))
	return nil
}

func ofType(typ string) func(calls.Event) bool {
	return func(e calls.Event) bool { return e.Type == typ }
}

func stageChangedTo(stage workflows.Stage) func(calls.Event) bool {
	return func(e calls.Event) bool { return e.Type == calls.EventStageChanged && changedTo(e) == string(stage) }
}

func changedTo(e calls.Event) string {
	var d struct {
		To string `json:"to"`
	}
	_ = json.Unmarshal(e.Data, &d)
	return d.To
}

func eventTypes(evs []calls.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%d:%s", e.Seq, e.Type)
		if e.Type == calls.EventStageChanged {
			out[i] += "→" + changedTo(e)
		}
	}
	return out
}

// The ERP hears about its bills through its webhook across an outage and a worker restart,
// with two bills running at once: every event arrives, signed, once per ID, in per-bill order, and
// the bills never wait for the ERP.
func TestWebhookEventsReachTheERP(t *testing.T) {
	erp := newERPReceiver(t)
	reg, err := webhooks.Parse([]byte(fmt.Sprintf("resources:\n  OA:\n    urls: [%q]\n    secret: env:ERP_SECRET\n", erp.srv.URL)),
		func(k string) string {
			if k == "ERP_SECRET" {
				return webhookSecret
			}
			return ""
		}, nil)
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	s := newStackWith(t, 41, lenient, func(s *stack) { s.webhooks = reg })
	bills := []string{"EV-1", "EV-2"}
	ids := map[string]string{}

	// The ERP is down for 15 s from before the bills start (a refused delivery is retried after 1,
	// 2, 4, 8 s…). They go on without it: collected, bound and past the supervisor while their
	// events wait.
	erp.setDown(true)
	outage := time.Now()
	for _, billID := range bills {
		ids[billID] = s.start(input(billID, workflows.Options{Notify: true})).GetID()
	}
	for _, billID := range bills {
		s.collect(s.collectURL(ids[billID]).EventCode, 2)
		waitStage(t, ids[billID], workflows.StageAwaitingSupervisor)
		mustUpdate(t, ids[billID], workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
		waitStage(t, ids[billID], workflows.StageAwaitingFinance)
	}
	if refused, _, _ := erp.counts(); refused < len(bills) {
		t.Fatalf("%d deliveries tried while the ERP was down, want one per bill at least", refused)
	}
	time.Sleep(time.Until(outage.Add(15 * time.Second)))
	for _, billID := range bills {
		if got := erp.events(billID); len(got) != 0 {
			t.Fatalf("%s: events taken while the ERP was down: %v", billID, eventTypes(got))
		}
	}
	erp.setDown(false)
	// The retry's backoff is capped at a minute: everything queued arrives within about that.
	for _, billID := range bills {
		erp.waitFor(billID, "stage.changed→awaiting_finance", stageChangedTo(workflows.StageAwaitingFinance), 90*time.Second)
	}

	// The worker restarts between decisions; what happens next is heard too.
	s.stopWorker()
	s.startWorker()
	mustUpdate(t, ids["EV-1"], workflows.UpdateApprove, approve("finance", workflows.DecisionApprove))
	waitStage(t, ids["EV-1"], workflows.StageAwaitingVoucher)
	mustUpdate(t, ids["EV-1"], workflows.UpdateVoucher, voucher())
	mustUpdate(t, ids["EV-2"], workflows.UpdateApprove, approve("finance", workflows.DecisionReject))

	want := map[string][]string{
		"EV-1": {"1:bill.started", "2:invoices.bound", "3:stage.changed→awaiting_supervisor", "4:stage.changed→awaiting_finance",
			"5:stage.changed→awaiting_voucher", "6:stage.changed→completed", "7:bill.completed"},
		"EV-2": {"1:bill.started", "2:invoices.bound", "3:stage.changed→awaiting_supervisor", "4:stage.changed→awaiting_finance",
			"5:stage.changed→rejected"},
	}
	erp.waitFor("EV-1", "bill.completed", ofType(calls.EventCompleted), time.Minute)
	erp.waitFor("EV-2", "stage.changed→rejected", stageChangedTo(workflows.StageRejected), time.Minute)
	for _, billID := range bills {
		evs := erp.events(billID)
		if got := eventTypes(evs); !slices.Equal(got, want[billID]) {
			t.Errorf("%s: events %v, want %v", billID, got, want[billID])
		}
		for _, e := range evs {
			if e.Type == calls.EventInvoicesBound {
				var d struct {
					Invoices []json.RawMessage `json:"invoices"`
				}
				if err := json.Unmarshal(e.Data, &d); err != nil || len(d.Invoices) != 2 {
					t.Errorf("%s: invoices.bound carries %d invoices (%v), want the 2 bound", billID, len(d.Invoices), err)
				}
			}
			if e.Resource != "OA" || e.BillNo != "BX-"+billID {
				t.Errorf("%s: event %d names %s/%s", billID, e.Seq, e.Resource, e.BillNo)
			}
		}
	}
	if _, _, bad := erp.counts(); bad != 0 {
		t.Errorf("%d deliveries failed the signature check", bad)
	}
	record(t, ids["EV-1"], "webhook_events_completed")
	record(t, ids["EV-2"], "webhook_events_rejected")
}
