package invoicecloud_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
)

// The client and the simulator's poll redelivery (strict mode is in TestContractAuthModesAndPlacements).

// A polled message that is not receipted comes back (same msgId) after the receipt timeout; a
// receipted one never does.
func TestContractPollRedeliveryWithoutReceipt(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 33, PollHold: 100 * time.Millisecond, ReceiptTimeout: time.Minute})
	c := h.client(nil)
	ctx := context.Background()
	b := newBill("poll")
	_, invs, first := collectAndPoll(t, h, c, b, 1)
	if m, err := c.Poll(ctx, b.req.LinkKey); err != nil || m != nil {
		t.Fatalf("poll within the receipt timeout: %+v %v", m, err)
	}
	advance(t, h, "1m")
	again, err := c.Poll(ctx, b.req.LinkKey)
	if err != nil || again == nil || again.MsgID != first.MsgID {
		t.Fatalf("poll after the receipt timeout: %+v %v, want msgId %s", again, err, first.MsgID)
	}
	sameSerials(t, again.InvoiceData, invs)
	if err := c.Receipt(ctx, b.req.LinkKey, again.MsgID); err != nil {
		t.Fatalf("Receipt: %v", err)
	}
	advance(t, h, "1h")
	if m, err := c.Poll(ctx, b.req.LinkKey); err != nil || m != nil {
		t.Fatalf("poll after the receipt: %+v %v", m, err)
	}
	var lk simulator.LinkKeyView
	if code := h.simJSON(http.MethodGet, "/__sim/linkkeys/"+b.req.LinkKey, nil, &lk); code != http.StatusOK ||
		lk.Delivered != 1 || lk.Redelivered != 1 || lk.Receipted != 1 || lk.AwaitingReceipt != 0 {
		t.Fatalf("linkKey: HTTP %d %+v", code, lk)
	}
}

// Watch sends no receipt for a message its deliver func refused, so a later Watch gets it again:
// the delivery is not lost.
func TestContractWatchRefusedDeliveryComesBack(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 34, PollHold: 100 * time.Millisecond, ReceiptTimeout: time.Minute})
	c := h.client(nil)
	b := newBill("poll")
	ec := eventCode(t, c, b)
	errBusy := errors.New("the bill could not take the invoices now")
	refusing := startWatchRefusing(t, c, b.req.LinkKey, invoicecloud.WatchOptions{Silence: time.Millisecond}, errBusy)
	refusing.waitState(invoicecloud.WatchPolling)
	// Collected once the socket is gone, so the poll (which can be redelivered) takes it.
	h.waitStats("the socket is closed", func(st simulator.Stats) bool { return st.SocketsOpen == 0 })
	invs := h.collect(ec, 2)
	select {
	case err := <-refusing.done:
		if !errors.Is(err, errBusy) {
			t.Fatalf("Watch returned %v, want the deliver error", err)
		}
		refusing.done <- err // for the cleanup
	case <-time.After(guard):
		t.Fatal("Watch did not return the deliver error")
	}
	select {
	case offered := <-refusing.got: // offered before the refusal, so already there
		sameSerials(t, offered.InvoiceData, invs)
	case <-time.After(guard):
		t.Fatal("the refused message was never offered")
	}
	advance(t, h, "1m")
	w := startWatch(t, c, b.req.LinkKey, invoicecloud.WatchOptions{Silence: time.Millisecond})
	m := w.next()
	sameSerials(t, m.InvoiceData, invs)
	h.waitStats("the redelivery was receipted", func(st simulator.Stats) bool { return st.Receipts == 1 && st.RedeliveredByPoll == 1 })
}

func advance(t *testing.T, h *harness, d string) {
	t.Helper()
	if code := h.simJSON(http.MethodPost, "/__sim/clock", map[string]any{"advance": d}, nil); code != http.StatusOK {
		t.Fatalf("advance the clock: HTTP %d", code)
	}
}
