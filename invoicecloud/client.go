package invoicecloud

// SKELETON written for parallel development: the client helper replaces every body.
// The exported names and signatures below are the contract activities/ and tests code against.

import (
	"context"
	"errors"
	"log/slog"
	"time"
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
}

// MessageTypes are the messageType names of /kapi/app/rim/message.
type MessageTypes struct {
	GetEventCode string // getEventCode
	BillSave     string // billSave
	VoucherSave  string // voucherSave
	Unbind       string // billDelete [assumed]
}

// Config configures a Client. Zero values take the documented defaults (see DefaultPaths etc.).
type Config struct {
	BaseURL        string
	AuthMode       AuthMode
	TokenPlacement TokenPlacement

	// legacy mode (seed-000 1.01/1.02); the vendor spells the secret "appSecuret".
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
	Logger       *slog.Logger
	// Observe, when set, is told about every remote call: name is the messageType (or "auth",
	// "poll", "receipt", "deduction", "socket"), outcome "ok" | "retryable" | "error". For metrics.
	Observe func(name, outcome string, took time.Duration)
}

// Client talks to Invoice Cloud. Safe for concurrent use; one per process shares one token cache.
type Client struct{ cfg Config }

var errSkeleton = errors.New("invoicecloud: not implemented yet")

func New(cfg Config) (*Client, error) { return &Client{cfg: cfg}, nil }

func (c *Client) GetEventCode(ctx context.Context, messageID string, req EventCodeRequest) (EventCodeResponse, error) {
	return EventCodeResponse{}, errSkeleton
}
func (c *Client) Pages(eventCode string) Pages { return Pages{} }
func (c *Client) BillSave(ctx context.Context, messageID string, req BillSaveRequest) error {
	return errSkeleton
}
func (c *Client) VoucherSave(ctx context.Context, messageID string, req VoucherSaveRequest) error {
	return errSkeleton
}
func (c *Client) Unbind(ctx context.Context, messageID string, req UnbindRequest) error {
	return errSkeleton
}
func (c *Client) Deduction(ctx context.Context, requestID string, req DeductionRequest) (DeductionResult, error) {
	return DeductionResult{}, errSkeleton
}

// Poll holds one long poll for linkKey; (nil, nil) when the cloud answers 1307 (no data).
func (c *Client) Poll(ctx context.Context, linkKey string) (*Message, error) { return nil, errSkeleton }

// Receipt acknowledges a polled message.
func (c *Client) Receipt(ctx context.Context, linkKey, msgID string) error { return errSkeleton }

// WatchOptions tune Watch.
type WatchOptions struct {
	Handshake     time.Duration // default 20 s
	Silence       time.Duration // fall back to long poll after this long without a message
	MinBackoff    time.Duration
	MaxBackoff    time.Duration
	OnStateChange func(state string) // "connected", "reconnecting", "polling" — for heartbeats/logs
}

// Watch receives the invoices collected for linkKey: socket first, long poll after silence,
// reconnecting with backoff; each message is delivered once. Returns when ctx ends or deliver errs.
func (c *Client) Watch(ctx context.Context, linkKey string, opts WatchOptions, deliver func(Message) error) error {
	return errSkeleton
}

// Error is the one error type every call returns for remote or validation failures.
type Error struct {
	MessageType string // getEventCode, billSave, auth, poll, ...
	HTTPStatus  int
	Code        string // the cloud's errorCode / errcode / error_code
	Message     string
	Field       string // for validation and configuration errors: the offending field
	Retryable   bool
}

func (e *Error) Error() string { return e.MessageType + ": " + e.Message }
