package invoicecloud_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
	"rimflow/invoicecloud/ultimate"
)

// Contract tests: the client against the real simulator over loopback HTTP. Each checks a call's
// success and its documented failures as the cloud answers them.

func TestContractBillLifecycle(t *testing.T) {
	eachEdition(t, simulator.Options{Seed: 7}, func(t *testing.T, h *harness, ed edition) {
		c := ed.client(h)
		ctx := context.Background()
		b := newBill("poll")

		ec, err := c.GetEventCode(ctx, b.msgID("ec"), b.req)
		if err != nil || ec.EventCode == "" || ec.LinkKey != b.req.LinkKey || ec.ValidFor <= 0 {
			t.Fatalf("GetEventCode: %+v %v", ec, err)
		}
		// The pages open with the code (single sign-on URLs built by the client).
		for _, u := range []string{ec.Pages.CollectPC, ec.Pages.CollectMobile} {
			openPage(t, u, `id="import"`)
		}
		for _, u := range []string{ec.Pages.ViewPC, ec.Pages.ViewMobile} {
			openPage(t, u, "<html")
		}

		// The user imports from the collect URL alone.
		collected := h.collectURL(ec.Pages.CollectPC, 3)
		msg, err := c.Poll(ctx, b.req.LinkKey)
		if err != nil || msg == nil {
			t.Fatalf("Poll: %v %v", msg, err)
		}
		if msg.Via != "poll" || msg.MsgID == "" || len(msg.InvoiceData) != 3 {
			t.Fatalf("polled message: %+v", msg)
		}
		for i, inv := range msg.InvoiceData {
			if inv.SerialNo != collected[i].SerialNo || inv.TotalAmount == nil || !inv.TotalAmount.Equal(*collected[i].TotalAmount) {
				t.Fatalf("invoice %d: polled %+v, collected %+v", i, inv, collected[i])
			}
			if len(inv.Raw) == 0 {
				t.Fatal("polled invoice lost its raw record")
			}
		}
		if err := c.Receipt(ctx, b.req.LinkKey, msg.MsgID); err != nil {
			t.Fatalf("Receipt: %v", err)
		}
		e := mustError(t, c.Receipt(ctx, b.req.LinkKey, "no-such-msg"))
		if e.Retryable || e.Code == "" {
			t.Fatalf("receipt for an unknown msgId: %+v", e)
		}

		// Bind in use (30), then used (60).
		save := b.saveRequest(invoicecloud.StatusInUse, msg.InvoiceData)
		save.InvoiceData[0].Amount = dec("1.00")
		if err := c.BillSave(ctx, b.msgID("save30"), save); err != nil {
			t.Fatalf("BillSave 30: %v", err)
		}
		view := h.bill(b.req.Resource, b.req.BillID)
		if view.Status != "30" || len(view.Invoices) != 3 || view.Invoices[0].Status != "30" ||
			view.Edition != simulator.Edition(ed.name) || view.Enterprise != buyerTaxNo {
			t.Fatalf("bill after billSave 30: %+v", view)
		}
		if amt := h.invoice(collected[0].SerialNo).Amount; !decimal.RequireFromString(amt).Equal(decimal.RequireFromString("1")) {
			t.Fatalf("reimbursed amount in the cloud: %q", amt)
		}
		// A retried BillSave (same messageId) leaves the bill as it was: the ultimate edition
		// recognises the messageId, the standard edition's calls set the same state again.
		if err := c.BillSave(ctx, b.msgID("save30"), save); err != nil {
			t.Fatalf("BillSave replay: %v", err)
		}
		again := h.bill(b.req.Resource, b.req.BillID)
		if again.Status != "30" || len(again.Invoices) != 3 || again.Invoices[0].Amount != view.Invoices[0].Amount {
			t.Fatalf("a retried BillSave changed the bill: %+v", again)
		}
		if ed.name == "ultimate" && again.BillSaveCalls != 1 {
			t.Fatalf("a replayed messageId was applied again: %d calls", again.BillSaveCalls)
		}
		if err := c.BillSave(ctx, b.msgID("save60"), b.saveRequest(invoicecloud.StatusUsed, msg.InvoiceData)); err != nil {
			t.Fatalf("BillSave 60: %v", err)
		}

		serials := []string{collected[0].SerialNo, collected[1].SerialNo, collected[2].SerialNo}
		v := invoicecloud.VoucherSaveRequest{VouchID: "V-" + b.req.BillID, VouchNo: "记-0001", AccountDate: "2025-03-31",
			AccountTime: "2025-03-31", BusinessDate: "2025-03-30", Resource: "SAP", SerialNoArray: serials, ExpenseIDArray: []string{b.req.BillID}}
		if err := c.VoucherSave(ctx, b.msgID("voucher"), v); err != nil {
			t.Fatalf("VoucherSave: %v", err)
		}
		view = h.bill(b.req.Resource, b.req.BillID)
		if view.Status != "60" || view.Voucher == nil || view.Voucher.VouchNo != "记-0001" || !view.Invoices[0].Accounted {
			t.Fatalf("bill after voucher: %+v", view)
		}
		// A bill with a voucher cannot be deleted: a business refusal.
		e = mustError(t, c.Unbind(ctx, b.msgID("unbind"), invoicecloud.UnbindRequest{BillID: b.req.BillID, Resource: "ERP", BillType: b.req.BillType}))
		if e.Retryable || e.Code != ed.code["accounted"] {
			t.Fatalf("unbind after voucher: %+v", e)
		}

		// Deduction selection of the bill's invoices (select, then undo).
		ded := invoicecloud.DeductionRequest{AuthenticateFlag: "1", TaxNo: buyerTaxNo, DeductionPurpose: "1", BillType: "0"}
		for _, inv := range msg.InvoiceData {
			ded.Invoices = append(ded.Invoices, deductionInvoice(inv))
		}
		res, err := c.Deduction(ctx, "ded:"+b.req.BillID, ded)
		if err != nil {
			t.Fatalf("Deduction: %v", err)
		}
		if res.TaskNo == "" || len(res.Success) != 3 {
			t.Fatalf("deduction result: %+v", res)
		}
		if d := h.invoice(serials[1]).Deduction; d == nil || !d.Selected || d.TaskNo != res.TaskNo {
			t.Fatalf("deduction state in the cloud: %+v", d)
		}
		ded.AuthenticateFlag = "0"
		if _, err := c.Deduction(ctx, "ded-undo:"+b.req.BillID, ded); err != nil {
			t.Fatalf("Deduction undo: %v", err)
		}
		if d := h.invoice(serials[1]).Deduction; d == nil || d.Selected {
			t.Fatalf("undo not recorded: %+v", d)
		}
		// A deduction for another enterprise's tax number is refused, not retried: by the
		// ultimate cloud, or by the standard client before sending (it serves one enterprise).
		ded.AuthenticateFlag, ded.TaxNo = "1", testTaxNo
		e = mustError(t, func() error { _, err := c.Deduction(ctx, "ded-other:"+b.req.BillID, ded); return err }())
		if e.Retryable || (ed.name == "ultimate" && e.Code != simulator.CodeDeductionNoMatch) || (ed.name == "standard" && e.Field != "taxNo") {
			t.Fatalf("deduction for a foreign tax number: %+v", e)
		}
		if h.observedCount("deduction/ok") != 2 || h.observedCount("auth/ok") != ed.perLogin {
			t.Fatalf("Observe saw %v", h.observed)
		}
	})
}

func deductionInvoice(inv invoicecloud.Invoice) invoicecloud.DeductionInvoice {
	return invoicecloud.DeductionInvoice{
		InvoiceType: inv.InvoiceType, InvoiceCode: inv.InvoiceCode, InvoiceNo: inv.InvoiceNo, InvoiceDate: inv.InvoiceDate,
		InvoiceAmount: *inv.InvoiceAmount, TotalTaxAmount: *inv.TotalTaxAmount, EffectiveTaxAmount: inv.EffectiveTaxAmount,
		SalerName: inv.SalerName, SalerTaxNo: inv.SalerTaxNo,
	}
}

func TestContractUnbindReleasesInvoices(t *testing.T) {
	eachEdition(t, simulator.Options{Seed: 8}, func(t *testing.T, h *harness, ed edition) {
		c := ed.client(h)
		ctx := context.Background()
		first, second := newBill("poll"), newBill("poll")
		invs := h.collect(eventCode(t, c, first), 2)
		if err := c.BillSave(ctx, first.msgID("save"), first.saveRequest(invoicecloud.StatusInUse, invs)); err != nil {
			t.Fatal(err)
		}
		eventCode(t, c, second)
		// Bound to the first bill: the second may not reimburse them.
		e := mustError(t, c.BillSave(ctx, second.msgID("save"), second.saveRequest(invoicecloud.StatusInUse, invs)))
		if e.Retryable || e.Code != ed.code["boundElsewhere"] || e.Field != ed.lines+"[0].serialNo" {
			t.Fatalf("serialNo bound to another bill: %+v", e)
		}
		if err := c.Unbind(ctx, first.msgID("unbind"), invoicecloud.UnbindRequest{BillID: first.req.BillID, Resource: "ERP", BillType: first.req.BillType}); err != nil {
			t.Fatalf("Unbind: %v", err)
		}
		if v := h.bill("ERP", first.req.BillID); !v.Unbound || len(v.Invoices) != 0 {
			t.Fatalf("bill after unbind: %+v", v)
		}
		if v := h.invoice(invs[0].SerialNo); v.Status != "1" || v.BillID != "" {
			t.Fatalf("invoice after unbind: %+v", v)
		}
		// Released: now the second bill can take them.
		if err := c.BillSave(ctx, second.msgID("save-2"), second.saveRequest(invoicecloud.StatusInUse, invs)); err != nil {
			t.Fatalf("BillSave after release: %v", err)
		}
		if v := h.invoice(invs[0].SerialNo); v.BillID != second.req.BillID || v.Enterprise != buyerTaxNo {
			t.Fatalf("invoice after the second bill took it: %+v", v)
		}
	})
}

func TestContractBusinessErrors(t *testing.T) {
	eachEdition(t, simulator.Options{Seed: 9}, func(t *testing.T, h *harness, ed edition) {
		c := ed.client(h)
		ctx := context.Background()
		b := newBill("poll")
		invs := h.collect(eventCode(t, c, b), 1)

		// voucherSave before the invoices are bound to the bill.
		e := mustError(t, c.VoucherSave(ctx, b.msgID("voucher"), invoicecloud.VoucherSaveRequest{
			VouchID: "V1", VouchNo: "1", AccountDate: "2025-01-01", AccountTime: "2025-01-01", BusinessDate: "2025-01-01",
			Resource: "SAP", SerialNoArray: []string{invs[0].SerialNo}, ExpenseIDArray: []string{b.req.BillID}}))
		if e.Retryable || e.Code != ed.code["voucherNotBound"] {
			t.Fatalf("voucherSave before binding: %+v", e)
		}
		saveErrors := ed.saveObserved(h, "error") // the standard VoucherSave is a status update too
		// An invoice that was never collected.
		r := b.saveRequest(invoicecloud.StatusInUse, invs)
		r.InvoiceData = append(r.InvoiceData, invoicecloud.BillInvoice{SerialNo: "NEVER-COLLECTED"})
		e = mustError(t, c.BillSave(ctx, b.msgID("unknown"), r))
		if e.Retryable || e.Code != ed.code["notInPool"] || e.Field != ed.lines+"[1].serialNo" {
			t.Fatalf("unknown serialNo: %+v", e)
		}
		// 60 → 30 is not allowed.
		if err := c.BillSave(ctx, b.msgID("60"), b.saveRequest(invoicecloud.StatusUsed, invs)); err != nil {
			t.Fatal(err)
		}
		e = mustError(t, c.BillSave(ctx, b.msgID("back-to-30"), b.saveRequest(invoicecloud.StatusInUse, invs)))
		if e.Retryable || e.Code != ed.code["badTransition"] {
			t.Fatalf("60 → 30: %+v", e)
		}
		// Unbinding a bill the cloud never saw: nothing is bound to it, so it is done (the saga of a
		// bill whose first bind never reached the cloud ends).
		if err := c.Unbind(ctx, "unbind-ghost", invoicecloud.UnbindRequest{BillID: "GHOST", Resource: "ERP", BillType: "x"}); err != nil {
			t.Fatalf("unbind of an unknown bill: %v, want done", err)
		}
		// Observe classified each business refusal of BillSave as "error".
		if n := ed.saveObserved(h, "error") - saveErrors; n != 2 {
			t.Fatalf("BillSave errors observed %d times: %v", n, h.observed)
		}
	})
}

func TestContractAuthFailuresNameTheField(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 10})
	cases := []struct {
		name   string
		field  string
		mutate func(*ultimate.Config)
	}{
		{"legacy accountId", "accountId", func(c *ultimate.Config) { c.AccountID = "999" }},
		{"legacy appId", "appId", func(c *ultimate.Config) { c.AppID = "NOPE" }},
		{"legacy appSecret", "appSecret", func(c *ultimate.Config) { c.AppSecret = "wrong-secret-1" }},
		{"legacy tenantId", "tenantId", func(c *ultimate.Config) { c.TenantID = "other" }},
		{"legacy user", "user", func(c *ultimate.Config) { c.User = "10000000000" }},
		{"oauth2 clientId", "clientId", func(c *ultimate.Config) { oauth2(c); c.ClientID = "NOPE" }},
		{"oauth2 clientSecret", "clientSecret", func(c *ultimate.Config) { oauth2(c); c.ClientSecret = "wrong-secret-2" }},
		{"oauth2 username", "username", func(c *ultimate.Config) { oauth2(c); c.Username = "nobody" }},
		{"oauth2 accountId", "accountId", func(c *ultimate.Config) { oauth2(c); c.AccountID = "999" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := h.client(tc.mutate)
			_, err := c.GetEventCode(context.Background(), "ec-auth", newBill("socket").req)
			e := mustError(t, err)
			if e.MessageType != "auth" || e.Field != tc.field || e.Retryable || e.Code == "" {
				t.Fatalf("want a non-retryable auth error naming %s, got %+v", tc.field, e)
			}
			noSecrets(t, err, "wrong-secret-1", "wrong-secret-2", "12345678")
		})
	}
	if st := h.stats(); st.MessageTypes["getEventCode"] != 0 {
		t.Fatal("a call went out without a token")
	}
}

// Each auth mode and token placement against the lenient simulator and its strict mode: the header
// (the default, and oauth2's only placement) passes everywhere, the long poll and its receipt
// included; a token in the URL passes the lenient reading only, and the strict refusal says where
// the token must travel without showing it.
func TestContractAuthModesAndPlacements(t *testing.T) {
	for _, strict := range []bool{false, true} {
		h := newHarness(t, simulator.Options{Seed: 11, Strict: strict, PollHold: 100 * time.Millisecond})
		modes := []struct {
			name   string
			mutate func(*ultimate.Config)
			kind   func(simulator.TokenCounts) int
		}{
			{"legacy header", nil, func(tc simulator.TokenCounts) int { return tc.Access }},
			{"legacy query", func(c *ultimate.Config) { c.TokenPlacement = ultimate.TokenInQuery }, func(tc simulator.TokenCounts) int { return tc.Access }},
			{"oauth2 header", oauth2, func(tc simulator.TokenCounts) int { return tc.OAuth2 }},
		}
		for _, m := range modes {
			t.Run(fmt.Sprintf("%s strict=%t", m.name, strict), func(t *testing.T) {
				before := m.kind(h.stats().TokensIssued)
				c := h.client(m.mutate)
				b := newBill("poll")
				if strict && m.mutate != nil && c.Config().TokenPlacement == ultimate.TokenInQuery {
					queryTokenRefused(t, h, c, b)
					return
				}
				ec, invs, msg := collectAndPoll(t, h, c, b, 1)
				ctx := context.Background()
				if err := c.Receipt(ctx, b.req.LinkKey, msg.MsgID); err != nil {
					t.Fatalf("Receipt: %v", err)
				}
				if err := c.BillSave(ctx, b.msgID("save"), b.saveRequest(invoicecloud.StatusInUse, invs)); err != nil {
					t.Fatalf("BillSave: %v", err)
				}
				if got := m.kind(h.stats().TokensIssued) - before; got != 1 {
					t.Fatalf("tokens issued for this client: %d, want 1", got)
				}
				// Strict: the linkKey delivered its one message and takes no more imports.
				if code := h.simJSON(http.MethodPost, "/__sim/collect", map[string]any{"eventCode": ec, "count": 1}, nil); strict != (code == http.StatusConflict) {
					t.Fatalf("import on a delivered linkKey (strict=%t): HTTP %d", strict, code)
				}
			})
		}
		// Only the strict refusals of the query placement: 3 calls, each retried once after re-authenticating.
		if st := h.stats(); st.TokenRejections != map[bool]int{false: 0, true: 6}[strict] {
			t.Fatalf("strict=%t: the simulator rejected %d tokens", strict, st.TokenRejections)
		}
	}
}

// queryTokenRefused checks that a client putting the token in the URL is refused by the strict
// simulator on a business call, the poll and the receipt.
func queryTokenRefused(t *testing.T, h *harness, c *ultimate.Client, b testBill) {
	t.Helper()
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"getEventCode": func() error { _, err := c.GetEventCode(ctx, b.msgID("ec"), b.req); return err },
		"poll":         func() error { _, err := c.Poll(ctx, b.req.LinkKey); return err },
		"receipt":      func() error { return c.Receipt(ctx, b.req.LinkKey, "1234") },
	} {
		err := call()
		e := mustError(t, err)
		if e.HTTPStatus != http.StatusUnauthorized || !strings.Contains(e.Message, "access_token") || !strings.Contains(e.Message, "header") {
			t.Fatalf("%s with the token in the URL: %+v", name, e)
		}
		noSecrets(t, err, h.sim.IssuedTokens()...)
	}
}

func TestContractConcurrentCallsShareOneToken(t *testing.T) {
	modes := []struct {
		name   string
		client func(h *harness) invoicecloud.Cloud
		issued func(simulator.TokenCounts) int
		want   int
		op     string
	}{
		{"legacy", func(h *harness) invoicecloud.Cloud { return h.client(nil) }, editions[0].tokens, 2, "getEventCode"}, // app_token + access_token
		{"oauth2", func(h *harness) invoicecloud.Cloud { return h.client(oauth2) }, editions[0].tokens, 1, "getEventCode"},
		{"standard", func(h *harness) invoicecloud.Cloud { return h.standard(nil) }, editions[1].tokens, 1, standard.CallGetUserKey},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, simulator.Options{Seed: 12})
			c := mode.client(h)
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					b := newBill("socket")
					_, err := c.GetEventCode(context.Background(), b.msgID("ec"), b.req)
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			st := h.stats()
			calls := st.MessageTypes[mode.op] + st.StandardCalls[mode.op]
			if got := mode.issued(st.TokensIssued); got != mode.want || calls != 100 || st.EventCodesIssued != 100 {
				t.Fatalf("100 concurrent calls: tokens %+v (want %d), %d calls", st.TokensIssued, mode.want, calls)
			}
		})
	}
}

func TestContractExpiredTokenIsRenewedOnce(t *testing.T) {
	logins := []struct {
		name     string
		client   func(h *harness) invoicecloud.Cloud
		tokens   func(simulator.TokenCounts) int
		perLogin int
	}{{"oauth2", func(h *harness) invoicecloud.Cloud { return h.client(oauth2) }, func(tc simulator.TokenCounts) int { return tc.OAuth2 }, 1}}
	for _, ed := range editions {
		logins = append(logins, struct {
			name     string
			client   func(h *harness) invoicecloud.Cloud
			tokens   func(simulator.TokenCounts) int
			perLogin int
		}{ed.name, func(h *harness) invoicecloud.Cloud { return ed.client(h) }, ed.tokens, ed.perLogin})
	}
	for _, l := range logins {
		t.Run("expireTokens fault, "+l.name, func(t *testing.T) {
			h := newHarness(t, simulator.Options{Seed: 13})
			c := l.client(h)
			eventCode(t, c, newBill("socket"))
			h.setFaults(map[string]any{"expireTokens": true})
			eventCode(t, c, newBill("socket")) // refused once, renewed, retried
			st := h.stats()
			if l.tokens(st.TokensIssued) != 2*l.perLogin || st.TokenRejections != 1 || st.EventCodesIssued != 2 {
				t.Fatalf("after revocation: %+v rejections=%d", st.TokensIssued, st.TokenRejections)
			}
		})
	}
	for _, ed := range editions {
		t.Run("TTL on the simulator clock, "+ed.name, func(t *testing.T) {
			// The skew allowed on the standard token's timestamp must cover the jump.
			h := newHarness(t, simulator.Options{Seed: 14, TokenTTL: 30 * time.Minute, OAuth2Skew: time.Hour})
			c := ed.client(h)
			eventCode(t, c, newBill("socket"))
			h.sim.Advance(31 * time.Minute) // the cloud's clock passes the expiry; ours does not know
			eventCode(t, c, newBill("socket"))
			eventCode(t, c, newBill("socket"))
			st := h.stats()
			if ed.tokens(st.TokensIssued) != 2*ed.perLogin || st.TokenRejections != 1 || st.EventCodesIssued != 3 {
				t.Fatalf("after expiry: %+v rejections=%d", st.TokensIssued, st.TokenRejections)
			}
		})
	}
	t.Run("query placement on the poll", func(t *testing.T) {
		h := newHarness(t, simulator.Options{Seed: 15, PollHold: 50 * time.Millisecond})
		c := h.client(func(c *ultimate.Config) { c.TokenPlacement = ultimate.TokenInQuery })
		b := newBill("poll")
		eventCode(t, c, b)
		h.setFaults(map[string]any{"expireTokens": true})
		if msg, err := c.Poll(context.Background(), b.req.LinkKey); err != nil || msg != nil {
			t.Fatalf("empty poll after revocation: %v %v", msg, err)
		}
		if st := h.stats(); st.TokensIssued.Access != 2 || st.TokenRejections != 1 {
			t.Fatalf("poll renewal: %+v rejections=%d", st.TokensIssued, st.TokenRejections)
		}
	})
}

func TestContractFaultClassification(t *testing.T) {
	h := newHarness(t, simulator.Options{Seed: 16})
	c := h.client(nil)
	ctx := context.Background()
	b := newBill("poll")
	invs := h.collect(eventCode(t, c, b), 1)

	h.setFaults(map[string]any{"errorRate": 1.0, "messageTypes": []string{"billSave"}})
	e := mustError(t, c.BillSave(ctx, b.msgID("save"), b.saveRequest(invoicecloud.StatusInUse, invs)))
	if !e.Retryable || e.HTTPStatus/100 != 5 || !invoicecloud.IsRetryable(e) {
		t.Fatalf("5xx must be retryable: %+v", e)
	}
	if h.observedCount("billSave/retryable") != 1 {
		t.Fatalf("Observe: %v", h.observed)
	}
	// The other message types are untouched by the listed fault.
	eventCode(t, c, newBill("poll"))
	h.clearFaults()
	// The same messageId succeeds once the fault is gone (nothing was applied).
	if err := c.BillSave(ctx, b.msgID("save"), b.saveRequest(invoicecloud.StatusInUse, invs)); err != nil {
		t.Fatalf("retry after the fault: %v", err)
	}

	// Latency beyond the client's timeout: a retryable timeout, with no token in the text.
	slow := h.client(func(c *ultimate.Config) {
		c.Timeout = 100 * time.Millisecond
		c.TokenPlacement = ultimate.TokenInQuery
	})
	eventCode(t, slow, newBill("poll")) // authenticate first, without latency
	h.setFaults(map[string]any{"latencyMs": 1500})
	_, err := slow.GetEventCode(ctx, "slow-ec", newBill("poll").req)
	e = mustError(t, err)
	if !e.Retryable || !strings.Contains(e.Message, "timed out") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout must be retryable: %+v", e)
	}
	if strings.Contains(err.Error(), "access_token=") && !strings.Contains(err.Error(), "access_token=REDACTED") {
		t.Fatalf("token leaked: %v", err)
	}
	h.clearFaults()

	// Nothing listening at all: a transport error, retryable.
	dead := h.client(func(c *ultimate.Config) { c.BaseURL = "http://127.0.0.1:1/" })
	e = mustError(t, dead.BillSave(ctx, "m", b.saveRequest(invoicecloud.StatusInUse, invs)))
	if !e.Retryable {
		t.Fatalf("connection refused must be retryable: %+v", e)
	}
}
