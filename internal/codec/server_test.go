package codec

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"rimflow/internal/access"
)

const (
	webOrigin    = "http://127.0.0.1:8233"
	opsToken     = "ops-console-token-123"
	erpToken     = "erp-oa-token-1234567"
	decodeOnly   = "decode-only-token-12"
	testNS       = "default"
	httpDeadline = 10 * time.Second
)

// logRecorder keeps the server's log records (handlers log from the server's goroutines).
type logRecorder struct {
	records chan slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	select {
	case l.records <- r.Clone():
	default: // full: the test has seen enough
	}
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// lines renders the records logged so far, one a line, attributes as key=value.
func (l *logRecorder) lines() string {
	var b strings.Builder
	for {
		select {
		case r := <-l.records:
			b.WriteString(r.Message)
			r.Attrs(func(a slog.Attr) bool {
				b.WriteString(" " + a.String())
				return true
			})
			b.WriteString("\n")
		default:
			return b.String()
		}
	}
}

type fixture struct {
	srv   *httptest.Server
	codec *Codec
	logs  *logRecorder
	now   *time.Time
}

func newFixture(t *testing.T, mutate func(*ServerOptions)) *fixture {
	t.Helper()
	clients, err := access.New(
		access.Spec{Name: "ops-console", Token: opsToken, Operations: []string{access.OpCodecDecode, access.OpCodecEncode, access.OpRead}, Resources: []string{"*"}},
		access.Spec{Name: "erp-oa", Token: erpToken, Operations: []string{access.OpStart, access.OpRead}, Resources: []string{"OA"}},
		access.Spec{Name: "auditor", Token: decodeOnly, Operations: []string{access.OpCodecDecode}, Resources: []string{"*"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{codec: New(mustRing(t, testKey(t, "k1"))), logs: &logRecorder{records: make(chan slog.Record, 100)}}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	f.now = &now
	opts := ServerOptions{
		Codec: f.codec, Clients: clients, Origins: []string{webOrigin}, Namespace: testNS,
		Logger: slog.New(f.logs),
		Now:    func() time.Time { return *f.now },
	}
	if mutate != nil {
		mutate(&opts)
	}
	h, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// remote is the SDK's own client of the codec protocol, as the `temporal` CLI uses it.
func (f *fixture) remote(authorization string) converter.PayloadCodec {
	return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: f.srv.URL,
		Client:   http.Client{Timeout: httpDeadline},
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set(HeaderNamespace, testNS)
			if authorization != "" {
				r.Header.Set("Authorization", authorization)
			}
			return nil
		},
	})
}

func (f *fixture) do(t *testing.T, c *http.Client, method, path string, headers map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v // net/http sends req.Host, not a Host header
			continue
		}
		req.Header.Set(k, v)
	}
	if c == nil {
		c = &http.Client{Timeout: httpDeadline}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// answerEncodings lists the encoding of every payload in a codec server's answer.
func answerEncodings(t *testing.T, body string) []string {
	t.Helper()
	var ps commonpb.Payloads
	if err := protojson.Unmarshal([]byte(body), &ps); err != nil {
		t.Fatalf("answer is not payloads: %v: %s", err, body)
	}
	var out []string
	for _, p := range ps.Payloads {
		out = append(out, string(p.Metadata["encoding"]))
	}
	return out
}

func payloadsJSON(t *testing.T, ps []*commonpb.Payload) string {
	t.Helper()
	b, err := json.Marshal(&commonpb.Payloads{Payloads: ps})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServerDecodesForAnAllowedClient(t *testing.T) {
	f := newFixture(t, nil)
	state, err := f.codec.DataConverter().ToPayload(secretBill)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.remote("Bearer " + opsToken).Decode([]*commonpb.Payload{state})
	if err != nil {
		t.Fatalf("remote decode: %v", err)
	}
	var back bill
	if err := converter.GetDefaultDataConverter().FromPayload(got[0], &back); err != nil || back != secretBill {
		t.Fatalf("decoded %+v, %v", back, err)
	}

	// /encode: what Temporal Web does with the input of a signal it sends.
	plain, _ := converter.GetDefaultDataConverter().ToPayload(map[string]string{"role": "finance"})
	enc, err := f.remote("Bearer " + opsToken).Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatalf("remote encode: %v", err)
	}
	if string(enc[0].Metadata["encoding"]) != EncodingEncrypted {
		t.Fatalf("encode answered %v", enc[0].Metadata)
	}
	if dec, err := f.codec.Decode(enc); err != nil || !bytes.Equal(dec[0].Data, plain.Data) {
		t.Fatalf("worker cannot read what the server encoded: %v", err)
	}

	// Mounted under a prefix or a namespace segment: only the last segment counts.
	resp, body := f.do(t, nil, http.MethodPost, "/default/decode",
		map[string]string{"Authorization": "Bearer " + opsToken, "Content-Type": "application/json"}, payloadsJSON(t, []*commonpb.Payload{state}))
	if resp.StatusCode != http.StatusOK || strings.Join(answerEncodings(t, body), ",") != "json/plain" {
		t.Fatalf("/default/decode: %d %s", resp.StatusCode, body)
	}

	logs := f.logs.lines()
	if !strings.Contains(logs, "client=ops-console") || !strings.Contains(logs, "outcome=allowed") || strings.Contains(logs, opsToken) || strings.Contains(logs, secretBill.InvoiceNo) {
		t.Fatalf("logs: %s", logs)
	}
}

func TestServerRefuses(t *testing.T) {
	f := newFixture(t, nil)
	sealed, _ := f.codec.Encode([]*commonpb.Payload{{Data: []byte(`"x"`)}})
	body := payloadsJSON(t, sealed)
	tests := []struct {
		name, method, path string
		headers            map[string]string
		body               string
		status             int
		want               string
	}{
		{"no credentials", "POST", "/decode", nil, body, 401, "no valid session"},
		{"wrong token", "POST", "/decode", map[string]string{"Authorization": "Bearer nope-nope-nope"}, body, 401, "missing or wrong bearer token"},
		{"client without codec:decode", "POST", "/decode", map[string]string{"Authorization": "Bearer " + erpToken}, body, 403, `client \"erp-oa\" may not use \"codec:decode\"`},
		{"decode-only client encodes", "POST", "/encode", map[string]string{"Authorization": "Bearer " + decodeOnly}, body, 403, `may not use \"codec:encode\"`},
		{"another namespace", "POST", "/decode", map[string]string{"Authorization": "Bearer " + opsToken, HeaderNamespace: "other"}, body, 403, `namespace \"other\" is not served`},
		{"foreign origin", "POST", "/decode", map[string]string{"Authorization": "Bearer " + opsToken, "Origin": "https://evil.example"}, body, 403, "origin_not_allowed"},
		{"GET decode", "GET", "/decode", map[string]string{"Authorization": "Bearer " + opsToken}, "", 405, "decode takes POST"},
		{"unknown path", "POST", "/download", map[string]string{"Authorization": "Bearer " + opsToken}, body, 404, "not_found"},
		{"not payloads", "POST", "/decode", map[string]string{"Authorization": "Bearer " + opsToken}, `{"payloads":7}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, got := f.do(t, nil, tt.method, tt.path, tt.headers, tt.body)
			if resp.StatusCode != tt.status || !strings.Contains(got, tt.want) {
				t.Fatalf("%d %s, want %d containing %q", resp.StatusCode, got, tt.status, tt.want)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "" && tt.name == "foreign origin" {
				t.Fatal("CORS headers for a foreign origin")
			}
		})
	}
	logs := f.logs.lines()
	if !strings.Contains(logs, "client=erp-oa namespace= outcome=refused 403") || strings.Contains(logs, erpToken) || strings.Contains(logs, "nope-nope-nope") {
		t.Fatalf("refusals not logged as such, or a token logged:\n%s", logs)
	}
	t.Run("body too large", func(t *testing.T) {
		small := newFixture(t, func(o *ServerOptions) { o.MaxBodyBytes = 64 })
		resp, got := small.do(t, nil, "POST", "/decode", map[string]string{"Authorization": "Bearer " + opsToken}, body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, "too large") {
			t.Fatalf("%d %s", resp.StatusCode, got)
		}
	})
}

func TestServerCORSForTemporalWeb(t *testing.T) {
	f := newFixture(t, nil)
	t.Run("preflight from Temporal Web", func(t *testing.T) {
		resp, _ := f.do(t, nil, http.MethodOptions, "/decode", map[string]string{
			"Origin": webOrigin, "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "authorization,content-type,x-namespace"}, "")
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != webOrigin ||
			h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
			t.Fatalf("preflight: %d %v", resp.StatusCode, h)
		}
		for _, want := range []string{"Authorization", "Content-Type", "X-Namespace"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
				t.Errorf("Access-Control-Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), want)
			}
		}
		if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Error("no Vary: Origin")
		}
	})
	t.Run("preflight from elsewhere", func(t *testing.T) {
		resp, _ := f.do(t, nil, http.MethodOptions, "/decode", map[string]string{"Origin": "http://127.0.0.1:9999", "Access-Control-Request-Method": "POST"}, "")
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("foreign preflight: %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("request from Temporal Web carries CORS headers", func(t *testing.T) {
		sealed, _ := f.codec.Encode([]*commonpb.Payload{{Data: []byte(`"x"`)}})
		resp, _ := f.do(t, nil, http.MethodPost, "/decode", map[string]string{"Origin": webOrigin, "Authorization": "Bearer " + opsToken,
			HeaderNamespace: testNS}, payloadsJSON(t, sealed))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != webOrigin ||
			resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
	})
}

func TestServerSessionForTemporalWeb(t *testing.T) {
	f := newFixture(t, nil)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: httpDeadline}
	sealed, _ := f.codec.DataConverter().ToPayload(secretBill)
	decode := func() (*http.Response, string) {
		return f.do(t, browser, http.MethodPost, "/decode", map[string]string{"Origin": webOrigin, "Content-Type": "application/json",
			HeaderNamespace: testNS}, payloadsJSON(t, []*commonpb.Payload{sealed}))
	}
	form := func(token string) string { return url.Values{"token": {token}}.Encode() }
	formHeaders := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": f.srv.URL}

	if resp, body := f.do(t, browser, http.MethodGet, "/login", nil, ""); resp.StatusCode != 200 || !strings.Contains(body, `name="token"`) {
		t.Fatalf("login page: %d %s", resp.StatusCode, body)
	}
	if resp, _ := decode(); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("decode before sign-in: %d", resp.StatusCode)
	}
	if resp, body := f.do(t, browser, http.MethodPost, "/login", formHeaders, form("wrong-token-123")); resp.StatusCode != 401 || !strings.Contains(body, "Wrong token") {
		t.Fatalf("wrong token: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.do(t, browser, http.MethodPost, "/login", formHeaders, form(erpToken)); resp.StatusCode != 403 || !strings.Contains(body, "codec:decode") {
		t.Fatalf("client without codec:decode signs in: %d %s", resp.StatusCode, body)
	}
	// A sign-in form posted from another site is refused (login CSRF).
	if resp, _ := f.do(t, browser, http.MethodPost, "/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded",
		"Origin": "https://evil.example"}, form(opsToken)); resp.StatusCode != 403 {
		t.Fatalf("cross-site sign-in: %d", resp.StatusCode)
	}

	resp, body := f.do(t, browser, http.MethodPost, "/login", formHeaders, form(opsToken))
	if resp.StatusCode != 200 || !strings.Contains(body, "Signed in as <b>ops-console</b>") {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || strings.Contains(cookie.Value, opsToken) {
		t.Fatalf("session cookie: %+v", cookie)
	}

	resp, body = decode()
	if resp.StatusCode != 200 || strings.Join(answerEncodings(t, body), ",") != "json/plain" || resp.Header.Get("Access-Control-Allow-Origin") != webOrigin {
		t.Fatalf("decode with session: %d %s", resp.StatusCode, body)
	}

	// A forged cookie (another client's name under this signature) is refused.
	u, _ := url.Parse(f.srv.URL)
	parts := strings.Split(cookie.Value, ".")
	forged := "YXVkaXRvcg." + parts[1] + "." + parts[2] // base64url("auditor")
	forgedJar, _ := cookiejar.New(nil)
	forgedJar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: forged, Path: "/"}})
	if resp, _ := f.do(t, &http.Client{Jar: forgedJar, Timeout: httpDeadline}, http.MethodPost, "/decode", nil, payloadsJSON(t, []*commonpb.Payload{sealed})); resp.StatusCode != 401 {
		t.Fatalf("forged session: %d", resp.StatusCode)
	}

	// The session ends.
	*f.now = f.now.Add(DefaultSessionTTL + time.Second)
	if resp, _ := decode(); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired session: %d", resp.StatusCode)
	}
	*f.now = f.now.Add(-DefaultSessionTTL)
	if resp, _ := decode(); resp.StatusCode != 200 {
		t.Fatalf("session before expiry: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, browser, http.MethodPost, "/logout", map[string]string{"Origin": f.srv.URL}, ""); resp.StatusCode != 200 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if resp, _ := decode(); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("decode after sign-out: %d", resp.StatusCode)
	}
}

func TestOpenServerOnlyOnLoopback(t *testing.T) {
	if _, err := NewServer(ServerOptions{Codec: New(mustRing(t, testKey(t, "k1")))}); err == nil ||
		!strings.Contains(err.Error(), "no access client is configured") {
		t.Fatalf("open without AllowOpen: %v", err)
	}
	f := newFixture(t, func(o *ServerOptions) { o.Clients = nil; o.AllowOpen = true })
	sealed, _ := f.codec.Encode([]*commonpb.Payload{{Data: []byte(`"x"`)}})
	body := payloadsJSON(t, sealed)
	if resp, got := f.do(t, nil, http.MethodPost, "/decode", nil, body); resp.StatusCode != 200 {
		t.Fatalf("open loopback decode: %d %s", resp.StatusCode, got)
	}
	// A DNS name rebound to 127.0.0.1 by a web page arrives with its own Host: refused.
	if resp, got := f.do(t, nil, http.MethodPost, "/decode", map[string]string{"Host": "rebound.evil.example"}, body); resp.StatusCode != 403 {
		t.Fatalf("open server, foreign host: %d %s", resp.StatusCode, got)
	}
}

func TestNewServerRefusesBadOptions(t *testing.T) {
	c := New(mustRing(t, testKey(t, "k1")))
	for name, tt := range map[string]struct {
		opts ServerOptions
		want string
	}{
		"no codec":         {ServerOptions{AllowOpen: true}, "a codec is required"},
		"wildcard origin":  {ServerOptions{Codec: c, AllowOpen: true, Origins: []string{webOrigin, "*"}}, `origins[1]: "*" cannot be used`},
		"origin with path": {ServerOptions{Codec: c, AllowOpen: true, Origins: []string{"http://127.0.0.1:8233/ui"}}, `origins[0]: "http://127.0.0.1:8233/ui" is not an origin`},
		"no scheme":        {ServerOptions{Codec: c, AllowOpen: true, Origins: []string{"127.0.0.1:8233"}}, "is not an origin"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewServer(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// The codec session: Secure whenever the browser's request was https (the API's public URL is
// https, TLS ending in front: SecureCookies; or a proxy's X-Forwarded-Proto), never Secure on
// plain loopback http (the devstack), under an hour, and logout revokes it: a copy of the cookie
// kept elsewhere no longer decodes.
func TestSessionCookieSecureShortAndRevoked(t *testing.T) {
	signIn := func(t *testing.T, f *fixture, headers map[string]string) *http.Cookie {
		t.Helper()
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": f.srv.URL}
		for k, v := range headers {
			h[k] = v
		}
		resp, body := f.do(t, &http.Client{Timeout: httpDeadline}, http.MethodPost, "/login", h, url.Values{"token": {opsToken}}.Encode())
		if resp.StatusCode != 200 {
			t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
		}
		for _, c := range resp.Cookies() {
			if c.Name == SessionCookie {
				return c
			}
		}
		t.Fatal("no session cookie")
		return nil
	}
	plain := newFixture(t, nil)
	if c := signIn(t, plain, nil); c.Secure || c.MaxAge <= 0 || c.MaxAge >= 3600 {
		t.Errorf("plain http: Secure %v, Max-Age %d (want not Secure, under an hour)", c.Secure, c.MaxAge)
	}
	if c := signIn(t, plain, map[string]string{"X-Forwarded-Proto": "https"}); !c.Secure {
		t.Error("behind a proxy that says https: the cookie is not Secure")
	}
	terminated := newFixture(t, func(o *ServerOptions) { o.SecureCookies = true })
	if c := signIn(t, terminated, nil); !c.Secure {
		t.Error("public URL https (SecureCookies): the cookie is not Secure")
	}
	if _, err := NewServer(ServerOptions{Codec: plain.codec, AllowOpen: true, SessionTTL: 8 * time.Hour}); err == nil {
		t.Error("an 8-hour session was accepted")
	}

	// Logout revokes the session, not only the browser's copy.
	cookie := signIn(t, plain, nil)
	sealed, _ := plain.codec.DataConverter().ToPayload("x")
	u, _ := url.Parse(plain.srv.URL)
	withCopy := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		jar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: cookie.Value, Path: "/"}})
		return &http.Client{Jar: jar, Timeout: httpDeadline}
	}
	decode := func() int {
		resp, _ := plain.do(t, withCopy(), http.MethodPost, "/decode", map[string]string{"Content-Type": "application/json", HeaderNamespace: testNS},
			payloadsJSON(t, []*commonpb.Payload{sealed}))
		return resp.StatusCode
	}
	if code := decode(); code != 200 {
		t.Fatalf("decode with the session: %d", code)
	}
	if resp, _ := plain.do(t, withCopy(), http.MethodPost, "/logout", map[string]string{"Origin": plain.srv.URL}, ""); resp.StatusCode != 200 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if code := decode(); code != http.StatusUnauthorized {
		t.Fatalf("a copy of the cookie after logout: %d, want 401", code)
	}
}
