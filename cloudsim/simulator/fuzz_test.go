package simulator

import (
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Any body on the message API gets a JSON answer with success "true" or "false" — never a panic,
// never a half-applied change (checked by the invariant that a bound invoice and its bill agree,
// both ways). Invoices are in the pool before the seeds run, and the seeds bind, mark used,
// account, unbind and refuse them, so the invariant is checked on real bindings.
func FuzzMessageBody(f *testing.F) {
	sim := New(Options{Seed: 1})
	h := sim.Handler()
	tok := fuzzToken(f, h)
	post := func(body string) map[string]any {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/kapi/app/rim/message", strings.NewReader(body))
		req.Header.Set("access_token", tok)
		h.ServeHTTP(rec, req)
		var answer map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		return answer
	}
	opened := post(`{"messageType":"getEventCode","messageId":"open-A","data":{"billId":"A","resource":"ERP","billNo":"n","billType":"t","pushType":"socket","userId":"u","linkKey":"k","billTaxNo":"x"}}`)
	code, _ := opened["data"].(map[string]any)["eventCode"].(string)
	invs, err := sim.Collect(code, 3)
	if err != nil {
		f.Fatalf("collect invoices for the seeds: %v (getEventCode answered %v)", err, opened)
	}
	s0, s1, s2 := invs[0].SerialNo, invs[1].SerialNo, invs[2].SerialNo
	save := func(id, bill, status string, serials ...string) string {
		lines := make([]string, len(serials))
		for i, sn := range serials {
			lines[i] = `{"serialNo":"` + sn + `"}`
		}
		return `{"messageType":"billSave","messageId":"` + id + `","data":{"billId":"` + bill + `","resource":"ERP","billNo":"n","billType":"t","billTaxNo":"x","status":"` +
			status + `","invoiceData":[` + strings.Join(lines, ",") + `]}}`
	}
	f.Add(save("bind-A", "A", "30", s0, s1))
	f.Add(save("bind-B", "B", "30", s2))
	f.Add(save("steal", "B", "30", s0)) // bound to A: refused, nothing changes
	f.Add(save("used-A", "A", "60", s0, s1))
	f.Add(`{"messageType":"voucherSave","messageId":"v-A","data":{"vouchId":"V1","vouchNo":"1","accountDate":"2025-01-01","accountTime":"2025-01-01","businessDate":"2025-01-01","resource":"SAP","serialNoArray":["` + s0 + `"],"expenseIdArray":["A"]}}`)
	f.Add(`{"messageType":"billDelete","messageId":"del-B","data":{"billId":"B","resource":"ERP","billType":"t"}}`)
	f.Add(save("rebind-B", "B", "30", s2, s1)) // s1 is at 60 in A: refused whole
	f.Add(`{"messageType":"billSave","messageId":"2","data":{"billId":"A","resource":"ERP","billNo":"n","billType":"t","billTaxNo":"x","status":30,"invoiceData":[{"serialNo":"s","amount":"1e400"}]}}`)
	f.Add(`{"messageType":"voucherSave","messageId":"3","data":{"serialNoArray":[1,2],"expenseIdArray":null}}`)
	f.Add(`{"messageType":"billDelete","messageId":"4","data":[]}`)
	f.Add(`{"messageType":{"x":1},"messageId":4}`)
	f.Add(`[]`)
	var applied atomic.Int64
	f.Cleanup(func() {
		// With -fuzz the inputs run in worker processes: only a plain run counts its own.
		if fz := flag.Lookup("test.fuzz"); fz != nil && fz.Value.String() != "" {
			return
		}
		if applied.Load() == 0 {
			f.Error("no input bound an invoice: the invariant was never checked on a binding")
		}
	})
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
		bound := 0
		for _, inv := range sim.Invoices() {
			if inv.BillID == "" {
				continue
			}
			bound++
			b, ok := sim.Bill(inv.Resource, inv.BillID)
			found := false
			for _, bi := range b.Invoices {
				found = found || bi.SerialNo == inv.SerialNo
			}
			if !ok || !found {
				t.Fatalf("invoice %s claims bill %s but the bill does not list it", inv.SerialNo, inv.BillID)
			}
		}
		listed := 0
		for _, b := range sim.Bills() {
			for _, bi := range b.Invoices {
				listed++
				if inv, ok := sim.Invoice(bi.SerialNo); !ok || inv.BillID != b.BillID || inv.Resource != b.Resource || inv.Status != bi.Status {
					t.Fatalf("bill %s/%s lists %s (status %s) but the pool says bill %q status %q", b.Resource, b.BillID, bi.SerialNo, bi.Status, inv.BillID, inv.Status)
				}
			}
		}
		if bound != listed {
			t.Fatalf("%d invoices claim a bill, bills list %d", bound, listed)
		}
		if bound > 0 {
			applied.Add(1)
		}
	})
}

func fuzzToken(f *testing.F, h http.Handler) string {
	var app, acc struct {
		Data struct {
			AppToken    string `json:"app_token"`
			AccessToken string `json:"access_token"`
		}
	}
	post := func(path, body string, into any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
		_ = json.Unmarshal(rec.Body.Bytes(), into)
	}
	post("/api/getAppToken.do", `{"appId":"CASHINV","appSecuret":"12345678","tenantid":"devbiz","accountId":"1534920374578620490"}`, &app)
	post("/api/login.do", `{"user":"13825207590","apptoken":"`+app.Data.AppToken+`","tenantid":"devbiz","accountId":"1534920374578620490"}`, &acc)
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
