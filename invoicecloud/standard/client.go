// Package standard is the standard edition (标准版) of Invoice Cloud: one enterprise (tax number)
// per set of credentials, its calls on /m4/fpzs/*, bodies encrypted with the enterprise's
// encrypt_key, its token by a signed /base/oauth/token. It plugs into rimflow as Edition
// (docs/editions.md).
package standard

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"rimflow/invoicecloud"
	"rimflow/invoicecloud/aesecb"
	"rimflow/invoicecloud/flex"
)

// Client talks to one enterprise of the standard edition (标准版, /m4/fpzs/*). It
// provides invoicecloud.Cloud and ImageSystem like the ultimate edition's client, mapping each step
// of a bill onto the invoice-assistant API:
//
//	GetEventCode → getUserKey (and getLinkKey when the request has no linkKey); the code is the userKey
//	BillSave     → entry/save (the bill's invoice set) then status/update (expenseStatus 1|30|60)
//	VoucherSave  → status/update expenseStatus 65 (已报销已入账) with the voucher [assumed fields]
//	Unbind       → entry/delete
//	VoucherReverse → the [assumed] voucher delete path (back to 60 已报销未入账)
//	Deduction    → the [assumed] deduction path
//	Watch, Poll, Receipt → the documented long poll (and a socket only if Paths.Socket is set)
//
// It talks through invoicecloud.Transport: one shared token cache (one fetch for many callers,
// refresh before expiry, one re-auth on a refused token), *Error, redaction, the poll and Watch.
type Client struct {
	invoicecloud.Listener // Watch (the long poll; a socket only with Paths.Socket), Poll, Receipt
	cfg                   Config
	t                     *invoicecloud.Transport // the token in ?access_token= (documented)
}

var _ invoicecloud.EnterpriseClient = (*Client)(nil)

// New validates cfg (after defaults) and builds a Client. A bad configuration returns an
// *invoicecloud.Error whose Field names the setting.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg}
	c.t = invoicecloud.NewTransport(invoicecloud.TransportConfig{
		BaseURL: cfg.BaseURL, TokenInQuery: true, // business calls pass ?access_token= (documented)
		Timeout: cfg.Timeout, PollHold: cfg.PollHold, RefreshBefore: cfg.RefreshBefore,
		SocketPath: cfg.Paths.Socket, PollDataPath: cfg.Paths.PollData, PollReceiptPath: cfg.Paths.PollReceipt, PollKey: cfg.PollKey,
		Logger: cfg.Logger, Observe: cfg.Observe, Transport: cfg.Transport,
	}, c.fetchToken)
	c.Listener = c.t
	return c, nil
}

// Config returns the effective configuration (defaults applied).
func (c *Client) Config() Config { return c.cfg }

// Settings are the client's settings as the registry holds them.
func (c *Client) Settings() invoicecloud.Settings { return c.cfg }

// BillSaveKeepsOmitted reports the configured reading of entry/save (invoicecloud.SetReading).
func (c *Client) BillSaveKeepsOmitted() bool { return c.cfg.BillSaveKeepsOmitted }

// standardSign is the token request's sign over client_id+client_secret+timestamp.
func standardSign(enc EncType, clientID, secret, timestamp string) string {
	msg := []byte(clientID + secret + timestamp)
	switch enc {
	case EncSHA256:
		sum := sha256.Sum256(msg)
		return hex.EncodeToString(sum[:])
	case EncHMACSHA256:
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(msg)
		return hex.EncodeToString(m.Sum(nil))
	}
	sum := md5.Sum(msg)
	return hex.EncodeToString(sum[:])
}

// fetchToken: POST /base/oauth/token {client_id, sign, timestamp, encType} → {errcode "0000",
// access_token, expires_in}. The timestamp is in ms and expires_in in seconds [assumed]; the
// answer's fields are read at the top level or under data.
func (c *Client) fetchToken(ctx context.Context) (invoicecloud.Token, error) {
	now := time.Now()
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	body := map[string]any{
		"client_id": c.cfg.ClientID,
		"sign":      standardSign(c.cfg.EncType, c.cfg.ClientID, c.cfg.ClientSecret, ts),
		"timestamp": ts,
		"encType":   int(c.cfg.EncType),
	}
	type tokenFields struct {
		AccessToken string   `json:"access_token"`
		ExpiresIn   flex.Int `json:"expires_in"`
	}
	var a struct {
		tokenFields
		Errcode     flex.String `json:"errcode"`
		Description flex.String `json:"description"`
		Data        tokenFields `json:"data"`
	}
	err := c.t.AuthExchange(ctx, c.cfg.Paths.Token, body, func(_ int, b []byte) (bool, string, string, error) {
		jerr := json.Unmarshal(b, &a)
		if a.AccessToken == "" {
			a.tokenFields = a.Data
		}
		return a.Errcode == codeOK && a.AccessToken != "", string(a.Errcode), string(a.Description), jerr
	}, authField)
	if err != nil {
		return invoicecloud.Token{}, err
	}
	life := invoicecloud.DefaultTokenLifetime
	if s := int64(a.ExpiresIn); s > 0 {
		life = time.Duration(s) * time.Second
	}
	return invoicecloud.NewToken(a.AccessToken, now, now.Add(life), c.cfg.RefreshBefore), nil
}

// Answer codes: the public ones, and the refusals whose configuration field is known (for
// Error.Field). The simulator documents the rest (docs/cloudsim.md).
const (
	codeOK = "0000"
	// CodeNotOnBill (1301): a serial number is not on this bill.
	CodeNotOnBill = "1301"
	// CodeWrongCompany (1101): the credentials do not match the company (tin).
	CodeWrongCompany = invoicecloud.PushCodeWrongEnterprise
	// CodeClientIDEmpty (1200): client_id is empty.
	CodeClientIDEmpty = "1200"
	// CodeUndecryptable (1102) [assumed]: the body does not decrypt with the encrypt_key.
	CodeUndecryptable = invoicecloud.PushCodeUndecryptable
)

var codeFields = map[string]string{
	CodeWrongCompany:  "taxNo",
	CodeUndecryptable: "encryptKey",
	CodeClientIDEmpty: "clientId",
}

// vendorParamFields maps the vendor's parameter names, as a refusal's description starts with
// them, to the Config field to fix.
var vendorParamFields = map[string]string{
	"client_id": "clientId", "client_secret": "clientSecret", "sign": "clientSecret", "enctype": "encType",
	"encrypt_key": "encryptKey", "tin": "taxNo", "timestamp": "timestamp",
}

// authField decides which configuration field a refused token request is about: the sign is made
// with the secret (and encType), so a refused sign is the secret's.
func authField(_, desc string) string {
	if f := invoicecloud.ParamField(desc, vendorParamFields); f != "" {
		return f
	}
	has := func(words ...string) bool { return invoicecloud.Mentions(desc, words...) }
	switch {
	case has("encrypt", "解密", "加密"):
		return "encryptKey"
	case has("secret", "sign", "签名", "密钥"):
		return "clientSecret"
	}
	return "clientId"
}

// decodeAnswer reads {errcode, description, traceId, data}.
func decodeAnswer(name string, status int, b []byte, out any) error {
	if status/100 != 2 {
		return invoicecloud.StatusError(name, status, b)
	}
	var a struct {
		Errcode     flex.String     `json:"errcode"`
		Description flex.String     `json:"description"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return invoicecloud.ErrNotJSON(name, status)
	}
	return invoicecloud.BusinessAnswer{OK: a.Errcode == codeOK, Code: string(a.Errcode), Msg: string(a.Description), Data: a.Data}.
		Result(name, status, out, codeFields)
}

// call posts body to path (encrypted unless PlaintextCalls names the call) with ?access_token=
// and decodes the answer's data into out (may be nil).
func (c *Client) call(ctx context.Context, name, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return &invoicecloud.Error{MessageType: name, Message: "cannot encode the request: " + err.Error()}
	}
	r := invoicecloud.Request{Name: name, Method: http.MethodPost, Path: path, Body: raw}
	if !slices.Contains(c.cfg.PlaintextCalls, name) {
		text, err := aesecb.Encrypt(c.cfg.EncryptKey, raw)
		if err != nil {
			return invoicecloud.ConfigError("encryptKey", err.Error())
		}
		// [assumed] an encrypted body is the Base64 text itself; the answer is plain JSON.
		r.Body, r.ContentType = text, "text/plain;charset=UTF-8"
	}
	return c.t.RoundTrip(ctx, r, func(status int, b []byte) error {
		return decodeAnswer(name, status, b, out)
	})
}

// CheckLogin fetches a fresh token and asks for a linkKey, an encrypted call: it tells whether
// the client id, secret, encType and encrypt_key work.
func (c *Client) CheckLogin(ctx context.Context) error {
	tok, err := c.fetchToken(ctx)
	if err != nil {
		return err
	}
	c.t.PutToken(tok)
	_, err = c.linkKey(ctx)
	return err
}

// linkKey asks the cloud for a fresh linkKey (getLinkKey).
func (c *Client) linkKey(ctx context.Context) (string, error) {
	var out struct {
		LinkKey flex.String `json:"linkKey"`
	}
	if err := c.call(ctx, CallGetLinkKey, c.cfg.Paths.LinkKey, map[string]string{"tin": c.cfg.TaxNo}, &out); err != nil {
		return "", err
	}
	if out.LinkKey == "" {
		return "", &invoicecloud.Error{MessageType: CallGetLinkKey, Message: "answer carries no linkKey", Retryable: true}
	}
	return string(out.LinkKey), nil
}

// tin is the enterprise a bill's calls go to: this client's. A bill of another tax number is
// refused here, before anything is sent.
func (c *Client) tin(name, billTaxNo string) (string, error) {
	if billTaxNo != "" && !strings.EqualFold(billTaxNo, c.cfg.TaxNo) {
		return "", invoicecloud.FieldError(name, "billTaxNo", "%s is not this client's enterprise (%s): route the bill to its enterprise's client", billTaxNo, c.cfg.TaxNo)
	}
	return c.cfg.TaxNo, nil
}

// userKeyRequest is getUserKey's body: the public fields (tin, ghf_mc, eid, billNumber, bxd_key)
// and the [assumed] rest, which carry what the ultimate getEventCode carries.
type userKeyRequest struct {
	Tin         string                 `json:"tin"`
	GhfMc       string                 `json:"ghf_mc"` // the buyer (the enterprise) name
	EID         string                 `json:"eid,omitempty"`
	BillNumber  string                 `json:"billNumber"`
	BxdKey      string                 `json:"bxd_key"` // the bill's key: rimflow's billId
	Resource    string                 `json:"resource"`
	BillType    string                 `json:"billType"`
	OrgNumber   string                 `json:"orgNumber,omitempty"`
	UserID      string                 `json:"userId"`
	LinkKey     string                 `json:"linkKey"`
	SourceType  string                 `json:"sourceType"` // socket | polling
	CompanyInfo []invoicecloud.Company `json:"companyInfo,omitempty"`
}

// GetEventCode opens the invoice assistant: getUserKey for the bill (after getLinkKey when the
// request carries no linkKey). The answer's EventCode is the userKey, LinkKey the key to Watch.
func (c *Client) GetEventCode(ctx context.Context, messageID string, req invoicecloud.EventCodeRequest) (invoicecloud.EventCodeResponse, error) {
	check := req
	if check.LinkKey == "" {
		check.LinkKey = "issued by getLinkKey"
	}
	if err := invoicecloud.ValidateEventCode(CallGetUserKey, messageID, check); err != nil {
		return invoicecloud.EventCodeResponse{}, err
	}
	tin, err := c.tin(CallGetUserKey, req.BillTaxNo)
	if err != nil {
		return invoicecloud.EventCodeResponse{}, err
	}
	if req.LinkKey == "" {
		if req.LinkKey, err = c.linkKey(ctx); err != nil {
			return invoicecloud.EventCodeResponse{}, err
		}
	}
	name := c.cfg.CompanyName
	for _, co := range req.CompanyInfo {
		if strings.EqualFold(co.TaxNo, tin) {
			name = co.Name
		}
	}
	body := userKeyRequest{Tin: tin, GhfMc: name, EID: c.cfg.EID, BillNumber: req.BillNo, BxdKey: req.BillID,
		Resource: req.Resource, BillType: req.BillType, OrgNumber: req.OrgNumber, UserID: req.UserID,
		LinkKey: req.LinkKey, SourceType: sourceType(req.PushType), CompanyInfo: req.CompanyInfo}
	var out struct {
		UserKey flex.String `json:"userKey"`
	}
	if err := c.call(ctx, CallGetUserKey, c.cfg.Paths.UserKey, body, &out); err != nil {
		return invoicecloud.EventCodeResponse{}, err
	}
	if out.UserKey == "" {
		return invoicecloud.EventCodeResponse{}, &invoicecloud.Error{MessageType: CallGetUserKey, Message: "answer carries no userKey", Retryable: true}
	}
	uk := string(out.UserKey)
	return invoicecloud.EventCodeResponse{EventCode: uk, LinkKey: req.LinkKey, Pages: c.Pages(uk, req.LinkKey, req.PushType),
		ValidFor: c.cfg.UserKeyTTL}, nil
}

func sourceType(pushType string) string {
	if pushType == "socket" {
		return "socket"
	}
	return "polling"
}

// Pages builds the invoice-assistant URLs of a userKey (no remote call): the documented collect
// page /m4-web/fpzs/index?userKey&linkKey&sourceType; the mobile variant (&client=mobile) and the
// view page are [assumed].
func (c *Client) Pages(userKey, linkKey, pushType string) invoicecloud.Pages {
	collect := c.t.Base() + c.cfg.Paths.CollectPage + "?" + url.Values{
		"userKey": {userKey}, "linkKey": {linkKey}, "sourceType": {sourceType(pushType)}}.Encode()
	view := c.t.Base() + c.cfg.Paths.ViewPage + "?" + url.Values{"userKey": {userKey}}.Encode()
	return invoicecloud.Pages{CollectPC: collect, CollectMobile: collect + "&client=mobile", ViewPC: view, ViewMobile: view + "&client=mobile"}
}

// billRef identifies a bill in the standard edition's calls: tin + bxd_key (the billId), with
// rimflow's resource and billType [assumed extra fields].
type billRef struct {
	Tin      string `json:"tin"`
	BxdKey   string `json:"bxd_key"`
	Resource string `json:"resource,omitempty"`
	BillType string `json:"billType,omitempty"`
	EID      string `json:"eid,omitempty"`
}

// statusUpdate is /m4/fpzs/expense/invoice/status/update's body.
type statusUpdate struct {
	billRef
	ExpenseStatus string   `json:"expenseStatus"` // 1 未报销, 30 审核中, 60 已报销未入账, 65 已报销已入账
	SerialNos     []string `json:"serialNos"`
	// For 65: the bills (bxd_key) and the voucher [assumed].
	BxdKeys []string                         `json:"bxd_keys,omitempty"`
	Voucher *invoicecloud.VoucherSaveRequest `json:"voucher,omitempty"`
}

// StatusAccounted is the standard edition's 65 已报销已入账 (what VoucherSave sets).
const StatusAccounted = "65"

// BillSave makes the bill's invoice set exactly req.InvoiceData (entry/save: new invoices enter
// at 30, those left out are released) and then sets their status (status/update).
func (c *Client) BillSave(ctx context.Context, messageID string, req invoicecloud.BillSaveRequest) error {
	if err := invoicecloud.ValidateBillSave(CallEntrySave, messageID, req); err != nil {
		return err
	}
	tin, err := c.tin(CallEntrySave, req.BillTaxNo)
	if err != nil {
		return err
	}
	ref := billRef{Tin: tin, BxdKey: req.BillID, Resource: req.Resource, BillType: req.BillType, EID: c.cfg.EID}
	entry := struct {
		billRef
		BillNumber string                     `json:"billnumber"`
		OrgNumber  string                     `json:"orgNumber,omitempty"`
		CoverData  *invoicecloud.CoverData    `json:"coverData,omitempty"`
		Invoices   []invoicecloud.BillInvoice `json:"invoices"`
	}{ref, req.BillNo, req.OrgNumber, req.CoverData, req.InvoiceData}
	if err := c.call(ctx, CallEntrySave, c.cfg.Paths.EntrySave, entry, nil); err != nil {
		return err
	}
	serials := make([]string, 0, len(req.InvoiceData))
	for _, l := range req.InvoiceData {
		serials = append(serials, l.SerialNo)
	}
	return c.call(ctx, CallStatusUpdate, c.cfg.Paths.StatusUpdate,
		statusUpdate{billRef: ref, ExpenseStatus: req.Status, SerialNos: serials}, nil)
}

// VoucherSave sets the invoices to 65 已报销已入账 with the voucher's data [assumed mapping].
func (c *Client) VoucherSave(ctx context.Context, messageID string, req invoicecloud.VoucherSaveRequest) error {
	if err := invoicecloud.ValidateVoucherSave(CallStatusUpdate, messageID, req); err != nil {
		return err
	}
	v := req
	return c.call(ctx, CallStatusUpdate, c.cfg.Paths.StatusUpdate, statusUpdate{billRef: billRef{Tin: c.cfg.TaxNo, EID: c.cfg.EID},
		ExpenseStatus: StatusAccounted, SerialNos: req.SerialNoArray, BxdKeys: req.ExpenseIDArray, Voucher: &v}, nil)
}

// VoucherReverse takes the voucher off its bills on the [assumed] Paths.VoucherReverse: the
// invoices go back from 65 已报销已入账 to 60 已报销未入账, still on their bills.
func (c *Client) VoucherReverse(ctx context.Context, messageID string, req invoicecloud.VoucherReverseRequest) error {
	if err := invoicecloud.ValidateVoucherReverse(CallVoucherReverse, messageID, req); err != nil {
		return err
	}
	body := struct {
		Tin       string   `json:"tin"`
		EID       string   `json:"eid,omitempty"`
		VouchID   string   `json:"vouchId"`
		VouchNo   string   `json:"vouchNo"`
		Resource  string   `json:"resource"`
		SerialNos []string `json:"serialNos"`
		BxdKeys   []string `json:"bxd_keys"`
	}{c.cfg.TaxNo, c.cfg.EID, req.VouchID, req.VouchNo, req.Resource, req.SerialNoArray, req.ExpenseIDArray}
	return c.call(ctx, CallVoucherReverse, c.cfg.Paths.VoucherReverse, body, nil)
}

// Unbind releases every invoice of the bill (entry/delete; no userKey is sent [assumed optional]).
func (c *Client) Unbind(ctx context.Context, messageID string, req invoicecloud.UnbindRequest) error {
	if err := invoicecloud.ValidateUnbind(CallEntryDelete, messageID, req); err != nil {
		return err
	}
	return invoicecloud.NothingBoundIsDone(c.call(ctx, CallEntryDelete, c.cfg.Paths.EntryDelete,
		billRef{Tin: c.cfg.TaxNo, BxdKey: req.BillID, Resource: req.Resource, BillType: req.BillType, EID: c.cfg.EID}, nil),
		c.cfg.NothingBoundCodes)
}

// Deduction selects (1) or unselects (0) this enterprise's invoices for input-VAT deduction on
// the [assumed] deduction path, with the ultimate edition's data and a requestId.
func (c *Client) Deduction(ctx context.Context, requestID string, req invoicecloud.DeductionRequest) (invoicecloud.DeductionResult, error) {
	if err := invoicecloud.ValidateDeduction(CallDeduction, requestID, req); err != nil {
		return invoicecloud.DeductionResult{}, err
	}
	if !strings.EqualFold(req.TaxNo, c.cfg.TaxNo) {
		return invoicecloud.DeductionResult{}, invoicecloud.FieldError(CallDeduction, "taxNo", "%s is not this client's enterprise (%s)", req.TaxNo, c.cfg.TaxNo)
	}
	body := struct {
		RequestID string `json:"requestId"`
		Tin       string `json:"tin"`
		invoicecloud.DeductionRequest
	}{requestID, c.cfg.TaxNo, req}
	var out struct {
		AsyncFlag flex.String       `json:"asyncFlag"`
		TaskNo    flex.String       `json:"taskNo"`
		Success   []json.RawMessage `json:"success"`
	}
	if err := c.call(ctx, CallDeduction, c.cfg.Paths.Deduction, body, &out); err != nil {
		return invoicecloud.DeductionResult{}, err
	}
	return invoicecloud.DeductionResult{AsyncFlag: string(out.AsyncFlag), TaskNo: string(out.TaskNo), Success: out.Success}, nil
}
