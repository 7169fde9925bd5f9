package invoicecloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
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
	// NothingBoundCodes [assumed] are the codes with which the cloud answers an unbind of a bill
	// that holds no invoice there (never saved, already deleted): Unbind counts them as done, so a
	// compensation that runs twice, or for a step whose answer was lost, ends. Default
	// DefaultNothingBoundCodes.
	NothingBoundCodes []string
	Logger            *slog.Logger
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

// Client talks to Invoice Cloud. Safe for concurrent use; one per process shares one token cache.
type Client struct {
	cfg    Config
	base   string // BaseURL without its trailing slash; paths start with "/"
	http   *resty.Client
	tokens *tokenCache
}

// maxResponseBytes bounds what one answer may allocate (a poll may carry many invoices).
const maxResponseBytes = 64 << 20

// MaxSocketMessageBytes bounds one socket frame the watcher reads; a larger frame ends the socket
// (the watcher reconnects or falls back to the poll) instead of growing the worker's memory.
const MaxSocketMessageBytes = 8 << 20

// New validates cfg (after defaults) and builds a Client. A bad configuration returns an
// *Error whose Field names the offending setting.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := build(cfg)
	c.tokens = newTokenCache(c.fetchToken, cfg.RefreshBefore, cfg.Timeout, time.Now)
	return c, nil
}

// build makes the HTTP side of a client from a defaulted, validated cfg; the caller sets tokens.
// The standard edition's client reuses it (and everything that hangs off *Client: the token
// cache, authorized calls, the poll, the receipt and Watch) with its own token fetch.
func build(cfg Config) *Client {
	transport := cfg.Transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64 // many bills talk to one host at once
		transport = t
	}
	rc := resty.New().
		SetTransport(transport).
		SetCookieJar(nil).
		SetRetryCount(0). // retries belong to the caller (Temporal activities)
		SetLogger(restyLogger{cfg.Logger}).
		SetResponseBodyLimit(maxResponseBytes).
		// Never follow a redirect: a 307 from a token endpoint would re-POST the secret to
		// wherever it points. The 3xx answer itself comes back (exchange refuses it).
		SetRedirectPolicy(resty.RedirectPolicyFunc(func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse })).
		SetHeader("Accept", "application/json")
	return &Client{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), http: rc}
}

// Config returns the effective configuration (defaults applied).
func (c *Client) Config() Config { return c.cfg }

// CheckLogin fetches a fresh token with the configured credentials (nothing else is called).
func (c *Client) CheckLogin(ctx context.Context) error {
	_, err := c.fetchToken(ctx)
	return err
}

// restyLogger routes resty's own messages to slog, redacted (they can contain URLs).
type restyLogger struct{ l *slog.Logger }

func (r restyLogger) Errorf(f string, v ...any) { r.l.Error(Redact(fmt.Sprintf(f, v...))) }
func (r restyLogger) Warnf(f string, v ...any)  { r.l.Warn(Redact(fmt.Sprintf(f, v...))) }
func (r restyLogger) Debugf(f string, v ...any) { r.l.Debug(Redact(fmt.Sprintf(f, v...))) }

// observe reports one remote call to cfg.Observe.
func (c *Client) observe(name string, start time.Time, err error) {
	if c.cfg.Observe == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if IsRetryable(err) {
			outcome = "retryable"
		}
	}
	c.cfg.Observe(name, outcome, time.Since(start))
}

// request is one HTTP exchange.
type request struct {
	name   string // for errors and Observe
	method string
	path   string
	query  url.Values
	header map[string]string
	body   any
	// contentType of body (default application/json; the standard edition's encrypted bodies
	// are text).
	contentType string
	timeout     time.Duration
}

// exchange performs one HTTP request and returns the status and body, or a transport *Error
// (redacted, retryable unless the caller canceled).
func (c *Client) exchange(ctx context.Context, r request) (int, []byte, *Error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req := c.http.R().SetContext(ctx)
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.SetHeader("Content-Type", ct).SetBody(r.body)
	}
	for k, v := range r.header {
		req.SetHeader(k, v)
	}
	if len(r.query) > 0 {
		req.SetQueryParamsFromValues(r.query)
	}
	resp, err := req.Execute(r.method, c.base+r.path)
	if err != nil {
		if ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
			err = ctx.Err() // normalise url.Error wrapping for the classification below
		}
		return 0, nil, transportError(r.name, err)
	}
	if status := resp.StatusCode(); status >= 300 && status < 400 {
		return 0, nil, redirectError(r.name, status, resp.Header().Get("Location"))
	}
	return resp.StatusCode(), resp.Body(), nil
}

// redirectError refuses a redirect answer: the client follows none. Only the target's host is
// named (its query could carry anything).
func redirectError(name string, status int, location string) *Error {
	target := "another location"
	if u, err := url.Parse(location); err == nil && u.Host != "" {
		target = u.Scheme + "://" + u.Host
	}
	return &Error{MessageType: name, HTTPStatus: status,
		Message: fmt.Sprintf("the cloud answered a redirect (HTTP %d) to %s; redirects are never followed (a token request would carry its secret along): set the base URL to where the cloud answers", status, target)}
}

// authorized performs r with the access token, placed per config (and also in the query when
// queryToken, for an endpoint whose documented shape needs ?access_token= whatever the placement).
// When the cloud says the token is invalid it drops that token, fetches a new one and tries
// exactly once more.
func (c *Client) authorized(ctx context.Context, r request, queryToken bool) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return 0, nil, err
		}
		rr := r
		rr.query = cloneValues(r.query)
		rr.header = map[string]string{}
		for k, v := range r.header {
			rr.header[k] = v
		}
		if c.cfg.TokenPlacement == TokenInHeader {
			rr.header["access_token"] = tok
		}
		if c.cfg.TokenPlacement == TokenInQuery || queryToken {
			rr.query.Set("access_token", tok)
		}
		start := time.Now()
		status, body, terr := c.exchange(ctx, rr)
		if terr != nil {
			c.observe(r.name, start, terr)
			return 0, nil, terr
		}
		if rejected, code, msg := tokenRejected(status, body); rejected {
			c.tokens.invalidate(tok)
			if attempt == 0 {
				c.cfg.Logger.Debug("invoicecloud: access token rejected, re-authenticating", "call", r.name, "code", code)
				c.observe(r.name, start, &Error{Retryable: true})
				continue
			}
			// A token fetched a moment ago was refused too: the cloud may be revoking tokens
			// (or clocks disagree); let the caller retry later rather than loop here.
			e := &Error{MessageType: r.name, HTTPStatus: status, Code: code, Retryable: true,
				Message: "access token rejected right after re-authentication: " + Redact(msg)}
			c.observe(r.name, start, e)
			return 0, nil, e
		}
		// The caller classifies the answer; Observe gets the business outcome there.
		return status, body, nil
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// tokenRejected recognises the cloud's "token invalid/expired" answers: HTTP 401, or an error
// code/description about the token in an otherwise ordinary answer.
func tokenRejected(status int, body []byte) (bool, string, string) {
	var env struct {
		ErrorCode   flexString `json:"errorCode"`
		Errcode     flexString `json:"errcode"`
		Code        flexString `json:"code"`
		Message     flexString `json:"message"`
		Description flexString `json:"description"`
	}
	_ = json.Unmarshal(body, &env)
	code := string(firstNonEmpty(env.ErrorCode, env.Errcode, env.Code))
	msg := string(firstNonEmpty(env.Message, env.Description))
	if status == http.StatusUnauthorized {
		return true, code, msg
	}
	switch code {
	case "401":
		return true, code, msg
	}
	lower := strings.ToLower(msg)
	if strings.Contains(lower, "token") && (strings.Contains(msg, "失效") || strings.Contains(msg, "过期") ||
		strings.Contains(msg, "无效") || strings.Contains(lower, "expired") || strings.Contains(lower, "invalid")) {
		return true, code, msg
	}
	return false, "", ""
}

func firstNonEmpty(v ...flexString) flexString {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// statusError classifies a non-2xx answer that was not a token rejection.
func statusError(name string, status int, body []byte) *Error {
	var env struct {
		ErrorCode   flexString `json:"errorCode"`
		Errcode     flexString `json:"errcode"`
		Message     flexString `json:"message"`
		Description flexString `json:"description"`
	}
	_ = json.Unmarshal(body, &env)
	msg := string(firstNonEmpty(env.Message, env.Description))
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{MessageType: name, HTTPStatus: status, Code: string(firstNonEmpty(env.ErrorCode, env.Errcode)),
		Message: Redact(msg), Retryable: httpRetryable(status)}
}
