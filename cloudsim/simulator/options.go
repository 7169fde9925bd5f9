package simulator

import (
	"log/slog"
	"time"
)

// Options configure a Sim. Zero values take the documented defaults.
type Options struct {
	// Seed makes sample invoices, serial numbers, eventCodes, tokens and fault draws deterministic
	// for the same sequence of calls.
	Seed int64
	// Now is the simulator's clock (default time.Now); token and eventCode expiry follow it.
	Now func() time.Time
	// TokenTTL is the life of app_token, access_token and OAuth2 tokens (default 2h).
	TokenTTL time.Duration
	// EventCodeTTL is how long an eventCode opens the invoice-assistant pages (default 10m).
	EventCodeTTL time.Duration
	// PollHold is how long an empty long poll is held before answering 1307 (default 30s).
	PollHold time.Duration
	// Credentials accepted by the auth endpoints (default: the vendor document's examples).
	Credentials Credentials
	// Paths of the [assumed] endpoints and names.
	Paths Paths
	// OAuth2Skew is the accepted distance between an OAuth2 request's timestamp and the
	// simulator clock (default 5m, as documented).
	OAuth2Skew time.Duration
	// OAuth2RatePerMinute limits /kapi/oauth2/getToken calls per client_id per clock minute
	// (the vendor documents 30). Zero disables the limit so test suites can authenticate freely.
	OAuth2RatePerMinute int
	// Logger receives one debug line per request (path only, never query strings or bodies).
	Logger *slog.Logger

	// Strict enforces the strict reading of every ambiguous vendor rule (docs/cloudsim.md,
	// "Strict mode"): a linkKey delivers once, no token in a URL, the buyer's name decides
	// compliance too, billSave needs invoices. False keeps the lenient readings.
	Strict bool
	// Assume switches the [assumed] behaviours (in no vendor text) so the product can be tested
	// without depending on them. The zero value keeps every one of them on.
	Assume Assumptions
	// ReceiptTimeout is how long a polled message waits for its receipt before the next poll on
	// its linkKey gets it again, same msgId (default 60s) [assumed].
	ReceiptTimeout time.Duration
	// Tenants are the enterprises' clouds (tenants.go). Default: today's one ultimate tenant
	// (Credentials); standard tenants are added next to it.
	Tenants []Tenant
	// StandardPaths are the standard edition's [assumed] paths (standard.go).
	StandardPaths StandardPaths
	// PushRetryMin and PushRetryMax bound the backoff between attempts of an AWS收票推送 push
	// (defaults 1 s and 1 min).
	PushRetryMin, PushRetryMax time.Duration
	// HandshakeWindow is how long a socket may go without its heartbeat ({"handshake":…}, which
	// the vendor's demo sends every 20 s) before the cloud drops it [assumed: the vendor states
	// the client's interval, not the cloud's patience]. Default DefaultHandshakeWindow; negative:
	// a silent socket is never dropped.
	HandshakeWindow time.Duration
	// ImageUploadMaxBytes bounds the files (decoded) one image-system task takes in submitter
	// mode [assumed: the vendor states no size]. Default DefaultImageUploadMaxBytes.
	ImageUploadMaxBytes int
	// Limits bound billSave's line fields, cover and attachments where the vendor states no number
	// [assumed]; zero fields take DefaultLimits (rimflow's invoicecloud.DefaultLimits), a negative
	// one leaves the field unchecked.
	Limits Limits
	// OnSocketDelivery, when set, hears of every message a socket took (its queue's hash and its
	// msgId), after the write: the devstack journals it so a restart does not queue it again.
	OnSocketDelivery func(queueHash, msgID string)
}

// Assumptions turn off [assumed] behaviours; each field disables one, so the zero value is
// today's simulator.
type Assumptions struct {
	// DisableIdempotentMessageID: a repeated messageId/requestId is applied again as a new call
	// instead of answering the stored first answer.
	DisableIdempotentMessageID bool
	// DisableBillSaveReplacesSet: billSave only adds/updates the invoices it names; invoices of
	// the bill left out are not released.
	DisableBillSaveReplacesSet bool
	// DisablePollRedelivery: a polled message is consumed at once, receipt or not.
	DisablePollRedelivery bool
	// DisablePollKeyMD5: the long poll's and the receipt's key is the linkKey itself instead of
	// the lowercase hex MD5 of it (the standard edition's public shape, which the ultimate
	// edition is assumed to share).
	DisablePollKeyMD5 bool
}

// IdempotentMessageID reports whether a repeated messageId answers the stored answer.
func (a Assumptions) IdempotentMessageID() bool { return !a.DisableIdempotentMessageID }

// BillSaveReplacesSet reports whether billSave releases the bill's invoices it leaves out.
func (a Assumptions) BillSaveReplacesSet() bool { return !a.DisableBillSaveReplacesSet }

// PollRedelivery reports whether an unreceipted polled message is delivered again.
func (a Assumptions) PollRedelivery() bool { return !a.DisablePollRedelivery }

// PollKeyMD5 reports whether the poll's key is MD5(linkKey) (else the linkKey itself).
func (a Assumptions) PollKeyMD5() bool { return !a.DisablePollKeyMD5 }

// Credentials are what the simulated tenant accepts.
type Credentials struct {
	AppID     string // appId of getAppToken.do
	AppSecret string // appSecuret (the vendor's spelling) of getAppToken.do
	TenantID  string // tenantid
	AccountID string // accountId: the data centre (数据中心) id
	User      string // user of login.do (usertype Mobile or UserName)

	ClientID     string // client_id of /kapi/oauth2/getToken
	ClientSecret string // client_secret of /kapi/oauth2/getToken
	Username     string // username of /kapi/oauth2/getToken
}

// Paths are the names the vendor has not published for the ultimate edition [assumed].
type Paths struct {
	PollData          string // default /polling/fpzs/invoice/data/v2
	PollReceipt       string // default /polling/fpzs/portal/receipt
	UnbindMessageType string // default billDelete
	// VoucherReverseMessageType is the voucher reversal's (反记账, reversal.go), default voucherDelete.
	VoucherReverseMessageType string
	// ScanPointsOperate is the image system's operateType listing its scanning points [assumed],
	// default queryScanPoints (invoicecloud.DefaultScanPointsOperate).
	ScanPointsOperate string
}

// Defaults from the vendor's documents (docs/invoicecloud.md, "The ultimate edition's guide":
// 授权接口 and 获取evencode) and the client's (docs/invoicecloud.md, "Configuration").
const (
	DefaultTokenTTL       = 2 * time.Hour
	DefaultEventCodeTTL   = 10 * time.Minute
	DefaultPollHold       = 30 * time.Second
	DefaultOAuth2Skew     = 5 * time.Minute
	DefaultReceiptTimeout = 60 * time.Second
	// DefaultHandshakeWindow [assumed]: three of the client's 20-second heartbeats missed.
	DefaultHandshakeWindow = 60 * time.Second
	// DefaultImageUploadMaxBytes [assumed]: 1 MiB of files with one scan task (rimflow's
	// invoicecloud.DefaultLimits.UploadBytes is the same).
	DefaultImageUploadMaxBytes = 1 << 20
	DefaultPollDataPath        = "/polling/fpzs/invoice/data/v2"
	DefaultPollReceiptPath     = "/polling/fpzs/portal/receipt"
	DefaultUnbindMessageType   = "billDelete"
	DefaultScanPointsOperate   = "queryScanPoints"
)

// Limits are the simulator's [assumed] bounds on what billSave carries (Options.Limits).
type Limits struct {
	EntryIDLen  int // a line's entryId, characters
	RemarkLen   int // a line's or an attachment's remark, characters
	CoverBytes  int // the cover's file, decoded
	Attachments int // attachments on one bill, all lines together
	// AttachURLLen and AttachNameLen bound an attachment's attachUrl and attachName, characters.
	AttachURLLen, AttachNameLen int
}

// DefaultLimits [assumed] are rimflow's defaults (invoicecloud.DefaultLimits).
var DefaultLimits = Limits{EntryIDLen: 64, RemarkLen: 200, CoverBytes: 256 << 10, Attachments: 200, AttachURLLen: 1024, AttachNameLen: 200}

// WithDefaults is l with its zero fields at DefaultLimits (a negative field stays: unchecked).
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	for _, f := range []struct{ v, d *int }{{&l.EntryIDLen, &d.EntryIDLen}, {&l.RemarkLen, &d.RemarkLen},
		{&l.CoverBytes, &d.CoverBytes}, {&l.Attachments, &d.Attachments}, {&l.AttachURLLen, &d.AttachURLLen},
		{&l.AttachNameLen, &d.AttachNameLen}} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	return l
}

// DefaultCredentials are the example values of the vendor's document.
func DefaultCredentials() Credentials {
	return Credentials{
		AppID:        "CASHINV",
		AppSecret:    "12345678",
		TenantID:     "devbiz",
		AccountID:    "1534920374578620490",
		User:         "13825207590",
		ClientID:     "CASHINV",
		ClientSecret: "12345678",
		Username:     "13825207590",
	}
}

func (o Options) withDefaults() Options {
	o = o.withTenants()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.EventCodeTTL <= 0 {
		o.EventCodeTTL = DefaultEventCodeTTL
	}
	if o.PollHold <= 0 {
		o.PollHold = DefaultPollHold
	}
	if o.OAuth2Skew <= 0 {
		o.OAuth2Skew = DefaultOAuth2Skew
	}
	if o.ReceiptTimeout <= 0 {
		o.ReceiptTimeout = DefaultReceiptTimeout
	}
	if o.HandshakeWindow == 0 {
		o.HandshakeWindow = DefaultHandshakeWindow
	}
	if o.ImageUploadMaxBytes <= 0 {
		o.ImageUploadMaxBytes = DefaultImageUploadMaxBytes
	}
	o.Limits = o.Limits.WithDefaults()
	d := DefaultCredentials()
	c := &o.Credentials
	for _, f := range []struct {
		v   *string
		def string
	}{
		{&c.AppID, d.AppID}, {&c.AppSecret, d.AppSecret}, {&c.TenantID, d.TenantID},
		{&c.AccountID, d.AccountID}, {&c.User, d.User}, {&c.ClientID, d.ClientID},
		{&c.ClientSecret, d.ClientSecret}, {&c.Username, d.Username},
	} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	if o.Paths.PollData == "" {
		o.Paths.PollData = DefaultPollDataPath
	}
	if o.Paths.PollReceipt == "" {
		o.Paths.PollReceipt = DefaultPollReceiptPath
	}
	if o.Paths.ScanPointsOperate == "" {
		o.Paths.ScanPointsOperate = DefaultScanPointsOperate
	}
	if o.Paths.UnbindMessageType == "" {
		o.Paths.UnbindMessageType = DefaultUnbindMessageType
	}
	if o.Paths.VoucherReverseMessageType == "" {
		o.Paths.VoucherReverseMessageType = DefaultVoucherReverseMessageType
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
