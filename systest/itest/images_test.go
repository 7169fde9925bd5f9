package itest

import (
	"slices"
	"testing"
	"time"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// The image system on the real server and simulator, in match mode: the bill creates its scan task
// at the scanning point and waits; the scanning post's mismatch returns the bill to collecting with
// the image system's lines; the next submit scans again in a new task, whose match completes the
// bill. Its history joins the replay tests.
func TestImageSystemMatch(t *testing.T) {
	s := newStack(t, 61, lenient)
	run := s.start(input("IMG-M", workflows.Options{Approvals: []string{}, ImageMode: workflows.ImageMatch,
		ScanPoint: "SP01", ScanPollEvery: workflows.Duration(time.Second)}))
	id := run.GetID()
	s.collect(s.collectURL(id).EventCode, 2)
	// The bill enters image_review first and then creates its scan task at the image system: the
	// scanning post can scan only once the task is there.
	waitFor(t, "the first round's scan task", func() bool {
		st := state(t, id)
		return st.Stage == workflows.StageImageReview && st.Scan != nil && st.Scan.TaskNo != ""
	})

	s.post("/__sim/scan", map[string]any{"resource": "OA", "billId": "IMG-M", "mismatch": true}, nil)
	back := waitStage(t, id, workflows.StageCollecting)
	if back.Scan == nil || back.Scan.Status != string(invoicecloud.ScanMismatch) || len(back.Scan.Problems) == 0 || back.InvoiceCount != 2 {
		t.Fatalf("after the mismatch: scan %+v, %d invoices", back.Scan, back.InvoiceCount)
	}
	first := back.Scan.TaskNo

	mustUpdate(t, id, workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
	// Until the second round's task is created the bill's view still shows the first round's.
	var again workflows.BillState
	waitFor(t, "the second round's scan task", func() bool {
		again = state(t, id)
		return again.Stage == workflows.StageImageReview && again.Scan != nil && again.Scan.TaskNo != first
	})
	if again.Scan.Status != string(invoicecloud.ScanPending) {
		t.Fatalf("the second round's task: %+v (the first was %s)", again.Scan, first)
	}
	s.post("/__sim/scan", map[string]any{"resource": "OA", "billId": "IMG-M", "asBound": true}, nil)
	waitStage(t, id, workflows.StageAwaitingVoucher)
	mustUpdate(t, id, workflows.UpdateVoucher, voucher())
	var final workflows.BillState
	if err := run.Get(ctxT(t), &final); err != nil {
		t.Fatalf("result: %v", err)
	}
	if final.Stage != workflows.StageCompleted || final.Scan == nil || final.Scan.Status != string(invoicecloud.ScanMatched) {
		t.Fatalf("final %s, scan %+v", final.Stage, final.Scan)
	}
	b := s.bill("IMG-M")
	if b.Status != invoicecloud.StatusUsed || len(b.Invoices) != 2 {
		t.Errorf("sim ledger %+v", b)
	}
	record(t, id, "image_system_match")
}

// Submitter mode with the image system: the submitter's images come with the images update while
// collecting and go with the scan task at submit; no scanning post, no image_review stage.
func TestImageSystemSubmitter(t *testing.T) {
	s := newStack(t, 62, lenient)
	auto := false
	run := s.start(input("IMG-S", workflows.Options{Approvals: []string{"supervisor"}, ImageMode: workflows.ImageSubmitter,
		ScanPoint: "SP01", AutoSubmit: &auto}))
	id := run.GetID()
	s.collect(s.collectURL(id).EventCode, 1)
	waitFor(t, "the invoice to be bound", func() bool { return state(t, id).InvoiceCount == 1 })
	mustUpdate(t, id, workflows.UpdateImages, workflows.ImagesRequest{ScanBillNo: "IMG-S",
		Uploads: []invoicecloud.ImageFile{{Name: "receipt.pdf", Type: "pdf", Base64: "JVBERi0xLjQK"}}})
	st := mustUpdate(t, id, workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
	if st.Scan == nil || st.Scan.Status != string(invoicecloud.ScanStored) || st.Scan.Images != 1 {
		t.Fatalf("the submitter's task: %+v", st.Scan)
	}
	mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
	waitStage(t, id, workflows.StageAwaitingVoucher)
	mustUpdate(t, id, workflows.UpdateVoucher, voucher())
	var final workflows.BillState
	if err := run.Get(ctxT(t), &final); err != nil {
		t.Fatalf("result: %v", err)
	}
	if final.Stage != workflows.StageCompleted {
		t.Fatalf("final %s", final.Stage)
	}
	if slices.ContainsFunc(final.History, func(h workflows.HistoryEntry) bool { return h.Stage == workflows.StageImageReview }) {
		t.Error("submitter mode entered image review")
	}
	record(t, id, "image_system_submitter")
}
