package invoicecloud_test

import (
	"context"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
	"rimflow/invoicecloud/ultimate"
)

// The watcher against a simulator as strict as the vendor: a socket that keeps its heartbeat
// inside the cloud's window lives on; the poll key follows the [assumed] derivation both sides are
// configured with, on either edition.

func TestWatcherKeepsItsSocketInsideTheHandshakeWindow(t *testing.T) {
	const window = 300 * time.Millisecond
	h := newHarness(t, simulator.Options{HandshakeWindow: window})
	c := h.client(nil)
	b := newBill("socket")
	ec := eventCode(t, c, b)
	w := startWatch(t, c, b.req.LinkKey, invoicecloud.WatchOptions{Handshake: window / 3})
	w.waitState("connected")
	h.waitStats("several windows of heartbeats", func(st simulator.Stats) bool { return st.Handshakes >= 9 })
	invs := h.collect(ec, 2)
	sameSerials(t, w.next().InvoiceData, invs)
	if st := h.stats(); st.SocketsSilent != 0 || st.DeliveredBySocket != 1 {
		t.Fatalf("the heartbeating watcher's socket: %d dropped for silence, %d delivered by socket", st.SocketsSilent, st.DeliveredBySocket)
	}
	w.stopWithNothingMore()
}

func TestPollKeyDerivationOnBothEditions(t *testing.T) {
	for _, md5 := range []bool{true, false} {
		derivation := invoicecloud.PollKeyMD5
		if !md5 {
			derivation = invoicecloud.PollKeyLinkKey
		}
		t.Run(string(derivation), func(t *testing.T) {
			h := newHarness(t, simulator.Options{PollHold: 100 * time.Millisecond, Assume: simulator.Assumptions{DisablePollKeyMD5: !md5}})
			clients := map[string]invoicecloud.Cloud{
				"ultimate": h.client(func(c *ultimate.Config) { c.PollKey = derivation }),
				"standard": h.standard(func(c *standard.Config) { c.PollKey = derivation }),
			}
			receipts := 0
			for _, name := range []string{"ultimate", "standard"} {
				c := clients[name]
				b := newBill("poll") // the bill asked for the poll: the watcher polls from the start
				invs := h.collect(eventCode(t, c, b), 1)
				w := startWatch(t, c, b.req.LinkKey, invoicecloud.WatchOptions{PollOnly: true})
				sameSerials(t, w.next().InvoiceData, invs)
				receipts++
				h.waitStats(name+": the message receipted", func(st simulator.Stats) bool { return st.Receipts >= receipts })
				w.stopWithNothingMore()
			}
			// A client configured with the other derivation polls a key that names nothing.
			other := invoicecloud.PollKeyLinkKey
			if !md5 {
				other = invoicecloud.PollKeyMD5
			}
			c := h.client(func(c *ultimate.Config) { c.PollKey = other })
			b := newBill("poll")
			h.collect(eventCode(t, c, b), 1)
			if msg, err := c.Poll(context.Background(), b.req.LinkKey); err != nil || msg != nil {
				t.Fatalf("poll with the other derivation: %+v, %v (want no data)", msg, err)
			}
		})
	}
}

func TestPollKeySettingIsChecked(t *testing.T) {
	_, err := ultimate.New(ultimate.Config{BaseURL: "https://x.example", AppID: "a", AppSecret: "s", TenantID: "t", AccountID: "1", User: "u", PollKey: "sha1"})
	if e := mustError(t, err); e.Field != "pollKey" {
		t.Fatalf("field %q, want pollKey: %v", e.Field, err)
	}
}
