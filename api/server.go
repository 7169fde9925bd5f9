// Package api is the ERP-facing HTTP API of rimflow over a Temporal client, and the Bills
// service that the HTTP handlers and the starter CLI share.
//
// Reading order: routes.go is the route table with each route's handler; bills.go is what the
// handlers (and the CLI) do to a bill in Temporal; server.go is what every route shares (auth,
// limits, timeout, JSON answers, metrics, logs).
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"rimflow/internal/metrics"
)

// Options configure the HTTP API.
type Options struct {
	// StartWait bounds how long a start waits for the eventCode before answering 202 with what is
	// known (default DefaultStartWait; kept below RequestTimeout).
	StartWait time.Duration
	Client    client.Client
	Namespace string // default: the client's namespace
	TaskQueue string // default workflows.DefaultTaskQueue
	// Token is the bearer token callers must present; empty leaves the API open (loopback dev).
	Token  string
	Logger *slog.Logger
	// Registry is where the API's metrics go and what /metrics serves; nil = a private registry
	// with the Go and process collectors.
	Registry *prometheus.Registry
	// RequestTimeout bounds each call to Temporal (default 30 s): an update waits for the worker.
	RequestTimeout time.Duration
	// Notifies reports whether a resource's events go to webhooks (Bills.Notifies).
	Notifies func(resource string) bool
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

// DefaultRequestTimeout bounds one API call when Options.RequestTimeout is zero.
const DefaultRequestTimeout = 30 * time.Second

type server struct {
	bills    *Bills
	token    [sha256.Size]byte
	open     bool
	log      *slog.Logger
	registry *prometheus.Registry
	stats    *apiMetrics
	timeout  time.Duration
	routes   []route
	mux      *http.ServeMux
	doc      map[string]any
}

// New returns the API's handler (Go 1.22 ServeMux patterns, one per documented route).
func New(opts Options) http.Handler { return newServer(opts) }

func newServer(opts Options) *server {
	s := &server{
		bills:    NewBills(opts.Client, opts.Namespace, opts.TaskQueue),
		open:     opts.Token == "",
		token:    sha256.Sum256([]byte(opts.Token)),
		log:      opts.Logger,
		registry: opts.Registry,
		timeout:  opts.RequestTimeout,
		routes:   routes(),
		mux:      http.NewServeMux(),
	}
	s.bills.Notifies = opts.Notifies
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.registry == nil {
		s.registry = metrics.NewRegistry()
	}
	if s.timeout <= 0 {
		s.timeout = DefaultRequestTimeout
	}
	s.bills.StartWait = opts.StartWait
	if s.bills.StartWait <= 0 || s.bills.StartWait >= s.timeout {
		s.bills.StartWait = min(DefaultStartWait, s.timeout/2)
	}
	s.stats = newAPIMetrics(s.registry)
	s.doc = openAPI(s.routes)
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
	}
	s.mux.HandleFunc("/", s.noRoute)
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// wrap adds what every route shares: auth, body limit, timeout, JSON answers, metrics, logs.
func (s *server) wrap(rt route) http.Handler {
	label := rt.Method + " " + rt.Path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		reqID := requestID(r)
		rec.Header().Set(HeaderRequestID, reqID)
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("api handler panicked", "route", label, "requestId", reqID, "panic", fmt.Sprint(p))
				if rec.status == 0 {
					writeError(rec, newError(http.StatusInternalServerError, CodeInternal, "internal error"))
				}
			}
			took := time.Since(start)
			s.stats.observeRequest(rt.Path, rt.Method, rec.status, took)
			// The path names the bill; the query string and headers (Authorization) are never logged.
			s.log.LogAttrs(r.Context(), levelFor(rec.status), "api request",
				slog.String("route", label), slog.String("path", r.URL.Path), slog.String("requestId", reqID),
				slog.Int("status", rec.status), slog.Duration("took", took))
		}()

		if !rt.Open && !s.authorized(r) {
			rec.Header().Set("WWW-Authenticate", `Bearer realm="rimflow"`)
			writeError(rec, newError(http.StatusUnauthorized, CodeUnauthorized, "missing or wrong bearer token"))
			return
		}
		if e := unknownQuery(rt, r.URL.Query()); e != nil {
			writeError(rec, e)
			return
		}
		if rt.raw != nil {
			rt.raw(s, rec, r)
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, MaxBodyBytes)
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		if key := r.Header.Get(HeaderIdempotencyKey); key != "" {
			if len(key) > MaxIdempotencyKeyLen || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
				writeError(rec, ValidationFailed(map[string]string{HeaderIdempotencyKey: fmt.Sprintf("at most %d printable ASCII characters", MaxIdempotencyKeyLen)}))
				return
			}
			ctx = WithIdempotencyKey(ctx, key)
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

// requestID is the caller's X-Request-Id when it is usable (printable ASCII, at most 200), else a
// new random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get(HeaderRequestID); id != "" && len(id) <= MaxIdempotencyKeyLen &&
		!strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return id
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

// authorized compares the bearer token in constant time (hashes make the lengths equal too).
func (s *server) authorized(r *http.Request) bool {
	if s.open {
		return true
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	given := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(given[:], s.token[:]) == 1
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
	s.stats.observeRequest("unmatched", r.Method, rec.status, time.Since(start))
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
	_ = enc.Encode(body)
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
