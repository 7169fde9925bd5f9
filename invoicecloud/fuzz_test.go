package invoicecloud_test

import (
	"encoding/json"
	"errors"
	"testing"

	"rimflow/invoicecloud"
)

// Socket payloads come from the network (or an ERP forwarding them): decoding must never panic,
// and whatever decodes must survive the JSON round trip it takes through Temporal payloads.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"invoiceData":[` + sampleInvoice + `],"attachData":[{"attachUrl":"u","attachType":"1"}]}`))
	f.Add([]byte(`{"handshake":true}`))
	f.Add([]byte(`"{\"invoiceData\":[{\"serialNo\":1}]}"`))
	f.Add([]byte(`{"invoiceData":[{"invoiceAmount":"1e99999999999"},{"items":{"a":1}},null,7]}`))
	f.Add([]byte(`{"invoiceData":"[{\"serialNo\":\"x\"}]","attachData":[1,{"attachNo":2}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := invoicecloud.DecodeMessage(b)
		if err != nil {
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("decoded message does not marshal: %v", err)
		}
		var back invoicecloud.Message
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decode: %v\n%s", err, out)
		}
		if len(back.InvoiceData) != len(m.InvoiceData) {
			t.Fatalf("round trip changed the invoice count %d -> %d", len(m.InvoiceData), len(back.InvoiceData))
		}
		for i := range m.InvoiceData {
			if back.InvoiceData[i].SerialNo != m.InvoiceData[i].SerialNo {
				t.Fatalf("serialNo changed: %q -> %q", m.InvoiceData[i].SerialNo, back.InvoiceData[i].SerialNo)
			}
		}
	})
}

// Poll answers: never panic; errors are *invoicecloud.Error; a message is marked as polled.
func FuzzDecodePoll(f *testing.F) {
	f.Add([]byte(`{"errcode":"0000","data":{"msgId":"m1","data":{"eventType":"push-invoice","type":"saveBill","data":{"data":[` + sampleInvoice + `],"invoicesAmount":1,"invoicesTaxAmount":"0.13"}}}}`))
	f.Add([]byte(`{"errcode":"1307","description":"没有数据"}`))
	f.Add([]byte(`{"errcode":1307}`))
	f.Add([]byte(`{"errcode":"0000","data":"{\"msgId\":1}"}`))
	f.Add([]byte(`{"errcode":"401","description":"access_token: token失效"}`))
	f.Add([]byte(`<html>502</html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := invoicecloud.DecodePoll(b)
		if err != nil {
			var e *invoicecloud.Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, want *invoicecloud.Error", err)
			}
			if m != nil {
				t.Fatal("message and error together")
			}
			return
		}
		if m != nil && m.Via != "poll" {
			t.Fatalf("Via = %q", m.Via)
		}
	})
}
