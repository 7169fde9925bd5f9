package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"rimflow/internal/access"
	"rimflow/internal/codec"
)

const webOrigin = "http://127.0.0.1:8233"

// codecAPI is an API with the ops client (codec:decode, codec:encode), a payload codec and
// Temporal Web's origin, and a payload sealed by that codec.
func codecAPI(t *testing.T) (http.Handler, json.RawMessage, *commonpb.Payload) {
	t.Helper()
	clients, err := access.New(access.Spec{Name: "ops", Token: opsToken, Operations: []string{"read", "codec:decode", "codec:encode"}, Resources: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := codec.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := codec.ParseKeyring("test", keys)
	if err != nil {
		t.Fatal(err)
	}
	cdc := codec.New(ring)
	s, err := newServer(Options{Client: unreachableClient(t), Namespace: "default", Clients: clients, Codec: cdc,
		CodecOrigins: []string{webOrigin}, RequestTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{"billNo": "BX-WEB-1"})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := cdc.Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"payloads": []json.RawMessage{protoJSON(t, sealed[0])}})
	return s, body, plain
}

func codecCall(t *testing.T, h http.Handler, method, target string, headers map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Temporal Web 2.55 as its bundle calls the codec endpoint (fetch `${endpoint}/decode?preserveStorageRefs=true`,
// Content-Type and X-Namespace, credentials included): the CORS preflight, the sign-in that gives the
// session cookie, then decode and encode (a signal's input) with the cookie. A parameter of the
// protocol rimflow does not know is ignored too; rimflow's own routes still refuse one.
func TestCodecAnswersTemporalWeb(t *testing.T) {
	h, body, plain := codecAPI(t)

	for _, endpoint := range []string{"decode", "encode"} {
		rec := codecCall(t, h, http.MethodOptions, "/v1/codec/"+endpoint+"?preserveStorageRefs=true", map[string]string{
			"Origin": webOrigin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}, "")
		hd := rec.Header()
		if rec.Code != http.StatusNoContent || hd.Get("Access-Control-Allow-Origin") != webOrigin || hd.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("preflight of %s: %d %v %s", endpoint, rec.Code, hd, rec.Body)
		}
		allowed := strings.ToLower(hd.Get("Access-Control-Allow-Headers"))
		for _, want := range []string{"content-type", "x-namespace"} {
			if !strings.Contains(allowed, want) {
				t.Errorf("preflight of %s allows headers %q, not %s", endpoint, allowed, want)
			}
		}
	}

	// The sign-in page posts to itself (its own origin), as a person does once.
	rec := codecCall(t, h, http.MethodPost, "/v1/codec/login", map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://example.com"}, url.Values{"token": {opsToken}}.Encode())
	var session string
	for _, c := range rec.Result().Cookies() {
		if c.Name == codec.SessionCookie {
			session = c.Name + "=" + c.Value
		}
	}
	if rec.Code != http.StatusOK || session == "" {
		t.Fatalf("sign-in: %d, cookie %q: %s", rec.Code, session, rec.Body)
	}

	web := map[string]string{"Origin": webOrigin, "Content-Type": "application/json", codec.HeaderNamespace: "default", "Cookie": session}
	for _, query := range []string{"?preserveStorageRefs=true", "?preserveStorageRefs=true&aParameterOfALaterRelease=1"} {
		rec := codecCall(t, h, http.MethodPost, "/v1/codec/decode"+query, web, string(body))
		if rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != webOrigin {
			t.Fatalf("Web's decode%s: %d %s", query, rec.Code, rec.Body)
		}
		if !strings.Contains(rec.Body.String(), encodeB64(plain.Data)) {
			t.Errorf("Web's decode%s did not give the payload back: %s", query, rec.Body)
		}
	}
	in, _ := json.Marshal(map[string]any{"payloads": []json.RawMessage{protoJSON(t, plain)}})
	rec = codecCall(t, h, http.MethodPost, "/v1/codec/encode?preserveStorageRefs=true", web, string(in))
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), encodeB64(plain.Data)) ||
		!strings.Contains(rec.Body.String(), encodeB64([]byte(codec.EncodingEncrypted))) {
		t.Fatalf("Web's encode: %d %s", rec.Code, rec.Body)
	}
	// Without the session Web is refused (what its banner then reports), parameter or not.
	delete(web, "Cookie")
	if rec := codecCall(t, h, http.MethodPost, "/v1/codec/decode?preserveStorageRefs=true", web, string(body)); rec.Code != http.StatusUnauthorized {
		t.Errorf("Web's decode without a session: %d %s", rec.Code, rec.Body)
	}

	// rimflow's own routes keep refusing what they do not take.
	rec = codecCall(t, h, http.MethodGet, "/v1/bills?preserveStorageRefs=true", map[string]string{"Authorization": "Bearer " + opsToken}, "")
	if _, fields := errorOf(t, answerJSON(t, rec)); rec.Code != http.StatusBadRequest || fields["preserveStorageRefs"] == nil {
		t.Errorf("GET /v1/bills?preserveStorageRefs=true: %d %s", rec.Code, rec.Body)
	}
}

// The temporal CLI (v1.5.1, --codec-endpoint URL --codec-auth "Bearer …") posts to URL+"/decode" and
// "/encode" with no query, Content-Type, X-Namespace and the Authorization it was given.
func TestCodecAnswersTheTemporalCLI(t *testing.T) {
	h, body, plain := codecAPI(t)
	cli := map[string]string{"Content-Type": "application/json", codec.HeaderNamespace: "default", "Authorization": "Bearer " + opsToken}
	rec := codecCall(t, h, http.MethodPost, "/v1/codec/decode", cli, string(body))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), encodeB64(plain.Data)) {
		t.Fatalf("the CLI's decode: %d %s", rec.Code, rec.Body)
	}
	in, _ := json.Marshal(map[string]any{"payloads": []json.RawMessage{protoJSON(t, plain)}})
	if rec := codecCall(t, h, http.MethodPost, "/v1/codec/encode", cli, string(in)); rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), encodeB64(plain.Data)) {
		t.Fatalf("the CLI's encode: %d %s", rec.Code, rec.Body)
	}
	cli["Authorization"] = "Bearer not-a-client"
	if rec := codecCall(t, h, http.MethodPost, "/v1/codec/decode", cli, string(body)); rec.Code != http.StatusUnauthorized {
		t.Errorf("the CLI's decode with a wrong token: %d %s", rec.Code, rec.Body)
	}
}

func answerJSON(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, rec.Body)
	}
	return out
}
