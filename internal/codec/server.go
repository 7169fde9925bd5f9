package codec

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/converter"

	"rimflow/internal/access"
)

// The codec server speaks Temporal's remote codec protocol: POST …/encode and POST …/decode with a
// JSON body {"payloads":[…]} (protobuf JSON), the namespace in the X-Namespace header. Only the last
// path segment counts, so it can be mounted under any prefix.
//
// Who may call it:
//   - programs and the `temporal` CLI send "Authorization: Bearer <token>" of an access client
//     (temporal workflow show --codec-endpoint URL --codec-auth "Bearer <token>");
//   - Temporal Web (configured with includeCredentials) sends cookies: a person signs in once at
//     …/login with their client's token and gets a session cookie (HttpOnly, SameSite=Lax). Serve
//     Temporal Web and the codec server under the same host name (same site) so the browser sends it.
//
// /decode needs the operation codec:decode, /encode codec:encode (Temporal Web encodes the input
// of a signal it sends).
const (
	HeaderNamespace = "X-Namespace"
	SessionCookie   = "rimflow_codec_session"

	// DefaultMaxBodyBytes bounds one request (a batch of payloads).
	DefaultMaxBodyBytes = 16 << 20
	// DefaultSessionTTL is how long a Temporal Web sign-in lasts: under an hour, since the cookie
	// reads every bill and a browser left open keeps it.
	DefaultSessionTTL = 50 * time.Minute
	// MaxSessionTTL is the longest session ServerOptions may ask for.
	MaxSessionTTL = time.Hour
)

// corsAllowHeaders are the request headers Temporal Web sends to a codec server.
const corsAllowHeaders = "Authorization, Content-Type, X-Namespace"

// ServerOptions configure the codec server.
type ServerOptions struct {
	// Codec encodes and decodes (a *Codec). Required.
	Codec converter.PayloadCodec
	// Clients authenticate callers. With none configured the server is open, which AllowOpen must
	// say explicitly (the devstack on loopback); an open server answers only requests whose Host is
	// a loopback address, so a web page cannot reach it through a rebound DNS name.
	Clients   *access.Clients
	AllowOpen bool
	// Origins are the exact origins of Temporal Web allowed by CORS ("http://127.0.0.1:8233").
	// "*" is refused: Temporal Web sends credentials, and browsers forbid "*" with them.
	Origins []string
	// Namespace, when set, is the only namespace served: a request naming another in X-Namespace is refused.
	Namespace string
	// SecureCookies marks the session cookie Secure even when the request did not come over TLS
	// (TLS terminated in front of the server: the API sets it when its public URL is https). It
	// is always Secure over TLS, and when a proxy says the browser's request was https
	// (X-Forwarded-Proto).
	SecureCookies bool
	SessionTTL    time.Duration // default DefaultSessionTTL; more than MaxSessionTTL is refused
	// Failures limits wrong tokens per client address (bearer and sign-in alike; the API passes
	// its own, so both count together); nil: a limiter of the defaults.
	Failures     *access.FailureLimiter
	MaxBodyBytes int64        // default DefaultMaxBodyBytes
	Logger       *slog.Logger // default slog.Default(); logs who called what, never a token or a payload
	Now          func() time.Time
	// WriteError writes an error answer in the caller's shape (the API's: with its business code);
	// nil: {"error":{"code","message"}}.
	WriteError func(w http.ResponseWriter, status int, code, message string)
}

type server struct {
	opts       ServerOptions
	codec      http.Handler
	origins    []string
	sessionKey []byte
	log        *slog.Logger
	now        func() time.Time

	// revoked are the sessions signed out before they expire (cookie value → expiry): a copy of
	// the cookie kept elsewhere stops working at logout. Kept in this process only, like the key.
	mu      sync.Mutex
	revoked map[string]int64
}

// NewServer builds the codec server's handler.
func NewServer(o ServerOptions) (http.Handler, error) {
	if o.Codec == nil {
		return nil, errors.New("codec server: a codec is required")
	}
	if o.Clients.Open() && !o.AllowOpen {
		return nil, errors.New("codec server: no access client is configured; configure clients with codec:decode, or allow an open loopback server explicitly")
	}
	s := &server{opts: o, codec: converter.NewPayloadCodecHTTPHandler(o.Codec), log: o.Logger, now: o.Now}
	for i, origin := range o.Origins {
		norm, err := NormalizeOrigin(origin)
		if err != nil {
			return nil, fmt.Errorf("codec server: origins[%d]: %v", i, err)
		}
		s.origins = append(s.origins, norm)
	}
	if s.opts.SessionTTL <= 0 {
		s.opts.SessionTTL = DefaultSessionTTL
	}
	if s.opts.SessionTTL > MaxSessionTTL {
		return nil, fmt.Errorf("codec server: a session of %s is longer than %s", s.opts.SessionTTL, MaxSessionTTL)
	}
	s.revoked = map[string]int64{}
	if s.opts.Failures == nil {
		s.opts.Failures = access.NewFailureLimiter(0, 0)
	}
	if s.opts.MaxBodyBytes <= 0 {
		s.opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	// Sessions are signed with a key of this process: a restart signs everyone out, by design.
	s.sessionKey = make([]byte, 32)
	if _, err := rand.Read(s.sessionKey); err != nil {
		return nil, fmt.Errorf("codec server: session key: %w", err)
	}
	return s, nil
}

// NormalizeOrigin checks one Temporal Web origin as the codec server takes it ("*" refused,
// scheme://host[:port] only) and returns its lower-case form; config checks RIMFLOW_CODEC_ORIGINS with it.
func NormalizeOrigin(origin string) (string, error) {
	origin = strings.TrimSpace(origin)
	if origin == "*" {
		return "", errors.New(`"*" cannot be used: Temporal Web sends credentials; name the origin, e.g. http://127.0.0.1:8233`)
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an origin: scheme://host[:port], e.g. http://127.0.0.1:8233", origin)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	origin := r.Header.Get("Origin")
	if origin != "" {
		cross, ok := s.checkOrigin(origin, r)
		if !ok {
			s.refuse(w, r, endpoint, nil, http.StatusForbidden, "origin_not_allowed", fmt.Sprintf("origin %q may not call the codec server", origin))
			return
		}
		if cross {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin) // echoed exactly: browsers compare it with what they sent
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
		}
	}
	if r.Method == http.MethodOptions {
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if s.opts.Clients.Open() && !hostIsLoopback(r.Host) {
		s.refuse(w, r, endpoint, nil, http.StatusForbidden, "forbidden", "an open codec server answers loopback host names only")
		return
	}

	switch endpoint {
	case "encode", "decode":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST, OPTIONS")
			s.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "%s takes POST", endpoint)
			return
		}
		if ns := r.Header.Get(HeaderNamespace); s.opts.Namespace != "" && ns != "" && ns != s.opts.Namespace {
			s.refuse(w, r, endpoint, nil, http.StatusForbidden, "namespace_not_served", fmt.Sprintf("namespace %q is not served here", ns))
			return
		}
		op := access.OpCodecDecode
		if endpoint == "encode" {
			op = access.OpCodecEncode
		}
		c, status, why := s.authorize(r, op)
		if status != 0 {
			code := "forbidden"
			switch status {
			case http.StatusUnauthorized:
				w.Header().Set("WWW-Authenticate", `Bearer realm="rimflow-codec"`)
				code = "unauthorized"
			case http.StatusTooManyRequests:
				w.Header().Set("Retry-After", strconv.Itoa(int(access.DefaultFailureEvery.Seconds())))
				code = "too_many_requests"
			}
			s.refuse(w, r, endpoint, c, status, code, why)
			return
		}
		s.audit(r, endpoint, c, "allowed")
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		s.codec.ServeHTTP(w, r)
	case "login":
		s.login(w, r)
	case "logout":
		s.logout(w, r)
	default:
		s.writeError(w, http.StatusNotFound, "not_found", "the codec server answers POST …/encode and POST …/decode")
	}
}

// audit logs who was let in or refused (the trail of who read which namespace's payloads); never a
// token or a payload.
func (s *server) audit(r *http.Request, endpoint string, c *access.Client, outcome string) {
	name := ""
	if c != nil {
		name = c.Name
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "codec request", slog.String("endpoint", endpoint),
		slog.String("client", name), slog.String("namespace", r.Header.Get(HeaderNamespace)), slog.String("outcome", outcome))
}

func (s *server) refuse(w http.ResponseWriter, r *http.Request, endpoint string, c *access.Client, status int, code, why string) {
	s.audit(r, endpoint, c, fmt.Sprintf("refused %d: %s", status, why))
	s.writeError(w, status, code, "%s", why)
}

// checkOrigin allows Temporal Web's configured origins (cross-origin, CORS headers needed) and the
// codec server's own origin (its sign-in page posting to itself).
func (s *server) checkOrigin(origin string, r *http.Request) (cross, ok bool) {
	norm, err := NormalizeOrigin(origin)
	if err != nil {
		return false, false
	}
	if slices.Contains(s.origins, norm) {
		return true, true
	}
	u, _ := url.Parse(norm)
	return false, strings.EqualFold(u.Host, r.Host)
}

// authorize answers the client and 0, or the status and reason of a refusal.
func (s *server) authorize(r *http.Request, op string) (*access.Client, int, string) {
	if s.opts.Clients.Open() {
		return nil, 0, ""
	}
	var c *access.Client
	if r.Header.Get("Authorization") != "" {
		addr := access.ClientAddr(r)
		if ok, _ := s.opts.Failures.Allow(addr); !ok {
			return nil, http.StatusTooManyRequests, "too many wrong tokens from this address: wait and try again"
		}
		var err error
		if c, err = s.opts.Clients.AuthenticateRequest(r); err != nil {
			s.opts.Failures.Fail(addr)
			return nil, http.StatusUnauthorized, err.Error()
		}
	} else if c, _ = s.sessionClient(r); c == nil {
		return nil, http.StatusUnauthorized, "missing or wrong bearer token, and no valid session (sign in at …/login)"
	}
	if ok, why := c.Allowed(op, ""); !ok {
		return c, http.StatusForbidden, why
	}
	return c, 0, ""
}

// Sessions: "<base64url name>.<unix expiry>.<base64url HMAC-SHA256 of both>".

func (s *server) sign(name string, expiry int64) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(name)) + "." + strconv.FormatInt(expiry, 10)
	mac := hmac.New(sha256.New, s.sessionKey)
	mac.Write([]byte(payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// sessionClient is the client of a valid session cookie and when the session ends, or nil.
func (s *server) sessionClient(r *http.Request) (*access.Client, time.Time) {
	cookie, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, time.Time{}
	}
	parts := strings.Split(cookie.Value, ".")
	if len(parts) != 3 {
		return nil, time.Time{}
	}
	nameB, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, time.Time{}
	}
	expiry, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return nil, time.Time{}
	}
	if !hmac.Equal([]byte(s.sign(string(nameB), expiry)), []byte(cookie.Value)) || s.now().Unix() >= expiry || s.isRevoked(cookie.Value) {
		return nil, time.Time{}
	}
	// The client is looked up now, so its rights are the current ones.
	c, ok := s.opts.Clients.ByName(string(nameB))
	if !ok {
		return nil, time.Time{}
	}
	return c, time.Unix(expiry, 0)
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>rimflow codec server</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto">
<h1>rimflow codec server</h1>
{{if .Name}}<p>Signed in as <b>{{.Name}}</b> until {{.Until}}. Temporal Web now shows decrypted payloads: reload it.</p>
<form method="post" action="logout"><button>Sign out</button></form>
{{else}}{{if .Problem}}<p style="color:#b00">{{.Problem}}</p>{{end}}
<p>Sign in with your access client's token to let Temporal Web show decrypted payloads.</p>
<form method="post" action="login"><input type="password" name="token" autocomplete="off" size="40" autofocus>
<button>Sign in</button></form>{{end}}
</body></html>
`))

type loginView struct{ Name, Until, Problem string }

func (s *server) page(w http.ResponseWriter, status int, v loginView) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, v)
}

// login shows the sign-in form (GET) or checks a token and sets the session cookie (POST).
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		if c, until := s.sessionClient(r); c != nil {
			s.page(w, http.StatusOK, loginView{Name: c.Name, Until: until.UTC().Format(time.RFC3339)})
			return
		}
		s.page(w, http.StatusOK, loginView{})
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		s.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "login takes GET or POST")
		return
	}
	if s.opts.Clients.Open() {
		s.page(w, http.StatusOK, loginView{Problem: "This codec server is open (no access client is configured): no sign-in needed."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	token := strings.TrimSpace(r.PostFormValue("token"))
	if t, ok := access.BearerToken(r.Header.Get("Authorization")); ok && token == "" {
		token = t
	}
	addr := access.ClientAddr(r)
	if ok, wait := s.opts.Failures.Allow(addr); !ok {
		s.audit(r, "login", nil, "refused 429: too many wrong tokens")
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.page(w, http.StatusTooManyRequests, loginView{Problem: "Too many wrong tokens from this address: wait and try again."})
		return
	}
	c, err := s.opts.Clients.Authenticate(token)
	if err != nil {
		s.opts.Failures.Fail(addr)
		s.audit(r, "login", nil, "refused 401: wrong token")
		s.page(w, http.StatusUnauthorized, loginView{Problem: "Wrong token."})
		return
	}
	if ok, why := c.Allowed(access.OpCodecDecode, ""); !ok {
		s.audit(r, "login", c, "refused 403: "+why)
		s.page(w, http.StatusForbidden, loginView{Problem: why})
		return
	}
	until := s.now().Add(s.opts.SessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: s.sign(c.Name, until.Unix()), Path: "/",
		Expires: until, MaxAge: int(s.opts.SessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r),
	})
	s.audit(r, "login", c, "signed in until "+until.UTC().Format(time.RFC3339))
	s.page(w, http.StatusOK, loginView{Name: c.Name, Until: until.UTC().Format(time.RFC3339)})
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "logout takes POST")
		return
	}
	if c, until := s.sessionClient(r); c != nil {
		cookie, _ := r.Cookie(SessionCookie)
		s.revoke(cookie.Value, until.Unix())
		s.audit(r, "logout", c, "signed out")
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r)})
	s.page(w, http.StatusOK, loginView{Problem: "Signed out."})
}

// secure: the browser reached this server over https (directly, through a proxy that says so, or
// as configured for a TLS-terminating front).
func (s *server) secure(r *http.Request) bool {
	return r.TLS != nil || s.opts.SecureCookies || strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

// revoke ends a session before its expiry; expired entries are dropped on the way.
func (s *server) revoke(value string, expiry int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	for v, exp := range s.revoked {
		if exp <= now {
			delete(s.revoked, v)
		}
	}
	s.revoked[value] = expiry
}

func (s *server) isRevoked(value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.revoked[value]
	return ok
}

func hostIsLoopback(host string) bool {
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "0")
	}
	return access.IsLoopback(host)
}

func (s *server) writeError(w http.ResponseWriter, status int, code, format string, args ...any) {
	if s.opts.WriteError != nil {
		s.opts.WriteError(w, status, code, fmt.Sprintf(format, args...))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": fmt.Sprintf(format, args...)}})
}
