package simulator

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestErrorRateFaultsOnListedMessageTypes(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	a := h.collect(h.eventCode(tok, "A"), 1)
	if status, f := h.post("/__sim/faults", map[string]any{"errorRate": 1, "messageTypes": []string{"billSave"}}); status != http.StatusOK || f["errorStatus"] != float64(503) {
		t.Fatalf("set faults: %d %v", status, f)
	}
	status, resp := h.message(tok, "billSave", "s1", saveData("A", "30", a...))
	if status != http.StatusServiceUnavailable || resp["errorCode"] != codeServiceFault || resp["success"] != "false" {
		t.Fatalf("fault answer: %d %v", status, resp)
	}
	if b, _ := h.sim.Bill("ERP", "A"); b.BillSaveCalls != 0 {
		t.Fatal("a fault before applying must not apply")
	}
	h.mustOK(h.message(tok, "getEventCode", nextID("f"), billData("A", nil))) // not listed: unaffected

	if status, _ := h.do(http.MethodDelete, "/__sim/faults", nil, nil); status != http.StatusOK {
		t.Fatal("clear faults")
	}
	// The failed call was not stored: the retry with the same messageId is processed.
	h.mustOK(h.message(tok, "billSave", "s1", saveData("A", "30", a...)))
	if st := h.sim.Stats(); st.FaultsInjected != 1 || st.BillSaveApplied != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestFailAfterApplyIsHealedByAnIdempotentRetry(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	a := h.collect(h.eventCode(tok, "A"), 2)
	h.post("/__sim/faults", map[string]any{"errorRate": 1, "failAfterApply": true, "errorStatus": 502})
	status, _ := h.message(tok, "billSave", "s1", saveData("A", "30", a...))
	if status != http.StatusBadGateway {
		t.Fatalf("want 502, got %d", status)
	}
	if b, _ := h.sim.Bill("ERP", "A"); b.BillSaveCalls != 1 {
		t.Fatal("failAfterApply should apply the call")
	}
	h.sim.ClearFaults()
	h.mustOK(h.message(tok, "billSave", "s1", saveData("A", "30", a...)))
	if b, _ := h.sim.Bill("ERP", "A"); b.BillSaveCalls != 1 {
		t.Fatal("the retry must replay, not re-apply")
	}
}

func TestFaultDrawsAreDeterministic(t *testing.T) {
	outcomes := func() []int {
		h := newHarness(t, Options{Seed: 7})
		tok := h.accessToken()
		h.sim.SetFaults(Faults{ErrorRate: 0.5})
		var out []int
		for i := 0; i < 30; i++ {
			status, _ := h.message(tok, "getEventCode", nextID("d"), billData("A", nil))
			out = append(out, status)
		}
		return out
	}
	a, b := outcomes(), outcomes()
	failures := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs: %v vs %v", i, a, b)
		}
		if a[i] != http.StatusOK {
			failures++
		}
	}
	if failures == 0 || failures == len(a) {
		t.Fatalf("errorRate 0.5 gave %d failures out of %d", failures, len(a))
	}
}

func TestLatencyFaultStillAnswers(t *testing.T) {
	h := newHarness(t, Options{})
	h.post("/__sim/faults", map[string]any{"latencyMs": 5})
	if tok := h.accessToken(); tok == "" {
		t.Fatal("no token under latency")
	}
	if _, f := h.do(http.MethodGet, "/__sim/faults", nil, nil); f["latencyMs"] != float64(5) {
		t.Fatalf("faults: %v", f)
	}
}

func TestSimInterfaceRejectsBadJSONNamingTheField(t *testing.T) {
	h := newHarness(t, Options{})
	code := h.eventCode(h.accessToken(), "A")
	cases := []struct {
		path  string
		body  string
		field string
	}{
		{"/__sim/faults", `{"errorRate":"lots"}`, "errorRate"},
		{"/__sim/faults", `{"errorRate":1.5}`, "errorRate"},
		{"/__sim/faults", `{"latencyMs":-1}`, "latencyMs"},
		{"/__sim/faults", `{"errorStatus":404}`, "errorStatus"},
		{"/__sim/faults", `{"dropSocket":true}`, "dropSocket"},
		{"/__sim/faults", `{"errorRate":`, "body"},
		{"/__sim/collect", `{"count":1}`, "eventCode"},
		{"/__sim/collect", `{"eventCode":"` + code + `"}`, "count"},
		{"/__sim/collect", `{"eventCode":"` + code + `","count":0}`, "count"},
		{"/__sim/collect", `{"eventCode":"` + code + `","count":"3"}`, "count"},
		{"/__sim/collect", `{"eventCode":"` + code + `","count":1,"invoices":[]}`, "count"},
		{"/__sim/collect", `{"eventCode":"` + code + `","invoices":[{"totalAmount":"abc"}]}`, "invoices[0].totalAmount"},
		{"/__sim/collect", `{"eventCode":"` + code + `","invoices":[{"invoiceAmount":"100","totalTaxAmount":"13","totalAmount":"114"}]}`, "invoices[0].totalAmount"},
		{"/__sim/collect", `{"eventCode":"` + code + `","invoices":[{"serialNo":"x"}]}`, "invoices[0].totalAmount"},
		{"/__sim/collect", `{"eventCode":"` + code + `","invoices":[{"serialNo":"x","totalAmount":1},{"serialNo":"x","totalAmount":1}]}`, "invoices[1].serialNo"},
		{"/__sim/clock", `{"advance":"soon"}`, "advance"},
	}
	for _, c := range cases {
		status, resp := h.post(c.path, c.body)
		if status != http.StatusBadRequest || resp["field"] != c.field {
			t.Errorf("%s %s: %d %v, want 400 naming %s", c.path, c.body, status, resp, c.field)
		}
	}
	if f := h.sim.CurrentFaults(); f.ErrorRate != 0 || f.LatencyMs != 0 {
		t.Fatalf("a refused faults body must change nothing: %+v", f)
	}
	if h.sim.Stats().Collections != 0 {
		t.Fatal("a refused collect must collect nothing")
	}
}

func TestSimClockEndpointExpiresEventCodes(t *testing.T) {
	h := newHarness(t, Options{})
	code := h.eventCode(h.accessToken(), "A")
	if status, _ := h.post("/__sim/clock", map[string]any{"advance": "11m"}); status != http.StatusOK {
		t.Fatal("clock")
	}
	if status, _ := h.post("/__sim/collect", map[string]any{"eventCode": code, "count": 1}); status != http.StatusGone {
		t.Fatalf("want 410, got %d", status)
	}
}

// holdReceipts holds a receipt open without acknowledging it; a caller that gives up leaves the
// message unreceipted (delivered again after the timeout), and clearing the fault lets a waiting
// receipt through.
func TestHoldReceiptsKeepsTheMomentBetweenPollAndReceipt(t *testing.T) {
	h, tok, code := openBill(t, Options{PollHold: 50 * time.Millisecond, ReceiptTimeout: time.Minute}, "HR")
	h.collect(code, 1)
	msgID, _ := h.pollMessage(tok, "access_token", "lk-HR")
	if status, f := h.post("/__sim/faults", map[string]any{"holdReceipts": true}); status != http.StatusOK || f["holdReceipts"] != true {
		t.Fatalf("set holdReceipts: %d %v", status, f)
	}
	receiptURL := h.srv.URL + DefaultPollReceiptPath + "?key=" + LinkKeyHash("lk-HR") + "&msgId=" + url.QueryEscape(msgID)
	send := func(ctx context.Context) chan error {
		done := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, receiptURL, nil)
			req.Header.Set("access_token", tok)
			resp, err := h.srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		return done
	}
	waitHeld := func(want int) {
		t.Helper()
		h.waitUntil(fmt.Sprintf("%d receipt(s) held", want), func() bool { return h.sim.Stats().ReceiptsHeld == want })
	}

	// The receiver dies while its receipt is held: nothing is acknowledged.
	ctx, cancel := context.WithCancel(context.Background())
	gone := send(ctx)
	waitHeld(1)
	cancel()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the abandoned receipt did not return within 5s")
	}
	waitHeld(0)
	if lk, _ := h.sim.LinkKey("lk-HR"); lk.Receipted != 0 || lk.AwaitingReceipt != 1 {
		t.Fatalf("an abandoned held receipt was applied: %+v", lk)
	}
	h.sim.Advance(time.Minute)
	if again, _ := h.pollMessage(tok, "access_token", "lk-HR"); again != msgID {
		t.Fatalf("redelivered %s, want %s", again, msgID)
	}

	// A held receipt goes through once the fault is cleared.
	through := send(context.Background())
	waitHeld(1)
	if lk, _ := h.sim.LinkKey("lk-HR"); lk.Receipted != 0 {
		t.Fatalf("a held receipt was applied: %+v", lk)
	}
	h.sim.ClearFaults()
	select {
	case err := <-through:
		if err != nil {
			t.Fatalf("receipt after clearing: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held receipt was not answered within 5s of clearing the fault")
	}
	if lk, _ := h.sim.LinkKey("lk-HR"); lk.Receipted != 1 || lk.AwaitingReceipt != 0 {
		t.Fatalf("after the released receipt: %+v", lk)
	}
}

// An injected refusal answers the business error asked for, naming the field, and applies nothing.
func TestRefusalFault(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	if status, f := h.post("/__sim/faults", map[string]any{"errorRate": 1, "messageTypes": []string{"getEventCode"},
		"refuseCode": codeBadParam, "refuseField": "billTaxNo"}); status != http.StatusOK || f["refuseCode"] != codeBadParam {
		t.Fatalf("set faults: %d %v", status, f)
	}
	status, resp := h.message(tok, "getEventCode", nextID("r"), billData("R", nil))
	if status != http.StatusOK || resp["errorCode"] != codeBadParam || resp["success"] == true {
		t.Fatalf("refusal: %d %v", status, resp)
	}
	if _, ok := h.sim.Bill("ERP", "R"); ok {
		t.Error("a refused getEventCode created the bill")
	}
	if status, _ := h.post("/__sim/faults", map[string]any{"errorRate": 1, "refuseCode": codeOK}); status != http.StatusBadRequest {
		t.Errorf("refuseCode 0000 accepted: %d", status)
	}
	h.sim.ClearFaults()
	h.mustOK(h.message(tok, "getEventCode", nextID("r"), billData("R", nil)))
}
