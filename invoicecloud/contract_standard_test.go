package invoicecloud_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
)

// What only the standard edition has: its signed token, encrypt_key, one client per enterprise,
// cloud-issued linkKeys.

func TestStandardSignaturesOfEveryEncType(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 30})
	for _, enc := range []standard.EncType{standard.EncMD5, standard.EncSHA256, standard.EncHMACSHA256} {
		c := h.standard(func(c *standard.Config) { c.EncType = enc })
		if err := c.CheckLogin(context.Background()); err != nil {
			t.Fatalf("encType %d: %v", enc, err)
		}
	}
	if st := h.stats(); st.TokensIssued.Standard != 3 || st.AuthFailures != 0 || st.StandardCalls[standard.CallGetLinkKey] != 3 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestStandardRefusalsNameTheField(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 31})
	other := "91310115MA1K4QXN5A" // a well-formed tax number this client id is not authorised for
	cases := []struct {
		name, field, code string
		mutate            func(*standard.Config)
	}{
		{"unknown client id", "clientId", simulator.StdUnknownClient, func(c *standard.Config) { c.ClientID = "NOPE" }},
		{"wrong secret", "clientSecret", simulator.StdBadSign, func(c *standard.Config) { c.ClientSecret = "wrong-secret-9" }},
		{"wrong encrypt_key", "encryptKey", simulator.StdUndecryptable, func(c *standard.Config) { c.EncryptKey = "WRONGKEY-0123456" }},
		{"company the credentials do not match", "taxNo", simulator.StdWrongCompany, func(c *standard.Config) { c.TaxNo = other }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := h.standard(tc.mutate)
			for _, call := range []func() error{
				func() error { return c.CheckLogin(context.Background()) },
				func() error {
					b := newBill("poll")
					b.req.BillTaxNo, b.req.CompanyInfo = "", nil // the client's enterprise
					_, err := c.GetEventCode(context.Background(), b.msgID("ec"), b.req)
					return err
				},
			} {
				err := call()
				e := mustError(t, err)
				if e.Field != tc.field || e.Code != tc.code || e.Retryable {
					t.Fatalf("want a non-retryable error naming %s (code %s), got %+v", tc.field, tc.code, e)
				}
				noSecrets(t, err, "wrong-secret-9", "WRONGKEY-0123456", "std-secret-0001", "k9Vq2mX7pL4sR8tB")
			}
		})
	}
	if st := h.stats(); st.EventCodesIssued != 0 {
		t.Fatal("a refused call opened a bill")
	}
}

func TestStandardBillOfAnotherEnterpriseNeverLeaves(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 32})
	c := h.standard(nil)
	b := newBill("poll")
	b.req.BillTaxNo = testTaxNo
	_, err := c.GetEventCode(context.Background(), b.msgID("ec"), b.req)
	if e := mustError(t, err); e.Field != "billTaxNo" || e.Retryable {
		t.Fatalf("a bill of another enterprise: %+v", e)
	}
	if st := h.stats(); len(st.StandardCalls) != 0 || st.TokensIssued.Standard != 0 {
		t.Fatalf("something was sent: %+v", st)
	}
}

func TestStandardPlaintextCalls(t *testing.T) {
	plainTenant := stdTenant()
	plainTenant.PlaintextCalls = []string{standard.CallGetUserKey}
	t.Run("the tenant wants it encrypted", func(t *testing.T) {
		h := newHarness(t, simulator.Options{Seed: 33})
		c := h.standard(func(c *standard.Config) { c.PlaintextCalls = []string{standard.CallGetUserKey} })
		_, err := c.GetEventCode(context.Background(), "ec", newBill("poll").req)
		if e := mustError(t, err); e.Code != simulator.StdUndecryptable || e.Field != "encryptKey" {
			t.Fatalf("a plain body where encryption is required: %+v", e)
		}
	})
	t.Run("the tenant takes it in clear", func(t *testing.T) {
		h := newHarness(t, simulator.Options{Seed: 33, Tenants: []simulator.Tenant{plainTenant}})
		c := h.standard(func(c *standard.Config) { c.PlaintextCalls = []string{standard.CallGetUserKey} })
		b := newBill("poll")
		if _, err := c.GetEventCode(context.Background(), "ec", b.req); err != nil {
			t.Fatal(err)
		}
		// The other calls stay encrypted and are accepted.
		invs := h.collect(eventCode(t, c, b), 1)
		if err := c.BillSave(context.Background(), "s", b.saveRequest(invoicecloud.StatusInUse, invs)); err != nil {
			t.Fatal(err)
		}
	}) // The image system's operate path serves two calls: the scanning-point list may travel in clear
	// while the scan queries stay encrypted, on both sides.
	t.Run("only the scanning-point list in clear", func(t *testing.T) {
		tenant := stdTenant()
		tenant.PlaintextCalls = []string{invoicecloud.CallQueryScanPoints}
		h := newHarness(t, simulator.Options{Seed: 35, Tenants: []simulator.Tenant{tenant}})
		c := h.standard(func(c *standard.Config) { c.PlaintextCalls = []string{invoicecloud.CallQueryScanPoints} })
		if points, err := c.ScanPoints(context.Background(), "sp-clear"); err != nil || len(points) == 0 {
			t.Fatalf("the scanning points in clear: %+v %v", points, err)
		}
		encrypted := h.standard(nil)
		if _, err := encrypted.ScanPoints(context.Background(), "sp-sealed"); err != nil {
			t.Fatalf("the scanning points sealed: %v", err)
		}
	})
}

// A tenant that only accepts the linkKeys it issued: a request without a linkKey gets one from
// getLinkKey, answered in EventCodeResponse.LinkKey, and Watch on it receives the import.
func TestStandardCloudIssuedLinkKey(t *testing.T) {
	tenant := stdTenant()
	tenant.RequireIssuedLinkKey = true
	h := newHarness(t, simulator.Options{Seed: 34, PollHold: 200 * time.Millisecond, Tenants: []simulator.Tenant{tenant}})
	c := h.standard(nil)
	ctx := context.Background()

	b := newBill("poll")
	_, err := c.GetEventCode(ctx, "ec-own", b.req)
	if e := mustError(t, err); e.Field != "linkKey" || e.Code != simulator.StdBadParam {
		t.Fatalf("a linkKey the cloud did not issue: %+v", e)
	}
	b.req.LinkKey = ""
	ec, err := c.GetEventCode(ctx, "ec", b.req)
	if err != nil || !strings.HasPrefix(ec.LinkKey, "LK") {
		t.Fatalf("GetEventCode without a linkKey: %+v %v", ec, err)
	}
	w := startWatch(t, c, ec.LinkKey, invoicecloud.WatchOptions{})
	w.waitState(invoicecloud.WatchPolling)
	collected := h.collectURL(ec.Pages.CollectPC, 2)
	sameSerials(t, w.next().InvoiceData, collected)
	// The next code for the bill keeps the key.
	b.req.LinkKey = ec.LinkKey
	again, err := c.GetEventCode(ctx, "ec-2", b.req)
	if err != nil || again.LinkKey != ec.LinkKey {
		t.Fatalf("re-issue: %+v %v", again, err)
	}
}

// Two standard enterprises on one simulator: an invoice collected under one cannot be bound
// under the other, and the cloud shows it bound under the right one.
func TestStandardEnterprisesAreSeparate(t *testing.T) {
	other := simulator.Tenant{Edition: simulator.EditionStandard, Name: "上海浦东示范贸易有限公司", TaxNo: testTaxNo,
		ClientID: "STD-CLIENT-2", ClientSecret: "std-secret-0002", EncryptKey: "0123456789abcdef"}
	h := newHarness(t, simulator.Options{Seed: 35, Tenants: []simulator.Tenant{stdTenant(), other}})
	ctx := context.Background()
	mine := h.standard(nil)
	theirs := h.standard(func(c *standard.Config) {
		c.TaxNo, c.CompanyName, c.ClientID, c.ClientSecret, c.EncryptKey = other.TaxNo, other.Name, other.ClientID, other.ClientSecret, other.EncryptKey
	})
	b := newBill("poll")
	invs := h.collect(eventCode(t, mine, b), 2)
	if err := mine.BillSave(ctx, "s", b.saveRequest(invoicecloud.StatusInUse, invs)); err != nil {
		t.Fatal(err)
	}

	foreign := newBill("poll")
	foreign.req.BillTaxNo, foreign.req.CompanyInfo = testTaxNo, []invoicecloud.Company{{TaxNo: testTaxNo, Name: other.Name}}
	eventCode(t, theirs, foreign)
	save := foreign.saveRequest(invoicecloud.StatusInUse, invs)
	save.BillTaxNo = testTaxNo
	e := mustError(t, theirs.BillSave(ctx, "s", save))
	if e.Code != simulator.StdNotInPool || e.Field != "invoices[0].serialNo" {
		t.Fatalf("binding another enterprise's invoice: %+v", e)
	}
	// Nor may it touch the first enterprise's bill: to it that bill does not exist, so its unbind
	// has nothing to do — and the first enterprise's invoices stay bound (checked below).
	if err := theirs.Unbind(ctx, "u", invoicecloud.UnbindRequest{BillID: b.req.BillID, Resource: "ERP", BillType: b.req.BillType}); err != nil {
		t.Fatalf("unbinding another enterprise's bill: %v, want nothing done", err)
	}
	var all struct {
		Invoices []simulator.InvoiceView `json:"invoices"`
	}
	h.simJSON(http.MethodGet, "/__sim/invoices", nil, &all)
	bound := 0
	for _, v := range all.Invoices {
		if v.BillID == "" {
			continue
		}
		bound++
		if v.BillID != b.req.BillID || v.Enterprise != buyerTaxNo || v.Edition != simulator.EditionStandard || v.Status != "30" {
			t.Fatalf("invoice bound elsewhere: %+v", v)
		}
	}
	if bound != 2 {
		t.Fatalf("%d invoices bound, want 2", bound)
	}
}

// With a socket configured, the standard client's Watch uses it first, like the ultimate one.
func TestStandardWatchOverASocket(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 36})
	c := h.standard(func(c *standard.Config) { c.Paths.Socket = "/msgwatch/" })
	b := newBill("socket")
	ec := eventCode(t, c, b)
	w := startWatch(t, c, b.req.LinkKey, invoicecloud.WatchOptions{Silence: time.Hour})
	w.waitState(invoicecloud.WatchConnected)
	collected := h.collect(ec, 2)
	m := w.next()
	if m.Via != "socket" {
		t.Fatalf("message: %+v", m)
	}
	sameSerials(t, m.InvoiceData, collected)
}

// Watch delivers each import once, on either edition (ultimate: socket; standard: long poll with
// a receipt per message).
func TestContractWatchDeliversOnce(t *testing.T) {
	eachEdition(t, simulator.Options{Seed: 37, PollHold: 200 * time.Millisecond}, func(t *testing.T, h *harness, ed edition) {
		c := ed.client(h)
		b := newBill("socket")
		ec := eventCode(t, c, b)
		w := startWatch(t, c, b.req.LinkKey, invoicecloud.WatchOptions{Silence: time.Hour})
		if ed.name == "ultimate" {
			w.waitState(invoicecloud.WatchConnected)
		} else {
			w.waitState(invoicecloud.WatchPolling)
		}
		first := h.collect(ec, 2)
		sameSerials(t, w.next().InvoiceData, first)
		second := h.collect(ec, 1)
		sameSerials(t, w.next().InvoiceData, second)
		if ed.name == "standard" {
			h.waitStats("both receipts were sent", func(st simulator.Stats) bool { return st.Receipts == 2 })
		}
		w.stopWithNothingMore()
		if st := h.stats(); st.DeliveredBySocket+st.DeliveredByPoll != 2 {
			t.Fatalf("deliveries: %+v", st)
		}
	})
}

func TestNewStandardNamesTheBadConfigField(t *testing.T) {
	good := standard.Config{BaseURL: "https://api.piaozone.com", TaxNo: buyerTaxNo, CompanyName: "x",
		ClientID: "c", ClientSecret: "s", EncryptKey: "k9Vq2mX7pL4sR8tB"}
	if _, err := standard.New(good); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	for field, mutate := range map[string]func(*standard.Config){
		"baseURL":        func(c *standard.Config) { c.BaseURL = "api.piaozone.com" },
		"taxNo":          func(c *standard.Config) { c.TaxNo = "123" },
		"companyName":    func(c *standard.Config) { c.CompanyName = " " },
		"clientId":       func(c *standard.Config) { c.ClientID = "" },
		"clientSecret":   func(c *standard.Config) { c.ClientSecret = "" },
		"encryptKey":     func(c *standard.Config) { c.EncryptKey = "short" },
		"encType":        func(c *standard.Config) { c.EncType = 3 },
		"plaintextCalls": func(c *standard.Config) { c.PlaintextCalls = []string{"billSave"} },
		"timeout":        func(c *standard.Config) { c.Timeout = -time.Second },
		"paths.userKey":  func(c *standard.Config) { c.Paths.UserKey = "m4/fpzs/getUserKey" },
		"paths.socket":   func(c *standard.Config) { c.Paths.Socket = "msgwatch" },
	} {
		cfg := good
		mutate(&cfg)
		_, err := standard.New(cfg)
		assertFieldError(t, err, field)
		noSecrets(t, err, "k9Vq2mX7pL4sR8tB")
	}
}

// Nothing secret reaches the standard client's log: debug logging through refusals, a revoked
// token's re-authentication and a long poll.
func TestStandardLogsCarryNoSecret(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 38, PollHold: 50 * time.Millisecond})
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := h.standard(func(c *standard.Config) { c.Logger = logger })
	ctx := context.Background()
	b := newBill("poll")
	eventCode(t, c, b)
	h.setFaults(map[string]any{"expireTokens": true})
	if _, err := c.Poll(ctx, b.req.LinkKey); err != nil {
		t.Fatal(err)
	}
	bad := h.standard(func(c *standard.Config) { c.Logger, c.EncryptKey = logger, "WRONGKEY-0123456" })
	_ = bad.CheckLogin(ctx)
	if !strings.Contains(buf.String(), "re-authenticating") {
		t.Fatalf("the debug log saw no re-authentication: %s", buf.String())
	}
	var tokens struct {
		Tokens []string `json:"tokens"`
	}
	h.simJSON(http.MethodGet, "/__sim/tokens", nil, &tokens)
	for _, secret := range append(tokens.Tokens, "std-secret-0001", "k9Vq2mX7pL4sR8tB", "WRONGKEY-0123456") {
		if strings.Contains(buf.String(), secret) {
			t.Fatalf("the log carries a secret or token: %s", buf.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
