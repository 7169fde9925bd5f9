package simulator

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Benchmarks of the simulator's own cost, so load tests can tell its share from rimflow's.
// Compare BenchmarkBillSaveHandler (in process) with BenchmarkBillSaveHTTP (loopback) for the
// network share, and BenchmarkCollectPage for the page rendering.

func benchSetup(b *testing.B) (*harness, string, []string) {
	h := newHarness(b, Options{Seed: 1})
	tok := h.accessToken()
	code := h.eventCode(tok, "BENCH")
	return h, tok, h.collect(code, 3)
}

func billSaveBody(serials []string, id int) string {
	return fmt.Sprintf(`{"messageType":"billSave","messageId":"b-%d","data":{"billId":"BENCH","resource":"ERP","billNo":"BX-1","billType":"er_dailyreimbursebill","billTaxNo":"91440300MA5G9GK78Y","status":"30","invoiceData":[{"serialNo":%q},{"serialNo":%q},{"serialNo":%q}]}}`,
		id, serials[0], serials[1], serials[2])
}

func BenchmarkBillSaveHandler(b *testing.B) {
	h, tok, serials := benchSetup(b)
	handler := h.sim.Handler()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/kapi/app/rim/message", strings.NewReader(billSaveBody(serials, i)))
		req.Header.Set("access_token", tok)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if !strings.Contains(rec.Body.String(), `"0000"`) {
			b.Fatal(rec.Body.String())
		}
	}
}

func BenchmarkBillSaveHTTP(b *testing.B) {
	h, tok, serials := benchSetup(b)
	client := h.srv.Client()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/kapi/app/rim/message", strings.NewReader(billSaveBody(serials, i)))
		req.Header.Set("access_token", tok)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
}

func BenchmarkCollectPage(b *testing.B) {
	h, tok, _ := benchSetup(b)
	code := h.eventCode(tok, "PAGE")
	handler := h.sim.Handler()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/index.html?formId="+formCollectPC+"&eventCode="+code, nil))
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
