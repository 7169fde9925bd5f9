package itest

import (
	"testing"

	"github.com/shopspring/decimal"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// TestLineFieldsReachTheCloud: lines and a cover given at start, a line amended while collecting
// (billSave 30 at once), then used (60) and the voucher: the cloud holds the lines and the cover
// at every step.
func TestLineFieldsReachTheCloud(t *testing.T) {
	eachCloud(t, func(t *testing.T, cloud cloudMode) {
		s := newStack(t, 24, cloud)
		manual := false
		in := input("LN-1", workflows.Options{Approvals: []string{}, AutoSubmit: &manual})
		in.CoverData = &invoicecloud.CoverData{Base64: "JVBERi0xLjQK", CoveNo: "COV-LN-1", CoveType: "1"}
		run := s.start(in)
		id := run.GetID()
		serials := s.collect(s.collectURL(id).EventCode, 2)
		waitFor(t, "two invoices bound", func() bool { return state(t, id).InvoiceCount == 2 })
		cent := decimal.New(1, -2)
		mustUpdate(t, id, workflows.UpdateAmend, workflows.AmendRequest{Reason: "partial",
			Lines: []workflows.InvoiceLine{{SerialNo: serials[0], Amount: &cent, EntryID: "E-1"}, {SerialNo: serials[1], EntryID: "E-2"}}})
		holds := func(status string) {
			t.Helper()
			b, _ := s.sim.Bill("OA", "LN-1")
			if b.Cover == nil || b.Cover.CoveNo != "COV-LN-1" {
				t.Errorf("the cloud's cover: %+v", b.Cover)
			}
			for _, iv := range b.Invoices {
				want := map[string]string{serials[0]: "E-1", serials[1]: "E-2"}[iv.SerialNo]
				if iv.Status != status || iv.EntryID != want || (iv.SerialNo == serials[0]) != (iv.Amount == "0.01") {
					t.Errorf("the cloud holds %+v, want status %s entryId %s", iv, status, want)
				}
			}
		}
		holds(invoicecloud.StatusInUse)
		mustUpdate(t, id, workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
		waitStage(t, id, workflows.StageAwaitingVoucher)
		holds(invoicecloud.StatusUsed)
		mustUpdate(t, id, workflows.UpdateVoucher, voucher())
		var final workflows.BillState
		if err := run.Get(ctxT(t), &final); err != nil {
			t.Fatal(err)
		}
		if final.Stage != workflows.StageCompleted || len(final.Bill.Lines) != 2 {
			t.Fatalf("final %s with %d lines, want completed with 2", final.Stage, len(final.Bill.Lines))
		}
		record(t, id, "lines_amended_while_collecting")
	})
}
