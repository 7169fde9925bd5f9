package invoicecloud

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

	"rimflow/invoicecloud/aesecb"
)

// StandardClient talks to one enterprise of the standard edition (标准版, /m4/fpzs/*). It
// provides Cloud and ImageSystem like *Client does for the ultimate edition, mapping each step
// of a bill onto the invoice-assistant API:
//
//	GetEventCode → getUserKey (and getLinkKey when the request has no linkKey); the code is the userKey
//	BillSave     → entry/save (the bill's invoice set) then status/update (expenseStatus 1|30|60)
//	VoucherSave  → status/update expenseStatus 65 (已报销已入账) with the voucher [assumed fields]
//	Unbind       → entry/delete
//	Deduction    → the [assumed] deduction path
//	Watch, Poll, Receipt → the documented long poll (and a socket only if Paths.Socket is set)
//
// It reuses the ultimate client's machinery: one shared token cache (one fetch for many callers,
// refresh before expiry, one re-auth on a refused token), *Error, redaction, the poll and Watch.
type StandardClient struct {
	cfg  StandardConfig
	core *Client // HTTP, token cache, poll, receipt and Watch; the token in ?access_token=
}

var (
	_ Cloud       = (*StandardClient)(nil)
	_ ImageSystem = (*StandardClient)(nil)
)

// NewStandard validates cfg (after defaults) and builds a StandardClient. A bad configuration
// returns an *Error whose Field names the setting.
func NewStandard(cfg StandardConfig) (*StandardClient, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &StandardClient{cfg: cfg}
	c.core = build(Config{
		BaseURL: cfg.BaseURL, TokenPlacement: TokenInQuery, // business calls pass ?access_token= (documented)
		Timeout: cfg.Timeout, PollHold: cfg.PollHold, RefreshBefore: cfg.RefreshBefore,
		Paths:  Paths{MsgWatch: cfg.Paths.Socket, PollData: cfg.Paths.PollData, PollReceipt: cfg.Paths.PollReceipt},
		Logger: cfg.Logger, Observe: cfg.Observe, Transport: cfg.Transport,
	})
	c.core.tokens = newTokenCache(c.fetchToken, cfg.RefreshBefore, cfg.Timeout, time.Now)
	return c, nil
}

// Config returns the effective configuration (defaults applied).
func (c *StandardClient) Config() StandardConfig { return c.cfg }

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
func (c *StandardClient) fetchToken(ctx context.Context) (token, error) {
	now := time.Now()
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	body := map[string]any{
		"client_id": c.cfg.ClientID,
		"sign":      standardSign(c.cfg.EncType, c.cfg.ClientID, c.cfg.ClientSecret, ts),
		"timestamp": ts,
		"encType":   int(c.cfg.EncType),
	}
	type tokenFields struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   flexInt `json:"expires_in"`
	}
	var a struct {
		tokenFields
		Errcode     flexString  `json:"errcode"`
		Description flexString  `json:"description"`
		Data        tokenFields `json:"data"`
	}
	err := c.core.authExchange(ctx, c.cfg.Paths.Token, body, authStandard, func(_ int, b []byte) (bool, string, string, error) {
		jerr := json.Unmarshal(b, &a)
		if a.AccessToken == "" {
			a.tokenFields = a.Data
		}
		return a.Errcode == standardOK && a.AccessToken != "", string(a.Errcode), string(a.Description), jerr
	})
	if err != nil {
		return token{}, err
	}
	life := DefaultTokenLifetime
	if s := int64(a.ExpiresIn); s > 0 {
		life = time.Duration(s) * time.Second
	}
	return newToken(a.AccessToken, now, now.Add(life), c.cfg.RefreshBefore), nil
}

// Standard edition answer codes: the public ones, and the refusals whose configuration field is
// known (for Error.Field). The simulator documents the rest (docs/cloudsim.md).
const (
	standardOK = "0000"
	// StandardCodeNotOnBill (1301): a serial number is not on this bill.
	StandardCodeNotOnBill = "1301"
	// StandardCodeWrongCompany (1101): the credentials do not match the company (tin).
	StandardCodeWrongCompany = "1101"
	// StandardCodeClientIDEmpty (1200): client_id is empty.
	StandardCodeClientIDEmpty = "1200"
	// StandardCodeUndecryptable (1102) [assumed]: the body does not decrypt with the encrypt_key.
	StandardCodeUndecryptable = "1102"
)

var standardCodeFields = map[string]string{
	StandardCodeWrongCompany:  "taxNo",
	StandardCodeUndecryptable: "encryptKey",
	StandardCodeClientIDEmpty: "clientId",
}

// decodeStandardAnswer reads {errcode, description, traceId, data}.
func decodeStandardAnswer(name string, status int, b []byte, out any) error {
	if status/100 != 2 {
		return statusError(name, status, b)
	}
	var a struct {
		Errcode     flexString      `json:"errcode"`
		Description flexString      `json:"description"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return errNotJSON(name, status)
	}
	return businessAnswer{ok: a.Errcode == standardOK, code: string(a.Errcode), msg: string(a.Description), data: a.Data}.
		result(name, status, out, standardCodeFields)
}

// call posts body to path (encrypted unless PlaintextCalls names the call) with ?access_token=
// and decodes the answer's data into out (may be nil).
func (c *StandardClient) call(ctx context.Context, name, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return &Error{MessageType: name, Message: "cannot encode the request: " + err.Error()}
	}
	r := request{name: name, method: http.MethodPost, path: path, body: raw, timeout: c.cfg.Timeout}
	if !slices.Contains(c.cfg.PlaintextCalls, name) {
		text, err := aesecb.Encrypt(c.cfg.EncryptKey, raw)
		if err != nil {
			return configError("encryptKey", err.Error())
		}
		// [assumed] an encrypted body is the Base64 text itself; the answer is plain JSON.
		r.body, r.contentType = text, "text/plain;charset=UTF-8"
	}
	return c.core.roundTrip(ctx, r, true, func(status int, b []byte) error {
		return decodeStandardAnswer(name, status, b, out)
	})
}

// CheckLogin fetches a fresh token and asks for a linkKey, an encrypted call: it tells whether
// the client id, secret, encType and encrypt_key work.
func (c *StandardClient) CheckLogin(ctx context.Context) error {
	tok, err := c.fetchToken(ctx)
	if err != nil {
		return err
	}
	c.core.tokens.put(tok)
	_, err = c.linkKey(ctx)
	return err
}

// linkKey asks the cloud for a fresh linkKey (getLinkKey).
func (c *StandardClient) linkKey(ctx context.Context) (string, error) {
	var out struct {
		LinkKey flexString `json:"linkKey"`
	}
	if err := c.call(ctx, CallGetLinkKey, c.cfg.Paths.LinkKey, map[string]string{"tin": c.cfg.TaxNo}, &out); err != nil {
		return "", err
	}
	if out.LinkKey == "" {
		return "", &Error{MessageType: CallGetLinkKey, Message: "answer carries no linkKey", Retryable: true}
	}
	return string(out.LinkKey), nil
}

// tin is the enterprise a bill's calls go to: this client's. A bill of another tax number is
// refused here, before anything is sent.
func (c *StandardClient) tin(name, billTaxNo string) (string, error) {
	if billTaxNo != "" && !strings.EqualFold(billTaxNo, c.cfg.TaxNo) {
		return "", fieldError(name, "billTaxNo", "%s is not this client's enterprise (%s): route the bill to its enterprise's client", billTaxNo, c.cfg.TaxNo)
	}
	return c.cfg.TaxNo, nil
}

// userKeyRequest is getUserKey's body: the public fields (tin, ghf_mc, eid, billNumber, bxd_key)
// and the [assumed] rest, which carry what the ultimate getEventCode carries.
type userKeyRequest struct {
	Tin         string    `json:"tin"`
	GhfMc       string    `json:"ghf_mc"` // the buyer (the enterprise) name
	EID         string    `json:"eid,omitempty"`
	BillNumber  string    `json:"billNumber"`
	BxdKey      string    `json:"bxd_key"` // the bill's key: rimflow's billId
	Resource    string    `json:"resource"`
	BillType    string    `json:"billType"`
	OrgNumber   string    `json:"orgNumber,omitempty"`
	UserID      string    `json:"userId"`
	LinkKey     string    `json:"linkKey"`
	SourceType  string    `json:"sourceType"` // socket | polling
	CompanyInfo []Company `json:"companyInfo,omitempty"`
}

// GetEventCode opens the invoice assistant: getUserKey for the bill (after getLinkKey when the
// request carries no linkKey). The answer's EventCode is the userKey, LinkKey the key to Watch.
func (c *StandardClient) GetEventCode(ctx context.Context, messageID string, req EventCodeRequest) (EventCodeResponse, error) {
	check := req
	if check.LinkKey == "" {
		check.LinkKey = "issued by getLinkKey"
	}
	if err := validateEventCode(CallGetUserKey, messageID, check); err != nil {
		return EventCodeResponse{}, err
	}
	tin, err := c.tin(CallGetUserKey, req.BillTaxNo)
	if err != nil {
		return EventCodeResponse{}, err
	}
	if req.LinkKey == "" {
		if req.LinkKey, err = c.linkKey(ctx); err != nil {
			return EventCodeResponse{}, err
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
		UserKey flexString `json:"userKey"`
	}
	if err := c.call(ctx, CallGetUserKey, c.cfg.Paths.UserKey, body, &out); err != nil {
		return EventCodeResponse{}, err
	}
	if out.UserKey == "" {
		return EventCodeResponse{}, &Error{MessageType: CallGetUserKey, Message: "answer carries no userKey", Retryable: true}
	}
	uk := string(out.UserKey)
	return EventCodeResponse{EventCode: uk, LinkKey: req.LinkKey, Pages: c.Pages(uk, req.LinkKey, req.PushType),
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
func (c *StandardClient) Pages(userKey, linkKey, pushType string) Pages {
	collect := c.core.base + c.cfg.Paths.CollectPage + "?" + url.Values{
		"userKey": {userKey}, "linkKey": {linkKey}, "sourceType": {sourceType(pushType)}}.Encode()
	view := c.core.base + c.cfg.Paths.ViewPage + "?" + url.Values{"userKey": {userKey}}.Encode()
	return Pages{CollectPC: collect, CollectMobile: collect + "&client=mobile", ViewPC: view, ViewMobile: view + "&client=mobile"}
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
	BxdKeys []string            `json:"bxd_keys,omitempty"`
	Voucher *VoucherSaveRequest `json:"voucher,omitempty"`
}

// StatusAccounted is the standard edition's 65 已报销已入账 (what VoucherSave sets).
const StatusAccounted = "65"

// BillSave makes the bill's invoice set exactly req.InvoiceData (entry/save: new invoices enter
// at 30, those left out are released) and then sets their status (status/update).
func (c *StandardClient) BillSave(ctx context.Context, messageID string, req BillSaveRequest) error {
	if err := validateBillSave(CallEntrySave, messageID, req); err != nil {
		return err
	}
	tin, err := c.tin(CallEntrySave, req.BillTaxNo)
	if err != nil {
		return err
	}
	ref := billRef{Tin: tin, BxdKey: req.BillID, Resource: req.Resource, BillType: req.BillType, EID: c.cfg.EID}
	entry := struct {
		billRef
		BillNumber string        `json:"billnumber"`
		OrgNumber  string        `json:"orgNumber,omitempty"`
		CoverData  *CoverData    `json:"coverData,omitempty"`
		Invoices   []BillInvoice `json:"invoices"`
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
func (c *StandardClient) VoucherSave(ctx context.Context, messageID string, req VoucherSaveRequest) error {
	if err := validateVoucherSave(CallStatusUpdate, messageID, req); err != nil {
		return err
	}
	v := req
	return c.call(ctx, CallStatusUpdate, c.cfg.Paths.StatusUpdate, statusUpdate{billRef: billRef{Tin: c.cfg.TaxNo, EID: c.cfg.EID},
		ExpenseStatus: StatusAccounted, SerialNos: req.SerialNoArray, BxdKeys: req.ExpenseIDArray, Voucher: &v}, nil)
}

// Unbind releases every invoice of the bill (entry/delete; no userKey is sent [assumed optional]).
func (c *StandardClient) Unbind(ctx context.Context, messageID string, req UnbindRequest) error {
	if err := validateUnbind(CallEntryDelete, messageID, req); err != nil {
		return err
	}
	return nothingBoundIsDone(c.call(ctx, CallEntryDelete, c.cfg.Paths.EntryDelete,
		billRef{Tin: c.cfg.TaxNo, BxdKey: req.BillID, Resource: req.Resource, BillType: req.BillType, EID: c.cfg.EID}, nil),
		c.cfg.NothingBoundCodes)
}

// Deduction selects (1) or unselects (0) this enterprise's invoices for input-VAT deduction on
// the [assumed] deduction path, with the ultimate edition's data and a requestId.
func (c *StandardClient) Deduction(ctx context.Context, requestID string, req DeductionRequest) (DeductionResult, error) {
	if err := validateDeduction(CallDeduction, requestID, req); err != nil {
		return DeductionResult{}, err
	}
	if !strings.EqualFold(req.TaxNo, c.cfg.TaxNo) {
		return DeductionResult{}, fieldError(CallDeduction, "taxNo", "%s is not this client's enterprise (%s)", req.TaxNo, c.cfg.TaxNo)
	}
	body := struct {
		RequestID string `json:"requestId"`
		Tin       string `json:"tin"`
		DeductionRequest
	}{requestID, c.cfg.TaxNo, req}
	var out struct {
		AsyncFlag flexString        `json:"asyncFlag"`
		TaskNo    flexString        `json:"taskNo"`
		Success   []json.RawMessage `json:"success"`
	}
	if err := c.call(ctx, CallDeduction, c.cfg.Paths.Deduction, body, &out); err != nil {
		return DeductionResult{}, err
	}
	return DeductionResult{AsyncFlag: string(out.AsyncFlag), TaskNo: string(out.TaskNo), Success: out.Success}, nil
}

// Watch receives what the user imports for linkKey: the long poll (socket first only when
// Paths.Socket is set), exactly as the ultimate client's Watch.
func (c *StandardClient) Watch(ctx context.Context, linkKey string, opts WatchOptions, deliver func(Message) error) error {
	return c.core.Watch(ctx, linkKey, opts, deliver)
}

// Poll holds one long poll for linkKey; (nil, nil) on 1307 (no data).
func (c *StandardClient) Poll(ctx context.Context, linkKey string) (*Message, error) {
	return c.core.Poll(ctx, linkKey)
}

// Receipt acknowledges a polled message.
func (c *StandardClient) Receipt(ctx context.Context, linkKey, msgID string) error {
	return c.core.Receipt(ctx, linkKey, msgID)
}
