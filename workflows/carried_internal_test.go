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
	p.Compensations = []compensation{{Step: compensateUnbind}}
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

// The saga crosses continue-as-new with its steps, and a step registered again in the next run
// is not added twice (the list does not grow a run).
func TestSagaCarriedOnceAcrossRuns(t *testing.T) {
	var p Progress
	p.register(compensateUnbind)
	for run := 0; run < 3; run++ {
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		p = Progress{}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		p.register(compensateUnbind)
	}
	p.register(compensateRelease)
	want := []compensation{{Step: compensateUnbind}, {Step: compensateRelease}}
	if !slices.Equal(p.Compensations, want) {
		t.Fatalf("carried saga %+v, want %+v", p.Compensations, want)
	}
}

// A saga carried by the earlier release ({} entries) is rebuilt from what the state records:
// bound ⇒ unbind; a markUsed drawn (or the used status) ⇒ release after it; each once.
func TestLostSagaStepsRebuilt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state string
		want  []compensation
	}{
		{"bound", `{"status":"30","seq":{"bindInvoices":3},"compensations":[{},{},{}]}`, []compensation{{Step: compensateUnbind}}},
		{"markUsed drawn", `{"status":"30","seq":{"bindInvoices":3,"markUsed":1},"compensations":[{},{},{},{}]}`, []compensation{{Step: compensateUnbind}, {Step: compensateRelease}}},
		{"used", `{"status":"60","markedUsed":true,"seq":{"bindInvoices":1,"markUsed":1},"compensations":[{},{}]}`, []compensation{{Step: compensateUnbind}, {Step: compensateRelease}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Progress
			if err := json.Unmarshal([]byte(tc.state), &p); err != nil {
				t.Fatal(err)
			}
			p.rebuildSaga()
			if !slices.Equal(p.Compensations, tc.want) {
				t.Fatalf("rebuilt %+v, want %+v", p.Compensations, tc.want)
			}
		})
	}
}
