// Package ultimate is the ultimate edition (旗舰版) of Invoice Cloud: a tenant on Kingdee Cosmic,
// its business calls as messages to /kapi/app/rim/message, its token by the legacy app_token
// login or oauth2. It plugs into rimflow as Edition (docs/editions.md).
package ultimate

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"rimflow/invoicecloud"
)

// AuthMode selects how the client gets its access token.
type AuthMode string

const (
	AuthLegacy AuthMode = "legacy" // 1.01 app_token -> 1.02 access_token
	AuthOAuth2 AuthMode = "oauth2" // /kapi/oauth2/getToken
)

// TokenPlacement says where the access token travels on business calls.
type TokenPlacement string

const (
	TokenInHeader TokenPlacement = "header" // header access_token (default)
	TokenInQuery  TokenPlacement = "query"  // ?access_token= (older Cosmic)
)

// Paths are the endpoint paths relative to BaseURL; [assumed] ones are configurable.
type Paths struct {
	AppToken    string // /api/getAppToken.do
	Login       string // /api/login.do
	OAuth2Token string // /kapi/oauth2/getToken
	Message     string // /kapi/app/rim/message
	Deduction   string // /kapi/app/rim/deduction
	MsgWatch    string // /msgwatch/
	PollData    string // /polling/fpzs/invoice/data/v2 [assumed for the ultimate edition]
	PollReceipt string // /polling/fpzs/portal/receipt [assumed for the ultimate edition]
	BDSBillPush string // /kapi/app/bds/erpBillPush: the image system's scan task for a bill
	BDSOperate  string // /kapi/app/bds/operate: operateType queryBillStatus
}

// MessageTypes are the messageType names of /kapi/app/rim/message.
type MessageTypes struct {
	GetEventCode string // getEventCode
	BillSave     string // billSave
	VoucherSave  string // voucherSave
	Unbind       string // billDelete [assumed]
	// VoucherReverse takes a voucher off its bills (反记账) [assumed]: voucherDelete with data
	// {vouchId, vouchNo, resource, serialNoArray, expenseIdArray}.
	VoucherReverse string
}

// Config configures a Client. Zero values take the documented defaults (see DefaultPaths etc.).
// It is also an enterprise's settings of this edition (invoicecloud.Settings).
type Config struct {
	BaseURL        string
	AuthMode       AuthMode
	TokenPlacement TokenPlacement

	// legacy mode (1.01/1.02); the vendor spells the secret "appSecuret".
	AppID     string
	AppSecret string
	TenantID  string
	AccountID string
	User      string
	UserType  string // Mobile | UserName

	// oauth2 mode
	ClientID     string
	ClientSecret string
	Username     string

	Language      string        // zh_CN
	Timeout       time.Duration // per HTTP call
	PollHold      time.Duration // how long a long poll may be held (server side holds up to 30 s)
	RefreshBefore time.Duration // refresh a token this long before it expires

	// Deduction API identification.
	BusinessSystemCode string

	Paths        Paths
	MessageTypes MessageTypes
	// NothingBoundCodes [assumed] are the codes with which the cloud answers an unbind of a bill
	// that holds no invoice there (never saved, already deleted): Unbind counts them as done, so a
	// compensation that runs twice, or for a step whose answer was lost, ends. Default
	// DefaultNothingBoundCodes.
	NothingBoundCodes []string
	// BillSaveKeepsOmitted [assumed]: the cloud's billSave only adds and updates the invoices it
	// names, keeping the bill's others; false (the default) reads it as replacing the bill's set
	// (docs/invoicecloud.md, billSave). RemoveInvoices picks its one call by it.
	BillSaveKeepsOmitted bool
	// ScanPointsOperate [assumed] is the image system's operateType that lists its scanning points
	// (default invoicecloud.DefaultScanPointsOperate).
	ScanPointsOperate string
	// PollKey [assumed]: how the long poll's key is made from the linkKey (default md5, the
	// standard edition's public shape; linkKey: the key is the linkKey itself).
	PollKey invoicecloud.PollKeyDerivation
	Logger  *slog.Logger
	// Observe, when set, is told about every remote call: name is the messageType (or "auth",
	// "poll", "receipt", "deduction", "socket"), outcome "ok" | "retryable" | "error". For metrics.
	Observe func(name, outcome string, took time.Duration)

	// Transport, when set, carries every HTTP call (proxies, custom TLS). Default: a clone of
	// http.DefaultTransport sized for many concurrent bills.
	Transport http.RoundTripper
	// AllowInsecureHTTP accepts a plain http BaseURL whose host is not loopback (a simulator on a
	// private network). Otherwise such a URL must be https: secrets and tokens travel on every call.
	AllowInsecureHTTP bool
}

// Client talks to one tenant of the ultimate edition. Safe for concurrent use; one per process
// shares one token cache.
type Client struct {
	invoicecloud.Listener // Watch (socket, then long poll), Poll, Receipt: the transport's
	cfg                   Config
	t                     *invoicecloud.Transport
}

var _ invoicecloud.EnterpriseClient = (*Client)(nil)

// New validates cfg (after defaults) and builds a Client. A bad configuration returns an
// *invoicecloud.Error whose Field names the offending setting.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg}
	c.t = invoicecloud.NewTransport(invoicecloud.TransportConfig{
		BaseURL: cfg.BaseURL, TokenInQuery: cfg.TokenPlacement == TokenInQuery,
		Timeout: cfg.Timeout, PollHold: cfg.PollHold, RefreshBefore: cfg.RefreshBefore,
		SocketPath: cfg.Paths.MsgWatch, PollDataPath: cfg.Paths.PollData, PollReceiptPath: cfg.Paths.PollReceipt, PollKey: cfg.PollKey,
		Logger: cfg.Logger, Observe: cfg.Observe, Transport: cfg.Transport,
	}, c.fetchToken)
	c.Listener = c.t
	return c, nil
}

// Config returns the effective configuration (defaults applied).
func (c *Client) Config() Config { return c.cfg }

// CheckLogin fetches a fresh token with the configured credentials (nothing else is called).
func (c *Client) CheckLogin(ctx context.Context) error {
	_, err := c.t.CheckToken(ctx)
	return err
}

// BillSaveKeepsOmitted reports the configured reading of billSave (invoicecloud.SetReading).
func (c *Client) BillSaveKeepsOmitted() bool { return c.cfg.BillSaveKeepsOmitted }

// Settings are the client's settings as the registry holds them.
func (c *Client) Settings() invoicecloud.Settings { return c.cfg }
