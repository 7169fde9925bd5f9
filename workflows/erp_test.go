package workflows_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/workflows"
)

// A bill that failed before anything was bound is amended and retried: the corrected header goes
// to the cloud; an amendment once something is bound is refused.
func TestAmendThenRetry(t *testing.T) {
	h := newHarness(t)
	h.failNext("GetEventCode", nonRetryable("1001", "billTaxNo: not a company the tenant knows"))
	good := "91310000MA1FL0002W"
	var early, amended *updateResult
	h.script(
		func() {
			early = h.update(workflows.UpdateAmend, workflows.AmendRequest{Reason: "typo"})
			amended = h.update(workflows.UpdateAmend, workflows.AmendRequest{BillTaxNo: &good, Reason: "the ERP had a typo"})
		},
		func() { h.update(workflows.UpdateRetry, workflows.RetryRequest{By: "erp"}) },
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) },
	)
	h.run(bill(workflows.Options{}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	if early.rejected == nil || !strings.Contains(early.rejected.Error(), "nothing to amend") {
		t.Errorf("an amendment that changes nothing: %+v", early)
	}
	if amended.rejected != nil || amended.err != nil {
		t.Fatalf("amend: %+v", amended)
	}
	ecs := h.callsOf("GetEventCode")
	eq(t, "eventCode calls", len(ecs), 2)
	eq(t, "retried with the amended tax number", ecs[1].(calls.EventCodeInput).Request.BillTaxNo, good)
	eq(t, "state shows it", s.Bill.BillTaxNo, good)
}

// An invoice is taken off a collecting bill (the cloud goes to the set that stays in one call), and off a failed one
// while pending; one that is not on the bill is refused naming serialNo.
func TestRemoveInvoice(t *testing.T) {
	h := newHarness(t)
	var notOn, removed *updateResult
	var after workflows.BillState
	h.script(
		func() {
			h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false), inv("S2", "002", "20", "2", false))
		},
		func() {
			notOn = h.update(workflows.UpdateRemove, workflows.RemoveInvoiceRequest{SerialNo: "S9", Reason: "x"})
			removed = h.update(workflows.UpdateRemove, workflows.RemoveInvoiceRequest{SerialNo: "S2", Reason: "a private expense"})
		},
		func() {
			after = h.state()
			h.update(workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
		},
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) },
	)
	h.run(bill(workflows.Options{AutoSubmit: falsePtr()}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	if notOn.rejected == nil || !strings.Contains(notOn.rejected.Error(), "serialNo") {
		t.Errorf("removing an invoice not on the bill: %+v", notOn)
	}
	if removed.err != nil || removed.rejected != nil {
		t.Fatalf("remove: %+v", removed)
	}
	eq(t, "left on the bill", after.InvoiceCount, 1)
	rel := h.callsOf("RemoveInvoices")
	if len(rel) == 0 {
		t.Fatal("nothing released at the cloud")
	}
	// The activity sends one of these by the cloud's reading of billSave: the set that stays at
	// 30 (the set replaces the bill's), or the removed invoice alone at 1 (billSave only updates).
	in := rel[0].(calls.RemoveInput)
	if keep := in.Keep.Request; keep.Status != "30" || len(keep.InvoiceData) != 1 || keep.InvoiceData[0].SerialNo != "S1" {
		t.Errorf("kept %s %+v, want S1 at 30", keep.Status, keep.InvoiceData)
	}
	if r := in.Release.Request; r.Status != "1" || len(r.InvoiceData) != 1 || r.InvoiceData[0].SerialNo != "S2" {
		t.Errorf("released %s %+v, want only S2 at 1", r.Status, r.InvoiceData)
	}
}

// Past collecting, a view URL comes from a fresh eventCode nobody watches.
func TestViewURLPastCollecting(t *testing.T) {
	h := newHarness(t)
	var view *updateResult
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() {}, func() {}, func() {}, func() {}, func() {}, func() {}, func() {}, func() {}, func() {}, func() {}, // the collect page dies
		func() { view = h.update(workflows.UpdateViewURL, workflows.ViewURLRequest{Client: "pc"}) },
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) },
	)
	h.run(bill(workflows.Options{}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	if view.err != nil || view.rejected != nil {
		t.Fatalf("viewUrl: %+v", view)
	}
	if got := view.value.(workflows.ViewURLResponse).URL; !strings.Contains(got, "EC2") {
		t.Errorf("view url %q, want the fresh eventCode EC2", got)
	}
	eq(t, "watchers", h.count("WatchInvoices"), 1)
}

// Past collecting, the view URL is an eventCode of its own even while the collect eventCode still
// lives (its collect page imports into the bill): an approver gets the view, not the capability.
// A second ask reuses it, and nobody watches it.
func TestViewURLPastCollectingIsNeverTheCollectPage(t *testing.T) {
	h := newHarness(t)
	var first, second *updateResult
	var st workflows.BillState
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() { first = h.update(workflows.UpdateViewURL, workflows.ViewURLRequest{Client: "pc"}) },
		func() { second = h.update(workflows.UpdateViewURL, workflows.ViewURLRequest{Client: "mobile"}) },
		func() {
			st = h.state()
			h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"})
		},
	)
	h.run(bill(workflows.Options{}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	if first.err != nil || first.rejected != nil || second.err != nil || second.rejected != nil {
		t.Fatalf("viewUrl: %+v, %+v", first, second)
	}
	if st.Stage != workflows.AwaitingStage("supervisor") || st.EventCode != "EC1" {
		t.Fatalf("the bill %s on %q, want awaiting the supervisor with EC1 still shown", st.Stage, st.EventCode)
	}
	if got := first.value.(workflows.ViewURLResponse).URL; !strings.Contains(got, "EC2") {
		t.Errorf("view url %q past collecting with EC1 alive, want the view-only EC2", got)
	}
	if got := second.value.(workflows.ViewURLResponse).URL; !strings.Contains(got, "EC2") {
		t.Errorf("second view url %q, want EC2 again", got)
	}
	eq(t, "getEventCode calls", h.count("GetEventCode"), 2)
	eq(t, "watchers", h.count("WatchInvoices"), 1)
}

// With notify on, the bill's events go out in order with a sequence and an id, and a webhook
// that fails is retried (the same event again) before the next one.
func TestEventsInOrder(t *testing.T) {
	h := newHarness(t)
	h.failNext("DeliverEvent", temporal.NewApplicationError("webhook: HTTP 503", "WebhookRefused")) // the ERP is down: retried
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{Notify: true}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	evs := h.events()
	var types []string
	for i, e := range evs {
		types = append(types, e.Type)
		if i > 0 && e.Seq != evs[i-1].Seq+1 && e.Seq != evs[i-1].Seq {
			t.Errorf("sequence jumps at %d: %d after %d", i, e.Seq, evs[i-1].Seq)
		}
	}
	if types[0] != calls.EventStarted || types[len(types)-1] != calls.EventCompleted {
		t.Errorf("events %v: want started first, completed last", types)
	}
	if !slices.Contains(types, calls.EventInvoicesBound) || !slices.Contains(types, calls.EventStageChanged) {
		t.Errorf("events %v lack invoices.bound or stage.changed", types)
	}
	if evs[0].ID != evs[1].ID {
		t.Errorf("a failed delivery was not sent again first: %s then %s", evs[0].ID, evs[1].ID)
	}
	var bound struct {
		Invoices []workflows.InvoiceView `json:"invoices"`
	}
	for _, e := range evs {
		if e.Type == calls.EventInvoicesBound {
			if err := json.Unmarshal(e.Data, &bound); err != nil || len(bound.Invoices) != 1 {
				t.Errorf("invoices.bound data %s: %v", e.Data, err)
			}
		}
	}
}
