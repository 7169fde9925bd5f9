package simulator

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// boundBill opens an ultimate bill, collects n invoices and binds them at 30.
func (h *harness) boundBill(tok, billID string, n int) []string {
	h.t.Helper()
	serials := h.collect(h.eventCode(tok, billID), n)
	h.mustOK(h.message(tok, "billSave", nextID("save"), saveData(billID, StatusInUse, serials...)))
	return serials
}

func scanTaskBody(billID, mode string, extra map[string]any) map[string]any {
	b := map[string]any{"requestId": nextID("scan"), "scanBillNo": billID, "resource": "ERP", "billNo": "BX-" + billID,
		"billType": "er_dailyreimbursebill", "billTaxNo": "91440300MA5G9GK78Y", "imageMode": mode, "scanPoint": DefaultScanPoint.ID}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func (h *harness) scanStatus(tok, billID string) map[string]any {
	h.t.Helper()
	return h.mustOK(h.do(http.MethodPost, "/kapi/app/bds/operate", map[string]any{"operateType": "queryBillStatus",
		"requestId": nextID("q"), "data": map[string]any{"scanBillNo": billID, "resource": "ERP"}}, map[string]string{"access_token": tok}))
}

func TestImageSystemModes(t *testing.T) {
	h := newHarness(t, Options{Seed: 5})
	tok := h.accessToken()
	push := func(body map[string]any) (int, map[string]any) {
		return h.do(http.MethodPost, "/kapi/app/bds/erpBillPush", body, map[string]string{"access_token": tok})
	}

	t.Run("basic stores what is scanned", func(t *testing.T) {
		h.boundBill(tok, "IB", 2)
		d := h.mustOK(push(scanTaskBody("IB", "basic", nil)))
		if d["status"] != ScanPending || d["taskNo"] == "" {
			t.Fatalf("task: %v", d)
		}
		if s := h.scanStatus(tok, "IB"); s["status"] != ScanPending {
			t.Fatalf("before the scan: %v", s)
		}
		status, v := h.post("/__sim/scan", map[string]any{"taskNo": d["taskNo"], "images": 4})
		if status != http.StatusOK || v["status"] != ScanStored || v["images"] != float64(4) {
			t.Fatalf("scan: HTTP %d %v", status, v)
		}
		if s := h.scanStatus(tok, "IB"); s["status"] != ScanStored || s["scannedAt"] == nil {
			t.Fatalf("after the scan: %v", s)
		}
	})
	t.Run("match compares with the bound invoices", func(t *testing.T) {
		serials := h.boundBill(tok, "IM", 3)
		h.mustOK(push(scanTaskBody("IM", "match", nil)))
		inv0, _ := h.sim.Invoice(serials[0])
		inv1, _ := h.sim.Invoice(serials[1])
		// The second invoice is missing, the first scanned with another amount, one extra.
		status, v := h.post("/__sim/scan", map[string]any{"resource": "ERP", "billId": "IM", "invoices": []map[string]any{
			{"invoiceNo": inv0.Invoice.InvoiceNo, "invoiceCode": inv0.Invoice.InvoiceCode, "totalAmount": inv0.Invoice.TotalAmount.Add(inv0.Invoice.TotalAmount).String()},
			{"invoiceNo": "99999999", "totalAmount": "10.00"},
			{"invoiceNo": mustInvoice(t, h, serials[2]).InvoiceNo, "totalAmount": mustInvoice(t, h, serials[2]).TotalAmount.String()},
		}})
		if status != http.StatusOK || v["status"] != ScanMismatch {
			t.Fatalf("scan: HTTP %d %v", status, v)
		}
		problems := map[string]string{}
		for _, l := range v["matchResult"].([]any) {
			m := l.(map[string]any)
			problems[m["invoiceNo"].(string)] = m["problem"].(string)
		}
		want := map[string]string{inv0.Invoice.InvoiceNo: "amount", inv1.Invoice.InvoiceNo: "missing", "99999999": "extra"}
		if len(problems) != 3 || problems[inv0.Invoice.InvoiceNo] != want[inv0.Invoice.InvoiceNo] ||
			problems[inv1.Invoice.InvoiceNo] != "missing" || problems["99999999"] != "extra" {
			t.Fatalf("problems %v, want %v", problems, want)
		}
		// The user re-collects, the ERP pushes again, a perfect scan matches.
		h.mustOK(push(scanTaskBody("IM", "match", nil)))
		if _, v = h.post("/__sim/scan", map[string]any{"resource": "ERP", "billId": "IM", "asBound": true}); v["status"] != ScanMatched {
			t.Fatalf("a perfect scan: %v", v)
		}
		if s := h.scanStatus(tok, "IM"); s["status"] != ScanMatched || len(s["matchResult"].([]any)) != 0 {
			t.Fatalf("queryBillStatus: %v", s)
		}
	})
	t.Run("submitter has no scanning post", func(t *testing.T) {
		h.boundBill(tok, "IS", 1)
		d := h.mustOK(push(scanTaskBody("IS", "submitter", map[string]any{"scanPoint": "", "images": []map[string]any{
			{"fileName": "a.jpg", "fileType": "jpg", "base64": "aGVsbG8="}, {"fileName": "b.pdf", "fileType": "pdf", "base64": "aGVsbG8="}}})))
		if d["status"] != ScanStored {
			t.Fatalf("submitter task: %v", d)
		}
		if s := h.scanStatus(tok, "IS"); s["images"] != float64(2) {
			t.Fatalf("submitter images: %v", s)
		}
		if status, v := h.post("/__sim/scan", map[string]any{"resource": "ERP", "billId": "IS", "asBound": true}); status != http.StatusBadRequest || v["field"] != "taskNo" {
			t.Fatalf("scanning a submitter task: HTTP %d %v", status, v)
		}
	})
	t.Run("refusals name the field", func(t *testing.T) {
		h.boundBill(tok, "IR", 1)
		for _, tc := range []struct {
			field, code string
			body        map[string]any
		}{
			{"scanPoint", codeBadParam, scanTaskBody("IR", "basic", map[string]any{"scanPoint": "NOPE"})},
			{"imageMode", codeBadParam, scanTaskBody("IR", "fancy", nil)},
			{"images", codeBadParam, scanTaskBody("IR", "submitter", map[string]any{"scanPoint": ""})},
			{"images[0].base64", codeBadParam, scanTaskBody("IR", "submitter", map[string]any{"images": []map[string]any{{"fileName": "a", "fileType": "png", "base64": "!!"}}})},
			{"scanBillNo", CodeBillNotFound, scanTaskBody("NOBILL", "match", nil)},
		} {
			status, resp := push(tc.body)
			h.wantCode(status, resp, tc.code, tc.field)
		}
		if status, v := h.post("/__sim/scan", map[string]any{"taskNo": "nope", "asBound": true}); status != http.StatusNotFound {
			t.Fatalf("scan of an unknown task: HTTP %d %v", status, v)
		}
	})
}

func mustInvoice(t *testing.T, h *harness, serialNo string) Invoice {
	t.Helper()
	v, ok := h.sim.Invoice(serialNo)
	if !ok {
		t.Fatalf("invoice %s not in the pool", serialNo)
	}
	return v.Invoice
}

// The scanning post page, driven as a browser would: the form is pre-filled with the bill's
// invoices as on paper; the operator corrects one amount as misread and submits.
func TestScanPostPage(t *testing.T) {
	h := newHarness(t, Options{Seed: 6})
	tok := h.accessToken()
	h.boundBill(tok, "PG", 2)
	h.mustOK(h.do(http.MethodPost, "/kapi/app/bds/erpBillPush", scanTaskBody("PG", "match", nil), map[string]string{"access_token": tok}))
	taskNo := h.sim.ScanTasks()[0].TaskNo

	pageURL := "/__sim/scanpost?scanPoint=" + DefaultScanPoint.ID
	status, doc, raw := h.page(pageURL)
	if status != http.StatusOK || !strings.Contains(raw, "扫描") {
		t.Fatalf("scan post page: HTTP %d", status)
	}
	status, result := h.submitForm(pageURL, doc, "task-"+taskNo, nil)
	if st, _ := attr(byID(result, "result"), "data-status"); status != http.StatusOK || st != ScanMatched {
		t.Fatalf("scanning the paper as it is: HTTP %d, status %q", status, st)
	}

	// Again, misreading the first amount.
	_, doc, _ = h.page(pageURL)
	form := byID(doc, "task-"+taskNo)
	amounts := findAll(form, func(n *html.Node) bool { v, _ := attr(n, "name"); return v == "totalAmount" })
	for i := range amounts[0].Attr {
		if amounts[0].Attr[i].Key == "value" {
			amounts[0].Attr[i].Val = "0.01"
		}
	}
	_, result = h.submitForm(pageURL, doc, "task-"+taskNo, nil)
	if st, _ := attr(byID(result, "result"), "data-status"); st != ScanMismatch || !strings.Contains(text(byID(result, "lines")), "金额不一致") {
		t.Fatalf("a misread amount: status %q", st)
	}
	if v := h.sim.ScanTasks()[0]; v.Status != ScanMismatch || len(v.Lines) != 1 || v.Lines[0].Problem != "amount" {
		t.Fatalf("task after the page's scan: %+v", v)
	}
}

// The standard edition's image calls reach the same tasks, for the tenant's enterprise only.
func TestStandardImageCalls(t *testing.T) {
	h := newStdHarness(t, nil)
	tok := h.stdToken()
	h.stdOK(h.stdCall(tok, stdUserKeyPath, stdKey, userKeyBody("SI")))
	body := scanTaskBody("SI", "basic", map[string]any{"tin": stdTaxNo, "billTaxNo": stdTaxNo})
	h.stdOK(h.stdCall(tok, "/m4/bds/erpBillPush", stdKey, body))
	q := map[string]any{"tin": stdTaxNo, "operateType": "queryBillStatus", "requestId": "q", "data": map[string]any{"scanBillNo": "SI", "resource": "ERP"}}
	if d := h.stdOK(h.stdCall(tok, "/m4/bds/operate", stdKey, q)); d["status"] != ScanPending || d["edition"] != "standard" || d["enterprise"] != stdTaxNo {
		t.Fatalf("queryBillStatus: %v", d)
	}
	// The ultimate tenant does not see the standard enterprise's task, nor push onto its bill.
	ult := h.accessToken()
	status, resp := h.do(http.MethodPost, "/kapi/app/bds/operate", map[string]any{"operateType": "queryBillStatus", "requestId": "q",
		"data": map[string]any{"scanBillNo": "SI", "resource": "ERP"}}, map[string]string{"access_token": ult})
	h.wantCode(status, resp, CodeBillNotFound, "data.scanBillNo")
	status, resp = h.do(http.MethodPost, "/kapi/app/bds/erpBillPush", scanTaskBody("SI", "basic", nil), map[string]string{"access_token": ult})
	h.wantCode(status, resp, CodeBillNotFound, "scanBillNo")
	h.stdWant(h.stdCall(tok, "/m4/bds/operate", stdKey, map[string]any{"tin": stdTaxNo, "operateType": "other", "data": map[string]any{}}), codeUnknownType, "operateType")
}
