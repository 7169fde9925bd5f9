package simulator

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// A tenant whose image system matches from the pushes it received (ImageFromPushes), pushed to
// directly by the cloud (its PushTarget is the image system's address): a refused push is pushed
// again, the image system keeps what it accepted once, in order, and the match compares the scan
// with those invoices, not with the cloud's.
func TestImageSystemMatchesFromPushes(t *testing.T) {
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	clock := &fakeClock{t: testEpoch}
	tenant := stdTenantOpts()
	tenant.ImageFromPushes = true
	tenant.Push = []PushTarget{{Name: tenant.Name, TaxNo: tenant.TaxNo, ClientID: tenant.ClientID, URL: srv.URL + ImageSystemPrefix}}
	sim := New(Options{Seed: 5, Tenants: []Tenant{tenant}, Now: clock.Now, PollHold: 200 * time.Millisecond,
		PushRetryMin: 5 * time.Millisecond, PushRetryMax: 20 * time.Millisecond})
	handler = sim.Handler()
	t.Cleanup(func() { sim.Close(); srv.Close() })
	h := &harness{t: t, sim: sim, srv: srv, clock: clock}
	wait := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("no %s: pushes %+v, image pushes %+v", what, sim.Pushes(), sim.ImagePushes())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	if err := sim.SetFaults(Faults{ErrorRate: 1, MessageTypes: []string{ImagePushFault}}); err != nil {
		t.Fatal(err)
	}
	tok := h.stdToken()
	uk := h.stdOK(h.stdCall(tok, stdUserKeyPath, stdKey, userKeyBody("IP")))["userKey"].(string)
	collected := h.collect(uk, 2)
	wait("refused attempt", func() bool { return sim.Stats().PushFailures >= 2 })
	if got := sim.ImagePushes(); len(got) != 0 {
		t.Fatalf("the image system refused, yet keeps %+v", got)
	}
	sim.ClearFaults()
	wait("delivered push", func() bool { return sim.Pushes()[0].Delivered })
	got := sim.ImagePushes()
	if len(got) != 1 || got[0].MsgID != sim.Pushes()[0].MsgID || got[0].TaxNo != stdTaxNo || got[0].Resource != "ERP" ||
		got[0].BillID != "IP" || !slices.Equal(got[0].SerialNos, collected) {
		t.Fatalf("image pushes %+v, want the one push of %v for ERP/IP", got, collected)
	}
	if n := sim.Stats().ImageSystemEndpoints["/"]; n < 3 {
		t.Fatalf("push address requests: %d, want the refused attempts and the accepted one", n)
	}

	// The match: a task needs no bound invoice here (the cloud's are not what it reads) …
	h.stdOK(h.stdCall(tok, "/m4/bds/erpBillPush", stdKey, scanTaskBody("IP", "match", map[string]any{"tin": stdTaxNo, "billTaxNo": stdTaxNo})))
	sim.mu.Lock()
	var paper []ScannedInvoice
	for _, sn := range collected {
		inv := sim.pool[sn].inv
		paper = append(paper, ScannedInvoice{InvoiceCode: inv.InvoiceCode, InvoiceNo: inv.InvoiceNo, TotalAmount: inv.TotalAmount})
	}
	sim.mu.Unlock()
	// … the scan of what was pushed matches, though the cloud bound nothing to the bill …
	if v, err := sim.Scan(ScanRequest{Resource: "ERP", BillID: "IP", Invoices: paper}); err != nil || v.Status != ScanMatched {
		t.Fatalf("scan of the pushed invoices: %+v, %v; want matched", v, err)
	}
	// … and a paper the image system was never pushed is extra, what is missing from it is missing.
	other := ScannedInvoice{InvoiceNo: "99999999", TotalAmount: paper[0].TotalAmount}
	v, err := sim.Scan(ScanRequest{Resource: "ERP", BillID: "IP", Invoices: []ScannedInvoice{paper[0], other}})
	if err != nil || v.Status != ScanMismatch || len(v.Lines) != 2 || v.Lines[0].Problem != "missing" || v.Lines[0].SerialNo != collected[1] ||
		v.Lines[1].Problem != "extra" || v.Lines[1].InvoiceNo != "99999999" {
		t.Fatalf("scan with one pushed invoice and one other: %+v, %v; want one missing, one extra", v, err)
	}
}
