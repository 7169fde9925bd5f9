package invoicecloud_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
	"rimflow/invoicecloud/ultimate"
)

// harness runs the real simulator on a loopback HTTP server and drives its /__sim/ test
// interface over HTTP, the way any other program would.
type harness struct {
	t      *testing.T
	sim    *simulator.Sim
	srv    *httptest.Server
	cfg    ultimate.Config // legacy credentials matching the simulator's defaults
	stdCfg standard.Config // the standard tenant stdTenant (buyerTaxNo)

	mu       sync.Mutex
	observed map[string]int // "name/outcome" -> count, from Config.Observe
}

var billSeq atomic.Int64

// stdTenant is the harness's standard-edition enterprise: the buyer of newBill's bills.
func stdTenant() simulator.Tenant {
	return simulator.Tenant{Edition: simulator.EditionStandard, Name: "北京示例科技有限公司", TaxNo: buyerTaxNo,
		ClientID: "STD-CLIENT-1", ClientSecret: "std-secret-0001", EncryptKey: "k9Vq2mX7pL4sR8tB"}
}

// newHarness runs the simulator with its ultimate tenant and, unless opts lists tenants,
// stdTenant next to it.
func newHarness(t *testing.T, opts simulator.Options) *harness {
	t.Helper()
	if opts.Tenants == nil {
		opts.Tenants = []simulator.Tenant{stdTenant()}
	}
	sim := simulator.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	cred := simulator.DefaultCredentials()
	h := &harness{t: t, sim: sim, srv: srv, observed: map[string]int{}}
	h.cfg = ultimate.Config{
		BaseURL: srv.URL + "/", AppID: cred.AppID, AppSecret: cred.AppSecret, TenantID: cred.TenantID,
		AccountID: cred.AccountID, User: cred.User,
		Timeout: 10 * time.Second, PollHold: 10 * time.Second,
		Observe: func(name, outcome string, _ time.Duration) {
			h.mu.Lock()
			h.observed[name+"/"+outcome]++
			h.mu.Unlock()
		},
	}
	st := stdTenant()
	h.stdCfg = standard.Config{
		BaseURL: srv.URL, TaxNo: st.TaxNo, CompanyName: st.Name, ClientID: st.ClientID, ClientSecret: st.ClientSecret,
		EncryptKey: st.EncryptKey, Timeout: 10 * time.Second, PollHold: 10 * time.Second, Observe: h.cfg.Observe,
	}
	return h
}

// standard builds a standard-edition client; mutate adjusts the stdTenant config.
func (h *harness) standard(mutate func(*standard.Config)) *standard.Client {
	h.t.Helper()
	return build(h.t, h.stdCfg, mutate, standard.New)
}

func (h *harness) observedCount(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.observed[key]
}

// client builds a client against the simulator; mutate adjusts the legacy default config.
func (h *harness) client(mutate func(*ultimate.Config)) *ultimate.Client {
	h.t.Helper()
	return build(h.t, h.cfg, mutate, ultimate.New)
}

// build makes a client of either edition from cfg as mutate adjusts it.
func build[C, T any](t *testing.T, cfg C, mutate func(*C), newClient func(C) (T, error)) T {
	t.Helper()
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := newClient(cfg)
	if err != nil {
		t.Fatalf("new %T: %v", c, err)
	}
	return c
}

func oauth2(cfg *ultimate.Config) {
	cred := simulator.DefaultCredentials()
	*cfg = ultimate.Config{
		BaseURL: cfg.BaseURL, AuthMode: ultimate.AuthOAuth2, ClientID: cred.ClientID, ClientSecret: cred.ClientSecret,
		Username: cred.Username, AccountID: cred.AccountID, Timeout: cfg.Timeout, PollHold: cfg.PollHold, Observe: cfg.Observe,
	}
}

// simJSON calls the /__sim/ interface and decodes the answer into out.
func (h *harness) simJSON(method, path string, body any, out any) int {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

func (h *harness) stats() simulator.Stats {
	var st simulator.Stats
	if code := h.simJSON(http.MethodGet, "/__sim/stats", nil, &st); code != http.StatusOK {
		h.t.Fatalf("stats: HTTP %d", code)
	}
	return st
}

func (h *harness) setFaults(f map[string]any) {
	if code := h.simJSON(http.MethodPost, "/__sim/faults", f, nil); code != http.StatusOK {
		h.t.Fatalf("faults %v: HTTP %d", f, code)
	}
}

func (h *harness) clearFaults() {
	if code := h.simJSON(http.MethodDelete, "/__sim/faults", nil, nil); code != http.StatusOK {
		h.t.Fatalf("clear faults: HTTP %d", code)
	}
}

// collect imports count compliant sample invoices for eventCode, as the user's 「导入单据」 does.
// The delivered records are decoded with the client's own Invoice decoder.
func (h *harness) collect(eventCode string, count int) []invoicecloud.Invoice {
	h.t.Helper()
	var res struct {
		Delivered []invoicecloud.Invoice `json:"delivered"`
	}
	if code := h.simJSON(http.MethodPost, "/__sim/collect", map[string]any{"eventCode": eventCode, "count": count}, &res); code != http.StatusOK {
		h.t.Fatalf("collect: HTTP %d", code)
	}
	if len(res.Delivered) != count {
		h.t.Fatalf("collect delivered %d invoices, want %d", len(res.Delivered), count)
	}
	return res.Delivered
}

func (h *harness) bill(resource, billID string) simulator.BillView {
	h.t.Helper()
	var v simulator.BillView
	if code := h.simJSON(http.MethodGet, "/__sim/bills/"+resource+"/"+billID, nil, &v); code != http.StatusOK {
		h.t.Fatalf("bill %s/%s: HTTP %d", resource, billID, code)
	}
	return v
}

func (h *harness) invoice(serialNo string) simulator.InvoiceView {
	h.t.Helper()
	var v simulator.InvoiceView
	if code := h.simJSON(http.MethodGet, "/__sim/invoices/"+serialNo, nil, &v); code != http.StatusOK {
		h.t.Fatalf("invoice %s: HTTP %d", serialNo, code)
	}
	return v
}

// testBill is one bill of the ERP with its eventCode request.
type testBill struct {
	req invoicecloud.EventCodeRequest
}

func newBill(pushType string) testBill {
	n := billSeq.Add(1)
	return testBill{req: invoicecloud.EventCodeRequest{
		BillID: fmt.Sprintf("B%d", n), Resource: "ERP", BillNo: fmt.Sprintf("BX-%04d", n), BillType: "er_dailyreimbursebill",
		BillTaxNo: buyerTaxNo, PushType: pushType, UserID: "u-1", LinkKey: fmt.Sprintf("link-%d-%d", n, time.Now().UnixNano()),
		CompanyInfo: []invoicecloud.Company{{TaxNo: buyerTaxNo, Name: "北京示例科技有限公司"}},
	}}
}

func (b testBill) saveRequest(status string, invs []invoicecloud.Invoice) invoicecloud.BillSaveRequest {
	r := invoicecloud.BillSaveRequest{BillID: b.req.BillID, Resource: b.req.Resource, BillNo: b.req.BillNo,
		BillType: b.req.BillType, BillTaxNo: b.req.BillTaxNo, Status: status}
	for _, inv := range invs {
		r.InvoiceData = append(r.InvoiceData, invoicecloud.BillInvoice{SerialNo: inv.SerialNo})
	}
	return r
}

func (b testBill) msgID(step string) string {
	return "bill:" + b.req.Resource + ":" + b.req.BillID + ":" + step
}

// collectAndPoll opens bill b, collects n invoices for it and polls them: the eventCode, the
// collected invoices and the polled message (not receipted).
func collectAndPoll(t *testing.T, h *harness, c *ultimate.Client, b testBill, n int) (string, []invoicecloud.Invoice, *invoicecloud.Message) {
	t.Helper()
	ec := eventCode(t, c, b)
	invs := h.collect(ec, n)
	msg, err := c.Poll(context.Background(), b.req.LinkKey)
	if err != nil || msg == nil {
		t.Fatalf("Poll: %+v %v", msg, err)
	}
	if len(msg.InvoiceData) != n || msg.InvoiceData[0].SerialNo != invs[0].SerialNo {
		t.Fatalf("polled %v, collected %v", serialsOf(msg.InvoiceData), serialsOf(invs))
	}
	return ec, invs, msg
}

// eventCode issues the bill's eventCode (standard: userKey) and fails the test on error.
func eventCode(t *testing.T, c invoicecloud.Cloud, b testBill) string {
	t.Helper()
	ec, err := c.GetEventCode(context.Background(), b.msgID("ec"), b.req)
	if err != nil {
		t.Fatalf("GetEventCode: %v", err)
	}
	return ec.EventCode
}

func mustError(t *testing.T, err error) *invoicecloud.Error {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got nil")
	}
	var e *invoicecloud.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *invoicecloud.Error, got %T: %v", err, err)
	}
	return e
}

// noSecrets fails when an error text carries a credential or token.
func noSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error text leaks a secret: %v", err)
		}
	}
}
