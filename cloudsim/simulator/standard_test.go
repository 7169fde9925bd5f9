package simulator

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"rimflow/invoicecloud/aesecb"
)

const (
	stdTaxNo  = "91110108MA01ABCD2H"
	stdKey    = "k9Vq2mX7pL4sR8tB"
	stdSecret = "std-secret-0001"
	stdClient = "STD-CLIENT-1"
)

func stdTenantOpts() Tenant {
	return Tenant{Edition: EditionStandard, Name: "北京示例科技有限公司", TaxNo: stdTaxNo, ClientID: stdClient,
		ClientSecret: stdSecret, EncryptKey: stdKey}
}

func newStdHarness(t testing.TB, mutate func(*Options)) *harness {
	opts := Options{Seed: 3, Tenants: []Tenant{stdTenantOpts()}}
	if mutate != nil {
		mutate(&opts)
	}
	return newHarness(t, opts)
}

// sign is the documented sign, computed here from the vendor's description.
func sign(encType, clientID, secret, ts string) string {
	msg := []byte(clientID + secret + ts)
	switch encType {
	case "1":
		s := sha256.Sum256(msg)
		return hex.EncodeToString(s[:])
	case "2":
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(msg)
		return hex.EncodeToString(m.Sum(nil))
	}
	s := md5.Sum(msg)
	return hex.EncodeToString(s[:])
}

func (h *harness) stdTokenRequest(clientID, secret, encType string, at time.Time) (int, map[string]any) {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	return h.post(stdTokenPath, map[string]any{"client_id": clientID, "sign": sign(encType, clientID, secret, ts),
		"timestamp": ts, "encType": encType})
}

func (h *harness) stdToken() string {
	h.t.Helper()
	_, resp := h.stdTokenRequest(stdClient, stdSecret, "0", h.sim.Now())
	tok, _ := resp["access_token"].(string)
	if tok == "" {
		h.t.Fatalf("standard token: %v", resp)
	}
	return tok
}

// answer is an HTTP status and its JSON.
type answer struct {
	status int
	resp   map[string]any
}

func answered(status int, resp map[string]any) answer { return answer{status, resp} }

// stdCall posts body encrypted with key to a standard path with ?access_token=.
func (h *harness) stdCall(token, path, key string, body any) answer {
	h.t.Helper()
	raw, _ := json.Marshal(body)
	text, err := aesecb.Encrypt(key, raw)
	if err != nil {
		h.t.Fatal(err)
	}
	return answered(h.do(http.MethodPost, path+"?access_token="+token, text, map[string]string{"Content-Type": "text/plain"}))
}

func (h *harness) stdOK(a answer) map[string]any {
	h.t.Helper()
	if a.status != http.StatusOK || a.resp["errcode"] != stdOK {
		h.t.Fatalf("want errcode 0000, got HTTP %d %v", a.status, a.resp)
	}
	d, _ := a.resp["data"].(map[string]any)
	return d
}

func (h *harness) stdWant(a answer, code, field string) {
	h.t.Helper()
	status, resp := a.status, a.resp
	if status != http.StatusOK || resp["errcode"] != code {
		h.t.Fatalf("want errcode %s, got HTTP %d %v", code, status, resp)
	}
	if field != "" && dig(resp, "data", "field") != field {
		h.t.Fatalf("want field %q: %v", field, resp)
	}
}

func userKeyBody(billID string) map[string]any {
	return map[string]any{"tin": stdTaxNo, "ghf_mc": "北京示例科技有限公司", "billNumber": "BX-" + billID, "bxd_key": billID,
		"resource": "ERP", "billType": "er_dailyreimbursebill", "userId": "u1", "linkKey": "lk-" + billID, "sourceType": "polling"}
}

func TestStandardToken(t *testing.T) {
	h := newStdHarness(t, nil)
	for _, enc := range []string{"0", "1", "2"} {
		status, resp := h.stdTokenRequest(stdClient, stdSecret, enc, h.sim.Now())
		if status != http.StatusOK || resp["errcode"] != stdOK || resp["access_token"] == "" || resp["expires_in"] != float64(7200) {
			t.Fatalf("encType %s: HTTP %d %v", enc, status, resp)
		}
	}
	for _, tc := range []struct {
		name, client, secret, enc string
		at                        time.Time
		code                      string
	}{
		{"empty client id", "", stdSecret, "0", h.sim.Now(), stdClientIDEmpty},
		{"unknown client id", "NOPE", stdSecret, "0", h.sim.Now(), StdUnknownClient},
		{"wrong secret", stdClient, "wrong", "0", h.sim.Now(), StdBadSign},
		{"unknown encType", stdClient, stdSecret, "9", h.sim.Now(), StdBadParam},
		{"stale timestamp", stdClient, stdSecret, "0", h.sim.Now().Add(-10 * time.Minute), stdBadTimestamp},
	} {
		_, resp := h.stdTokenRequest(tc.client, tc.secret, tc.enc, tc.at)
		if resp["errcode"] != tc.code || resp["access_token"] != nil {
			t.Fatalf("%s: %v", tc.name, resp)
		}
	}
	// A sign made with one encType is refused under another.
	ts := strconv.FormatInt(h.sim.Now().UnixMilli(), 10)
	_, resp := h.post(stdTokenPath, map[string]any{"client_id": stdClient, "sign": sign("0", stdClient, stdSecret, ts), "timestamp": ts, "encType": "2"})
	if resp["errcode"] != StdBadSign {
		t.Fatalf("an MD5 sign with encType 2: %v", resp)
	}
	if st := h.sim.Stats(); st.TokensIssued.Standard != 3 || st.AuthFailures != 6 {
		t.Fatalf("stats: %+v", st.TokensIssued)
	}
}

func TestStandardCallsRefuseBadTokensKeysAndCompanies(t *testing.T) {
	h := newStdHarness(t, func(o *Options) { o.TokenTTL = time.Hour })
	tok := h.stdToken()
	h.stdOK(h.stdCall(tok, stdLinkKeyPath, stdKey, map[string]any{"tin": stdTaxNo}))

	if a := h.stdCall("", stdLinkKeyPath, stdKey, map[string]any{"tin": stdTaxNo}); a.status != http.StatusUnauthorized || a.resp["errcode"] != stdTokenInvalid {
		t.Fatalf("no token: %+v", a)
	}
	if a := h.stdCall(h.accessToken(), stdLinkKeyPath, stdKey, map[string]any{"tin": stdTaxNo}); a.status != http.StatusUnauthorized {
		t.Fatalf("an ultimate token on a standard call: %+v", a)
	}
	if status, _ := h.message(tok, "getEventCode", "m1", billData("X", nil)); status != http.StatusUnauthorized {
		t.Fatalf("a standard token on the ultimate message API: HTTP %d", status)
	}
	h.stdWant(h.stdCall(tok, stdLinkKeyPath, "0123456789abcdef", map[string]any{"tin": stdTaxNo}), StdUndecryptable, "encrypt_key")
	h.stdWant(answered(h.do(http.MethodPost, stdLinkKeyPath+"?access_token="+tok, `{"tin":"`+stdTaxNo+`"}`, nil)), StdUndecryptable, "body")
	h.stdWant(h.stdCall(tok, stdLinkKeyPath, stdKey, map[string]any{"tin": "91310115MA1K4QXN5A"}), StdWrongCompany, "tin")

	h.clock.Advance(61 * time.Minute)
	if a := h.stdCall(tok, stdLinkKeyPath, stdKey, map[string]any{"tin": stdTaxNo}); a.status != http.StatusUnauthorized ||
		!strings.Contains(fmt.Sprint(a.resp["description"]), "expired") {
		t.Fatalf("an expired token: %+v", a)
	}
}

// The standard bill's life on the wire: getUserKey, the collect page submitted as a browser
// would, the long poll with a standard token, entry save, status 60 and 65, and the refusals.
func TestStandardBillOnTheWire(t *testing.T) {
	h := newStdHarness(t, nil)
	tok := h.stdToken()
	uk := h.stdOK(h.stdCall(tok, stdUserKeyPath, stdKey, userKeyBody("S1")))["userKey"].(string)

	pageURL := stdCollectPagePath + "?userKey=" + uk + "&linkKey=lk-S1&sourceType=polling"
	resp, err := h.srv.Client().Get(h.srv.URL + pageURL)
	if err != nil {
		t.Fatal(err)
	}
	landed := resp.Request.URL.RequestURI()
	doc, err := html.Parse(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(landed, "/index.html?formId="+formCollectPC) {
		t.Fatalf("collect page: HTTP %d at %s", resp.StatusCode, landed)
	}
	status, result := h.submitForm(landed, doc, "collect", nil)
	if c, _ := attr(byID(result, "result"), "data-count"); status != http.StatusOK || c != "7" {
		t.Fatalf("import: HTTP %d, count %q", status, c)
	}
	pstatus, poll := h.do(http.MethodGet, DefaultPollDataPath+"?access_token="+tok+"&key="+LinkKeyHash("lk-S1"), nil, nil)
	invs, _ := dig(poll, "data", "data", "data", "data").([]any)
	if pstatus != http.StatusOK || len(invs) != 7 {
		t.Fatalf("poll with a standard token: HTTP %d %v", pstatus, poll)
	}
	serials := serialsOf(invs)

	lines := []map[string]any{}
	for _, sn := range serials[:2] {
		lines = append(lines, map[string]any{"serialNo": sn, "amount": "1.00"})
	}
	ref := map[string]any{"tin": stdTaxNo, "bxd_key": "S1", "resource": "ERP", "billType": "er_dailyreimbursebill"}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range ref {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	h.stdOK(h.stdCall(tok, stdEntrySavePath, stdKey, with(map[string]any{"billnumber": "BX-S1", "invoices": lines})))
	view, _ := h.sim.Bill("ERP", "S1")
	if view.Status != StatusInUse || len(view.Invoices) != 2 || view.Edition != EditionStandard || view.Enterprise != stdTaxNo || view.Invoices[0].Amount != "1.00" {
		t.Fatalf("after entry save: %+v", view)
	}
	h.stdWant(h.stdCall(tok, stdStatusUpdatePath, stdKey, with(map[string]any{"expenseStatus": "60", "serialNos": []string{serials[0], serials[5]}})), StdNotOnBill, "serialNos[1]")
	h.stdWant(h.stdCall(tok, stdStatusUpdatePath, stdKey, with(map[string]any{"expenseStatus": "60", "serialNos": serials[:1]})), StdBadParam, "serialNos")
	h.stdOK(h.stdCall(tok, stdStatusUpdatePath, stdKey, with(map[string]any{"expenseStatus": "60", "serialNos": serials[:2]})))
	// A reimbursed bill takes no new invoice; going back to 30 is refused.
	h.stdWant(h.stdCall(tok, stdEntrySavePath, stdKey, with(map[string]any{"billnumber": "BX-S1", "invoices": append(lines, map[string]any{"serialNo": serials[2]})})), StdBadTransition, "invoices[2].serialNo")
	h.stdWant(h.stdCall(tok, stdStatusUpdatePath, stdKey, with(map[string]any{"expenseStatus": "30", "serialNos": serials[:2]})), StdBadTransition, "serialNos[0]")
	view, _ = h.sim.Bill("ERP", "S1")
	if view.Status != StatusUsed || view.Invoices[0].Amount != "1.00" {
		t.Fatalf("after status 60 (the entry's amount is kept): %+v", view)
	}
	voucher := map[string]any{"vouchId": "V1", "vouchNo": "记-1", "accountDate": "2025-03-31", "accountTime": "2025-03-31",
		"businessDate": "2025-03-30", "resource": "SAP"}
	h.stdWant(h.stdCall(tok, stdStatusUpdatePath, stdKey, map[string]any{"tin": stdTaxNo, "expenseStatus": "65", "serialNos": serials[:2], "bxd_keys": []string{"S1"}}), StdBadParam, "voucher")
	h.stdOK(h.stdCall(tok, stdStatusUpdatePath, stdKey, map[string]any{"tin": stdTaxNo, "expenseStatus": "65", "serialNos": serials[:2], "bxd_keys": []string{"S1"}, "voucher": voucher}))
	view, _ = h.sim.Bill("ERP", "S1")
	if view.Voucher == nil || view.Voucher.VouchNo != "记-1" || !view.Invoices[1].Accounted {
		t.Fatalf("after 65: %+v", view)
	}
	h.stdWant(h.stdCall(tok, stdEntryDeletePath, stdKey, ref), StdBillAccounted, "bxd_key")
	h.stdWant(h.stdCall(tok, stdEntryDeletePath, stdKey, map[string]any{"tin": stdTaxNo, "bxd_key": "NONE", "resource": "ERP", "billType": "x"}), StdBillNotFound, "bxd_key")
	if st := h.sim.Stats(); st.StandardCalls["entrySave"] != 2 || st.StandardCalls["statusUpdate"] != 6 || st.DeliveredByPoll != 1 {
		t.Fatalf("stats: %+v", st.StandardCalls)
	}
}

func TestStandardPagesRefuseBadLinks(t *testing.T) {
	h := newStdHarness(t, func(o *Options) { o.Tenants[0].UserKeyTTL = time.Hour })
	tok := h.stdToken()
	uk := h.stdOK(h.stdCall(tok, stdUserKeyPath, stdKey, userKeyBody("P1")))["userKey"].(string)
	for path, want := range map[string]int{
		stdCollectPagePath + "?userKey=" + uk + "&linkKey=other": http.StatusBadRequest,
		stdCollectPagePath + "?linkKey=lk-P1":                    http.StatusBadRequest,
		stdCollectPagePath + "?userKey=nope&linkKey=lk-P1":       http.StatusNotFound,
		"/m4-web/fpzs/view?userKey=" + uk:                        http.StatusOK,
		"/m4-web/fpzs/view?userKey=" + uk + "&client=mobile":     http.StatusOK,
	} {
		if status, _, _ := h.page(path); status != want {
			t.Fatalf("%s: HTTP %d, want %d", path, status, want)
		}
	}
	// The userKey outlives the ultimate eventCode's 10 minutes, until UserKeyTTL.
	h.clock.Advance(30 * time.Minute)
	if status, _, raw := h.page(stdCollectPagePath + "?userKey=" + uk + "&linkKey=lk-P1&client=mobile"); status != http.StatusOK || !strings.Contains(raw, "导入单据") {
		t.Fatalf("mobile collect page after 30 minutes: HTTP %d", status)
	}
	h.clock.Advance(31 * time.Minute)
	if status, _, _ := h.page(stdCollectPagePath + "?userKey=" + uk + "&linkKey=lk-P1"); status != http.StatusGone {
		t.Fatalf("an expired userKey: HTTP %d", status)
	}
}

func TestSimCollectByURLOfEitherEdition(t *testing.T) {
	h := newStdHarness(t, nil)
	code := h.eventCode(h.accessToken(), "U1")
	uk := h.stdOK(h.stdCall(h.stdToken(), stdUserKeyPath, stdKey, userKeyBody("S2")))["userKey"].(string)
	for _, u := range []string{
		h.srv.URL + "/index.html?formId=" + formCollectPC + "&eventCode=" + code,
		"http://elsewhere/tenant/mobile.html?form=" + formCollectMobile + "&eventCode=" + code,
		h.srv.URL + stdCollectPagePath + "?userKey=" + uk + "&linkKey=lk-S2&sourceType=polling",
	} {
		status, resp := h.post("/__sim/collect", map[string]any{"url": u, "count": 1})
		if status != http.StatusOK || len(resp["delivered"].([]any)) != 1 {
			t.Fatalf("collect by %s: HTTP %d %v", u, status, resp)
		}
	}
	for _, u := range []string{
		h.srv.URL + "/index.html?formId=" + formViewPC + "&eventCode=" + code,
		"::not a url",
		h.srv.URL + stdCollectPagePath + "?linkKey=x",
	} {
		status, resp := h.post("/__sim/collect", map[string]any{"url": u, "count": 1})
		if status != http.StatusBadRequest || resp["field"] != "url" {
			t.Fatalf("collect by %q: HTTP %d %v", u, status, resp)
		}
	}
	if status, _ := h.post("/__sim/collect", map[string]any{"url": h.srv.URL + "/index.html?formId=" + formCollectPC + "&eventCode=nope", "count": 1}); status != http.StatusNotFound {
		t.Fatalf("an unknown code by URL: HTTP %d", status)
	}
}

func TestTenantOptions(t *testing.T) {
	if ts := New(Options{}).Tenants(); len(ts) != 1 || ts[0].Edition != EditionUltimate || ts[0].ClientID != "CASHINV" {
		t.Fatalf("zero options: %+v", ts)
	}
	good := stdTenantOpts()
	for field, mutate := range map[string]func(*Options){
		"tenants[0].edition":        func(o *Options) { o.Tenants[0].Edition = "premium" },
		"tenants[0].encryptKey":     func(o *Options) { o.Tenants[0].EncryptKey = "short" },
		"tenants[0].clientSecret":   func(o *Options) { o.Tenants[0].ClientSecret = "" },
		"tenants[0].plaintextCalls": func(o *Options) { o.Tenants[0].PlaintextCalls = []string{"billSave"} },
		"tenants[0].push[0].taxNo":  func(o *Options) { o.Tenants[0].Push = []PushTarget{{TaxNo: "X", ClientID: stdClient, URL: "http://x"}} },
		"tenants[0].push[0].url":    func(o *Options) { o.Tenants[0].Push = []PushTarget{{TaxNo: stdTaxNo, ClientID: stdClient, URL: "x"}} },
		"tenants[1].clientId":       func(o *Options) { o.Tenants = append(o.Tenants, good) },
		"tenants[2].edition": func(o *Options) {
			o.Tenants = append(o.Tenants, UltimateTenant(), UltimateTenant())
		},
	} {
		o := Options{Tenants: []Tenant{good}}
		mutate(&o)
		err := o.Validate()
		if fe, ok := err.(*FieldError); !ok || fe.Field != field {
			t.Fatalf("want an error naming %s, got %v", field, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("New with a bad tenant must panic")
		}
	}()
	New(Options{Tenants: []Tenant{{Edition: EditionStandard}}})
}

// Entry save may open a bill the cloud never saw (as billSave does): it is the tenant's.
func TestStandardEntrySaveOpensABill(t *testing.T) {
	h := newStdHarness(t, nil)
	tok := h.stdToken()
	uk := h.stdOK(h.stdCall(tok, stdUserKeyPath, stdKey, userKeyBody("E1")))["userKey"].(string)
	serials := h.collect(uk, 1)
	ref := map[string]any{"tin": stdTaxNo, "bxd_key": "E2", "resource": "ERP", "billType": "er_dailyreimbursebill"}
	h.stdOK(h.stdCall(tok, stdEntrySavePath, stdKey, map[string]any{"tin": stdTaxNo, "bxd_key": "E2", "resource": "ERP",
		"billType": "er_dailyreimbursebill", "billnumber": "BX-E2", "invoices": []map[string]any{{"serialNo": serials[0]}}}))
	if v, _ := h.sim.Bill("ERP", "E2"); v.Edition != EditionStandard || v.Enterprise != stdTaxNo || len(v.Invoices) != 1 {
		t.Fatalf("a bill opened by entry save: %+v", v)
	}
	h.stdOK(h.stdCall(tok, stdEntryDeletePath, stdKey, ref))
}

// The ultimate tenant's rim messages do not reach a standard enterprise's bills or invoices.
func TestUltimateTenantIsKeptOffStandardEnterprises(t *testing.T) {
	h := newStdHarness(t, nil)
	uk := h.stdOK(h.stdCall(h.stdToken(), stdUserKeyPath, stdKey, userKeyBody("K1")))["userKey"].(string)
	serials := h.collect(uk, 1)
	ult := h.accessToken()
	status, resp := h.message(ult, "billSave", nextID("s"), saveData("K1", StatusInUse, serials...))
	h.wantCode(status, resp, CodeBillNotFound, "billId")
	h.eventCode(ult, "U9")
	status, resp = h.message(ult, "billSave", nextID("s"), saveData("U9", StatusInUse, serials...))
	h.wantCode(status, resp, CodeSerialNotInPool, "invoiceData[0].serialNo")
	status, resp = h.message(ult, "billDelete", nextID("d"), map[string]any{"billId": "K1", "resource": "ERP", "billType": "er_dailyreimbursebill"})
	h.wantCode(status, resp, CodeBillNotFound, "billId")
	if v, _ := h.sim.Invoice(serials[0]); v.BillID != "" || v.Status != StatusUnused {
		t.Fatalf("the standard enterprise's invoice was touched: %+v", v)
	}
}
