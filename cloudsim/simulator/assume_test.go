package simulator

import (
	"net/http"
	"testing"
	"time"
)

// The [assumed] behaviours switched off, poll redelivery, the undo answers a saga relies on, and
// the per-bill call counters.

func TestAssumeIdempotentMessageID(t *testing.T) {
	bothWays(t, "on", "off", func(t *testing.T, on bool) {
		h, tok, code := openBill(t, Options{Assume: Assumptions{DisableIdempotentMessageID: !on}}, "I1")
		serials := h.collect(code, 2)

		h.mustOK(h.message(tok, "billSave", "save30", saveData("I1", StatusInUse, serials...)))
		h.mustOK(h.message(tok, "billSave", "save30", saveData("I1", StatusInUse, serials...)))
		// Released by hand in between: a replay would not rebind it, a new call does.
		if _, err := h.sim.Release(serials[1]); err != nil {
			t.Fatal(err)
		}
		h.mustOK(h.message(tok, "billSave", "save30", saveData("I1", StatusInUse, serials...)))
		inv, _ := h.sim.Invoice(serials[1])
		b, _ := h.sim.Bill("ERP", "I1")
		c := b.Calls.BillSave.InUse
		// The id reused for another messageType.
		status, resp := h.message(tok, "billDelete", "save30", map[string]any{"billId": "I1", "resource": "ERP", "billType": "er_dailyreimbursebill"})
		if on {
			if inv.Status != StatusUnused || b.BillSaveCalls != 1 || c != (CallCounts{Applied: 1, Replayed: 2}) || h.sim.Stats().Replays != 2 {
				t.Fatalf("on: invoice %s, %d billSave calls, counts %+v", inv.Status, b.BillSaveCalls, c)
			}
			h.wantCode(status, resp, codeMessageIDReused, "messageId")
			return
		}
		if inv.Status != StatusInUse || b.BillSaveCalls != 3 || c != (CallCounts{Applied: 2, Unchanged: 1}) || h.sim.Stats().Replays != 0 {
			t.Fatalf("off: invoice %s, %d billSave calls, counts %+v", inv.Status, b.BillSaveCalls, c)
		}
		h.mustOK(status, resp)
		// A repeated billDelete meets what the cloud says then: nothing left to release.
		h.mustOK(h.message(tok, "billDelete", "del", map[string]any{"billId": "I1", "resource": "ERP", "billType": "er_dailyreimbursebill"}))
		b, _ = h.sim.Bill("ERP", "I1")
		if b.Calls.BillDelete != (CallCounts{Applied: 1, Unchanged: 1}) {
			t.Fatalf("off: billDelete counts %+v", b.Calls.BillDelete)
		}
	})
}

func TestAssumeIdempotencyOffAppliesARetryAfterALostAnswer(t *testing.T) {
	h, tok, code := openBill(t, Options{Seed: 3, Assume: Assumptions{DisableIdempotentMessageID: true}}, "I2")
	serials := h.collect(code, 1)
	h.mustOK(h.message(tok, "billSave", "s30", saveData("I2", StatusInUse, serials...)))
	h.mustOK(h.message(tok, "billSave", "s60", saveData("I2", StatusUsed, serials...)))
	if err := h.sim.SetFaults(Faults{ErrorRate: 1, FailAfterApply: true, MessageTypes: []string{"voucherSave"}}); err != nil {
		t.Fatal(err)
	}
	status, _ := h.message(tok, "voucherSave", "v1", voucherData("V1", serials, "I2"))
	if status != http.StatusServiceUnavailable {
		t.Fatalf("fault: HTTP %d", status)
	}
	h.sim.ClearFaults()
	h.mustOK(h.message(tok, "voucherSave", "v1", voucherData("V1", serials, "I2")))
	if b, _ := h.sim.Bill("ERP", "I2"); b.Calls.VoucherSave != (CallCounts{Applied: 1, Unchanged: 1}) {
		t.Fatalf("voucherSave counts %+v", b.Calls.VoucherSave)
	}
	// The bill has a voucher now: a retried billSave 30 meets the cloud's refusal instead of a stored success.
	h.wantRefused(h.message(tok, "billSave", "s30", saveData("I2", StatusInUse, serials...)))
}

func TestAssumeBillSaveReplacesSet(t *testing.T) {
	bothWays(t, "on", "off", func(t *testing.T, on bool) {
		h, tok, code := openBill(t, Options{Assume: Assumptions{DisableBillSaveReplacesSet: !on}}, "R1")
		serials := h.collect(code, 3)
		h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("R1", StatusInUse, serials[0], serials[1])))
		h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("R1", StatusInUse, serials[0], serials[2])))
		left, _ := h.sim.Invoice(serials[1])
		b, _ := h.sim.Bill("ERP", "R1")
		if on {
			if left.Status != StatusUnused || left.BillID != "" || len(b.Invoices) != 2 {
				t.Fatalf("on: the invoice left out should be released: %+v, bill has %d", left, len(b.Invoices))
			}
			return
		}
		if left.Status != StatusInUse || left.BillID != "R1" || len(b.Invoices) != 3 {
			t.Fatalf("off: the invoice left out should stay: %+v, bill has %d", left, len(b.Invoices))
		}
		// Status 60 of one invoice leaves the others as they are.
		h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("R1", StatusUsed, serials[0])))
		if v, _ := h.sim.Invoice(serials[2]); v.Status != StatusInUse {
			t.Fatalf("off: an invoice not named changed to %s", v.Status)
		}
	})
}

func TestPollRedeliveryUntilReceipt(t *testing.T) {
	h, tok, code := openBill(t, Options{PollHold: 50 * time.Millisecond, ReceiptTimeout: time.Minute}, "P1")
	sent := h.collect(code, 2)
	msgID, got := h.pollMessage(tok, "access_token", "lk-P1")
	if len(got) != 2 || got[0] != sent[0] {
		t.Fatalf("polled %v, want %v", got, sent)
	}
	// Within the receipt timeout nothing comes back.
	h.sim.Advance(59 * time.Second)
	h.pollEmpty(tok, "access_token", "lk-P1")
	// Past it, the next poll gets the same message again, and again until a receipt.
	h.sim.Advance(time.Second)
	if again, got := h.pollMessage(tok, "access_token", "lk-P1"); again != msgID || len(got) != 2 {
		t.Fatalf("redelivered %s %v, want %s", again, got, msgID)
	}
	h.pollEmpty(tok, "access_token", "lk-P1") // the timeout restarted
	h.sim.Advance(time.Minute)
	if again, _ := h.pollMessage(tok, "access_token", "lk-P1"); again != msgID {
		t.Fatalf("second redelivery %s, want %s", again, msgID)
	}
	if _, r := h.receiptWith(tok, "access_token", "lk-P1", msgID); r["errcode"] != pollOK {
		t.Fatalf("receipt: %v", r)
	}
	h.receiptWith(tok, "access_token", "lk-P1", msgID) // a repeated receipt is harmless
	h.sim.Advance(time.Hour)
	h.pollEmpty(tok, "access_token", "lk-P1")

	want := LinkKeyView{LinkKey: "lk-P1", Key: LinkKeyHash("lk-P1"), Delivered: 1, Redelivered: 2, Receipted: 1, Consumed: true}
	if lk, _ := h.sim.LinkKey("lk-P1"); lk != want {
		t.Fatalf("linkKey view %+v, want %+v", lk, want)
	}
	var over LinkKeyView
	status, resp := h.do(http.MethodGet, "/__sim/linkkeys/lk-P1", nil, nil)
	over = LinkKeyView{LinkKey: resp["linkKey"].(string), Key: resp["key"].(string), Pending: int(resp["pending"].(float64)),
		Delivered: int(resp["delivered"].(float64)), Redelivered: int(resp["redelivered"].(float64)), Receipted: int(resp["receipted"].(float64)),
		AwaitingReceipt: int(resp["awaitingReceipt"].(float64)), Consumed: resp["consumed"].(bool)}
	if status != http.StatusOK || over != want {
		t.Fatalf("GET /__sim/linkkeys: HTTP %d %v", status, resp)
	}
	if b, _ := h.sim.Bill("ERP", "P1"); len(b.LinkKeys) != 1 || b.LinkKeys[0] != want {
		t.Fatalf("bill's linkKeys: %+v", b.LinkKeys)
	}
	if st := h.sim.Stats(); st.DeliveredByPoll != 1 || st.RedeliveredByPoll != 2 || st.Receipts != 2 {
		t.Fatalf("stats: delivered %d redelivered %d receipts %d", st.DeliveredByPoll, st.RedeliveredByPoll, st.Receipts)
	}
	if status, _ := h.do(http.MethodGet, "/__sim/linkkeys/never-seen", nil, nil); status != http.StatusNotFound {
		t.Fatalf("unknown linkKey: HTTP %d", status)
	}
}

func TestHeldPollGetsARedeliveryWhenItFallsDue(t *testing.T) {
	h, tok, code := openBill(t, Options{PollHold: 10 * time.Second, ReceiptTimeout: time.Minute}, "P2")
	h.collect(code, 1)
	msgID, _ := h.pollMessage(tok, "access_token", "lk-P2")
	type answer struct {
		status int
		resp   map[string]any
	}
	done := make(chan answer, 1)
	go func() {
		status, resp := h.pollWith(tok, "access_token", "lk-P2")
		done <- answer{status, resp}
	}()
	deadline := time.After(5 * time.Second)
	for h.sim.Stats().Polls < 2 {
		select {
		case <-deadline:
			t.Fatal("the second poll was not held within 5s")
		case <-time.After(time.Millisecond):
		}
	}
	h.sim.Advance(time.Minute) // wakes the held poll
	select {
	case a := <-done:
		if again, _ := polledMessage(t, a.status, a.resp); again != msgID {
			t.Fatalf("held poll got %s, want %s", again, msgID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held poll did not get the redelivery within 5s")
	}
}

func TestPollRedeliveryOff(t *testing.T) {
	h, tok, code := openBill(t, Options{PollHold: 50 * time.Millisecond, Assume: Assumptions{DisablePollRedelivery: true}}, "P3")
	h.collect(code, 1)
	h.pollMessage(tok, "access_token", "lk-P3")
	h.sim.Advance(time.Hour)
	h.pollEmpty(tok, "access_token", "lk-P3")
	if st := h.sim.Stats(); st.RedeliveredByPoll != 0 || st.Mode.PollRedelivery {
		t.Fatalf("redelivery off: %d redelivered, mode %+v", st.RedeliveredByPoll, st.Mode)
	}
}

func TestSocketDeliveryIsNotRedelivered(t *testing.T) {
	h, tok, code := openBill(t, Options{PollHold: 50 * time.Millisecond}, "P4")
	ws, _, err := h.dial("lk-P4", tok)
	if err != nil {
		t.Fatal(err)
	}
	h.collect(code, 1)
	readMessage(t, ws)
	ws.Close()
	h.sim.Advance(time.Hour)
	h.pollEmpty(tok, "access_token", "lk-P4")
	if lk, _ := h.sim.LinkKey("lk-P4"); lk.Delivered != 1 || lk.Redelivered != 0 || lk.AwaitingReceipt != 0 {
		t.Fatalf("socket delivery: %+v", lk)
	}
}

// The answers a saga's undo meets when the step is already undone or never happened.
func TestUndoAnswers(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	del := func(billID string) (int, map[string]any) {
		return h.message(tok, "billDelete", nextID("del"), map[string]any{"billId": billID, "resource": "ERP", "billType": "er_dailyreimbursebill"})
	}
	// A bill the cloud never heard of: 2001 bill not found.
	status, resp := del("U0")
	h.wantCode(status, resp, CodeBillNotFound, "billId")

	// Opened (getEventCode), never saved: success, nothing to do.
	code := h.eventCode(tok, "U1")
	h.mustOK(del("U1"))
	// Saved, deleted, deleted again: success both times; the second changes nothing.
	serials := h.collect(code, 2)
	h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("U1", StatusInUse, serials...)))
	h.mustOK(del("U1"))
	h.mustOK(del("U1"))
	// billSave status 1 of invoices already at 1 (released): success, nothing changed.
	h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("U1", StatusUnused, serials...)))
	h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("U1", StatusUnused, serials...)))
	b, _ := h.sim.Bill("ERP", "U1")
	if b.Calls.BillDelete != (CallCounts{Applied: 1, Unchanged: 2}) || b.Calls.BillSave.Unused != (CallCounts{Applied: 1, Unchanged: 1}) {
		t.Fatalf("undo counts: billDelete %+v, billSave 1 %+v", b.Calls.BillDelete, b.Calls.BillSave.Unused)
	}
	// A deduction undo of invoices never selected changes nothing either.
	inv, _ := h.sim.Invoice(serials[0])
	undo := map[string]any{"businessSystemCode": "rimflow", "interfaceCode": "invoiceSelect", "requestId": nextID("ded"),
		"data": map[string]any{"authenticateFlag": "0", "taxNo": inv.Invoice.BuyerTaxNo, "invoices": []map[string]any{{
			"invoiceType": inv.Invoice.InvoiceType, "invoiceCode": inv.Invoice.InvoiceCode, "invoiceNo": inv.Invoice.InvoiceNo,
			"invoiceDate": inv.Invoice.InvoiceDate, "invoiceAmount": inv.Invoice.InvoiceAmount.StringFixed(2),
			"totalTaxAmount": inv.Invoice.TotalTaxAmount.StringFixed(2)}}}}
	status, resp = h.do(http.MethodPost, "/kapi/app/rim/deduction", undo, map[string]string{"access_token": tok})
	if status != http.StatusOK || resp["success"] != true {
		t.Fatalf("deduction undo: HTTP %d %v", status, resp)
	}
	if b, _ := h.sim.Bill("ERP", "U1"); b.Calls.Deduction != (CallCounts{Unchanged: 1}) {
		t.Fatalf("deduction undo counts %+v", b.Calls.Deduction)
	}
}

func TestCallCountersOverHTTP(t *testing.T) {
	h, tok, code := openBill(t, Options{}, "K1")
	serials := h.collect(code, 2)
	h.mustOK(h.message(tok, "billSave", "k-30", saveData("K1", StatusInUse, serials...)))
	h.mustOK(h.message(tok, "billSave", "k-30", saveData("K1", StatusInUse, serials...)))                                   // replayed
	h.wantRefused(h.message(tok, "billSave", nextID("s"), saveData("K1", StatusInUse, "ffffffffffffffffffffffffffffffff"))) // refused: 2002
	h.mustOK(h.message(tok, "billSave", "k-60", saveData("K1", StatusUsed, serials...)))
	h.wantRefused(h.message(tok, "billSave", nextID("s"), saveData("K1", StatusInUse, serials...))) // refused: 60→30
	h.mustOK(h.message(tok, "voucherSave", "k-v", voucherData("V-K1", serials, "K1")))
	h.wantRefused(h.message(tok, "billDelete", nextID("del"), map[string]any{"billId": "K1", "resource": "ERP", "billType": "er_dailyreimbursebill"})) // 2008

	status, view := h.do(http.MethodGet, "/__sim/bills/ERP/K1", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("bill: HTTP %d", status)
	}
	counts := func(m map[string]any, path ...string) CallCounts {
		c, ok := dig(m, path...).(map[string]any)
		if !ok {
			t.Fatalf("no counts at %v in %v", path, m["calls"])
		}
		return CallCounts{Applied: int(c["applied"].(float64)), Unchanged: int(c["unchanged"].(float64)),
			Replayed: int(c["replayed"].(float64)), Refused: int(c["refused"].(float64))}
	}
	for _, w := range []struct {
		path []string
		want CallCounts
	}{
		{[]string{"calls", "billSave", "30"}, CallCounts{Applied: 1, Replayed: 1, Refused: 2}},
		{[]string{"calls", "billSave", "60"}, CallCounts{Applied: 1}},
		{[]string{"calls", "billSave", "1"}, CallCounts{}},
		{[]string{"calls", "billSave", "other"}, CallCounts{}},
		{[]string{"calls", "voucherSave"}, CallCounts{Applied: 1}},
		{[]string{"calls", "billDelete"}, CallCounts{Refused: 1}},
		{[]string{"calls", "deduction"}, CallCounts{}},
	} {
		if got := counts(view, w.path...); got != w.want {
			t.Fatalf("bill %v: %+v, want %+v", w.path, got, w.want)
		}
	}
	// The totals count every call, also one about a bill the simulator does not know.
	h.wantRefused(h.message(tok, "billDelete", nextID("del"), map[string]any{"billId": "nope", "resource": "ERP", "billType": "x"}))
	_, stats := h.do(http.MethodGet, "/__sim/stats", nil, nil)
	if got := counts(stats, "calls", "billSave", "30"); got != (CallCounts{Applied: 1, Replayed: 1, Refused: 2}) {
		t.Fatalf("stats billSave 30: %+v", got)
	}
	if got := counts(stats, "calls", "billDelete"); got != (CallCounts{Refused: 2}) {
		t.Fatalf("stats billDelete: %+v", got)
	}
	if dig(stats, "mode", "strict") != false || dig(stats, "mode", "receiptTimeoutMs") != float64(DefaultReceiptTimeout.Milliseconds()) {
		t.Fatalf("stats mode: %v", stats["mode"])
	}
}
