package standard

import (
	"cmp"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"rimflow/invoicecloud"
	"rimflow/invoicecloud/aesecb"
)

// EncType selects how the standard edition's token request is signed (the vendor's encType).
type EncType int

// DefaultUserKeyTTL is how long a userKey is assumed to open the pages [assumed].
const DefaultUserKeyTTL = 2 * time.Hour

const (
	EncMD5        EncType = 0 // MD5(client_id+client_secret+timestamp), lowercase hex
	EncSHA256     EncType = 1 // SHA-256 of the same, lowercase hex
	EncHMACSHA256 EncType = 2 // HMAC-SHA256 of the same keyed with client_secret, lowercase hex
)

// Call names of the standard edition: the Error.MessageType and Observe name of each call, and
// the names PlaintextCalls lists (with the image system's invoicecloud.CallErpBillPush and
// CallQueryBillStatus).
const (
	CallGetLinkKey   = "getLinkKey"
	CallGetUserKey   = "getUserKey"
	CallEntrySave    = "entrySave"
	CallStatusUpdate = "statusUpdate"
	CallEntryDelete  = "entryDelete"
	CallDeduction    = "deduction"
	// CallVoucherReverse is the [assumed] voucher reversal (反记账) on Paths.VoucherReverse.
	CallVoucherReverse = "voucherReverse"
)

// Paths are the standard edition's endpoint paths relative to BaseURL. The public ones
// are the vendor's; the [assumed] ones are configurable.
type Paths struct {
	Token        string // /base/oauth/token
	LinkKey      string // /m4/fpzs/getLinkKey
	UserKey      string // /m4/fpzs/getUserKey
	EntrySave    string // /m4/fpzs/expense/entry/save
	StatusUpdate string // /m4/fpzs/expense/invoice/status/update
	EntryDelete  string // /m4/fpzs/expense/entry/delete
	Deduction    string // /m4/fpzs/deduction/select [assumed]
	// VoucherReverse takes a voucher off its bills (反记账) [assumed]: /m4/fpzs/expense/voucher/delete
	// {tin, eid, vouchId, vouchNo, resource, serialNos, bxd_keys}; the invoices go back to 60.
	VoucherReverse string
	ImagePush      string // /m4/bds/erpBillPush [assumed]
	ImageOperate   string // /m4/bds/operate [assumed]
	PollData       string // /polling/fpzs/invoice/data/v2
	PollReceipt    string // /polling/fpzs/portal/receipt
	// Socket is the msgwatch path if the tenant has a socket ([assumed] /msgwatch/); empty (the
	// default) means Watch uses the documented long poll only.
	Socket      string
	CollectPage string // /m4-web/fpzs/index?userKey&linkKey&sourceType
	ViewPage    string // /m4-web/fpzs/view?userKey [assumed]
}

// byName are the paths by their names in an enterprise's paths block (paths.deduction, …).
func (p *Paths) byName() map[string]*string {
	return map[string]*string{
		"token": &p.Token, "linkKey": &p.LinkKey, "userKey": &p.UserKey, "entrySave": &p.EntrySave,
		"statusUpdate": &p.StatusUpdate, "entryDelete": &p.EntryDelete, "deduction": &p.Deduction,
		"voucherReverse": &p.VoucherReverse, "imagePush": &p.ImagePush, "imageOperate": &p.ImageOperate,
		"pollData": &p.PollData, "pollReceipt": &p.PollReceipt, "socket": &p.Socket,
		"collectPage": &p.CollectPage, "viewPage": &p.ViewPage,
	}
}

// DefaultPaths are the public paths and the [assumed] defaults.
func DefaultPaths() Paths {
	return Paths{
		Token:        "/base/oauth/token",
		LinkKey:      "/m4/fpzs/getLinkKey",
		UserKey:      "/m4/fpzs/getUserKey",
		EntrySave:    "/m4/fpzs/expense/entry/save",
		StatusUpdate: "/m4/fpzs/expense/invoice/status/update",
		EntryDelete:  "/m4/fpzs/expense/entry/delete",
		Deduction:    "/m4/fpzs/deduction/select",
		// The vendor's texts name no reversal call [assumed].
		VoucherReverse: "/m4/fpzs/expense/voucher/delete",
		ImagePush:      "/m4/bds/erpBillPush",
		ImageOperate:   "/m4/bds/operate",
		PollData:       "/polling/fpzs/invoice/data/v2",
		PollReceipt:    "/polling/fpzs/portal/receipt",
		CollectPage:    "/m4-web/fpzs/index",
		ViewPage:       "/m4-web/fpzs/view",
	}
}

// Config configures a Client: one enterprise (tax number) of the standard
// edition, with the enterprise authorization's credentials (企业授权: tax number, name, client
// id, secret, encrypt_key). Zero values take the documented defaults.
type Config struct {
	// BaseURL: prod https://api.piaozone.com, test https://api-dev.piaozone.com/test, private
	// http://ip:port/api.
	BaseURL string
	// TaxNo and CompanyName are the enterprise (tin, ghf_mc). A bill of another tax number is
	// refused before anything is sent: route it to its enterprise's client.
	TaxNo       string
	CompanyName string
	// EID is the enterprise's id in the cloud (eid), sent when set [assumed meaning].
	EID string

	ClientID     string
	ClientSecret string
	// EncryptKey is the 16-character encrypt_key: request bodies are AES-128-ECB, PKCS#7, Base64.
	EncryptKey string
	EncType    EncType
	// PlaintextCalls lists calls (CallGetUserKey, …) whose body travels as plain JSON. Which calls
	// the edition wants encrypted is not public: by default every business call is [assumed].
	PlaintextCalls []string

	// UserKeyTTL is how long a userKey opens the pages (EventCodeResponse.ValidFor); the vendor
	// does not say [assumed], default DefaultUserKeyTTL (2 h).
	UserKeyTTL time.Duration

	Timeout       time.Duration // per HTTP call (default 15 s)
	PollHold      time.Duration // client-side limit of one long poll (default 35 s)
	RefreshBefore time.Duration // refresh a token this long before it expires (default 5 min)

	Paths Paths
	// ScanPointsOperate [assumed] is the image system's operateType that lists its scanning points
	// (default invoicecloud.DefaultScanPointsOperate).
	ScanPointsOperate string
	// NothingBoundCodes [assumed]: the codes of an entry delete for a bill that holds nothing
	// (as the ultimate edition's); default DefaultNothingBoundCodes.
	NothingBoundCodes []string
	// BillSaveKeepsOmitted [assumed]: entry/save only adds and updates the invoices it names
	// (as the ultimate edition's BillSaveKeepsOmitted); false reads it as replacing the set.
	BillSaveKeepsOmitted bool
	// PollKey: how the long poll's key is made from the linkKey (default md5, the public shape;
	// linkKey: the key is the linkKey itself), the same switch as the ultimate edition's.
	PollKey   invoicecloud.PollKeyDerivation
	Logger    *slog.Logger
	Observe   func(name, outcome string, took time.Duration)
	Transport http.RoundTripper
	// AllowInsecureHTTP accepts a plain http BaseURL off loopback (invoicecloud.ValidateBaseURL).
	AllowInsecureHTTP bool
}

// DefaultNothingBoundCodes [assumed]: the simulator's "no such bill" (1305).
var DefaultNothingBoundCodes = []string{"1305"}

// WithDefaults returns c with every zero value replaced by its documented default.
func (c Config) WithDefaults() Config {
	c.ScanPointsOperate = cmp.Or(c.ScanPointsOperate, invoicecloud.DefaultScanPointsOperate)
	c.Timeout = cmp.Or(c.Timeout, invoicecloud.DefaultTimeout)
	c.PollHold = cmp.Or(c.PollHold, invoicecloud.DefaultPollHold)
	c.RefreshBefore = cmp.Or(c.RefreshBefore, invoicecloud.DefaultRefreshBefore)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.UserKeyTTL = cmp.Or(c.UserKeyTTL, DefaultUserKeyTTL)
	if c.NothingBoundCodes == nil {
		c.NothingBoundCodes = DefaultNothingBoundCodes
	}
	d := DefaultPaths()
	invoicecloud.FillDefaults(
		invoicecloud.Default(&c.Paths.Token, d.Token), invoicecloud.Default(&c.Paths.LinkKey, d.LinkKey), invoicecloud.Default(&c.Paths.UserKey, d.UserKey),
		invoicecloud.Default(&c.Paths.EntrySave, d.EntrySave), invoicecloud.Default(&c.Paths.StatusUpdate, d.StatusUpdate),
		invoicecloud.Default(&c.Paths.EntryDelete, d.EntryDelete), invoicecloud.Default(&c.Paths.Deduction, d.Deduction),
		invoicecloud.Default(&c.Paths.VoucherReverse, d.VoucherReverse),
		invoicecloud.Default(&c.Paths.ImagePush, d.ImagePush), invoicecloud.Default(&c.Paths.ImageOperate, d.ImageOperate),
		invoicecloud.Default(&c.Paths.PollData, d.PollData), invoicecloud.Default(&c.Paths.PollReceipt, d.PollReceipt),
		invoicecloud.Default(&c.Paths.CollectPage, d.CollectPage), invoicecloud.Default(&c.Paths.ViewPage, d.ViewPage),
	)
	return c
}

// calls are the calls PlaintextCalls may name.
var calls = []string{CallGetLinkKey, CallGetUserKey, CallEntrySave, CallStatusUpdate, CallEntryDelete,
	CallDeduction, CallVoucherReverse, invoicecloud.CallErpBillPush, invoicecloud.CallQueryBillStatus, invoicecloud.CallQueryScanPoints}

// Validate checks a defaulted Config and names the first missing or bad field.
func (c Config) Validate() error {
	if err := invoicecloud.ValidateBaseURL(c.BaseURL, c.AllowInsecureHTTP); err != nil {
		return err
	}
	if err := invoicecloud.RequireAll("required for the standard edition", invoicecloud.Named("taxNo", c.TaxNo),
		invoicecloud.Named("companyName", c.CompanyName), invoicecloud.Named("clientId", c.ClientID),
		invoicecloud.Named("clientSecret", c.ClientSecret), invoicecloud.Named("encryptKey", c.EncryptKey)); err != nil {
		return err
	}
	if !invoicecloud.ValidTaxNo(c.TaxNo) {
		return invoicecloud.ConfigError("taxNo", "not a taxpayer id (18-char unified social credit code or 15/17/20 uppercase letters/digits)")
	}
	if len(c.EncryptKey) != aesecb.KeyLen {
		return invoicecloud.ConfigError("encryptKey", "must be the 16-character encrypt_key (AES-128)")
	}
	if c.EncType < EncMD5 || c.EncType > EncHMACSHA256 {
		return invoicecloud.ConfigError("encType", "must be 0 (MD5), 1 (SHA-256) or 2 (HMAC-SHA256)")
	}
	for _, name := range c.PlaintextCalls {
		if !slices.Contains(calls, name) {
			return invoicecloud.ConfigError("plaintextCalls", "unknown call "+name)
		}
	}
	if err := invoicecloud.ValidateDurations(c.Timeout, c.PollHold, c.RefreshBefore); err != nil {
		return err
	}
	if err := invoicecloud.ValidatePollKey(c.PollKey); err != nil {
		return err
	}
	if c.UserKeyTTL < 0 {
		return invoicecloud.ConfigError("userKeyTTL", "must not be negative")
	}
	paths := []invoicecloud.NamedValue{
		invoicecloud.Named("paths.token", c.Paths.Token), invoicecloud.Named("paths.linkKey", c.Paths.LinkKey), invoicecloud.Named("paths.userKey", c.Paths.UserKey),
		invoicecloud.Named("paths.entrySave", c.Paths.EntrySave), invoicecloud.Named("paths.statusUpdate", c.Paths.StatusUpdate),
		invoicecloud.Named("paths.entryDelete", c.Paths.EntryDelete), invoicecloud.Named("paths.deduction", c.Paths.Deduction),
		invoicecloud.Named("paths.voucherReverse", c.Paths.VoucherReverse),
		invoicecloud.Named("paths.imagePush", c.Paths.ImagePush), invoicecloud.Named("paths.imageOperate", c.Paths.ImageOperate),
		invoicecloud.Named("paths.pollData", c.Paths.PollData), invoicecloud.Named("paths.pollReceipt", c.Paths.PollReceipt),
		invoicecloud.Named("paths.collectPage", c.Paths.CollectPage), invoicecloud.Named("paths.viewPage", c.Paths.ViewPage),
	}
	if c.Paths.Socket != "" {
		paths = append(paths, invoicecloud.Named("paths.socket", c.Paths.Socket))
	}
	return invoicecloud.ValidatePaths(paths...)
}
