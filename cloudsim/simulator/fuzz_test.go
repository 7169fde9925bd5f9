package simulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Any body on the message API gets a JSON answer with success "true" or "false" — never a panic,
// never a half-applied change (checked by the invariant that bound invoices belong to their bill).
func FuzzMessageBody(f *testing.F) {
	f.Add(`{"messageType":"getEventCode","messageId":"1","data":{"billId":"A","resource":"ERP","billNo":"n","billType":"t","pushType":"socket","userId":"u","linkKey":"k"}}`)
	f.Add(`{"messageType":"billSave","messageId":"2","data":{"billId":"A","resource":"ERP","billNo":"n","billType":"t","billTaxNo":"x","status":30,"invoiceData":[{"serialNo":"s","amount":"1e400"}]}}`)
	f.Add(`{"messageType":"voucherSave","messageId":"3","data":{"serialNoArray":[1,2],"expenseIdArray":null}}`)
	f.Add(`{"messageType":"billDelete","messageId":"4","data":[]}`)
	f.Add(`{"messageType":{"x":1},"messageId":4}`)
	f.Add(`[]`)
	sim := New(Options{Seed: 1})
	h := sim.Handler()
	tok := fuzzToken(f, h)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/kapi/app/rim/message", strings.NewReader(body))
		req.Header.Set("access_token", tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("answer is not JSON: %q", rec.Body.String())
		}
		if s := answer["success"]; s != "true" && s != "false" {
			t.Fatalf("success = %v", s)
		}
		for _, inv := range sim.Invoices() {
			if inv.BillID == "" {
				continue
			}
			b, ok := sim.Bill(inv.Resource, inv.BillID)
			found := false
			for _, bi := range b.Invoices {
				found = found || bi.SerialNo == inv.SerialNo
			}
			if !ok || !found {
				t.Fatalf("invoice %s claims bill %s but the bill does not list it", inv.SerialNo, inv.BillID)
			}
		}
	})
}

func fuzzToken(f *testing.F, h http.Handler) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/getAppToken.do", strings.NewReader(
		`{"appId":"CASHINV","appSecuret":"12345678","tenantid":"devbiz","accountId":"1534920374578620490"}`)))
	var app struct {
		Data struct {
			AppToken string `json:"app_token"`
		}
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &app)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/login.do", strings.NewReader(
		`{"user":"13825207590","apptoken":"`+app.Data.AppToken+`","tenantid":"devbiz","accountId":"1534920374578620490"}`)))
	var acc struct {
		Data struct {
			AccessToken string `json:"access_token"`
		}
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &acc)
	if acc.Data.AccessToken == "" {
		f.Fatal("no token")
	}
	return acc.Data.AccessToken
}

// Any record given to /__sim/collect is either parsed into a consistent invoice or refused
// with an error naming a field under invoices[0].
func FuzzInvoiceRecord(f *testing.F) {
	f.Add(`{"invoiceAmount":"100","totalTaxAmount":"13"}`)
	f.Add(`{"totalAmount":1.005,"items":[{"num":"x"}]}`)
	f.Add(`{"totalAmount":"-3","invoiceAmount":null}`)
	f.Add(`"str"`)
	f.Fuzz(func(t *testing.T, raw string) {
		inv, err := parseInvoiceRecord("invoices[0]", json.RawMessage(raw))
		if err != nil {
			var fe *FieldError
			if !asFieldError(err, &fe) || !strings.HasPrefix(fe.Field, "invoices[0]") {
				t.Fatalf("error does not name a field: %v", err)
			}
			return
		}
		if !inv.InvoiceAmount.Add(inv.TotalTaxAmount).Equal(inv.TotalAmount) {
			t.Fatalf("inconsistent: %s + %s != %s", inv.InvoiceAmount, inv.TotalTaxAmount, inv.TotalAmount)
		}
		if _, err := json.Marshal(inv); err != nil {
			t.Fatalf("cannot encode: %v", err)
		}
	})
}
