package simulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
)

// billSave's line fields: checked against the invoice before anything changes, kept with the
// invoice and shown in the bill's and the invoice's views; a transfer out without its reason is
// refused in strict mode only [assumed].
func TestBillSaveLineFields(t *testing.T) {
	bothWays(t, "strict", "lenient", func(t *testing.T, strict bool) {
		h, tok, code := openBill(t, Options{Strict: strict}, "L1")
		sn := h.collect(code, 1)[0]
		inv, _ := h.sim.Invoice(sn)
		tax := inv.Invoice.TotalTaxAmount
		line := func(extra map[string]any) map[string]any {
			d := saveData("L1", StatusInUse)
			l := map[string]any{"serialNo": sn}
			for k, v := range extra {
				l[k] = v
			}
			d["invoiceData"] = []map[string]any{l}
			return d
		}
		status, resp := h.message(tok, "billSave", nextID("s"), line(map[string]any{"outputAmount": tax.Add(tax).StringFixed(2), "remark": "x"}))
		h.wantCode(status, resp, codeBadParam, "invoiceData[0].outputAmount")
		status, resp = h.message(tok, "billSave", nextID("s"), line(map[string]any{"outputAmount": "0.01"}))
		if strict {
			h.wantCode(status, resp, codeBadParam, "invoiceData[0].remark")
		} else {
			h.mustOK(status, resp)
		}
		if v, _ := h.sim.Invoice(sn); strict && v.BillID != "" {
			t.Fatalf("a refused billSave bound the invoice: %+v", v)
		}
		h.mustOK(h.message(tok, "billSave", nextID("s"), line(map[string]any{"amount": "1.50", "entryId": "E-7",
			"deductionTaxAmount": "0.10", "outputAmount": "0.05", "remark": "集体福利"})))
		b, _ := h.sim.Bill("ERP", "L1")
		if len(b.Invoices) != 1 {
			t.Fatalf("bill view: %+v", b)
		}
		got := b.Invoices[0]
		if got.Amount != "1.50" || got.EntryID != "E-7" || got.DeductionTaxAmount != "0.10" || got.OutputAmount != "0.05" || got.Remark != "集体福利" {
			t.Fatalf("bill view's line: %+v", got)
		}
		if v, _ := h.sim.Invoice(sn); v.DeductionTaxAmount != "0.10" || v.OutputAmount != "0.05" || v.Remark != "集体福利" || v.Amount != "1.50" {
			t.Fatalf("invoice view's line: %+v", v)
		}
	})
}

// billSave's attachData per line (the public page): kept with the invoice, shown in the bill's
// view, checked before anything changes.
func TestBillSaveAttachments(t *testing.T) {
	h, tok, code := openBill(t, Options{}, "AT1")
	sn := h.collect(code, 1)[0]
	with := func(attach ...map[string]any) map[string]any {
		d := saveData("AT1", StatusInUse)
		d["invoiceData"] = []map[string]any{{"serialNo": sn, "attachData": attach}}
		return d
	}
	status, resp := h.message(tok, "billSave", nextID("s"), with(map[string]any{"attachName": "a.pdf"}))
	h.wantCode(status, resp, codeBadParam, "invoiceData[0].attachData[0].attachUrl")
	status, resp = h.message(tok, "billSave", nextID("s"), with(map[string]any{"attachUrl": "https://x/a.pdf", "attachName": "a.pdf", "serialNo": "OTHER"}))
	h.wantCode(status, resp, codeBadParam, "invoiceData[0].attachData[0].serialNo")
	if v, _ := h.sim.Invoice(sn); v.BillID != "" {
		t.Fatalf("a refused billSave bound the invoice: %+v", v)
	}
	h.mustOK(h.message(tok, "billSave", nextID("s"), with(map[string]any{"attachUrl": "https://x/a.pdf", "attachName": "a.pdf",
		"attachType": "pdf", "attachNo": "A-1", "serialNo": sn})))
	b, _ := h.sim.Bill("ERP", "AT1")
	if len(b.Invoices) != 1 || len(b.Invoices[0].AttachData) != 1 {
		t.Fatalf("bill view: %+v", b.Invoices)
	}
	if a := b.Invoices[0].AttachData[0]; a.AttachURL != "https://x/a.pdf" || a.AttachName != "a.pdf" || a.AttachType != "pdf" || a.AttachNo != "A-1" {
		t.Fatalf("the attachment: %+v", a)
	}
}

// The image system takes at most ImageUploadMaxBytes of files with a submitter task [assumed].
func TestImageUploadLimit(t *testing.T) {
	h := newHarness(t, Options{ImageUploadMaxBytes: 10})
	tok := h.accessToken()
	h.boundBill(tok, "UL", 1)
	push := func(files ...string) (int, map[string]any) {
		var images []map[string]any
		for i, f := range files {
			images = append(images, map[string]any{"fileName": fmt.Sprintf("f%d.pdf", i), "fileType": "pdf",
				"base64": base64.StdEncoding.EncodeToString([]byte(f))})
		}
		return h.do(http.MethodPost, "/kapi/app/bds/erpBillPush", scanTaskBody("UL", "submitter", map[string]any{"scanPoint": "", "images": images}),
			map[string]string{"access_token": tok})
	}
	status, resp := push("123456", "12345")
	h.wantCode(status, resp, codeBadParam, "images")
	h.mustOK(push("123456", "1234"))
}
