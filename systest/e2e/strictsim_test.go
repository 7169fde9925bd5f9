package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/invoicecloud"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// handshakeWindow is the simulator's patience with a silent socket here: above the worker's
// 20-second heartbeat, so only a watcher that keeps sending it keeps its socket.
const handshakeWindow = 25 * time.Second

// The devstack against a simulator as strict as the vendor, on both demo enterprises: the poll
// key is the linkKey itself (the other reading of the [assumed] derivation, both sides configured
// alike), a bill whose pushType is poll gets its invoices by the long poll only, and a socket
// bill's watcher keeps its socket past the handshake window by its heartbeat.
func TestStrictVendorSimulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	env := newE2EWith(t, ctx, func(o *harness.Options) {
		o.CloudAssume = simulator.Assumptions{DisablePollKeyMD5: true}
		o.CloudHandshakeWindow = handshakeWindow
	})
	if m := env.stack.Sim.Stats().Mode; m.PollKeyMD5 || m.HandshakeWindowMs != handshakeWindow.Milliseconds() {
		t.Fatalf("simulator mode %+v: want the poll key off MD5 and a %s window", m, handshakeWindow)
	}
	for _, ed := range []struct{ name, taxNo string }{{"ultimate", harness.DemoTaxNo}, {"standard", harness.DemoStandardTaxNo}} {
		t.Run("pushType poll on "+ed.name, func(t *testing.T) {
			t.Parallel()
			env.pollOnlyBill(t, "E2E-POLL-"+strings.ToUpper(ed.name[:3]), ed.taxNo)
		})
	}
	t.Run("socket on ultimate: the heartbeat keeps it past the window", func(t *testing.T) {
		t.Parallel()
		a := env.startVendorBill(t, "E2E-SOCK-ULT", harness.DemoTaxNo, workflows.PushSocket)
		// Two heartbeats on the bill's socket: it has lived longer than the window.
		linkKey := env.linkKeyOf(t, "E2E-SOCK-ULT")
		deadline := time.Now().Add(90 * time.Second)
		for env.stack.Sim.Stats().Handshakes < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("no two heartbeats within 90s: %+v", env.stack.Sim.Stats())
			}
			time.Sleep(500 * time.Millisecond)
		}
		testenv.CollectOnPage(t, ctx, env.stack.CloudURL(), a.Collect.PC, 2)
		st := env.WaitStage(t, a.ID, workflows.StageAwaitingSupervisor)
		lk, _ := env.stack.Sim.LinkKey(linkKey)
		if st.InvoiceCount != 2 || lk.Delivered != 1 || lk.Receipted != 0 {
			t.Fatalf("socket bill: %d invoices; linkKey %+v (want one socket delivery, no poll)", st.InvoiceCount, lk)
		}
		if s := env.stack.Sim.Stats(); s.SocketsSilent != 0 {
			t.Fatalf("%d sockets dropped for silence: the watcher's heartbeat should keep its socket", s.SocketsSilent)
		}
	})
}

// startVendorBill starts a bill of the enterprise taxNo with pushType.
func (e *e2e) startVendorBill(t *testing.T, id, taxNo, pushType string) StartAnswer {
	t.Helper()
	in := harness.DemoBill(id)
	in.BillTaxNo, in.PushType = taxNo, pushType
	in.CompanyInfo = []invoicecloud.Company{{TaxNo: taxNo, Name: e.enterprise(t, taxNo).Name}}
	status, body := e.startBill(t, in)
	if status != http.StatusCreated {
		t.Fatalf("start %s: HTTP %d, want 201: %s", id, status, body)
	}
	var a StartAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.Collect.PC == "" {
		t.Fatalf("start answer %s (%v): no collect URL", body, err)
	}
	return a
}

// pollOnlyBill: a pushType poll bill collects two invoices; they reach the bill and the
// simulator handed the message to the poll (keyed by the linkKey itself), which receipted it, and
// to no socket.
func (e *e2e) pollOnlyBill(t *testing.T, id, taxNo string) {
	a := e.startVendorBill(t, id, taxNo, workflows.PushPoll)
	linkKey := e.linkKeyOf(t, id)
	testenv.CollectOnPage(t, e.ctx, e.stack.CloudURL(), a.Collect.PC, 2)
	st := e.WaitStage(t, a.ID, workflows.StageAwaitingSupervisor)
	if st.InvoiceCount != 2 {
		t.Fatalf("%d invoices bound, want 2", st.InvoiceCount)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		lk, ok := e.stack.Sim.LinkKey(linkKey)
		if ok && lk.Delivered == 1 && lk.Receipted == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("linkKey %s: %+v (want the message polled and receipted)", linkKey, lk)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// linkKeyOf is the bill's latest linkKey, as the simulator's getEventCode recorded it.
func (e *e2e) linkKeyOf(t *testing.T, id string) string {
	t.Helper()
	b, ok := e.stack.Sim.Bill("OA", id)
	if !ok || b.LinkKey == "" {
		t.Fatalf("the simulator has no linkKey for OA/%s", id)
	}
	return b.LinkKey
}
