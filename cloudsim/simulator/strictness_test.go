package simulator

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The simulator as strict as the vendor where the vendor's text binds the client: the socket's
// heartbeat, the bill's pushType, and the poll key's [assumed] derivation.

// A socket that sends no heartbeat within HandshakeWindow is dropped; one that keeps sending it
// lives on and still gets the bill's message after several windows.
func TestSilentSocketIsDropped(t *testing.T) {
	const window = 150 * time.Millisecond
	h, tok, code := openBill(t, Options{HandshakeWindow: window}, "HS1")
	silent := h.socket("lk-HS1", tok)
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := silent.ReadMessage(); err == nil {
		t.Fatal("a socket that never sent its heartbeat got a frame instead of being dropped")
	}
	h.waitUntil("the silent socket counted and detached", func() bool {
		st := h.sim.Stats()
		return st.SocketsSilent == 1 && st.SocketsOpen == 0
	})

	alive := h.socket("lk-HS1", tok)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the vendor's demo: a heartbeat every interval, well inside the window
		defer close(done)
		tick := time.NewTicker(window / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if alive.WriteMessage(websocket.TextMessage, []byte(`{"handshake":false}`)) != nil {
					return
				}
			}
		}
	}()
	h.waitUntil("four windows of heartbeats", func() bool { return h.sim.Stats().Handshakes >= 12 })
	sent := h.collect(code, 1)
	msg := readMessage(t, alive)
	close(stop)
	<-done
	if got := serialsOf(msg["invoiceData"].([]any)); len(got) != 1 || got[0] != sent[0] {
		t.Fatalf("the heartbeating socket got %v, want %v", got, sent)
	}
	if st := h.sim.Stats(); st.SocketsSilent != 1 || st.Mode.HandshakeWindowMs != window.Milliseconds() {
		t.Fatalf("stats: silent %d, mode %+v", st.SocketsSilent, st.Mode)
	}
}

// A negative window keeps a silent socket: it gets its message however long it said nothing.
func TestHandshakeWindowOff(t *testing.T) {
	h, tok, code := openBill(t, Options{HandshakeWindow: -1}, "HS2")
	ws := h.socket("lk-HS2", tok)
	sent := h.collect(code, 1)
	if got := serialsOf(readMessage(t, ws)["invoiceData"].([]any)); len(got) != 1 || got[0] != sent[0] {
		t.Fatalf("socket got %v, want %v", got, sent)
	}
	if h.sim.Stats().SocketsSilent != 0 {
		t.Fatal("a socket was dropped for silence with the window off")
	}
}

// pushType poll (getEventCode): the linkKey's messages wait for the long poll; a socket on it
// gets none. pushType socket: the socket gets them, the poll stays the fallback.
func TestPushTypeIsHonoured(t *testing.T) {
	h := newHarness(t, Options{PollHold: 50 * time.Millisecond})
	tok := h.accessToken()
	d := h.mustOK(h.message(tok, "getEventCode", nextID("ec"), billData("PT1", map[string]any{"pushType": "poll"})))
	ws := h.socket("lk-PT1", tok)
	h.waitUntil("the socket attached", func() bool { return h.sim.Stats().SocketsOpen == 1 })
	sent := h.collect(d["eventCode"].(string), 1)
	_, got := h.pollMessage(tok, "access_token", "lk-PT1")
	if len(got) != 1 || got[0] != sent[0] {
		t.Fatalf("poll got %v, want %v", got, sent)
	}
	if st := h.sim.Stats(); st.DeliveredBySocket != 0 || st.DeliveredByPoll != 1 {
		t.Fatalf("pushType poll: %d by socket, %d by poll", st.DeliveredBySocket, st.DeliveredByPoll)
	}
	_ = ws

	// The same bill asks again with pushType socket and a new linkKey: the socket delivers.
	d = h.mustOK(h.message(tok, "getEventCode", nextID("ec"), billData("PT1", map[string]any{"pushType": "socket", "linkKey": "lk-PT1b"})))
	ws2 := h.socket("lk-PT1b", tok)
	sent = h.collect(d["eventCode"].(string), 1)
	if got := serialsOf(readMessage(t, ws2)["invoiceData"].([]any)); len(got) != 1 || got[0] != sent[0] {
		t.Fatalf("pushType socket: socket got %v, want %v", got, sent)
	}
}

// The poll key [assumed]: MD5(linkKey) by default; with DisablePollKeyMD5 the linkKey itself, and
// then the MD5 names nothing.
func TestAssumePollKeyMD5(t *testing.T) {
	bothWays(t, "md5", "linkKey", func(t *testing.T, on bool) {
		h, tok, code := openBill(t, Options{PollHold: 50 * time.Millisecond, Assume: Assumptions{DisablePollKeyMD5: !on}}, "PK1")
		sent := h.collect(code, 1)
		right, wrong := LinkKeyHash("lk-PK1"), "lk-PK1"
		if !on {
			right, wrong = wrong, right
		}
		get := func(path, key string, extra url.Values) map[string]any {
			q := url.Values{"key": {key}}
			for k, v := range extra {
				q[k] = v
			}
			status, resp := h.do(http.MethodGet, path+"?"+q.Encode(), nil, map[string]string{"access_token": tok})
			if status != http.StatusOK {
				t.Fatalf("%s key %s: HTTP %d %v", path, key, status, resp)
			}
			return resp
		}
		if resp := get(DefaultPollDataPath, wrong, nil); resp["errcode"] != pollNoData {
			t.Fatalf("poll with the other derivation's key: %v", resp)
		}
		resp := get(DefaultPollDataPath, right, nil)
		msgID, _ := dig(resp, "data", "msgId").(string)
		inv := dig(resp, "data", "data", "data", "data")
		if msgID == "" || inv == nil || serialsOf(inv.([]any))[0] != sent[0] {
			t.Fatalf("poll with the right key: %v", resp)
		}
		if resp := get(DefaultPollReceiptPath, wrong, url.Values{"msgId": {msgID}}); resp["errcode"] != pollUnknownMsgID {
			t.Fatalf("receipt with the other derivation's key: %v", resp)
		}
		if resp := get(DefaultPollReceiptPath, right, url.Values{"msgId": {msgID}}); resp["errcode"] != pollOK {
			t.Fatalf("receipt with the right key: %v", resp)
		}
		if h.sim.Stats().Mode.PollKeyMD5 != on {
			t.Fatalf("mode: %+v", h.sim.Stats().Mode)
		}
	})
}
