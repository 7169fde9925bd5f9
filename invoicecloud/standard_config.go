package invoicecloud

import (
	"log/slog"
	"net/http"
	"slices"
	"time"

	"rimflow/invoicecloud/aesecb"
)

// EncType selects how the standard edition's token request is signed (the vendor's encType).
type EncType int

const (
	EncMD5        EncType = 0 // MD5(client_id+client_secret+timestamp), lowercase hex
	EncSHA256     EncType = 1 // SHA-256 of the same, lowercase hex
	EncHMACSHA256 EncType = 2 // HMAC-SHA256 of the same keyed with client_secret, lowercase hex
)

// Call names of the standard edition: the Error.MessageType and Observe name of each call, and
// the names PlaintextCalls lists.
const (
	CallGetLinkKey      = "getLinkKey"
	CallGetUserKey      = "getUserKey"
	CallEntrySave       = "entrySave"
	CallStatusUpdate    = "statusUpdate"
	CallEntryDelete     = "entryDelete"
	CallDeduction       = "deduction"
	CallErpBillPush     = "erpBillPush"     // image system: create the scan task (both editions)
	CallQueryBillStatus = "queryBillStatus" // image system: the task's result (both editions)
)

// StandardPaths are the standard edition's endpoint paths relative to BaseURL. The public ones
// are the vendor's; the [assumed] ones are configurable.
type StandardPaths struct {
	Token        string // /base/oauth/token
	LinkKey      string // /m4/fpzs/getLinkKey
	UserKey      string // /m4/fpzs/getUserKey
	EntrySave    string // /m4/fpzs/expense/entry/save
	StatusUpdate string // /m4/fpzs/expense/invoice/status/update
	EntryDelete  string // /m4/fpzs/expense/entry/delete
	Deduction    string // /m4/fpzs/deduction/select [assumed]
	ImagePush    string // /m4/bds/erpBillPush [assumed]
	ImageOperate string // /m4/bds/operate [assumed]
	PollData     string // /polling/fpzs/invoice/data/v2
	PollReceipt  string // /polling/fpzs/portal/receipt
	// Socket is the msgwatch path if the tenant has a socket ([assumed] /msgwatch/); empty (the
	// default) means Watch uses the documented long poll only.
	Socket      string
	CollectPage string // /m4-web/fpzs/index?userKey&linkKey&sourceType
	ViewPage    string // /m4-web/fpzs/view?userKey [assumed]
}

// DefaultStandardPaths are the public paths and the [assumed] defaults.
func DefaultStandardPaths() StandardPaths {
	return StandardPaths{
		Token:        "/base/oauth/token",
		LinkKey:      "/m4/fpzs/getLinkKey",
		UserKey:      "/m4/fpzs/getUserKey",
		EntrySave:    "/m4/fpzs/expense/entry/save",
		StatusUpdate: "/m4/fpzs/expense/invoice/status/update",
		EntryDelete:  "/m4/fpzs/expense/entry/delete",
		Deduction:    "/m4/fpzs/deduction/select",
		ImagePush:    "/m4/bds/erpBillPush",
		ImageOperate: "/m4/bds/operate",
		PollData:     "/polling/fpzs/invoice/data/v2",
		PollReceipt:  "/polling/fpzs/portal/receipt",
		CollectPage:  "/m4-web/fpzs/index",
		ViewPage:     "/m4-web/fpzs/view",
	}
}

// StandardConfig configures a StandardClient: one enterprise (tax number) of the standard
// edition, with the enterprise authorization's credentials (企业授权: tax number, name, client
// id, secret, encrypt_key). Zero values take the documented defaults.
type StandardConfig struct {
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

	Paths StandardPaths
	// NothingBoundCodes [assumed]: the codes of an entry delete for a bill that holds nothing
	// (Config.NothingBoundCodes); default DefaultStandardNothingBoundCodes.
	NothingBoundCodes []string
	Logger            *slog.Logger
	Observe           func(name, outcome string, took time.Duration)
	Transport         http.RoundTripper
	// AllowInsecureHTTP accepts a plain http BaseURL off loopback (Config.AllowInsecureHTTP).
	AllowInsecureHTTP bool
}

// DefaultStandardNothingBoundCodes [assumed]: the simulator's "no such bill" (1305).
var DefaultStandardNothingBoundCodes = []string{"1305"}

// WithDefaults returns c with every zero value replaced by its documented default.
func (c StandardConfig) WithDefaults() StandardConfig {
	// The settings both editions share take the ultimate Config's defaults.
	shared := Config{Timeout: c.Timeout, PollHold: c.PollHold, RefreshBefore: c.RefreshBefore, Logger: c.Logger}.WithDefaults()
	c.Timeout, c.PollHold, c.RefreshBefore, c.Logger = shared.Timeout, shared.PollHold, shared.RefreshBefore, shared.Logger
	if c.UserKeyTTL == 0 {
		c.UserKeyTTL = DefaultUserKeyTTL
	}
	if c.NothingBoundCodes == nil {
		c.NothingBoundCodes = DefaultStandardNothingBoundCodes
	}
	d := DefaultStandardPaths()
	for _, p := range []struct {
		v *string
		d string
	}{
		{&c.Paths.Token, d.Token}, {&c.Paths.LinkKey, d.LinkKey}, {&c.Paths.UserKey, d.UserKey},
		{&c.Paths.EntrySave, d.EntrySave}, {&c.Paths.StatusUpdate, d.StatusUpdate},
		{&c.Paths.EntryDelete, d.EntryDelete}, {&c.Paths.Deduction, d.Deduction},
		{&c.Paths.ImagePush, d.ImagePush}, {&c.Paths.ImageOperate, d.ImageOperate},
		{&c.Paths.PollData, d.PollData}, {&c.Paths.PollReceipt, d.PollReceipt},
		{&c.Paths.CollectPage, d.CollectPage}, {&c.Paths.ViewPage, d.ViewPage},
	} {
		if *p.v == "" {
			*p.v = p.d
		}
	}
	return c
}

// standardCalls are the calls PlaintextCalls may name.
var standardCalls = []string{CallGetLinkKey, CallGetUserKey, CallEntrySave, CallStatusUpdate, CallEntryDelete,
	CallDeduction, CallErpBillPush, CallQueryBillStatus}

// Validate checks a defaulted StandardConfig and names the first missing or bad field.
func (c StandardConfig) Validate() error {
	if err := validateBaseURL(c.BaseURL, c.AllowInsecureHTTP); err != nil {
		return err
	}
	if err := requireAll("required for the standard edition", namedValue{"taxNo", c.TaxNo},
		namedValue{"companyName", c.CompanyName}, namedValue{"clientId", c.ClientID},
		namedValue{"clientSecret", c.ClientSecret}, namedValue{"encryptKey", c.EncryptKey}); err != nil {
		return err
	}
	if !ValidTaxNo(c.TaxNo) {
		return configError("taxNo", "not a taxpayer id (18-char unified social credit code or 15/17/20 uppercase letters/digits)")
	}
	if len(c.EncryptKey) != aesecb.KeyLen {
		return configError("encryptKey", "must be the 16-character encrypt_key (AES-128)")
	}
	if c.EncType < EncMD5 || c.EncType > EncHMACSHA256 {
		return configError("encType", "must be 0 (MD5), 1 (SHA-256) or 2 (HMAC-SHA256)")
	}
	for _, name := range c.PlaintextCalls {
		if !slices.Contains(standardCalls, name) {
			return configError("plaintextCalls", "unknown call "+name)
		}
	}
	if err := validateDurations(c.Timeout, c.PollHold, c.RefreshBefore); err != nil {
		return err
	}
	if c.UserKeyTTL < 0 {
		return configError("userKeyTTL", "must not be negative")
	}
	paths := []namedValue{
		{"paths.token", c.Paths.Token}, {"paths.linkKey", c.Paths.LinkKey}, {"paths.userKey", c.Paths.UserKey},
		{"paths.entrySave", c.Paths.EntrySave}, {"paths.statusUpdate", c.Paths.StatusUpdate},
		{"paths.entryDelete", c.Paths.EntryDelete}, {"paths.deduction", c.Paths.Deduction},
		{"paths.imagePush", c.Paths.ImagePush}, {"paths.imageOperate", c.Paths.ImageOperate},
		{"paths.pollData", c.Paths.PollData}, {"paths.pollReceipt", c.Paths.PollReceipt},
		{"paths.collectPage", c.Paths.CollectPage}, {"paths.viewPage", c.Paths.ViewPage},
	}
	if c.Paths.Socket != "" {
		paths = append(paths, namedValue{"paths.socket", c.Paths.Socket})
	}
	return validatePaths(paths)
}
