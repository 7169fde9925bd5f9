package workflows_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// A bill keeps the limits it was started with (its enterprise's, frozen in its input): its
// attachments, its amended lines and its cover are bounded by them, not by the defaults; a bill
// without limits (started before they were frozen) is bounded by the defaults.
func TestBillKeepsTheLimitsItStartedWith(t *testing.T) {
	h := newHarness(t)
	var longEntry, longRemark, bigCover *updateResult
	var collecting workflows.BillState
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalDelivery, calls.Delivery{Via: workflows.ViaSocket, Digest: "d1",
				InvoiceData: []invoicecloud.Invoice{inv("S1", "001", "100.00", "13.00", true)},
				AttachData: []invoicecloud.Attach{{AttachURL: "https://img.example/att/a.pdf", AttachNo: "A-1"},
					{AttachURL: "https://img.example/att/b.pdf", AttachNo: "A-2"}}})
		},
		func() {
			longEntry = h.update(workflows.UpdateAmend, workflows.AmendRequest{Reason: "line",
				Lines: []workflows.InvoiceLine{{SerialNo: "S1", EntryID: "E-12345"}}})
			// 300 characters: above the default 200, within this bill's 400.
			longRemark = h.update(workflows.UpdateAmend, workflows.AmendRequest{Reason: "remark",
				Lines: []workflows.InvoiceLine{{SerialNo: "S1", EntryID: "E-1", Remark: strings.Repeat("r", 300)}}})
			bigCover = h.update(workflows.UpdateAmend, workflows.AmendRequest{Reason: "cover",
				CoverData: &invoicecloud.CoverData{Base64: base64.StdEncoding.EncodeToString(make([]byte, 2049)), CoveNo: "C1", CoveType: "1"}})
		},
		func() {
			collecting = h.state()
			h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"})
		},
	)
	in := bill(workflows.Options{AutoSubmit: falsePtr()})
	in.Limits = &invoicecloud.Limits{EntryIDLen: 5, RemarkLen: 400, CoverBytes: 2048, Attachments: 1}
	h.run(in)
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	eq(t, "attachments kept", len(collecting.Bill.AttachData), 1)
	if !hasNote(collecting, "over 1 per bill") {
		t.Errorf("the attachment over the bill's limit is not noted")
	}
	if longEntry.rejected == nil || !strings.Contains(longEntry.rejected.Error(), "lines[0].entryId: at most 5 characters") {
		t.Errorf("an entryId above the bill's limit: %v", longEntry.rejected)
	}
	if longRemark.rejected != nil || longRemark.err != nil {
		t.Errorf("a remark within the bill's limit: %v %v", longRemark.rejected, longRemark.err)
	}
	if bigCover.rejected == nil || !strings.Contains(bigCover.rejected.Error(), "coverData.base64: at most 2048 bytes") {
		t.Errorf("a cover above the bill's limit: %v", bigCover.rejected)
	}
	eq(t, "limits shown with the bill", *collecting.Bill.Limits, *in.Limits)
}

// The limits' own rules: unset fields take the defaults, nil is the defaults, each field is named
// outside 0 … its ceiling; the images' size is checked against the bill's limit and the error says
// so (the API answers it 413).
func TestLimitsDefaultsCeilingsAndUploads(t *testing.T) {
	var none *invoicecloud.Limits
	eq(t, "nil", none.Or(), invoicecloud.DefaultLimits)
	got := (&invoicecloud.Limits{UploadBytes: 10}).Or()
	want := invoicecloud.DefaultLimits
	want.UploadBytes = 10
	eq(t, "one set", got, want)
	for _, bad := range []invoicecloud.Limits{{EntryIDLen: -1}, {RemarkLen: 1001}, {CoverBytes: 1<<20 + 1}, {Attachments: 501}, {UploadBytes: 1<<20 + 1}} {
		if bad.Check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := invoicecloud.CeilingLimits.Check(); err != nil {
		t.Errorf("the ceiling: %v", err)
	}
	// A transfer out needs its reason unless the enterprise says the cloud takes it without one
	// (the vendor's table marks remark optional); an attachment's URL and name are bounded too.
	out := decimal.RequireFromString("1.00")
	line := []workflows.InvoiceLine{{SerialNo: "S1", OutputAmount: &out}}
	f := map[string]string{}
	if workflows.CheckLines(f, "lines", line, nil, nil); f["lines[0].remark"] == "" {
		t.Errorf("a transfer out without its reason by default: %v", f)
	}
	f = map[string]string{}
	if workflows.CheckLines(f, "lines", line, nil, &invoicecloud.Limits{OutputRemarkOptional: true}); len(f) != 0 {
		t.Errorf("a transfer out without its reason where the enterprise allows it: %v", f)
	}
	att := []invoicecloud.BillInvoiceAttach{{SerialNo: "S1", AttachURL: "https://img.example/" + strings.Repeat("a", 30), AttachName: strings.Repeat("n", 11)}}
	f = map[string]string{}
	if workflows.CheckAttachments(f, "attachData", att, &invoicecloud.Limits{AttachURLLen: 20, AttachNameLen: 10}); f["attachData[0].attachUrl"] == "" || f["attachData[0].attachName"] == "" {
		t.Errorf("an attachment above the bill's limits: %v", f)
	}
	f = map[string]string{}
	if workflows.CheckAttachments(f, "attachData", att, nil); len(f) != 0 {
		t.Errorf("an attachment within the defaults: %v", f)
	}
	file := invoicecloud.ImageFile{Name: "a.pdf", Type: "pdf", Base64: base64.StdEncoding.EncodeToString(make([]byte, 11))}
	f = map[string]string{}
	workflows.CheckUploads(f, []invoicecloud.ImageFile{file}, &invoicecloud.Limits{UploadBytes: 10})
	if !strings.Contains(f["uploads"], "at most 10") || !workflows.IsUploadTooLarge(f) {
		t.Errorf("images above the bill's limit: %v", f)
	}
	f = map[string]string{}
	if workflows.CheckUploads(f, []invoicecloud.ImageFile{file}, nil); len(f) != 0 || workflows.IsUploadTooLarge(f) {
		t.Errorf("images within the default: %v", f)
	}
}
