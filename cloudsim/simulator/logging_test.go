package simulator

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Tokens travel in query strings (poll, socket, legacy message calls): none may reach a log line.
func TestNoTokenOrSecretInLogs(t *testing.T) {
	var logs syncBuffer
	h := newHarness(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")
	h.do(http.MethodPost, "/kapi/app/rim/message?access_token="+tok, map[string]any{"messageType": "billSave", "messageId": "q", "data": saveData("A", "30", "nope")}, nil)
	h.collect(code, 1)
	h.poll(tok, "lk-A")
	ws, _, err := h.dial("lk-A", tok)
	if err != nil {
		t.Fatal(err)
	}
	ws.Close()
	h.post("/__sim/faults", map[string]any{"errorRate": 1})
	h.message(tok, "getEventCode", "f", billData("A", nil))
	h.sim.ClearFaults()

	out := logs.String()
	if !strings.Contains(out, "/kapi/app/rim/message") || !strings.Contains(out, "errorCode="+CodeSerialNotInPool) {
		t.Fatalf("expected request and error lines, got:\n%s", out)
	}
	secrets := append(h.sim.IssuedTokens(), "12345678")
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Fatalf("log contains a secret %q:\n%s", s, out)
		}
	}
}
