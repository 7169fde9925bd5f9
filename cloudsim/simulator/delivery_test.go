package simulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// readMessage reads socket frames until a non-heartbeat one arrives.
func readMessage(t *testing.T, ws *websocket.Conn) map[string]any {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, raw, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("socket read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("socket frame is not JSON: %s", raw)
		}
		if _, hb := m["handshake"]; !hb {
			return m
		}
	}
}

func serialsOf(invs []any) []string {
	var out []string
	for _, inv := range invs {
		out = append(out, inv.(map[string]any)["serialNo"].(string))
	}
	return out
}

func (h *harness) poll(token, linkKey string) (int, map[string]any) {
	h.t.Helper()
	return h.do(http.MethodGet, DefaultPollDataPath+"?access_token="+url.QueryEscape(token)+"&key="+LinkKeyHash(linkKey), nil, nil)
}

func TestSocketDeliversAndAnswersHeartbeat(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")

	ws := h.socket("lk-A", tok)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"handshake":false}`)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, raw, err := ws.ReadMessage()
	if err != nil || string(raw) != `{"handshake":true}` {
		t.Fatalf("heartbeat answer %q, %v", raw, err)
	}
	sent := h.collect(code, 2)
	msg := readMessage(t, ws)
	got := serialsOf(msg["invoiceData"].([]any))
	if len(got) != 2 || got[0] != sent[0] || got[1] != sent[1] {
		t.Fatalf("socket delivered %v, want %v", got, sent)
	}
	if _, ok := msg["attachData"].([]any); !ok {
		t.Fatalf("attachData missing: %v", msg)
	}
	// Consumed: the poll has nothing.
	if _, resp := h.poll(tok, "lk-A"); resp["errcode"] != pollNoData {
		t.Fatalf("poll after socket delivery: %v", resp)
	}
	st := h.sim.Stats()
	if st.DeliveredBySocket != 1 || st.Handshakes != 1 || st.DeliveredByPoll != 0 || st.SocketsOpen != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestSocketRejectsBadTokenBeforeUpgrade(t *testing.T) {
	h := newHarness(t, Options{})
	_, resp, err := h.dial("lk-A", "forged")
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("want 401, got %v %v", resp, err)
	}
	_, resp, err = h.dial("", h.accessToken())
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("missing identifytype: want 400, got %v %v", resp, err)
	}
}

func TestCollectedWhileNobodyListensWaitsForTheSocket(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")
	first := h.collect(code, 1)
	second := h.collect(code, 2)
	if h.sim.Stats().MessagesQueued != 2 {
		t.Fatal("two messages should wait")
	}
	ws := h.socket("lk-A", tok)
	if got := serialsOf(readMessage(t, ws)["invoiceData"].([]any)); got[0] != first[0] {
		t.Fatalf("first message %v, want %v", got, first)
	}
	if got := serialsOf(readMessage(t, ws)["invoiceData"].([]any)); len(got) != 2 || got[0] != second[0] {
		t.Fatalf("second message %v, want %v", got, second)
	}
}

func TestPollNoDataThenDataThenReceipt(t *testing.T) {
	h := newHarness(t, Options{PollHold: 50 * time.Millisecond})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")

	status, resp := h.poll(tok, "lk-A")
	if status != http.StatusOK || resp["errcode"] != pollNoData || resp["description"] != "没有数据" {
		t.Fatalf("empty poll: %d %v", status, resp)
	}
	sent := h.collect(code, 3)
	_, resp = h.poll(tok, "lk-A")
	if resp["errcode"] != pollOK || dig(resp, "data", "data", "eventType") != "push-invoice" || dig(resp, "data", "data", "type") != "saveBill" {
		t.Fatalf("poll shape: %v", resp)
	}
	inner := dig(resp, "data", "data", "data").(map[string]any)
	got := serialsOf(inner["data"].([]any))
	if len(got) != 3 || got[2] != sent[2] {
		t.Fatalf("polled %v, want %v", got, sent)
	}
	// invoicesAmount is the sum of totalAmount, computed exactly.
	var invs []Invoice
	for _, sn := range sent {
		v, _ := h.sim.Invoice(sn)
		invs = append(invs, v.Invoice)
	}
	want := invs[0].TotalAmount.Add(invs[1].TotalAmount).Add(invs[2].TotalAmount)
	if gotAmount := inner["invoicesAmount"].(float64); want.InexactFloat64() != gotAmount {
		t.Fatalf("invoicesAmount %v, want %s", gotAmount, want)
	}
	msgID := dig(resp, "data", "msgId").(string)
	// Consumed once.
	if _, again := h.poll(tok, "lk-A"); again["errcode"] != pollNoData {
		t.Fatalf("second poll: %v", again)
	}
	receipt := func(key, id string) map[string]any {
		_, r := h.do(http.MethodGet, DefaultPollReceiptPath+"?access_token="+url.QueryEscape(tok)+"&key="+key+"&msgId="+id, nil, nil)
		return r
	}
	if r := receipt(LinkKeyHash("lk-A"), msgID); r["errcode"] != pollOK {
		t.Fatalf("receipt: %v", r)
	}
	if r := receipt(LinkKeyHash("lk-B"), msgID); r["errcode"] != pollUnknownMsgID {
		t.Fatalf("receipt for another key: %v", r)
	}
	if status, r := h.poll("bad", "lk-A"); status != http.StatusUnauthorized || r["errcode"] != pollTokenInvalid {
		t.Fatalf("bad token: %d %v", status, r)
	}
	if st := h.sim.Stats(); st.Polls != 3 || st.PollsEmpty != 2 || st.DeliveredByPoll != 1 || st.Receipts != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestHeldPollIsAnsweredWhenDataArrives(t *testing.T) {
	h := newHarness(t, Options{PollHold: time.Minute})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")
	type answer struct{ resp map[string]any }
	done := make(chan answer, 1)
	go func() {
		_, resp := h.poll(tok, "lk-A")
		done <- answer{resp}
	}()
	// Wait until the poll is held (observable through stats), then collect.
	h.waitUntil("the poll held", func() bool { return h.sim.Stats().Polls > 0 })
	sent := h.collect(code, 1)
	var a answer
	select {
	case a = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the held poll was not answered within 10s of the collect")
	}
	got := serialsOf(dig(a.resp, "data", "data", "data", "data").([]any))
	if len(got) != 1 || got[0] != sent[0] {
		t.Fatalf("held poll got %v, want %v", got, sent)
	}
}

func TestConsumedOnceAcrossSocketAndPoll(t *testing.T) {
	h := newHarness(t, Options{PollHold: 50 * time.Millisecond})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")
	// Collected with no listener → the poll takes it → a socket opened later gets nothing.
	polled := h.collect(code, 1)
	_, resp := h.poll(tok, "lk-A")
	if got := serialsOf(dig(resp, "data", "data", "data", "data").([]any)); got[0] != polled[0] {
		t.Fatalf("poll got %v", got)
	}
	ws := h.socket("lk-A", tok)
	// The next collect goes to the socket, and the socket must not see the polled one first.
	pushed := h.collect(code, 1)
	if got := serialsOf(readMessage(t, ws)["invoiceData"].([]any)); got[0] != pushed[0] {
		t.Fatalf("socket got %v, want %v (the polled %v must not come again)", got, pushed, polled)
	}
	if _, resp := h.poll(tok, "lk-A"); resp["errcode"] != pollNoData {
		t.Fatalf("poll after socket: %v", resp)
	}
}

func TestDroppedSocketsKeepTheirMessages(t *testing.T) {
	h := newHarness(t, Options{PollHold: 50 * time.Millisecond})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")
	ws := h.socket("lk-A", tok)
	if status, _ := h.post("/__sim/faults", map[string]any{"dropSockets": true, "dropAfterMs": 1}); status != http.StatusOK {
		t.Fatal("set faults")
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("the socket should have been dropped")
	}
	h.waitUntil("the dropped socket detached", func() bool { return h.sim.Stats().SocketsOpen == 0 })
	// Collected while sockets are being dropped: nothing is lost, the poll gets it.
	sent := h.collect(code, 1)
	ws2, _, err := h.dial("lk-A", tok)
	if err == nil { // a new socket lives ~1 ms; whatever it may have received is requeued or delivered
		defer ws2.Close()
		_ = ws2.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, raw, err := ws2.ReadMessage()
			if err != nil {
				break
			}
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			if invs, ok := m["invoiceData"].([]any); ok && serialsOf(invs)[0] == sent[0] {
				return // delivered by the short-lived socket: fine, and consumed
			}
		}
	}
	h.waitUntil("the short-lived socket detached", func() bool { return h.sim.Stats().SocketsOpen == 0 })
	h.sim.ClearFaults()
	_, resp := h.poll(tok, "lk-A")
	if resp["errcode"] != pollOK {
		t.Fatalf("message lost after drop: %v (stats %+v)", resp, h.sim.Stats())
	}
	if got := serialsOf(dig(resp, "data", "data", "data", "data").([]any)); got[0] != sent[0] {
		t.Fatalf("poll got %v", got)
	}
	if h.sim.Stats().SocketsDropped < 1 {
		t.Fatal("drops not counted")
	}
}
