// Package api is the ERP-facing HTTP API of rimflow over a Temporal client, and the Bills
// service that the HTTP handlers and the starter CLI share.
//
// Reading order: routes.go is the route table with each route's handler; bills.go is what the
// handlers (and the CLI) do to a bill in Temporal; server.go is what every route shares (auth,
// limits, timeout, JSON answers, metrics, logs).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"

	"rimflow/internal/access"
	"rimflow/internal/codec"
	"rimflow/internal/config"
	"rimflow/internal/metrics"
	"rimflow/internal/policy"
	"rimflow/internal/tracing"
	"rimflow/internal/webhooks"
	"rimflow/workflows"
)

// Options configure the HTTP API.
type Options struct {
	// StartWait bounds how long a start waits for the eventCode before answering 202 with what is
	// known (default DefaultStartWait; kept below RequestTimeout).
	StartWait time.Duration
	Client    client.Client
	Namespace string // default: the client's namespace
	TaskQueue string // default workflows.DefaultTaskQueue
	// Clients are who may call the API and its codec server: each client authenticates with its
	// own bearer token and may use its operations on its resources (internal/access). None leaves
	// the API open, which only a loopback listener may be: the program checks its address with
	// access.CheckListen before serving.
	Clients *access.Clients
	// Token is shorthand for one client, named DefaultClientName, allowed everything (a test, the
	// devstack's --api-token). Not together with Clients.
	Token string
	// Policy decides each bill's options, segregation of duties and ops path at its start; nil is
	// policy.Default().
	Policy *policy.Policy
	// Codec is the payload codec Client seals payloads with (nil: none). With it the API serves the
	// codec server at /v1/codec/ (Temporal Web and the temporal CLI show decrypted payloads through
	// it) and reads the memo it wrote.
	Codec *codec.Codec
	// CodecOrigins are the Temporal Web origins ("http://127.0.0.1:8233") the codec server answers
	// from a browser (CORS with credentials).
	CodecOrigins []string
	// SecureCookies: browsers reach the API over https though TLS ends in front of it (its public
	// URL is https): the codec server's session cookie is Secure.
	SecureCookies bool
	Logger        *slog.Logger
	// AuthFailures limits wrong bearer tokens per client address, for the API and its codec
	// server together (nil: access.NewFailureLimiter's defaults).
	AuthFailures *access.FailureLimiter
	// Registry is where the API's metrics go and what /metrics serves; nil = a private registry
	// with the Go and process collectors.
	Registry *prometheus.Registry
	// OpsListener: the program serves BuildHandlers' Ops on a listener of its own
	// (RIMFLOW_API_OPS_ADDR), so the API itself no longer serves /metrics (404, and not in its
	// document). Without it /metrics needs a client with the metrics operation.
	OpsListener bool
	// RequestTimeout bounds each call to Temporal (default 30 s): an update waits for the worker.
	RequestTimeout time.Duration
	// Notifies reports whether a resource's events go to webhooks (Bills.Notifies); a resource
	// with a webhook registered through the API notifies too.
	Notifies func(resource string) bool
	// Webhooks are the settings of the webhooks registered through the API (docs/webhooks.md).
	Webhooks webhooks.Settings
	// ReissueMargin is Bills.ReissueMargin (0: the workflow's default, workflows.ReissueMargin).
	ReissueMargin time.Duration
	// Enterprises is the enterprise registry (Bills.Enterprises); it also authenticates the
	// cloud's pushes. nil: any tax number, no pushes.
	Enterprises Enterprises
}

// HeaderIdempotencyKey names the header an ERP sets on a POST it may retry: the same key gets the
// first call's answer instead of a conflict.
const HeaderIdempotencyKey = "Idempotency-Key"

// MaxIdempotencyKeyLen bounds the key (it becomes a Temporal update id).
const MaxIdempotencyKeyLen = 200

// HeaderRequestID carries a request's id: the caller's (1–200 printable ASCII characters) or a new
// one. Every answer carries it, error bodies repeat it (error.requestId), and the server's log
// lines of the request name it, so an ERP's report can be found in the logs.
const HeaderRequestID = "X-Request-Id"

// DefaultRequestTimeout bounds one API call when Options.RequestTimeout is zero: the
// configuration's default for RIMFLOW_API_REQUEST_TIMEOUT, so there is one.
const DefaultRequestTimeout = config.DefaultAPIRequestTimeout

// HeaderActingUser names the person the calling client vouches for: the ERP's logged-in user who
// approves, submits or cancels. Every decision records it with the client's name; an approval's
// approver defaults to it (and must equal it when both are given).
const HeaderActingUser = "X-Acting-User"

// MaxActingUserLen bounds X-Acting-User (it is recorded on the bill and shown in Temporal Web).
const MaxActingUserLen = 128

// DefaultClientName names the one client Options.Token stands for.
const DefaultClientName = "default"

// AnonymousClient is the client recorded on decisions sent to an open API (no client configured,
// loopback only).
const AnonymousClient = "anonymous"

// CLIClient is the client recorded on decisions the starter CLI sends (it talks to Temporal
// directly, so whoever runs it holds Temporal's own credentials).
const CLIClient = "starter-cli"

type server struct {
	bills    *Bills
	clients  *access.Clients
	failures *access.FailureLimiter
	codec    http.Handler // the codec server; nil when the API has no codec
	log      *slog.Logger
	registry *prometheus.Registry
	stats    *apiMetrics
	timeout  time.Duration
	routes   []route
	mux      *http.ServeMux
	doc      map[string]any
	ops      http.Handler // the ops listener's handler; nil without Options.OpsListener
	hooks    *webhooks.Store
}

// Build returns the API's handler (Go 1.22 ServeMux patterns, one per documented route), or why
// the options cannot make one.
func Build(opts Options) (http.Handler, error) {
	h, err := BuildHandlers(opts)
	return h.API, err
}

// Handlers are what the API serves: the API itself, and with Options.OpsListener the ops
// listener's /metrics and /healthz.
type Handlers struct {
	API http.Handler
	Ops http.Handler // nil without Options.OpsListener
}

// BuildHandlers is Build with the ops listener's handler too.
func BuildHandlers(opts Options) (Handlers, error) {
	s, err := newServer(opts)
	if err != nil {
		return Handlers{}, err
	}
	return Handlers{API: s, Ops: s.ops}, nil
}

// opsRoutes are the routes the ops listener serves, without a token: it listens for the scraper
// and the probes on a private network (access.CheckOpsListen).
var opsRoutes = []string{"health", "metrics"}

func newServer(opts Options) (*server, error) {
	clients := opts.Clients
	if opts.Token != "" {
		if !clients.Open() {
			return nil, errors.New("set either Clients or Token, not both")
		}
		var err error
		if clients, err = access.New(access.Spec{Name: DefaultClientName, Token: opts.Token,
			Operations: []string{access.OpAdmin}, Resources: []string{access.AllResources}}); err != nil {
			return nil, err
		}
	}
	s := &server{
		bills:    NewBills(opts.Client, opts.Namespace, opts.TaskQueue),
		clients:  clients,
		log:      opts.Logger,
		registry: opts.Registry,
		timeout:  opts.RequestTimeout,
		routes:   routes(),
		mux:      http.NewServeMux(),
		failures: opts.AuthFailures,
	}
	if s.failures == nil {
		s.failures = access.NewFailureLimiter(0, 0)
	}
	s.hooks = &webhooks.Store{Client: opts.Client, TaskQueue: opts.TaskQueue, Settings: opts.Webhooks}
	s.bills.Notifies = func(resource string) bool {
		return (opts.Notifies != nil && opts.Notifies(resource)) || s.hooks.Has(resource)
	}
	s.bills.ReissueMargin = opts.ReissueMargin
	s.bills.Enterprises = opts.Enterprises
	s.bills.Policy = opts.Policy
	if opts.Codec != nil {
		s.bills.DataConverter = opts.Codec.DataConverter()
		s.bills.Voice = opts.Codec.Voice()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.registry == nil {
		s.registry = metrics.NewRegistry()
	}
	if s.timeout <= 0 {
		s.timeout = DefaultRequestTimeout
	}
	if opts.Codec != nil {
		h, err := codec.NewServer(codec.ServerOptions{
			Codec: opts.Codec, Clients: clients, AllowOpen: clients.Open(), Origins: opts.CodecOrigins, SecureCookies: opts.SecureCookies, Failures: s.failures,
			Namespace: opts.Namespace, Logger: s.log.With("component", "codec"),
			// The API's error shape, with its business code, on the codec's routes too.
			WriteError: func(w http.ResponseWriter, status int, code, message string) {
				writeError(w, &Error{Status: status, Code: code, Message: message})
			},
		})
		if err != nil {
			return nil, err
		}
		s.codec = h
	}
	s.bills.StartWait = opts.StartWait
	if s.bills.StartWait <= 0 || s.bills.StartWait >= s.timeout {
		s.bills.StartWait = min(DefaultStartWait, s.timeout/2)
	}
	s.stats = newAPIMetrics(s.registry, s.bills.policy().Roles())
	if opts.OpsListener {
		// /metrics moves to the ops listener: the API answers it as an unknown route (404), so
		// it tells a stranger nothing, not even that the metrics exist. /healthz stays for load
		// balancers (it says up or down only) and is on the ops listener as well.
		ops := http.NewServeMux()
		s.routes = slices.DeleteFunc(s.routes, func(rt route) bool {
			if !slices.Contains(opsRoutes, rt.Operation) {
				return false
			}
			rt.Open, rt.Op = true, ""
			ops.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
			return rt.Operation == "metrics"
		})
		ops.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(HeaderRequestID, requestID(r))
			writeError(w, newError(http.StatusNotFound, CodeNotFound, "no such route: this listener serves GET /metrics and GET /healthz"))
		})
		s.ops = ops
	}
	s.doc = openAPI(s.routes)
	for _, rt := range s.routes {
		pattern := rt.Path
		if rt.Method != "" {
			pattern = rt.Method + " " + rt.Path
		}
		s.mux.Handle(pattern, s.wrap(rt))
	}
	s.mux.HandleFunc("/", s.noRoute)
	return s, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// wrap adds what every route shares: authentication and the route's operation, body limit and
// type, the acting user, timeout, JSON answers, metrics, logs.
func (s *server) wrap(rt route) http.Handler {
	label := rt.Method + " " + rt.Path
	metricsMethod := rt.Method
	if metricsMethod == "" {
		metricsMethod = "any" // a route for every method: never the caller's method as a label
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		var who string
		// The request's span, in the caller's trace (traceparent) or a new one; named by the route
		// pattern, never the path (it names the bill). Without tracing it records nothing.
		ctx, span := tracing.Tracer("api").Start(tracing.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header)), label,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.route", rt.Path), attribute.String("http.request.method", metricsMethod)))
		r = r.WithContext(ctx)
		reqID := requestID(r)
		rec.Header().Set(HeaderRequestID, reqID)
		defer func() {
			span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
			if rec.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(rec.status))
			}
			span.End()
		}()
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("api handler panicked", "route", label, "requestId", reqID, "panic", fmt.Sprint(p))
				if rec.status == 0 {
					writeError(rec, newError(http.StatusInternalServerError, CodeInternal, "internal error"))
				}
			}
			took := time.Since(start)
			s.stats.observeRequest(rt.Path, metricsMethod, rec.status, took)
			// The path names the bill; the query string and headers (Authorization) are never logged.
			attrs := []slog.Attr{slog.String("route", label), slog.String("path", r.URL.Path), slog.String("requestId", reqID),
				slog.Int("status", rec.status), slog.Duration("took", took)}
			if who != "" {
				attrs = append(attrs, slog.String("client", who))
			}
			s.log.LogAttrs(r.Context(), levelFor(rec.status), "api request", attrs...)
		}()

		var c *access.Client
		if !rt.Open {
			var e *Error
			if c, e = s.authenticate(r); e != nil {
				if e.Status == http.StatusTooManyRequests {
					rec.Header().Set("Retry-After", fmt.Sprint(int(access.DefaultFailureEvery.Seconds())))
				} else {
					rec.Header().Set("WWW-Authenticate", `Bearer realm="rimflow"`)
				}
				writeError(rec, e)
				return
			}
			who = clientName(c)
			// The route's operation, on the bill's resource when the path names one; start (the
			// resource is in the body) and approvals (the role is) check again once it is read.
			if rt.Op != "" {
				e := authorize(c, rt.Op, r.PathValue("resource"))
				if e != nil && rt.OrOp != "" && authorize(c, rt.OrOp, r.PathValue("resource")) == nil {
					e = nil
				}
				if e != nil {
					writeError(rec, e)
					return
				}
			}
		}
		if e := unknownQuery(rt, r.URL.Query()); e != nil && !rt.CodecQuery {
			writeError(rec, e)
			return
		}
		if rt.raw != nil {
			rt.raw(s, rec, r)
			return
		}
		if e := checkContentType(r); e != nil {
			writeError(rec, e)
			return
		}
		user, e := actingUser(r)
		if e != nil {
			writeError(rec, e)
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, rt.maxBody())
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		ctx = withCaller(ctx, caller{client: c, user: user})
		if key := r.Header.Get(HeaderIdempotencyKey); key != "" {
			if len(key) > MaxIdempotencyKeyLen || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
				writeError(rec, ValidationFailed(map[string]string{HeaderIdempotencyKey: fmt.Sprintf("at most %d printable ASCII characters", MaxIdempotencyKeyLen)}))
				return
			}
			ctx = WithIdempotencyKey(ctx, key)
			ctx = withFingerprint(ctx, r)
		}
		status, body, err := rt.serve(s, r.WithContext(ctx))
		if err != nil {
			e := ErrorFrom(err)
			if e.Status == http.StatusGatewayTimeout && !s.temporalAnswers(r.Context()) {
				e = newError(http.StatusServiceUnavailable, CodeUnavailable, "Temporal is unreachable")
			}
			if e.Status >= 500 {
				s.log.LogAttrs(ctx, slog.LevelWarn, "api call failed", slog.String("route", label),
					slog.String("path", r.URL.Path), slog.String("requestId", reqID), slog.String("error", err.Error()))
			}
			writeError(rec, e)
			return
		}
		writeJSON(rec, status, body)
	})
}

// temporalAnswers tells a bill that did not answer in time (504) from Temporal itself being
// unreachable (503), with a quick health check.
func (s *server) temporalAnswers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	return s.bills.Health(ctx) == nil
}

// requestID is the caller's X-Request-Id when it is usable (printable ASCII, at most 200), else
// the request's trace id when tracing is on (one id finds the answer, the log lines and the
// trace), else a new random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get(HeaderRequestID); id != "" && len(id) <= MaxIdempotencyKeyLen &&
		!strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return id
	}
	if tracing.On() {
		if id := tracing.TraceID(r.Context()); id != "" {
			return id
		}
	}
	return newRequestID()
}

// unknownQuery refuses query parameters the route does not take (a misspelt filter must not
// silently return everything).
func unknownQuery(rt route, q url.Values) *Error {
	fields := map[string]string{}
	for name := range q {
		if !slices.ContainsFunc(rt.Query, func(p param) bool { return p.Name == name }) {
			known := "none"
			if len(rt.Query) > 0 {
				names := make([]string, len(rt.Query))
				for i, p := range rt.Query {
					names[i] = p.Name
				}
				known = strings.Join(names, ", ")
			}
			fields[name] = "unknown query parameter (this route takes: " + known + ")"
		}
	}
	if len(fields) > 0 {
		return ValidationFailed(fields)
	}
	return nil
}

// authenticate finds the calling client by its bearer token; an open API has none (nil, nil).
func (s *server) authenticate(r *http.Request) (*access.Client, *Error) {
	if s.clients.Open() {
		return nil, nil
	}
	// A token is a guess until it matches: an address that sent too many wrong ones waits
	// (access.FailureLimiter); a request with no token at all guesses nothing.
	addr := access.ClientAddr(r)
	if _, sent := access.BearerToken(r.Header.Get("Authorization")); sent {
		if ok, _ := s.failures.Allow(addr); !ok {
			return nil, newError(http.StatusTooManyRequests, CodeTooManyRequests, "too many wrong bearer tokens from this address: wait and try again")
		}
	}
	c, err := s.clients.AuthenticateRequest(r)
	if err != nil {
		if _, sent := access.BearerToken(r.Header.Get("Authorization")); sent {
			s.failures.Fail(addr)
		}
		return nil, newError(http.StatusUnauthorized, CodeUnauthorized, "missing or wrong bearer token")
	}
	return c, nil
}

// authorize answers 403 naming the operation and the resource when the client may not use op on
// resource ("" = no single bill). An open API (no client) allows everything.
func authorize(c *access.Client, op, resource string) *Error {
	if c == nil {
		return nil
	}
	ok, why := c.Allowed(op, resource)
	if ok {
		return nil
	}
	on := "any resource"
	if resource != "" {
		on = fmt.Sprintf("resource %q", resource)
	}
	return newError(http.StatusForbidden, CodeForbidden, "%s (operation %q on %s)", why, op, on)
}

func clientName(c *access.Client) string {
	if c == nil {
		return AnonymousClient
	}
	return c.Name
}

// checkContentType requires application/json on every POST: a browser cannot send it across
// sites without a CORS preflight, which this API never answers, so no page can drive it.
func checkContentType(r *http.Request) *Error {
	if r.Method != http.MethodPost {
		return nil
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && mt == "application/json" {
		// JSON between systems is UTF-8 (RFC 8259 §8.1): a body declared in another charset is
		// refused by name rather than read as UTF-8.
		if cs, given := params["charset"]; given && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType,
				Message: fmt.Sprintf("charset %q is not served: send the JSON body in UTF-8", cs),
				Fields:  map[string]string{"Content-Type": "charset must be utf-8 (or left out)"}}
		}
		return nil
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType,
		Message: "a POST must be sent with Content-Type: application/json",
		Fields:  map[string]string{"Content-Type": "must be application/json"}}
}

// actingUser reads X-Acting-User: trimmed, printable, at most MaxActingUserLen bytes ("" = none).
func actingUser(r *http.Request) (string, *Error) {
	u := strings.TrimSpace(r.Header.Get(HeaderActingUser))
	if len(u) > MaxActingUserLen || strings.ContainsFunc(u, func(c rune) bool { return !unicode.IsPrint(c) && c != ' ' }) {
		return "", ValidationFailed(map[string]string{HeaderActingUser: fmt.Sprintf("at most %d printable characters", MaxActingUserLen)})
	}
	if p := workflows.UserIDProblem(u); p != "" {
		return "", ValidationFailed(map[string]string{HeaderActingUser: p})
	}
	return u, nil
}

// caller is who sent the request: the authenticated client (nil on an open API) and the person it
// vouches for (X-Acting-User, "" when not sent).
type caller struct {
	client *access.Client
	user   string
}

type callerKey struct{}

func withCaller(ctx context.Context, c caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// noRoute answers JSON for unknown paths (404) and known paths with another method (405).
func (s *server) noRoute(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var allowed []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allowed = append(allowed, m)
		}
	}
	rec := &statusRecorder{ResponseWriter: w}
	rec.Header().Set(HeaderRequestID, requestID(r))
	if len(allowed) > 0 {
		rec.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(rec, newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			"%s is not allowed here; use %s", r.Method, strings.Join(allowed, " or ")))
	} else {
		writeError(rec, newError(http.StatusNotFound, CodeNotFound, "no such route; see /v1/openapi.json"))
	}
	s.stats.observeRequest("unmatched", methodLabel(r.Method), rec.status, time.Since(start))
}

// methodLabel is a request's method as a metric label: a caller may send any method name, so
// anything but the methods HTTP defines is "other".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

func levelFor(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelWarn
	case status >= 400:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // URLs keep their "&"
	enc.SetIndent("", "  ")
	_ = enc.Encode(atPrecision(body))
}

// TimePrecision is the precision of every timestamp the API prints and of the updatedSince filter:
// milliseconds, what every visibility store keeps of a Datetime search attribute (Elasticsearch
// keeps milliseconds, SQL microseconds). One precision everywhere, so an updatedAt read from the
// API and sent back as updatedSince finds its bill.
const TimePrecision = time.Millisecond

// atPrecision is v with every time.Time it holds (in exported fields, slices, maps, pointers) in
// UTC and cut to TimePrecision. It copies what it changes, never the caller's values.
func atPrecision(v any) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return v
	}
	cp := reflect.New(rv.Type()).Elem()
	cp.Set(rv)
	cutTimes(cp)
	return cp.Interface()
}

var timeType = reflect.TypeOf(time.Time{})

// cutTimes cuts the times in v, which is settable; what it reaches through a pointer, slice, map or
// interface is copied first.
func cutTimes(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC().Truncate(TimePrecision)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				cutTimes(v.Field(i))
			}
		}
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		inner := v.Elem()
		if v.Kind() == reflect.Pointer {
			p := reflect.New(inner.Type())
			p.Elem().Set(inner)
			cutTimes(p.Elem())
			v.Set(p)
			return
		}
		cp := reflect.New(inner.Type()).Elem()
		cp.Set(inner)
		cutTimes(cp)
		v.Set(cp)
	case reflect.Slice:
		if v.IsNil() || v.Type().Elem().Kind() == reflect.Uint8 || !holdsTime(v.Type().Elem(), 0) {
			return
		}
		n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(n, v)
		for i := 0; i < n.Len(); i++ {
			cutTimes(n.Index(i))
		}
		v.Set(n)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			cutTimes(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() || !holdsTime(v.Type().Elem(), 0) {
			return
		}
		n := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			e := reflect.New(it.Value().Type()).Elem()
			e.Set(it.Value())
			cutTimes(e)
			n.SetMapIndex(it.Key(), e)
		}
		v.Set(n)
	}
}

// holdsTime says whether a value of type t may hold a time.Time (interfaces may), so slices and
// maps that cannot are not copied.
func holdsTime(t reflect.Type, depth int) bool {
	if depth > 8 {
		return true
	}
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Struct:
		if t == timeType {
			return true
		}
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() && holdsTime(t.Field(i).Type, depth+1) {
				return true
			}
		}
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return holdsTime(t.Elem(), depth+1)
	}
	return false
}

// writeError answers e, with the answer's X-Request-Id in the body too.
func writeError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	out := *e // errors may be shared values: the id belongs to this answer only
	out.RequestID = w.Header().Get(HeaderRequestID)
	writeJSON(w, status, ErrorBody{Error: &out})
}

// statusRecorder remembers the status for metrics and logs.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
