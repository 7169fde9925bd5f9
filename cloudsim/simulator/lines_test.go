package simulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
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

// The simulator's [assumed] bounds on billSave (Options.Limits, rimflow's defaults unless set):
// an entryId, a remark, a cover or attachments above them are refused naming the field, with
// nothing bound; set higher they pass; negative leaves a field unchecked.
func TestBillSaveLimits(t *testing.T) {
	over := func(h *harness, tok, sn string, extra map[string]any) (int, map[string]any) {
		d := saveData("LM", StatusInUse)
		l := map[string]any{"serialNo": sn}
		for k, v := range extra {
			l[k] = v
		}
		d["invoiceData"] = []map[string]any{l}
		return h.message(tok, "billSave", nextID("s"), d)
	}
	attach := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"attachUrl": fmt.Sprintf("https://img.example/%d.pdf", i), "attachName": "a.pdf"}
		}
		return out
	}
	h, tok, code := openBill(t, Options{}, "LM")
	sn := h.collect(code, 1)[0]
	for field, extra := range map[string]map[string]any{
		"invoiceData[0].entryId":                  {"entryId": strings.Repeat("e", 65)},
		"invoiceData[0].remark":                   {"remark": strings.Repeat("r", 201)},
		"invoiceData[0].attachData":               {"attachData": attach(201)},
		"invoiceData[0].attachData[0].attachUrl":  {"attachData": []map[string]any{{"attachUrl": "https://img.example/" + strings.Repeat("u", 1010), "attachName": "a.pdf"}}},
		"invoiceData[0].attachData[0].attachName": {"attachData": []map[string]any{{"attachUrl": "https://img.example/a.pdf", "attachName": strings.Repeat("n", 201)}}},
	} {
		status, resp := over(h, tok, sn, extra)
		h.wantCode(status, resp, codeBadParam, field)
	}
	d := saveData("LM", StatusInUse)
	d["invoiceData"] = []map[string]any{{"serialNo": sn}}
	d["coverData"] = map[string]any{"base64": base64.StdEncoding.EncodeToString(make([]byte, 256<<10+1)), "coveNo": "C1", "coveType": "1"}
	status, resp := h.message(tok, "billSave", nextID("s"), d)
	h.wantCode(status, resp, codeBadParam, "coverData.base64")
	if v, _ := h.sim.Invoice(sn); v.BillID != "" {
		t.Fatalf("a refused billSave bound the invoice: %+v", v)
	}

	h, tok, code = openBill(t, Options{Limits: Limits{RemarkLen: 300, EntryIDLen: -1}}, "LM")
	sn = h.collect(code, 1)[0]
	h.mustOK(over(h, tok, sn, map[string]any{"remark": strings.Repeat("r", 300), "entryId": strings.Repeat("e", 1000)}))
}
