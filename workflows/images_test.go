package workflows_test

import (
	"strings"
	"testing"
	"time"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// Match mode with the image system: the bill creates the scan task at its scanning point and
// waits; a mismatch returns it to collecting with the image system's lines, the invoices stay
// bound, and the next submit scans again in a new task, whose match completes the bill.
func TestImageSystemMatchMismatchThenMatch(t *testing.T) {
	h := newHarness(t)
	var mismatch workflows.BillState
	opts := workflows.Options{Approvals: []string{}, ImageMode: workflows.ImageMatch, ScanPoint: "SP01",
		ScanPollEvery: workflows.Duration(10 * time.Second)}
	h.script(
		func() {
			h.deliver("socket", inv("S1", "001", "100", "13", false), inv("S2", "002", "50", "3", false))
		},
		func() {
			eq(t, "waiting for the scan", h.state().Stage, workflows.StageImageReview)
			h.scanDone(invoicecloud.ScanResult{TaskNo: "TASK1", Mode: invoicecloud.ImageMatch, Status: invoicecloud.ScanMismatch, Images: 1,
				Lines: []invoicecloud.ScanLine{{SerialNo: "S2", InvoiceNo: "002", Problem: "missing"}}})
		},
		func() {
			mismatch = h.state()
			h.update(workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
		},
		func() {
			h.scanDone(invoicecloud.ScanResult{TaskNo: "TASK2", Mode: invoicecloud.ImageMatch, Status: invoicecloud.ScanMatched, Images: 2})
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(opts))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "after the mismatch", mismatch.Stage, workflows.StageCollecting)
	if mismatch.Scan == nil || mismatch.Scan.Status != string(invoicecloud.ScanMismatch) || len(mismatch.Scan.Problems) != 1 ||
		mismatch.Scan.Problems[0] != "not scanned: 002" {
		t.Errorf("scan after the mismatch: %+v", mismatch.Scan)
	}
	if !hasNote(mismatch, "image mismatch (scan task TASK1): not scanned: 002") {
		t.Errorf("history lacks the mismatch: %+v", mismatch.History)
	}
	eq(t, "invoices stay bound", mismatch.InvoiceCount, 2)
	tasks := h.callsOf("CreateScanTask")
	eq(t, "scan tasks", len(tasks), 2)
	for _, c := range tasks {
		r := c.(calls.ScanTaskInput).Request
		if r.ScanPoint != "SP01" || r.Mode != invoicecloud.ImageMatch || r.BillTaxNo == "" || len(r.Images) != 0 {
			t.Errorf("scan task request %+v", r)
		}
	}
	if tasks[0].(calls.ScanTaskInput).RequestID == tasks[1].(calls.ScanTaskInput).RequestID {
		t.Error("the second scan task reused the first one's request id")
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
	if s.Scan == nil || s.Scan.TaskNo != "TASK2" || s.Scan.Status != string(invoicecloud.ScanMatched) || s.Scan.DoneAt == nil {
		t.Errorf("final scan %+v", s.Scan)
	}
	eq(t, "binds", h.count("BindInvoices"), 1)
}

// The ERP may still report the scan itself while the image system's task is pending (an ERP that
// owns its image system): the report decides and the wait for the image system ends.
func TestImageSystemERPReportWins(t *testing.T) {
	h := newHarness(t)
	h.script(
		func() { h.deliver("socket", inv("S1", "001", "100", "13", false)) },
		func() {
			h.update(workflows.UpdateImages, workflows.ImagesRequest{ScanBillNo: "SC1", Files: []string{"a.jpg"}})
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{Approvals: []string{}, ImageMode: workflows.ImageBasic, ScanPoint: "SP01"}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
	eq(t, "scan tasks", h.count("CreateScanTask"), 1)
	if !hasNote(s, "scan SC1 received (1 file(s))") {
		t.Errorf("history lacks the ERP's report: %+v", s.History)
	}
}

// Submitter mode with the image system: no scanning post and no image_review stage. The bill
// waits for the submitter's images before it submits, then sends them with the scan task.
func TestImageSystemSubmitterUploads(t *testing.T) {
	h := newHarness(t)
	var early, noImages *updateResult
	var waiting workflows.BillState
	h.script(
		func() { h.deliver("socket", inv("S1", "001", "100", "13", false)) },
		func() {
			waiting = h.state()
			early = h.update(workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
			noImages = h.update(workflows.UpdateImages, workflows.ImagesRequest{ScanBillNo: "SC1",
				Uploads: []invoicecloud.ImageFile{{Name: "a.pdf", Type: "gif", Base64: "not base64!"}}})
		},
		func() {
			h.update(workflows.UpdateImages, workflows.ImagesRequest{ScanBillNo: "SC1",
				Uploads: []invoicecloud.ImageFile{{Name: "receipt.pdf", Type: "pdf", Base64: "JVBERi0xLjQK"}}})
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{Approvals: []string{}, ImageMode: workflows.ImageSubmitter, ScanPoint: "SP01"}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "waits for the images", waiting.Stage, workflows.StageCollecting)
	if early.rejected == nil || !strings.Contains(early.rejected.Error(), "submitter's images") {
		t.Errorf("a submit without images: %+v", early)
	}
	if noImages.rejected == nil || !strings.Contains(noImages.rejected.Error(), "uploads[0].fileType") ||
		!strings.Contains(noImages.rejected.Error(), "uploads[0].base64") {
		t.Errorf("bad uploads: %+v", noImages)
	}
	tasks := h.callsOf("CreateScanTask")
	eq(t, "scan tasks", len(tasks), 1)
	r := tasks[0].(calls.ScanTaskInput).Request
	if r.Mode != invoicecloud.ImageSubmitter || r.ScanPoint != "" || len(r.Images) != 1 || r.Images[0].Name != "receipt.pdf" {
		t.Errorf("submitter task %+v", r)
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
	for _, e := range s.History {
		if e.Stage == workflows.StageImageReview {
			t.Errorf("submitter mode entered image review: %+v", e)
		}
	}
	if s.Scan == nil || s.Scan.Status != string(invoicecloud.ScanStored) || s.Scan.Images != 1 {
		t.Errorf("scan %+v", s.Scan)
	}
	if s.Images == nil || len(s.Images.Uploads) != 0 {
		t.Errorf("the state carries the uploads: %+v", s.Images)
	}
	eq(t, "image-status polls", h.count("AwaitScan"), 0)
}

// Uploads need the image system: without a scanning point the ERP's own image system has them.
func TestUploadsNeedTheImageSystem(t *testing.T) {
	h := newHarness(t)
	var r *updateResult
	h.script(
		func() { h.deliver("socket", inv("S1", "001", "100", "13", false)) },
		func() {
			r = h.update(workflows.UpdateImages, workflows.ImagesRequest{ScanBillNo: "SC1",
				Uploads: []invoicecloud.ImageFile{{Name: "receipt.pdf", Type: "pdf", Base64: "JVBERi0xLjQK"}}})
		},
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over", By: "u1"}) },
	)
	h.run(bill(workflows.Options{Approvals: []string{}, ImageMode: workflows.ImageSubmitter}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	if r.rejected == nil || !strings.Contains(r.rejected.Error(), "uploads: only in submitter mode with the image system") {
		t.Errorf("uploads without an image system: %+v", r)
	}
}
