package simulator

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestGetEventCodeValidatesEveryRequiredField(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	for _, field := range []string{"billId", "resource", "billNo", "billType", "pushType", "userId", "linkKey"} {
		t.Run("missing "+field, func(t *testing.T) {
			d := billData("B1", nil)
			delete(d, field)
			status, resp := h.message(tok, "getEventCode", nextID("v"), d)
			h.wantCode(status, resp, codeBadParam, field)
		})
	}
	cases := []struct {
		name  string
		extra map[string]any
		field string
	}{
		{"resource longer than 10", map[string]any{"resource": "ABCDEFGHIJK"}, "resource"},
		{"bad pushType", map[string]any{"pushType": "email"}, "pushType"},
		{"company without taxNo", map[string]any{"companyInfo": []map[string]any{{"name": "x"}}}, "companyInfo[0].taxNo"},
		{"empty billNo", map[string]any{"billNo": "  "}, "billNo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, resp := h.message(tok, "getEventCode", nextID("v"), billData("B1", c.extra))
			h.wantCode(status, resp, codeBadParam, c.field)
		})
	}
	// The vendor's example spells the key "resource " with a trailing space: the error says so.
	d := billData("B1", nil)
	delete(d, "resource")
	d["resource "] = "ERP"
	_, resp := h.message(tok, "getEventCode", nextID("v"), d)
	if !strings.Contains(resp["message"].(string), "trailing space") {
		t.Fatalf("hint missing: %v", resp["message"])
	}
	if _, ok := h.sim.Bill("ERP", "B1"); ok {
		t.Fatal("a refused getEventCode must not create the bill")
	}
	status, resp := h.message(tok, "nonsense", nextID("v"), d)
	h.wantCode(status, resp, codeUnknownType, "messageType")
	status, resp = h.do(http.MethodPost, "/kapi/app/rim/message", `{"messageType":`, map[string]string{"access_token": tok})
	h.wantCode(status, resp, codeBadJSON, "body")
	status, resp = h.message(tok, "getEventCode", "", billData("B1", nil))
	h.wantCode(status, resp, codeBadParam, "messageId")
	status, resp = h.message(tok, "getEventCode", nextID("v"), nil)
	h.wantCode(status, resp, codeBadParam, "data")
}

func TestGetEventCodeStoresTheBill(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	code := h.eventCode(tok, "B1")
	if len(code) != 32 {
		t.Fatalf("eventCode %q", code)
	}
	code2 := h.eventCode(tok, "B1")
	if code2 == code {
		t.Fatal("each getEventCode answers a fresh eventCode")
	}
	b, ok := h.sim.Bill("ERP", "B1")
	if !ok || b.BillNo != "BX-B1" || b.LinkKey != "lk-B1" || b.EventCodes != 2 || len(b.CompanyInfo) != 1 || b.Status != "" {
		t.Fatalf("bill view: %+v", b)
	}
}

func TestBillSaveRules(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	codeA := h.eventCode(tok, "A")
	codeB := h.eventCode(tok, "B")
	a := h.collect(codeA, 3)
	bSerials := h.collect(codeB, 1)

	t.Run("unknown serial", func(t *testing.T) {
		status, resp := h.message(tok, "billSave", nextID("s"), saveData("A", "30", a[0], "ffffffffffffffffffffffffffffffff"))
		h.wantCode(status, resp, CodeSerialNotInPool, "invoiceData[1].serialNo")
		if v, _ := h.sim.Invoice(a[0]); v.Status != StatusUnused || v.BillID != "" {
			t.Fatalf("refused call must change nothing: %+v", v)
		}
	})
	t.Run("bad status", func(t *testing.T) {
		status, resp := h.message(tok, "billSave", nextID("s"), saveData("A", "40", a[0]))
		h.wantCode(status, resp, codeBadParam, "status")
	})
	t.Run("missing billTaxNo", func(t *testing.T) {
		d := saveData("A", "30", a[0])
		delete(d, "billTaxNo")
		status, resp := h.message(tok, "billSave", nextID("s"), d)
		h.wantCode(status, resp, codeBadParam, "billTaxNo")
	})
	t.Run("duplicate serial in request", func(t *testing.T) {
		status, resp := h.message(tok, "billSave", nextID("s"), saveData("A", "30", a[0], a[0]))
		h.wantCode(status, resp, codeBadParam, "invoiceData[1].serialNo")
	})
	t.Run("amount above the invoice total", func(t *testing.T) {
		d := saveData("A", "30", a[0])
		d["invoiceData"] = []map[string]any{{"serialNo": a[0], "amount": "99999999.00"}}
		status, resp := h.message(tok, "billSave", nextID("s"), d)
		h.wantCode(status, resp, codeBadParam, "invoiceData[0].amount")
	})

	// Bind three invoices to A at 30.
	h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("A", "30", a...)))
	for _, sn := range a {
		if v, _ := h.sim.Invoice(sn); v.Status != StatusInUse || v.BillID != "A" || v.Resource != "ERP" {
			t.Fatalf("after bind: %+v", v)
		}
	}

	t.Run("serial bound to another bill", func(t *testing.T) {
		status, resp := h.message(tok, "billSave", nextID("s"), saveData("B", "30", bSerials[0], a[1]))
		h.wantCode(status, resp, CodeSerialBoundElse, "invoiceData[1].serialNo")
		if !strings.Contains(resp["message"].(string), "ERP/A") {
			t.Fatalf("message should name the other bill: %v", resp["message"])
		}
		if v, _ := h.sim.Invoice(bSerials[0]); v.Status != StatusUnused {
			t.Fatalf("nothing half-written: %+v", v)
		}
	})

	// The set becomes what is sent: a[2] is released.
	h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("A", "30", a[0], a[1])))
	if v, _ := h.sim.Invoice(a[2]); v.Status != StatusUnused || v.BillID != "" {
		t.Fatalf("absent invoice not released: %+v", v)
	}
	// Now B may take a[2].
	h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("B", "30", bSerials[0], a[2])))

	// 30 → 60 is fine, 60 → 30 is not.
	h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("A", "60", a[0], a[1])))
	status, resp := h.message(tok, "billSave", nextID("s"), saveData("A", "30", a[0], a[1]))
	h.wantCode(status, resp, CodeBadTransition, "invoiceData[0].serialNo")

	// Status 1 releases: the invoices stay listed in the bill at 1 and are free for others.
	h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("A", "1", a[0], a[1])))
	if v, _ := h.sim.Invoice(a[0]); v.Status != StatusUnused {
		t.Fatalf("status 1: %+v", v)
	}
	bill, _ := h.sim.Bill("ERP", "A")
	if bill.BillSaveCalls != 4 || bill.Status != StatusUnused || len(bill.Invoices) != 2 {
		t.Fatalf("bill A: %+v", bill)
	}
	// B takes a[0] from A (free at 1): it leaves A.
	h.mustOK(h.message(tok, "billSave", nextID("s"), saveData("B", "30", bSerials[0], a[2], a[0])))
	if bill, _ = h.sim.Bill("ERP", "A"); len(bill.Invoices) != 1 || bill.Invoices[0].SerialNo != a[1] {
		t.Fatalf("A after B took a[0]: %+v", bill.Invoices)
	}
	inv, _ := h.sim.Invoice(a[0])
	events := []string{}
	for _, e := range inv.History {
		events = append(events, e.Event+":"+e.BillID+":"+e.Status)
	}
	if got := strings.Join(events, ","); got != "bind:A:30,status:A:60,status:A:1,release:A:1,bind:B:30" {
		t.Fatalf("history: %s", got)
	}
}

func TestBillSaveCoverIsUniquePerResource(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	a := h.collect(h.eventCode(tok, "A"), 1)
	b := h.collect(h.eventCode(tok, "B"), 1)
	withCover := func(d map[string]any, no string) map[string]any {
		d["coverData"] = map[string]any{"base64": "JVBERi0xLjQK", "coveNo": no, "coveType": "1"}
		return d
	}
	h.mustOK(h.message(tok, "billSave", nextID("c"), withCover(saveData("A", "30", a...), "CV-1")))
	status, resp := h.message(tok, "billSave", nextID("c"), withCover(saveData("B", "30", b...), "CV-1"))
	h.wantCode(status, resp, codeCoverConflict, "coverData.coveNo")
	status, resp = h.message(tok, "billSave", nextID("c"), map[string]any{
		"billId": "B", "resource": "ERP", "billNo": "x", "billType": "t", "billTaxNo": "n", "status": "30",
		"invoiceData": []any{}, "coverData": map[string]any{"base64": "%%%", "coveNo": "CV-2", "coveType": "1"}})
	h.wantCode(status, resp, codeBadParam, "coverData.base64")
	// The same bill may save its own cover again.
	h.mustOK(h.message(tok, "billSave", nextID("c"), withCover(saveData("A", "60", a...), "CV-1")))
	if v, _ := h.sim.Bill("ERP", "A"); v.Cover == nil || v.Cover.CoveNo != "CV-1" || v.Cover.Bytes != 9 {
		t.Fatalf("cover: %+v", v.Cover)
	}
}

func TestMessageIDIsIdempotent(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	a := h.collect(h.eventCode(tok, "A"), 2)
	_, first := h.message(tok, "billSave", "bind-A-1", saveData("A", "30", a...))
	// Same messageId, even with another body: the stored answer, nothing re-applied.
	_, again := h.message(tok, "billSave", "bind-A-1", saveData("A", "30", a[0]))
	if first["errorCode"] != codeOK || again["errorCode"] != codeOK {
		t.Fatalf("answers: %v / %v", first, again)
	}
	bill, _ := h.sim.Bill("ERP", "A")
	if bill.BillSaveCalls != 1 || len(bill.Invoices) != 2 {
		t.Fatalf("replay re-applied: %+v", bill)
	}
	// A stored business error is replayed too.
	_, e1 := h.message(tok, "billSave", "bad-1", saveData("A", "30", "nope"))
	_, e2 := h.message(tok, "billSave", "bad-1", saveData("A", "30", "nope"))
	if e1["errorCode"] != CodeSerialNotInPool || e2["message"] != e1["message"] {
		t.Fatalf("error replay: %v / %v", e1, e2)
	}
	// getEventCode replays the same eventCode.
	_, g1 := h.message(tok, "getEventCode", "ec-1", billData("A", nil))
	_, g2 := h.message(tok, "getEventCode", "ec-1", billData("A", nil))
	if dig(g1, "data", "eventCode") != dig(g2, "data", "eventCode") {
		t.Fatal("getEventCode replay answered a new code")
	}
	// The id reused for another messageType is refused.
	status, resp := h.message(tok, "voucherSave", "bind-A-1", map[string]any{})
	h.wantCode(status, resp, codeMessageIDReused, "messageId")
	if st := h.sim.Stats(); st.Replays != 3 || st.BillSaveApplied != 1 {
		t.Fatalf("stats: replays %d applied %d", st.Replays, st.BillSaveApplied)
	}
}

func voucherData(vouchID string, serials []string, bills ...string) map[string]any {
	return map[string]any{"vouchId": vouchID, "vouchNo": "PZ-" + vouchID, "accountDate": "2025-03-20",
		"accountTime": "2025-03-20", "businessDate": "2025-03-20", "resource": "SAP",
		"serialNoArray": serials, "expenseIdArray": bills}
}

func TestVoucherSaveAndUnbind(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	a := h.collect(h.eventCode(tok, "A"), 2)
	other := h.collect(h.eventCode(tok, "C"), 1)
	h.mustOK(h.message(tok, "billSave", nextID("v"), saveData("A", "60", a...)))

	status, resp := h.message(tok, "voucherSave", nextID("v"), voucherData("V1", append([]string{}, a[0], other[0]), "A"))
	h.wantCode(status, resp, CodeVoucherNotBound, "serialNoArray[1]")
	status, resp = h.message(tok, "voucherSave", nextID("v"), voucherData("V1", a, "A", "nobill"))
	h.wantCode(status, resp, CodeBillNotFound, "expenseIdArray[1]")
	bad := voucherData("V1", a, "A")
	bad["accountDate"] = "20.03.2025"
	status, resp = h.message(tok, "voucherSave", nextID("v"), bad)
	h.wantCode(status, resp, codeBadParam, "accountDate")
	bad = voucherData("V1", a, "A")
	bad["serialNoArray"] = []string{}
	status, resp = h.message(tok, "voucherSave", nextID("v"), bad)
	h.wantCode(status, resp, codeBadParam, "serialNoArray")

	h.mustOK(h.message(tok, "voucherSave", nextID("v"), voucherData("V1", a, "A")))
	bill, _ := h.sim.Bill("ERP", "A")
	if bill.Voucher == nil || bill.Voucher.VouchNo != "PZ-V1" || !bill.Invoices[0].Accounted {
		t.Fatalf("voucher not recorded: %+v", bill)
	}
	// An accounted bill cannot be deleted nor its invoices released.
	status, resp = h.message(tok, "billDelete", nextID("v"), map[string]any{"billId": "A", "resource": "ERP", "billType": "er_dailyreimbursebill"})
	h.wantCode(status, resp, CodeBillAccounted, "billId")
	status, resp = h.message(tok, "billSave", nextID("v"), saveData("A", "1", a...))
	h.wantCode(status, resp, CodeBadTransition, "invoiceData[0].serialNo")

	// Unbind a bill without voucher: everything back to 1.
	c := h.collect(h.eventCode(tok, "D"), 2)
	h.mustOK(h.message(tok, "billSave", nextID("v"), saveData("D", "30", c...)))
	status, resp = h.message(tok, "billDelete", nextID("v"), map[string]any{"billId": "D", "resource": "ERP", "billType": "other"})
	h.wantCode(status, resp, codeBadParam, "billType")
	h.mustOK(h.message(tok, "billDelete", nextID("v"), map[string]any{"billId": "D", "resource": "ERP", "billType": "er_dailyreimbursebill"}))
	d, _ := h.sim.Bill("ERP", "D")
	if !d.Unbound || len(d.Invoices) != 0 {
		t.Fatalf("bill D after unbind: %+v", d)
	}
	for _, sn := range c {
		if v, _ := h.sim.Invoice(sn); v.Status != StatusUnused || v.BillID != "" {
			t.Fatalf("not released: %+v", v)
		}
	}
	status, resp = h.message(tok, "billDelete", nextID("v"), map[string]any{"billId": "nope", "resource": "ERP", "billType": "x"})
	h.wantCode(status, resp, CodeBillNotFound, "billId")
	// A released invoice can be bound elsewhere; the bill can be bound again.
	h.mustOK(h.message(tok, "billSave", nextID("v"), saveData("C", "30", c[0])))
	h.mustOK(h.message(tok, "billSave", nextID("v"), saveData("D", "30", c[1])))
	if d, _ = h.sim.Bill("ERP", "D"); d.Unbound {
		t.Fatal("billSave after unbind should clear unbound")
	}
	if st := h.sim.Stats(); st.MessageTypes["billDelete"] != 4 || st.VouchersSaved != 1 || st.BillsDeleted != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestUnbindMessageTypeIsConfigurable(t *testing.T) {
	h := newHarness(t, Options{Paths: Paths{UnbindMessageType: "billUnbind"}})
	tok := h.accessToken()
	h.eventCode(tok, "A")
	del := map[string]any{"billId": "A", "resource": "ERP", "billType": "er_dailyreimbursebill"}
	status, resp := h.message(tok, "billDelete", nextID("u"), del)
	h.wantCode(status, resp, codeUnknownType, "messageType")
	h.mustOK(h.message(tok, "billUnbind", nextID("u"), del))
}

func TestDeductionSelection(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")
	_, col := h.post("/__sim/collect", map[string]any{"eventCode": code, "count": 1})
	inv := col["delivered"].([]any)[0].(map[string]any)
	req := func(requestID, flag, taxNo string, amount any) map[string]any {
		return map[string]any{"businessSystemCode": "RIMFLOW", "interfaceCode": "invoiceSelect", "requestId": requestID,
			"data": map[string]any{"authenticateFlag": flag, "taxNo": taxNo, "deductionPurpose": "1", "billType": "0",
				"invoices": []map[string]any{{"invoiceType": inv["invoiceType"], "invoiceCode": inv["invoiceCode"],
					"invoiceNo": inv["invoiceNo"], "invoiceDate": inv["invoiceDate"], "invoiceAmount": amount,
					"totalTaxAmount": inv["totalTaxAmount"]}}}}
	}
	hdr := map[string]string{"access_token": tok}
	_, r := h.do(http.MethodPost, "/kapi/app/rim/deduction", req("r1", "1", "91440300MA5G9GK78Y", inv["invoiceAmount"]), hdr)
	if r["errorCode"] != codeOK || r["success"] != true || dig(r, "data", "taskNo") == "" {
		t.Fatalf("select: %v", r)
	}
	v, _ := h.sim.Invoice(inv["serialNo"].(string))
	if v.Deduction == nil || !v.Deduction.Selected || v.Deduction.TaskNo != dig(r, "data", "taskNo") {
		t.Fatalf("selection not recorded: %+v", v.Deduction)
	}
	_, r = h.do(http.MethodPost, "/kapi/app/rim/deduction", req("r2", "1", "91000000000000000K", inv["invoiceAmount"]), hdr)
	if r["errorCode"] != CodeDeductionNoMatch || r["success"] != false || dig(r, "data", "field") != "data.invoices[0].invoiceNo" {
		t.Fatalf("buyer mismatch: %v", r)
	}
	_, r = h.do(http.MethodPost, "/kapi/app/rim/deduction", req("r3", "1", "91440300MA5G9GK78Y", "0.01"), hdr)
	if dig(r, "data", "field") != "data.invoices[0].invoiceAmount" {
		t.Fatalf("amount mismatch: %v", r)
	}
	bad := req("r4", "1", "91440300MA5G9GK78Y", inv["invoiceAmount"])
	bad["interfaceCode"] = "other"
	if _, r = h.do(http.MethodPost, "/kapi/app/rim/deduction", bad, hdr); r["errorCode"] != codeUnknownType {
		t.Fatalf("interfaceCode: %v", r)
	}
	_, r = h.do(http.MethodPost, "/kapi/app/rim/deduction", req("r5", "0", "91440300MA5G9GK78Y", inv["invoiceAmount"]), hdr)
	if r["errorCode"] != codeOK {
		t.Fatalf("undo: %v", r)
	}
	if v, _ = h.sim.Invoice(inv["serialNo"].(string)); v.Deduction.Selected {
		t.Fatal("undo not recorded")
	}
	// Replay by requestId.
	_, r1 := h.do(http.MethodPost, "/kapi/app/rim/deduction", req("r1", "1", "91440300MA5G9GK78Y", inv["invoiceAmount"]), hdr)
	if dig(r1, "data", "taskNo") == dig(r, "data", "taskNo") {
		t.Fatal("requestId r1 should replay its own taskNo")
	}
	if v, _ = h.sim.Invoice(inv["serialNo"].(string)); v.Deduction.Selected {
		t.Fatal("a replay must not re-apply")
	}
	if status, _ := h.do(http.MethodPost, "/kapi/app/rim/deduction", req("r6", "1", "x", "1"), nil); status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", status)
	}
}

// One voucher per bill [assumed]: the same vouchId saved for a second bill leaves the first bill's
// voucher and its accounted invoices as they were; saving a bill's voucher again replaces only
// that bill's.
func TestVoucherIDOnASecondBillKeepsTheFirst(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	a := h.collect(h.eventCode(tok, "A"), 1)
	b := h.collect(h.eventCode(tok, "B"), 1)
	h.mustOK(h.message(tok, "billSave", nextID("v"), saveData("A", "60", a...)))
	h.mustOK(h.message(tok, "billSave", nextID("v"), saveData("B", "60", b...)))
	h.mustOK(h.message(tok, "voucherSave", nextID("v"), voucherData("V-SAME", a, "A")))
	h.mustOK(h.message(tok, "voucherSave", nextID("v"), voucherData("V-SAME", b, "B")))
	for id, serials := range map[string][]string{"A": a, "B": b} {
		bill, _ := h.sim.Bill("ERP", id)
		if bill.Voucher == nil || !slices.Equal(bill.Voucher.SerialNoArray, serials) || !bill.Invoices[0].Accounted {
			t.Errorf("bill %s after both saves: voucher %+v invoices %+v", id, bill.Voucher, bill.Invoices)
		}
	}
	// A's voucher corrected: A's invoices stay booked under it, B's are untouched.
	corrected := voucherData("V-SAME", a, "A")
	corrected["vouchNo"] = "PZ-FIXED"
	h.mustOK(h.message(tok, "voucherSave", nextID("v"), corrected))
	if bill, _ := h.sim.Bill("ERP", "A"); bill.Voucher.VouchNo != "PZ-FIXED" || !bill.Invoices[0].Accounted {
		t.Errorf("A after its correction: %+v", bill)
	}
	if bill, _ := h.sim.Bill("ERP", "B"); bill.Voucher.VouchNo != "PZ-V-SAME" || !bill.Invoices[0].Accounted {
		t.Errorf("B after A's correction: %+v", bill)
	}
}
