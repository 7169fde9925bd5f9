package simulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Strict mode: each ambiguous vendor rule at its strict reading refuses what it must, and the
// lenient reading still accepts the same thing.

// pollWith polls linkKey with the token in the named header ("" = in the URL).
func (h *harness) pollWith(token, header, linkKey string) (int, map[string]any) {
	h.t.Helper()
	path := DefaultPollDataPath + "?key=" + LinkKeyHash(linkKey)
	if header == "" {
		return h.do(http.MethodGet, path+"&access_token="+url.QueryEscape(token), nil, nil)
	}
	return h.do(http.MethodGet, path, nil, map[string]string{header: token})
}

// receiptWith acknowledges msgID with the token in the named header ("" = in the URL).
func (h *harness) receiptWith(token, header, linkKey, msgID string) (int, map[string]any) {
	h.t.Helper()
	path := DefaultPollReceiptPath + "?key=" + LinkKeyHash(linkKey) + "&msgId=" + url.QueryEscape(msgID)
	if header == "" {
		return h.do(http.MethodGet, path+"&access_token="+url.QueryEscape(token), nil, nil)
	}
	return h.do(http.MethodGet, path, nil, map[string]string{header: token})
}

// polledMessage fails unless the poll answered a message; it returns the msgId and serials.
func polledMessage(t testing.TB, status int, resp map[string]any) (string, []string) {
	t.Helper()
	if status != http.StatusOK || resp["errcode"] != pollOK {
		t.Fatalf("want a polled message, got HTTP %d %v", status, resp)
	}
	return dig(resp, "data", "msgId").(string), serialsOf(dig(resp, "data", "data", "data", "data").([]any))
}

// pollMessage polls (token in the named header, "" = URL) and wants a message.
func (h *harness) pollMessage(token, header, linkKey string) (string, []string) {
	h.t.Helper()
	status, resp := h.pollWith(token, header, linkKey)
	return polledMessage(h.t, status, resp)
}

// pollEmpty polls and wants 1307 no data.
func (h *harness) pollEmpty(token, header, linkKey string) {
	h.t.Helper()
	if status, resp := h.pollWith(token, header, linkKey); status != http.StatusOK || resp["errcode"] != pollNoData {
		h.t.Fatalf("want 1307 no data, got HTTP %d %v", status, resp)
	}
}

func TestStrictLinkKeyDeliversOnce(t *testing.T) {
	h, tok, code := openBill(t, Options{Strict: true, PollHold: 50 * time.Millisecond}, "S1")

	// Two imports before anyone received anything travel as the linkKey's one message.
	first := h.collect(code, 1)
	_, second := h.post("/__sim/collect", map[string]any{"eventCode": code, "count": 2})
	msgID, got := h.pollMessage(tok, "access_token", "lk-S1")
	if second["msgId"] != msgID || len(got) != 3 || got[0] != first[0] {
		t.Fatalf("strict: the imports before delivery should be one message: %v / %v, polled %s %v", first, second, msgID, got)
	}
	poolBefore := h.sim.Stats().PoolSize

	// Consumed: /__sim/collect answers 409 naming linkKey and nothing enters the pool.
	status, resp := h.post("/__sim/collect", map[string]any{"eventCode": code, "count": 1})
	if status != http.StatusConflict || resp["field"] != "linkKey" || !strings.Contains(resp["error"].(string), "linkKey") {
		t.Fatalf("import on a consumed linkKey: HTTP %d %v", status, resp)
	}
	status, resp = h.post("/__sim/collect", map[string]any{"eventCode": code, "invoices": []map[string]any{{"invoiceAmount": "10.00", "totalTaxAmount": "0.60"}}})
	if status != http.StatusConflict || resp["field"] != "linkKey" {
		t.Fatalf("records on a consumed linkKey: HTTP %d %v", status, resp)
	}
	// The page tells the user why and what to do; its import is refused the same way.
	pageURL := "/index.html?formId=" + formCollectPC + "&eventCode=" + code
	_, doc, _ := h.page(pageURL)
	if n := byID(doc, "consumed"); n == nil || !strings.Contains(text(n), "重新点击「采集发票」") {
		t.Fatal("the collect page of a consumed linkKey should say so")
	}
	status, result := h.submitForm(pageURL, doc, "collect", nil)
	if n := byID(result, "error"); status != http.StatusConflict || n == nil || !strings.Contains(text(n), "linkKey") ||
		!strings.Contains(text(n), "重新点击「采集发票」") {
		t.Fatalf("page import on a consumed linkKey: HTTP %d %q", status, text(result))
	}
	if st := h.sim.Stats(); st.PoolSize != poolBefore || st.ImportsRefused != 3 {
		t.Fatalf("refused imports changed the pool (%d → %d) or were not counted (%d)", poolBefore, st.PoolSize, st.ImportsRefused)
	}
	if b, _ := h.sim.Bill("ERP", "S1"); b.Collected != 3 {
		t.Fatalf("refused imports marked samples imported: %d", b.Collected)
	}
	// Nothing more is delivered on it; an unreceipted message coming back is not a second delivery.
	h.pollEmpty(tok, "access_token", "lk-S1")
	h.sim.Advance(DefaultReceiptTimeout)
	again, _ := h.pollMessage(tok, "access_token", "lk-S1")
	if again != msgID {
		t.Fatalf("redelivery msgId %s, want %s", again, msgID)
	}
	if lk, _ := h.sim.LinkKey("lk-S1"); !lk.Consumed || lk.Delivered != 1 || lk.Redelivered != 1 {
		t.Fatalf("linkKey view: %+v", lk)
	}

	// A new eventCode with a new linkKey collects again; the old eventCode's link stays used.
	d := h.mustOK(h.message(tok, "getEventCode", nextID("ec"), billData("S1", map[string]any{"linkKey": "lk-S1-b"})))
	fresh := d["eventCode"].(string)
	sent := h.collect(fresh, 1)
	if _, got := h.pollMessage(tok, "access_token", "lk-S1-b"); len(got) != 1 || got[0] != sent[0] {
		t.Fatalf("new linkKey delivered %v, want %v", got, sent)
	}
	if status, _ := h.post("/__sim/collect", map[string]any{"eventCode": code, "count": 1}); status != http.StatusConflict {
		t.Fatalf("the old eventCode's linkKey took an import: HTTP %d", status)
	}
}

func TestStrictLinkKeyConsumedBySocket(t *testing.T) {
	h, tok, code := openBill(t, Options{Strict: true}, "S2")
	ws, _, err := h.dial("lk-S2", tok) // the vendor's own socket sample: token= in the URL, accepted in strict mode
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	sent := h.collect(code, 1)
	if got := serialsOf(readMessage(t, ws)["invoiceData"].([]any)); len(got) != 1 || got[0] != sent[0] {
		t.Fatalf("socket got %v, want %v", got, sent)
	}
	if status, resp := h.post("/__sim/collect", map[string]any{"eventCode": code, "count": 1}); status != http.StatusConflict || resp["field"] != "linkKey" {
		t.Fatalf("import after a socket delivery: HTTP %d %v", status, resp)
	}
}

func TestLenientLinkKeyDeliversAgain(t *testing.T) {
	h, tok, code := openBill(t, Options{PollHold: 50 * time.Millisecond}, "L1")
	first := h.collect(code, 1)
	_, second := h.post("/__sim/collect", map[string]any{"eventCode": code, "count": 1})
	id1, got1 := h.pollMessage(tok, "access_token", "lk-L1")
	if second["msgId"] == id1 || got1[0] != first[0] || len(got1) != 1 {
		t.Fatalf("lenient: two imports are two messages: %s %v / %v", id1, got1, second)
	}
	h.receiptWith(tok, "access_token", "lk-L1", id1)
	h.pollMessage(tok, "access_token", "lk-L1")
	// After deliveries the linkKey still takes imports.
	third := h.collect(code, 1)
	if _, got := h.pollMessage(tok, "access_token", "lk-L1"); got[0] != third[0] {
		t.Fatalf("third import delivered %v, want %v", got, third)
	}
}

func TestStrictRefusesTokenInURL(t *testing.T) {
	bothWays(t, "strict", "lenient", func(t *testing.T, strict bool) {
		h, tok, code := openBill(t, Options{Strict: strict, PollHold: 50 * time.Millisecond}, "T1")
		h.collect(code, 1)

		// A business call with ?access_token=.
		status, resp := h.do(http.MethodPost, "/kapi/app/rim/message?access_token="+url.QueryEscape(tok),
			map[string]any{"messageType": "getEventCode", "messageId": nextID("ec"), "data": billData("T1", nil)}, nil)
		pollStatus, pollResp := h.pollWith(tok, "", "lk-T1")
		if !strict {
			h.mustOK(status, resp)
			msgID, _ := polledMessage(t, pollStatus, pollResp)
			if _, r := h.receiptWith(tok, "", "lk-T1", msgID); r["errcode"] != pollOK {
				t.Fatalf("lenient receipt with the token in the URL: %v", r)
			}
			return
		}
		if msg, _ := resp["message"].(string); status != http.StatusUnauthorized || resp["errorCode"] != codeTokenInvalid ||
			!strings.HasPrefix(msg, "access_token: ") || !strings.Contains(msg, "header") {
			t.Fatalf("strict: URL token on /kapi/: HTTP %d %v", status, resp)
		}
		if d, _ := pollResp["description"].(string); pollStatus != http.StatusUnauthorized || pollResp["errcode"] != pollTokenInvalid ||
			!strings.Contains(d, "access_token") || !strings.Contains(d, "header") {
			t.Fatalf("strict: URL token on the poll: HTTP %d %v", pollStatus, pollResp)
		}
		// Also refused when the header carries the token too: the URL must not.
		status, _ = h.do(http.MethodGet, DefaultPollDataPath+"?key="+LinkKeyHash("lk-T1")+"&access_token="+url.QueryEscape(tok), nil,
			map[string]string{"access_token": tok})
		if status != http.StatusUnauthorized {
			t.Fatalf("strict: token in header and URL: HTTP %d", status)
		}
		// Every header form works, for the poll and the receipt.
		msgID, _ := h.pollMessage(tok, "accesstoken", "lk-T1")
		if status, r := h.receiptWith(tok, "", "lk-T1", msgID); status != http.StatusUnauthorized {
			t.Fatalf("strict: URL token on the receipt: HTTP %d %v", status, r)
		}
		if _, r := h.receiptWith("Bearer "+tok, "Authorization", "lk-T1", msgID); r["errcode"] != pollOK {
			t.Fatalf("strict: receipt with a Bearer header: %v", r)
		}
		if _, r := h.receiptWith(tok, "access_token", "lk-T1", msgID); r["errcode"] != pollOK {
			t.Fatalf("strict: receipt with the access_token header: %v", r)
		}
		h.mustOK(h.message(tok, "getEventCode", nextID("ec"), billData("T1", nil)))
		if st := h.sim.Stats(); st.TokenRejections != 4 {
			t.Fatalf("strict: %d token rejections, want 4", st.TokenRejections)
		}
	})
}

func TestStrictBuyerNameDecidesCompliance(t *testing.T) {
	wrongName := []map[string]any{{"buyerTaxNo": "91440300MA5G9GK78Y", "buyerName": "深圳市另一家公司", "invoiceAmount": "100.00", "totalTaxAmount": "6.00"}}
	bothWays(t, "strict", "lenient", func(t *testing.T, strict bool) {
		h, _, code := openBill(t, Options{Strict: strict}, "C1")
		status, resp := h.post("/__sim/collect", map[string]any{"eventCode": code, "invoices": wrongName})
		if status != http.StatusOK {
			t.Fatalf("collect: HTTP %d %v", status, resp)
		}
		refused, delivered := resp["refused"].([]any), resp["delivered"].([]any)
		if strict {
			if len(refused) != 1 || len(delivered) != 0 || !strings.Contains(refused[0].(map[string]any)["reason"].(string), "购方名称") {
				t.Fatalf("strict: a buyer with the right tax number and a wrong name: %v", resp)
			}
		} else if len(delivered) != 1 || len(refused) != 0 {
			t.Fatalf("lenient: the tax number alone decides: %v", resp)
		}
		// The samples meant to be compliant carry the companyInfo name, so they import in both readings.
		samples, err := h.sim.Samples(code)
		if err != nil {
			t.Fatal(err)
		}
		compliant := 0
		for _, sm := range samples {
			if sm.Compliant {
				compliant++
				if sm.Invoice.BuyerName != "深圳市金蝶示例科技有限公司" {
					t.Fatalf("compliant sample with buyer %q", sm.Invoice.BuyerName)
				}
			}
		}
		if compliant < samplesPerPage-1 {
			t.Fatalf("%d compliant samples", compliant)
		}
		h.collect(code, compliant)
	})
}

func TestStrictBillSaveNeedsInvoices(t *testing.T) {
	bothWays(t, "strict", "lenient", func(t *testing.T, strict bool) {
		h, tok, _ := openBill(t, Options{Strict: strict}, "E1")
		status, resp := h.message(tok, "billSave", nextID("save"), saveData("E1", StatusUnused))
		if !strict {
			h.mustOK(status, resp)
			return
		}
		h.wantCode(status, resp, codeBadParam, "invoiceData")
		if v, _ := h.sim.Bill("ERP", "E1"); v.Calls.BillSave.Unused.Refused != 1 || v.BillSaveCalls != 0 {
			t.Fatalf("strict: refused billSave counted as %+v", v.Calls.BillSave)
		}
	})
}
