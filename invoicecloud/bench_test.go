package invoicecloud_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/ultimate"
)

// The client's overhead (validation, token cache, JSON envelope, classification) is measured
// against a bare net/http POST of the same billSave body to the same simulator. Compare the two
// ns/op values: go test -run '^$' -bench 'ClientCall|BareHTTP' ./invoicecloud/

// benchSetup starts a simulator with one bill whose invoices are collected, so billSave succeeds.
func benchSetup(b *testing.B) (*httptest.Server, *ultimate.Client, testBill, []invoicecloud.Invoice) {
	b.Helper()
	sim := simulator.New(simulator.Options{Seed: 99})
	srv := httptest.NewServer(sim.Handler())
	b.Cleanup(func() { sim.Close(); srv.Close() })
	cred := simulator.DefaultCredentials()
	c, err := ultimate.New(ultimate.Config{BaseURL: srv.URL, AppID: cred.AppID, AppSecret: cred.AppSecret,
		TenantID: cred.TenantID, AccountID: cred.AccountID, User: cred.User})
	if err != nil {
		b.Fatal(err)
	}
	bill := newBill("poll")
	ec, err := c.GetEventCode(context.Background(), bill.msgID("ec"), bill.req)
	if err != nil {
		b.Fatal(err)
	}
	invs, err := sim.Collect(ec.EventCode, 3)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]invoicecloud.Invoice, len(invs))
	for i, inv := range invs {
		out[i].SerialNo = inv.SerialNo
	}
	return srv, c, bill, out
}

func BenchmarkClientCall(b *testing.B) {
	_, c, bill, invs := benchSetup(b)
	req := bill.saveRequest(invoicecloud.StatusInUse, invs)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.BillSave(ctx, fmt.Sprintf("client-%d", i), req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBareHTTP(b *testing.B) {
	srv, _, bill, invs := benchSetup(b)
	token := bareLogin(b, srv.URL)
	req := bill.saveRequest(invoicecloud.StatusInUse, invs)
	hc := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body, _ := json.Marshal(map[string]any{"messageType": "billSave", "messageId": fmt.Sprintf("bare-%d", i), "data": req})
		r, _ := http.NewRequest(http.MethodPost, srv.URL+"/kapi/app/rim/message", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("access_token", token)
		resp, err := hc.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(out, []byte(`"success":"true"`)) {
			b.Fatalf("billSave: %s", out)
		}
	}
}

// bareLogin performs the legacy two-step login with plain net/http.
func bareLogin(b *testing.B, base string) string {
	b.Helper()
	cred := simulator.DefaultCredentials()
	post := func(path string, body map[string]string, field string) string {
		raw, _ := json.Marshal(body)
		resp, err := http.Post(base+path, "application/json", bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var a struct {
			Data map[string]any `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			b.Fatal(err)
		}
		v, _ := a.Data[field].(string)
		if v == "" {
			b.Fatalf("%s: no %s in %v", path, field, a.Data)
		}
		return v
	}
	app := post("/api/getAppToken.do", map[string]string{"appId": cred.AppID, "appSecuret": cred.AppSecret,
		"tenantid": cred.TenantID, "accountId": cred.AccountID, "language": "zh_CN"}, "app_token")
	return post("/api/login.do", map[string]string{"user": cred.User, "apptoken": app, "tenantid": cred.TenantID,
		"accountId": cred.AccountID, "usertype": "Mobile"}, "access_token")
}
