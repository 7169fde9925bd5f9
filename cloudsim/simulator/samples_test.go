package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestSameSeedSameSamplesCodesAndTokens(t *testing.T) {
	run := func(seed int64) (string, string, []SampleView) {
		h := newHarness(t, Options{Seed: seed})
		tok := h.accessToken()
		code := h.eventCode(tok, "A")
		s, err := h.sim.Samples(code)
		if err != nil {
			t.Fatal(err)
		}
		return tok, code, s
	}
	tok1, code1, s1 := run(99)
	tok2, code2, s2 := run(99)
	if tok1 != tok2 || code1 != code2 || !reflect.DeepEqual(jsonOf(t, s1), jsonOf(t, s2)) {
		t.Fatal("same seed, same calls: results differ")
	}
	_, code3, s3 := run(100)
	if code3 == code1 || s3[0].Invoice.SerialNo == s1[0].Invoice.SerialNo {
		t.Fatal("another seed should give other codes and samples")
	}
	// Samples depend on seed+bill, not on what other bills did first.
	h := newHarness(t, Options{Seed: 99})
	tok := h.accessToken()
	h.collect(h.eventCode(tok, "Z"), 5)
	s4, _ := h.sim.Samples(h.eventCode(tok, "A"))
	if !reflect.DeepEqual(jsonOf(t, s4), jsonOf(t, s1)) {
		t.Fatal("bill A's samples changed because bill Z was collected first")
	}
}

func jsonOf(t *testing.T, v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

var twoDecimals = regexp.MustCompile(`^-?\d+\.\d{2}$`)

func TestSamplesAreConsistentInvoices(t *testing.T) {
	h := newHarness(t, Options{Seed: 3})
	tok := h.accessToken()
	types := map[string]int{}
	serials := map[string]bool{}
	for b := 0; b < 40; b++ {
		code := h.eventCode(tok, fmt.Sprint("B", b))
		samples, _ := h.sim.Samples(code)
		nonCompliant := 0
		for i, sv := range samples {
			inv := sv.Invoice
			types[inv.InvoiceType]++
			if serials[inv.SerialNo] || len(inv.SerialNo) != 32 {
				t.Fatalf("serialNo %q duplicate or malformed", inv.SerialNo)
			}
			serials[inv.SerialNo] = true
			if !inv.InvoiceAmount.Add(inv.TotalTaxAmount).Equal(inv.TotalAmount) {
				t.Fatalf("%s: %s + %s != %s", inv.SerialNo, inv.InvoiceAmount, inv.TotalTaxAmount, inv.TotalAmount)
			}
			sumAmount, sumTax := decimal.Zero, decimal.Zero
			for _, it := range inv.Items {
				sumAmount, sumTax = sumAmount.Add(it.Amount), sumTax.Add(it.TaxAmount)
			}
			if !sumAmount.Equal(inv.InvoiceAmount) || !sumTax.Equal(inv.TotalTaxAmount) {
				t.Fatalf("%s: items do not add up", inv.SerialNo)
			}
			if !inv.InvoiceAmount.IsPositive() || inv.InvoiceAmount.Exponent() < -2 {
				t.Fatalf("%s: amount %s", inv.SerialNo, inv.InvoiceAmount)
			}
			if inv.BuyerTaxNo == "" || inv.SalerName == "" || inv.InvoiceNo == "" || inv.InvoiceDate == "" || inv.TaxRate == "" {
				t.Fatalf("%s: incomplete %+v", inv.SerialNo, inv)
			}
			if !sv.Compliant {
				nonCompliant++
				if i == 0 || inv.BuyerTaxNo == "91440300MA5G9GK78Y" || !strings.Contains(sv.Reason, "不合规") {
					t.Fatalf("bad non-compliant sample %d: %+v", i, sv)
				}
			} else if inv.BuyerTaxNo != "91440300MA5G9GK78Y" {
				t.Fatalf("compliant sample with buyer %s", inv.BuyerTaxNo)
			}
			// On the wire amounts are JSON numbers with two decimals.
			var wire map[string]json.RawMessage
			_ = json.Unmarshal([]byte(jsonOf(t, inv)), &wire)
			for _, k := range []string{"invoiceAmount", "totalTaxAmount", "totalAmount", "effectiveTaxAmount"} {
				if !twoDecimals.Match(wire[k]) {
					t.Fatalf("%s on the wire: %s", k, wire[k])
				}
			}
		}
		if nonCompliant != 1 {
			t.Fatalf("bill %d: %d non-compliant samples", b, nonCompliant)
		}
	}
	for _, typ := range []string{"4", "27", "26", "1", "9", "10"} {
		if types[typ] == 0 {
			t.Errorf("type %s (%s) never generated", typ, invoiceTypeName(typ))
		}
	}
}

func TestCollectGivenRecords(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")
	body := `{"eventCode":"` + code + `","invoices":[
		{"invoiceType":"4","invoiceAmount":"100.00","totalTaxAmount":13,"salerName":"甲","vendorField":{"k":1}},
		{"serialNo":"given-2","totalAmount":"50.5","buyerTaxNo":"91000000000000000K"},
		{"serialNo":"given-3","totalAmount":"10","invoiceStatus":"2"}
	],"attachData":[{"attachUrl":"http://x/a.pdf","attachType":"pdf","attachNo":"1","attachName":"a.pdf"}]}`
	status, resp := h.post("/__sim/collect", body)
	if status != http.StatusOK {
		t.Fatalf("%d %v", status, resp)
	}
	delivered := resp["delivered"].([]any)
	refused := resp["refused"].([]any)
	if len(delivered) != 1 || len(refused) != 2 {
		t.Fatalf("delivered %d refused %d: %v", len(delivered), len(refused), resp)
	}
	inv := delivered[0].(map[string]any)
	if len(inv["serialNo"].(string)) != 32 || inv["totalAmount"] != 113.0 || inv["buyerTaxNo"] != "91440300MA5G9GK78Y" {
		t.Fatalf("filled record: %v", inv)
	}
	if dig(inv, "vendorField", "k") != 1.0 {
		t.Fatalf("unknown fields must be kept: %v", inv)
	}
	if !strings.Contains(refused[0].(map[string]any)["reason"].(string), "不合规") {
		t.Fatalf("refusal: %v", refused[0])
	}
	// Socket gets the record and the attachment.
	ws := h.socket("lk-A", tok)
	msg := readMessage(t, ws)
	if serialsOf(msg["invoiceData"].([]any))[0] != inv["serialNo"] || len(msg["attachData"].([]any)) != 1 {
		t.Fatalf("socket message: %v", msg)
	}
	// A serialNo bound to another bill is refused when collected for a second bill.
	h.mustOK(h.message(tok, "billSave", nextID("g"), saveData("A", "30", inv["serialNo"].(string))))
	codeB := h.eventCode(tok, "B")
	_, resp = h.post("/__sim/collect", `{"eventCode":"`+codeB+`","invoices":[{"serialNo":"`+inv["serialNo"].(string)+`","totalAmount":"113.00","totalTaxAmount":"13.00"}]}`)
	if r := resp["refused"].([]any); len(r) != 1 || !strings.Contains(r[0].(map[string]any)["reason"].(string), "占用") {
		t.Fatalf("bound elsewhere: %v", resp)
	}
}

func TestReleaseAndListings(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	a := h.collect(h.eventCode(tok, "A"), 2)
	h.mustOK(h.message(tok, "billSave", nextID("r"), saveData("A", "30", a...)))
	status, v := h.post("/__sim/invoices/"+a[0]+"/release", nil)
	if status != http.StatusOK || v["status"] != "1" || v["billId"] != "" {
		t.Fatalf("release: %d %v", status, v)
	}
	if status, _ := h.post("/__sim/invoices/nope/release", nil); status != http.StatusNotFound {
		t.Fatalf("unknown release: %d", status)
	}
	_, bills := h.do(http.MethodGet, "/__sim/bills", nil, nil)
	_, invs := h.do(http.MethodGet, "/__sim/invoices", nil, nil)
	_, bill := h.do(http.MethodGet, "/__sim/bills/ERP/A", nil, nil)
	if len(bills["bills"].([]any)) != 1 || len(invs["invoices"].([]any)) != 2 || len(bill["invoices"].([]any)) != 1 {
		t.Fatalf("listings: %v / %v / %v", bills, invs, bill)
	}
	if status, _ := h.do(http.MethodGet, "/__sim/bills/ERP/nope", nil, nil); status != http.StatusNotFound {
		t.Fatal("unknown bill should be 404")
	}
	if status, _ := h.do(http.MethodGet, "/__sim/invoices/nope", nil, nil); status != http.StatusNotFound {
		t.Fatal("unknown invoice should be 404")
	}
	_, toks := h.do(http.MethodGet, "/__sim/tokens", nil, nil)
	found := false
	for _, v := range toks["tokens"].([]any) {
		found = found || v == tok
	}
	if !found {
		t.Fatal("/__sim/tokens should list the access token")
	}
	_, stats := h.do(http.MethodGet, "/__sim/stats", nil, nil)
	if dig(stats, "endpoints", "/kapi/app/rim/message") != 2.0 || dig(stats, "tokensIssued", "access") != 1.0 || dig(stats, "messageTypes", "billSave") != 1.0 {
		t.Fatalf("stats: %v", stats)
	}
}
