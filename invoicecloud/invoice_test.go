package invoicecloud_test

import (
	"encoding/json"
	"strings"
	"testing"

	"rimflow/invoicecloud"
)

const sampleInvoice = `{"serialNo":"S-001","invoiceType":4,"invoiceCode":"4403231130","invoiceNo":"01234567",
 "invoiceDate":"2025-02-01","invoiceAmount":"1000.00","totalTaxAmount":130,"totalAmount":"1130.00",
 "taxRate":0.13,"invoiceStatus":"0","salerName":"卖方","salerTaxNo":"91440300MA5EXAMPLA",
 "buyerName":"买方","buyerTaxNo":"91110108MA01ABCD2H","vendorOnly":{"nested":[1,2,3]},"ocrScore":99.5,
 "items":[{"goodsName":"*信息技术服务*软件","num":"1","unitPrice":1000,"detailAmount":"1000.00","taxRate":"0.13",
           "taxAmount":130,"lineExtra":"x"}]}`

func TestInvoiceDecodeTolerant(t *testing.T) {
	var inv invoicecloud.Invoice
	if err := json.Unmarshal([]byte(sampleInvoice), &inv); err != nil {
		t.Fatal(err)
	}
	if inv.SerialNo != "S-001" || inv.InvoiceType != "4" || inv.TaxRate != "0.13" || inv.InvoiceStatus != "0" {
		t.Fatalf("scalars: %+v", inv)
	}
	if inv.InvoiceAmount.String() != "1000" || inv.TotalTaxAmount.String() != "130" || inv.TotalAmount.StringFixed(2) != "1130.00" {
		t.Fatalf("amounts: %v %v %v", inv.InvoiceAmount, inv.TotalTaxAmount, inv.TotalAmount)
	}
	if total, ok := inv.Total(); !ok || total.StringFixed(2) != "1130.00" {
		t.Fatalf("total: %v", total)
	}
	if len(inv.Items) != 1 || inv.Items[0].GoodsName != "*信息技术服务*软件" || inv.Items[0].UnitPrice.String() != "1000" ||
		inv.Items[0].TaxAmount.String() != "130" || inv.Items[0].TaxRate != "0.13" {
		t.Fatalf("items: %+v", inv.Items)
	}
	if !strings.Contains(string(inv.Raw), `"vendorOnly"`) || !strings.Contains(string(inv.Items[0].Raw), `"lineExtra"`) {
		t.Fatal("Raw lost unknown fields")
	}
}

func TestInvoiceRoundTripIsLossless(t *testing.T) {
	var inv invoicecloud.Invoice
	if err := json.Unmarshal([]byte(sampleInvoice), &inv); err != nil {
		t.Fatal(err)
	}
	// As in a Temporal payload: marshal the containing struct, decode it again.
	b, err := json.Marshal(invoicecloud.Message{InvoiceData: []invoicecloud.Invoice{inv}, Via: "socket"})
	if err != nil {
		t.Fatal(err)
	}
	var back invoicecloud.Message
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var want, got any
	_ = json.Unmarshal([]byte(sampleInvoice), &want)
	_ = json.Unmarshal(back.InvoiceData[0].Raw, &got)
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	if string(wb) != string(gb) {
		t.Fatalf("round trip changed the record:\n%s\n%s", wb, gb)
	}
	if back.InvoiceData[0].TotalAmount.StringFixed(2) != "1130.00" || back.Via != "socket" {
		t.Fatalf("decoded fields after round trip: %+v", back)
	}
}

func TestInvoiceWithoutRawMarshalsKnownFields(t *testing.T) {
	inv := invoicecloud.Invoice{SerialNo: "S9", InvoiceType: "27", InvoiceAmount: dec("12.30")}
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"serialNo":"S9"`) || !strings.Contains(string(b), `"invoiceAmount":"12.3"`) {
		t.Fatalf("marshal: %s", b)
	}
	var back invoicecloud.Invoice
	if err := json.Unmarshal(b, &back); err != nil || back.InvoiceAmount.StringFixed(2) != "12.30" {
		t.Fatalf("back: %+v %v", back, err)
	}
}

func TestInvoiceOddShapes(t *testing.T) {
	for _, in := range []string{
		`{"serialNo":123456,"invoiceAmount":"","totalTaxAmount":null,"taxRate":"13%","invoiceType":null,"items":"none"}`,
		`{"invoiceAmount":"abc","items":[1,"x",{"num":"2"}]}`,
		`{"invoiceAmount":"1e999999999"}`,
		`{}`,
	} {
		var inv invoicecloud.Invoice
		if err := json.Unmarshal([]byte(in), &inv); err != nil {
			t.Errorf("%s: %v", in, err)
		}
		if string(inv.Raw) != in {
			t.Errorf("Raw = %s", inv.Raw)
		}
	}
	var inv invoicecloud.Invoice
	_ = json.Unmarshal([]byte(`{"serialNo":123456,"invoiceAmount":"abc","taxRate":"13%","items":[1,{"num":"2"}]}`), &inv)
	if inv.SerialNo != "123456" || inv.InvoiceAmount != nil || inv.TaxRate != "13%" || len(inv.Items) != 1 || inv.Items[0].Num.String() != "2" {
		t.Fatalf("odd shapes decoded as %+v", inv)
	}
	if err := json.Unmarshal([]byte(`[1]`), &inv); err == nil {
		t.Fatal("an array is not an invoice")
	}
}

func TestDecodeMessage(t *testing.T) {
	payload := `{"invoiceData":[` + sampleInvoice + `,{"serialNo":"S-002","invoiceAmount":5}],
		"attachData":[{"attachUrl":"https://x/a.pdf","attachType":1,"attachNo":"A1","attachName":"a.pdf"}],"extra":true}`
	m, err := invoicecloud.DecodeMessage([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.InvoiceData) != 2 || m.InvoiceData[1].SerialNo != "S-002" || len(m.AttachData) != 1 || m.AttachData[0].AttachType != "1" {
		t.Fatalf("%+v", m)
	}
	// Double-encoded (a JSON string holding the JSON) as some gateways forward it.
	quoted, _ := json.Marshal(payload)
	if m2, err := invoicecloud.DecodeMessage(quoted); err != nil || len(m2.InvoiceData) != 2 {
		t.Fatalf("double-encoded: %v %+v", err, m2)
	}
	// A handshake answer is a message without invoices, not an error.
	if m3, err := invoicecloud.DecodeMessage([]byte(`{"handshake":true}`)); err != nil || len(m3.InvoiceData) != 0 {
		t.Fatalf("handshake: %v %+v", err, m3)
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"invoiceData":`, `null`} {
		if _, err := invoicecloud.DecodeMessage([]byte(bad)); err == nil {
			t.Errorf("%q decoded without error", bad)
		}
	}
}

func TestDecodePoll(t *testing.T) {
	ok := `{"errcode":"0000","description":"成功","data":{"msgId":1001,"data":{"eventType":"push-invoice","type":"saveBill",
	  "data":{"data":[` + sampleInvoice + `],"invoicesAmount":"1000.00","invoicesTaxAmount":"130.00"}}}}`
	m, err := invoicecloud.DecodePoll([]byte(ok))
	if err != nil || m == nil {
		t.Fatalf("%v %v", m, err)
	}
	if m.MsgID != "1001" || m.Via != "poll" || len(m.InvoiceData) != 1 || m.InvoiceData[0].SerialNo != "S-001" {
		t.Fatalf("%+v", m)
	}
	if m, err := invoicecloud.DecodePoll([]byte(`{"errcode":"1307","description":"没有数据","data":""}`)); m != nil || err != nil {
		t.Fatalf("1307: %v %v", m, err)
	}
	_, err = invoicecloud.DecodePoll([]byte(`{"errcode":"1001","description":"key: 参数错误"}`))
	if e := asError(t, err); e.Code != "1001" || e.Retryable {
		t.Fatalf("business code: %+v", e)
	}
	_, err = invoicecloud.DecodePoll([]byte(`<html>bad gateway</html>`))
	if e := asError(t, err); !e.Retryable {
		t.Fatalf("garbage must be retryable: %+v", e)
	}
}

func asError(t *testing.T, err error) *invoicecloud.Error {
	t.Helper()
	e, ok := err.(*invoicecloud.Error)
	if !ok {
		t.Fatalf("want *invoicecloud.Error, got %T %v", err, err)
	}
	return e
}
