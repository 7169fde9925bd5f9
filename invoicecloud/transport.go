package invoicecloud

import (
	"cmp"
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
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"rimflow/invoicecloud/flex"
)

// TransportConfig configures the transport an edition's client talks through. Zero durations
// take the defaults (DefaultTimeout, DefaultPollHold, DefaultRefreshBefore).
type TransportConfig struct {
	BaseURL string
	// TokenInQuery sends the access token as ?access_token= on business calls, the poll and the
	// receipt; otherwise it travels in the access_token header.
	TokenInQuery  bool
	Timeout       time.Duration // per HTTP call
	PollHold      time.Duration // how long a long poll may be held (the cloud holds one up to 30 s)
	RefreshBefore time.Duration // refresh a token this long before it expires
	// SocketPath is the msgwatch path ("" when the edition has no known socket: Watch long-polls
	// only); PollDataPath and PollReceiptPath are the long poll's.
	SocketPath, PollDataPath, PollReceiptPath string
	// PollKey derives the poll's and the receipt's key from the linkKey ("": md5) [assumed].
	PollKey PollKeyDerivation
	Logger  *slog.Logger
	// Observe, when set, is told about every remote call: name is the call (or "auth", "poll",
	// "receipt", "socket"), outcome "ok" | "retryable" | "error". For metrics.
	Observe func(name, outcome string, took time.Duration)
	// Transport, when set, carries every HTTP call (proxies, custom TLS). Default: a clone of
	// http.DefaultTransport sized for many concurrent bills.
	Transport http.RoundTripper
}

// Transport is what every edition's client shares: HTTP without redirects or retries, one token
// cache (one fetch for many callers, refresh before expiry, one re-auth on a refused token), the
// classification of failures into *Error, and the socket/long-poll watch. An edition brings its
// token fetch and the shape of its calls. Safe for concurrent use.
type Transport struct {
	cfg    TransportConfig
	base   string // BaseURL without its trailing slash; paths start with "/"
	http   *resty.Client
	tokens *tokenCache
}

// maxResponseBytes bounds what one answer may allocate (a poll may carry many invoices).
const maxResponseBytes = 64 << 20

// MaxSocketMessageBytes bounds one socket frame the watcher reads; a larger frame ends the socket
// (the watcher reconnects or falls back to the poll) instead of growing the worker's memory.
const MaxSocketMessageBytes = 8 << 20

// NewTransport builds the transport of one enterprise's client; fetch gets a fresh access token
// (the edition's authentication) and is called by the token cache only. It does not validate cfg:
// the edition's configuration does (ValidateBaseURL, ValidateDurations, ValidatePaths).
func NewTransport(cfg TransportConfig, fetch func(context.Context) (Token, error)) *Transport {
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.PollHold = cmp.Or(cfg.PollHold, DefaultPollHold)
	cfg.RefreshBefore = cmp.Or(cfg.RefreshBefore, DefaultRefreshBefore)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
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
		// wherever it points. The 3xx answer itself comes back (Exchange refuses it).
		SetRedirectPolicy(resty.RedirectPolicyFunc(func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse })).
		SetHeader("Accept", "application/json")
	t := &Transport{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), http: rc}
	t.tokens = newTokenCache(fetch, cfg.RefreshBefore, cfg.Timeout, time.Now)
	return t
}

// Base is the base URL without its trailing slash (pages are built on it).
func (t *Transport) Base() string { return t.base }

// Timeout is the per-call timeout.
func (t *Transport) Timeout() time.Duration { return t.cfg.Timeout }

// Logger is the client's logger.
func (t *Transport) Logger() *slog.Logger { return t.cfg.Logger }

// PutToken installs a token fetched outside the cache (a CheckLogin's fresh one), so it is used.
func (t *Transport) PutToken(tok Token) { t.tokens.put(tok) }

// restyLogger routes resty's own messages to slog, redacted (they can contain URLs).
type restyLogger struct{ l *slog.Logger }

func (r restyLogger) Errorf(f string, v ...any) { r.l.Error(Redact(fmt.Sprintf(f, v...))) }
func (r restyLogger) Warnf(f string, v ...any)  { r.l.Warn(Redact(fmt.Sprintf(f, v...))) }
func (r restyLogger) Debugf(f string, v ...any) { r.l.Debug(Redact(fmt.Sprintf(f, v...))) }

// Observe reports one remote call to the configured Observe.
func (t *Transport) Observe(name string, start time.Time, err error) {
	if t.cfg.Observe == nil {
		return
	}
	t.cfg.Observe(name, outcomeOf(err), time.Since(start))
}

// outcomeOf classifies a call's result as the metrics and the debug log name it: ok, retryable
// or error (never the error's text, which may quote the bill).
func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case IsRetryable(err):
		return "retryable"
	default:
		return "error"
	}
}

// Request is one HTTP exchange.
type Request struct {
	Name   string // for errors and Observe
	Method string
	Path   string
	Query  url.Values
	Header map[string]string
	Body   any
	// ContentType of Body (default application/json; the standard edition's encrypted bodies
	// are text).
	ContentType string
	Timeout     time.Duration // default the per-call timeout
}

// Exchange performs one HTTP request without a token and returns the status and body, or a
// transport *Error (redacted, retryable unless the caller canceled).
func (t *Transport) Exchange(ctx context.Context, r Request) (status int, body []byte, e *Error) {
	// A client span per exchange when tracing is on (a no-op otherwise): the call's name, method
	// and status only, never the URL (the token may be in its query) or the body.
	ctx, span := otel.Tracer("rimflow/invoicecloud").Start(ctx, "invoicecloud "+r.Name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("rimflow.cloud.call", r.Name), attribute.String("http.request.method", r.Method)))
	defer func() {
		if status != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", status))
		}
		if e != nil {
			span.SetStatus(codes.Error, e.Code)
		}
		span.End()
	}()
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(r.Timeout, t.cfg.Timeout))
	defer cancel()
	req := t.http.R().SetContext(ctx)
	if r.Body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.SetHeader("Content-Type", ct).SetBody(r.Body)
	}
	for k, v := range r.Header {
		req.SetHeader(k, v)
	}
	if len(r.Query) > 0 {
		req.SetQueryParamsFromValues(r.Query)
	}
	resp, err := req.Execute(r.Method, t.base+r.Path)
	if err != nil {
		if ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
			err = ctx.Err() // normalise url.Error wrapping for the classification below
		}
		return 0, nil, transportError(r.Name, err)
	}
	if status := resp.StatusCode(); status >= 300 && status < 400 {
		return 0, nil, redirectError(r.Name, status, resp.Header().Get("Location"))
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

// authorized performs r with the access token, placed per config. When the cloud says the token
// is invalid it drops that token, fetches a new one and tries exactly once more.
func (t *Transport) authorized(ctx context.Context, r Request) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		tok, err := t.tokens.get(ctx)
		if err != nil {
			return 0, nil, err
		}
		rr := r
		rr.Query = cloneValues(r.Query)
		rr.Header = map[string]string{}
		for k, v := range r.Header {
			rr.Header[k] = v
		}
		if t.cfg.TokenInQuery {
			rr.Query.Set("access_token", tok)
		} else {
			rr.Header["access_token"] = tok
		}
		start := time.Now()
		status, body, terr := t.Exchange(ctx, rr)
		if terr != nil {
			t.Observe(r.Name, start, terr)
			return 0, nil, terr
		}
		if rejected, code, msg := tokenRejected(status, body); rejected {
			t.tokens.invalidate(tok)
			if attempt == 0 {
				t.cfg.Logger.DebugContext(ctx, "invoicecloud: access token rejected, re-authenticating", "call", r.Name, "code", code)
				t.Observe(r.Name, start, &Error{Retryable: true})
				continue
			}
			// A token fetched a moment ago was refused too: the cloud may be revoking tokens
			// (or clocks disagree); let the caller retry later rather than loop here.
			e := &Error{MessageType: r.Name, HTTPStatus: status, Code: code, Retryable: true,
				Message: "access token rejected right after re-authentication: " + Redact(msg)}
			t.Observe(r.Name, start, e)
			return 0, nil, e
		}
		// The caller classifies the answer; Observe gets the business outcome there.
		return status, body, nil
	}
}

// RoundTrip performs r with the access token and hands the answer to decode; Observe gets the
// business outcome (token trouble is observed on the way).
func (t *Transport) RoundTrip(ctx context.Context, r Request, decode func(status int, b []byte) error) error {
	start := time.Now()
	status, b, err := t.authorized(ctx, r)
	if err != nil {
		return err
	}
	err = decode(status, b)
	t.Observe(r.Name, start, err)
	// In the activity's trace: its traceId leads from this line to the bill's spans.
	t.cfg.Logger.DebugContext(ctx, "invoicecloud call", "call", r.Name, "outcome", outcomeOf(err), "took", time.Since(start))
	return err
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
		ErrorCode   flex.String `json:"errorCode"`
		Errcode     flex.String `json:"errcode"`
		Code        flex.String `json:"code"`
		Message     flex.String `json:"message"`
		Description flex.String `json:"description"`
	}
	_ = json.Unmarshal(body, &env)
	code := string(flex.First(env.ErrorCode, env.Errcode, env.Code))
	msg := string(flex.First(env.Message, env.Description))
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

// StatusError classifies a non-2xx answer that was not a token rejection.
func StatusError(name string, status int, body []byte) *Error {
	var env struct {
		ErrorCode   flex.String `json:"errorCode"`
		Errcode     flex.String `json:"errcode"`
		Message     flex.String `json:"message"`
		Description flex.String `json:"description"`
	}
	_ = json.Unmarshal(body, &env)
	msg := string(flex.First(env.Message, env.Description))
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{MessageType: name, HTTPStatus: status, Code: string(flex.First(env.ErrorCode, env.Errcode)),
		Message: Redact(msg), Retryable: httpRetryable(status)}
}

// AuthExchange posts body to a token endpoint; judge decodes the answer into the edition's own
// shape and says whether it is a success (with the refusal's code and description when not).
// Outages and non-JSON answers are classified here; a refusal becomes AuthError with the
// configuration field fieldOf names for it. Observe sees the outcome as "auth".
func (t *Transport) AuthExchange(ctx context.Context, path string, body any,
	judge func(status int, b []byte) (ok bool, code, desc string, jerr error), fieldOf func(code, desc string) string) error {
	start := time.Now()
	status, b, terr := t.Exchange(ctx, Request{Name: "auth", Method: http.MethodPost, Path: path, Body: body})
	if terr != nil {
		t.Observe("auth", start, terr)
		return terr
	}
	ok, code, desc, jerr := judge(status, b)
	var err error
	switch {
	case status/100 != 2 && (jerr != nil || httpRetryable(status)):
		err = StatusError("auth", status, b)
	case jerr != nil:
		err = &Error{MessageType: "auth", HTTPStatus: status, Message: "answer is not JSON (check baseURL and paths)"}
	case !ok:
		err = authError(status, code, desc, fieldOf(code, desc))
	}
	t.Observe("auth", start, err)
	return err
}

// FieldApptoken is what an edition's field function answers for a refusal that says the legacy
// app_token died between its two steps: retryable, not a configuration problem.
const FieldApptoken = "apptoken"

// authError turns a refused authentication into an *Error. Credential problems are
// configuration errors (not retryable) whose Field names the setting to fix; rate limiting,
// outages and a token revoked between two login steps are retryable.
func authError(status int, code, desc, field string) *Error {
	e := &Error{MessageType: "auth", HTTPStatus: status, Code: code, Message: Redact(desc)}
	if e.Message == "" {
		e.Message = "authentication refused"
	}
	switch {
	case status == http.StatusTooManyRequests || status >= 500 || code == "429":
		e.Retryable = true // getToken allows 30 calls/min; an outage is not a credential problem
	case field == FieldApptoken:
		e.Retryable = true // the app_token died between 1.01 and 1.02: start over
	default:
		e.Field = field
	}
	return e
}

// ParamField reads the parameter a refusal's description starts with ("client_secret: 客户端密钥错误")
// and maps it, lower-cased, through fields (the edition's vendor parameter → setting); "" when
// the description names none of them.
func ParamField(desc string, fields map[string]string) string {
	if i := strings.IndexAny(desc, ":："); i > 0 {
		return fields[strings.ToLower(strings.TrimSpace(desc[:i]))]
	}
	return ""
}

// Mentions reports whether desc (a refusal's description), lower-cased, contains any of words:
// the last resort of an edition's field function.
func Mentions(desc string, words ...string) bool {
	d := strings.ToLower(desc)
	for _, w := range words {
		if strings.Contains(d, w) {
			return true
		}
	}
	return false
}

// Listener is what a client of any edition offers of its Transport as its own: Watch, Poll and
// Receipt. A client embeds its transport as a Listener, so only these three are promoted.
type Listener interface {
	Watch(ctx context.Context, linkKey string, opts WatchOptions, deliver func(Message) error) error
	Poll(ctx context.Context, linkKey string) (*Message, error)
	Receipt(ctx context.Context, linkKey, msgID string) error
}

var _ Listener = (*Transport)(nil)

// CheckToken fetches a fresh token with the configured credentials (nothing else is called).
func (t *Transport) CheckToken(ctx context.Context) (Token, error) { return t.tokens.fetch(ctx) }
