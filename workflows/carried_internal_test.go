package workflows

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// Every field of the carried state, set, encodes under its name and in its place: the recorded
// runs above leave the omitempty ones out, this covers them.
func TestCarriedStateFieldNames(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	link := Link{LinkKey: "k", EventCode: "e", ExpiresAt: now, Delivered: true}
	var p Progress
	p.Invoices = []invoicecloud.Invoice{{SerialNo: "S1"}}
	p.Status = "30"
	p.Pending = []invoicecloud.Invoice{{SerialNo: "S2"}}
	p.Digests = []string{"d"}
	p.Links = []Link{link}
	p.ViewLink = &link
	p.RouteIdx = 1
	p.Round = 2
	p.Decided = map[string]bool{"supervisor": true}
	p.MarkedUsed = true
	p.Seq = map[string]int{"markUsed": 1}
	p.Compensations = []compensation{{step: compensateUnbind}}
	p.Answered = []string{"u1"}
	p.Entered = now
	p.SLAFired.Soft = true
	p.Runs = 3
	p.EventSeq = 4
	p.Outbox = []calls.Event{{ID: "x"}}
	p.Uploads = []invoicecloud.ImageFile{{Name: "a.pdf"}}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"view", "invoices", "status", "pending", "digests", "links", "viewLink", "routeIdx", "round",
		"decided", "markedUsed", "seq", "compensations", "answered", "entered", "slaFired", "runs", "eventSeq", "outbox", "uploads"}
	if !slices.Equal(keys, want) {
		t.Fatalf("carried state keys:\n got %v\nwant %v", keys, want)
	}
}
