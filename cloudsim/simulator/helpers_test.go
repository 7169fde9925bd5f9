package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeClock is the injectable clock of the TTL tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testEpoch = time.Date(2025, 3, 20, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))

type harness struct {
	t     testing.TB
	sim   *Sim
	srv   *httptest.Server
	clock *fakeClock
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	clock := &fakeClock{t: testEpoch}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.PollHold == 0 {
		opts.PollHold = 200 * time.Millisecond
	}
	sim := New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	return &harness{t: t, sim: sim, srv: srv, clock: clock}
}

// do sends a JSON body (or nothing) and decodes a JSON answer.
func (h *harness) do(method, path string, body any, header map[string]string) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		h.t.Fatalf("%s %s: answer is not JSON: %s", method, path, raw)
	}
	return resp.StatusCode, out
}

// waitUntil polls cond every millisecond; the test fails if it does not hold within 10 s.
func (h *harness) waitUntil(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) post(path string, body any) (int, map[string]any) {
	return h.do(http.MethodPost, path, body, nil)
}

func legacyCreds() map[string]any {
	return map[string]any{"appId": "CASHINV", "appSecuret": "12345678", "tenantid": "devbiz",
		"accountId": "1534920374578620490", "language": "zh_CN"}
}

// accessToken runs the legacy two-step login.
func (h *harness) accessToken() string {
	h.t.Helper()
	_, app := h.post("/api/getAppToken.do", legacyCreds())
	appToken := dig(app, "data", "app_token").(string)
	_, acc := h.post("/api/login.do", map[string]any{"user": "13825207590", "apptoken": appToken,
		"tenantid": "devbiz", "accountId": "1534920374578620490", "usertype": "Mobile"})
	tok, _ := dig(acc, "data", "access_token").(string)
	if tok == "" {
		h.t.Fatalf("login failed: %v", acc)
	}
	return tok
}

// message calls /kapi/app/rim/message with the token in the access_token header.
func (h *harness) message(token, messageType, messageID string, data any) (int, map[string]any) {
	h.t.Helper()
	return h.do(http.MethodPost, "/kapi/app/rim/message",
		map[string]any{"messageType": messageType, "messageId": messageID, "data": data},
		map[string]string{"access_token": token})
}

// mustOK fails unless the message answer is success.
func (h *harness) mustOK(status int, resp map[string]any) map[string]any {
	h.t.Helper()
	if status != http.StatusOK || resp["success"] != "true" || resp["errorCode"] != codeOK {
		h.t.Fatalf("want success, got HTTP %d %v", status, resp)
	}
	d, _ := resp["data"].(map[string]any)
	return d
}

// wantCode fails unless the message answer is the business error code naming field.
func (h *harness) wantCode(status int, resp map[string]any, code, field string) {
	h.t.Helper()
	if status != http.StatusOK || resp["success"] != "false" || resp["errorCode"] != code {
		h.t.Fatalf("want errorCode %s, got HTTP %d %v", code, status, resp)
	}
	if field != "" {
		if got := dig(resp, "data", "field"); got != field {
			h.t.Fatalf("want field %q, got %v (%v)", field, got, resp["message"])
		}
		if msg, _ := resp["message"].(string); !strings.HasPrefix(msg, field+": ") {
			h.t.Fatalf("message should start with the field %q: %q", field, msg)
		}
	}
}

// wantRefused fails unless the message answer is a business refusal (any code).
func (h *harness) wantRefused(status int, resp map[string]any) {
	h.t.Helper()
	if status != http.StatusOK || resp["success"] != "false" || resp["errorCode"] == codeOK {
		h.t.Fatalf("want a business refusal, got HTTP %d %v", status, resp)
	}
}

func billData(billID string, extra map[string]any) map[string]any {
	d := map[string]any{
		"billId": billID, "resource": "ERP", "billNo": "BX-" + billID, "billType": "er_dailyreimbursebill",
		"billTaxNo": "91440300MA5G9GK78Y", "pushType": "socket", "userId": "u1", "linkKey": "lk-" + billID,
		"companyInfo": []map[string]any{{"taxNo": "91440300MA5G9GK78Y", "name": "深圳市金蝶示例科技有限公司"}},
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

var msgSeq struct {
	sync.Mutex
	n int
}

func nextID(prefix string) string {
	msgSeq.Lock()
	defer msgSeq.Unlock()
	msgSeq.n++
	return fmt.Sprintf("%s-%d", prefix, msgSeq.n)
}

// eventCode registers billID and answers its eventCode.
func (h *harness) eventCode(token, billID string) string {
	h.t.Helper()
	d := h.mustOK(h.message(token, "getEventCode", nextID("ec"), billData(billID, nil)))
	return d["eventCode"].(string)
}

// openBill starts a simulator with opts, logs in and opens billID (linkKey lk-<billID>): the
// harness, the access token and the bill's eventCode.
func openBill(t *testing.T, opts Options, billID string) (*harness, string, string) {
	t.Helper()
	h := newHarness(t, opts)
	tok := h.accessToken()
	return h, tok, h.eventCode(tok, billID)
}

// bothWays runs f as two subtests, with a reading or behaviour on (named on) and off (named off).
func bothWays(t *testing.T, on, off string, f func(t *testing.T, on bool)) {
	t.Run(on, func(t *testing.T) { f(t, true) })
	t.Run(off, func(t *testing.T) { f(t, false) })
}

// collect imports count samples via /__sim/collect and answers their serial numbers.
func (h *harness) collect(code string, count int) []string {
	h.t.Helper()
	status, resp := h.post("/__sim/collect", map[string]any{"eventCode": code, "count": count})
	if status != http.StatusOK {
		h.t.Fatalf("collect: HTTP %d %v", status, resp)
	}
	var out []string
	for _, inv := range resp["delivered"].([]any) {
		out = append(out, inv.(map[string]any)["serialNo"].(string))
	}
	if len(out) != count {
		h.t.Fatalf("collect delivered %d, want %d", len(out), count)
	}
	return out
}

func saveData(billID, status string, serials ...string) map[string]any {
	lines := []map[string]any{}
	for _, sn := range serials {
		lines = append(lines, map[string]any{"serialNo": sn})
	}
	return map[string]any{"billId": billID, "resource": "ERP", "billNo": "BX-" + billID,
		"billType": "er_dailyreimbursebill", "billTaxNo": "91440300MA5G9GK78Y", "status": status, "invoiceData": lines}
}

func (h *harness) dial(linkKey, token string) (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/msgwatch/?identifytype=" + linkKey + "&token=" + token
	return websocket.DefaultDialer.Dial(u, nil)
}

// socket dials the link key's socket, closed when the test ends.
func (h *harness) socket(linkKey, token string) *websocket.Conn {
	h.t.Helper()
	ws, _, err := h.dial(linkKey, token)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = ws.Close() })
	return ws
}

// dig walks nested maps.
func dig(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}
