package simulator

import (
	"sync"
	"testing"
	"time"
)

// A restarted simulator replays the same calls: the message a socket took before is queued
// again, and HandedOver (the journal's record of the socket) takes it off, so neither a socket nor
// a poll gets it a second time. SettleSocketQueues does so for every socket queue at once.
func TestHandedOverMessagesAreNotQueuedAgain(t *testing.T) {
	var mu sync.Mutex
	var took [][2]string
	h, tok, code := openBill(t, Options{Seed: 5, OnSocketDelivery: func(hash, msgID string) {
		mu.Lock()
		defer mu.Unlock()
		took = append(took, [2]string{hash, msgID})
	}}, "A")
	ws := h.socket("lk-A", tok)
	h.collect(code, 1)
	readMessage(t, ws)
	// The report comes after the write returns, which may be after the reader has the message.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(took)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
	}
	mu.Lock()
	if len(took) != 1 || took[0][0] != LinkKeyHash("lk-A") || took[0][1] == "" {
		t.Fatalf("the socket's delivery was reported as %v", took)
	}
	hash, msgID := took[0][0], took[0][1]
	mu.Unlock()

	// The same calls again, nobody listening: the message waits, then is handed over.
	again, tok2, code2 := openBill(t, Options{Seed: 5}, "A")
	again.collect(code2, 1)
	if again.sim.HandedOver(hash, "no-such-message") {
		t.Fatal("a message the queue does not hold was handed over")
	}
	if !again.sim.HandedOver(hash, msgID) {
		t.Fatal("the replayed message (same msgId) was not found")
	}
	if _, resp := again.poll(tok2, "lk-A"); resp["errcode"] != pollNoData {
		t.Fatalf("a poll after the hand-over got %v", resp)
	}
	if st := again.sim.Stats(); st.DeliveredBySocket != 1 {
		t.Errorf("stats after the hand-over: %+v", st)
	}

	settled, tok3, code3 := openBill(t, Options{Seed: 5}, "A")
	settled.collect(code3, 1)
	if n := settled.sim.SettleSocketQueues(); n != 1 {
		t.Fatalf("settled %d messages, want 1", n)
	}
	if _, resp := settled.poll(tok3, "lk-A"); resp["errcode"] != pollNoData {
		t.Fatalf("a poll after settling got %v", resp)
	}
}
