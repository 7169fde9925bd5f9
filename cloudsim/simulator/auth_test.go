package simulator

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLegacyAuthAnswersTheDocumentedShape(t *testing.T) {
	h := newHarness(t, Options{})
	_, app := h.post("/api/getAppToken.do", legacyCreds())
	if app["state"] != "success" || dig(app, "data", "success") != true || dig(app, "data", "error_code") != "0" {
		t.Fatalf("getAppToken: %v", app)
	}
	wantExp := float64(testEpoch.Add(DefaultTokenTTL).UnixMilli())
	if got := dig(app, "data", "expire_time"); got != wantExp {
		t.Fatalf("expire_time = %v, want %v (ms epoch, now+2h)", got, wantExp)
	}
	tok := h.accessToken()
	if tok == "" {
		t.Fatal("no access token")
	}
	st := h.sim.Stats()
	if st.TokensIssued.App != 2 || st.TokensIssued.Access != 1 {
		t.Fatalf("tokensIssued = %+v", st.TokensIssued)
	}
}

func TestLegacyAuthFailuresNameTheField(t *testing.T) {
	h := newHarness(t, Options{})
	with := func(k, v string) map[string]any {
		m := maps.Clone(legacyCreds())
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name, field, value, code string
	}{
		{"wrong accountId", "accountId", "1534920374578620491", authBadAccountID},
		{"wrong appId", "appId", "OTHER", authBadAppID},
		{"wrong appSecuret", "appSecuret", "nope", authBadAppSecret},
		{"wrong tenantid", "tenantid", "other", authBadTenantID},
		{"missing appId", "appId", "", authBadParams},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, resp := h.post("/api/getAppToken.do", with(c.field, c.value))
			if dig(resp, "data", "error_code") != c.code || dig(resp, "data", "success") != false || resp["state"] != "error" {
				t.Fatalf("got %v", resp)
			}
			desc := dig(resp, "data", "error_desc").(string)
			if !strings.HasPrefix(desc, c.field+": ") {
				t.Fatalf("error_desc should name %s: %q", c.field, desc)
			}
			if c.field == "accountId" && !strings.Contains(desc, "数据中心") {
				t.Fatalf("accountId error should name 数据中心: %q", desc)
			}
			if dig(resp, "data", "app_token") != "" {
				t.Fatal("a failure must not carry a token")
			}
		})
	}
	// The accountId as an unquoted 19-digit number is read exactly, not through a float.
	m := legacyCreds()
	raw := fmt.Sprintf(`{"appId":"CASHINV","appSecuret":"12345678","tenantid":"devbiz","accountId":%s}`, m["accountId"])
	if _, resp := h.post("/api/getAppToken.do", raw); dig(resp, "data", "error_code") != authOK {
		t.Fatalf("numeric accountId: %v", resp)
	}

	_, app := h.post("/api/getAppToken.do", legacyCreds())
	appToken := dig(app, "data", "app_token").(string)
	login := func(user, apptoken string) map[string]any {
		_, r := h.post("/api/login.do", map[string]any{"user": user, "apptoken": apptoken,
			"tenantid": "devbiz ", "accountId": "1534920374578620490", "usertype": "Mobile"})
		return r
	}
	if r := login("13800000000", appToken); dig(r, "data", "error_code") != authBadUser {
		t.Fatalf("wrong user: %v", r)
	}
	if r := login("13825207590", "not-a-token"); dig(r, "data", "error_code") != authBadAppToken {
		t.Fatalf("bad apptoken: %v", r)
	}
	if r := login("13825207590", appToken); dig(r, "data", "error_code") != authOK {
		t.Fatalf("the seed's tenantid with a trailing space is accepted: %v", r)
	}
	if st := h.sim.Stats(); st.AuthFailures != 7 {
		t.Fatalf("authFailures = %d, want 7", st.AuthFailures)
	}
}

func oauthBody(h *harness, mutate func(map[string]any)) map[string]any {
	b := map[string]any{"client_id": "CASHINV", "client_secret": "12345678", "username": "13825207590",
		"accountId": "1534920374578620490", "language": "zh_CN", "nonce": "n-1",
		"timestamp": fmt.Sprint(h.clock.Now().UnixMilli())}
	if mutate != nil {
		mutate(b)
	}
	return b
}

func TestOAuth2TokenAndFailures(t *testing.T) {
	h := newHarness(t, Options{})
	_, ok := h.post("/kapi/oauth2/getToken", oauthBody(h, nil))
	if ok["errorCode"] != "0" || ok["status"] != true || dig(ok, "data", "token_type") != "Bearer" ||
		dig(ok, "data", "expires_in") != float64(DefaultTokenTTL.Milliseconds()) || dig(ok, "data", "refresh_token") == "" {
		t.Fatalf("oauth2 answer: %v", ok)
	}
	cases := []struct {
		name   string
		mutate func(map[string]any)
		code   string
		field  string
	}{
		{"bad client", func(m map[string]any) { m["client_secret"] = "x" }, oauth2BadClient, "client_secret"},
		{"unknown client", func(m map[string]any) { m["client_id"] = "x" }, oauth2BadClient, "client_id"},
		{"missing nonce", func(m map[string]any) { delete(m, "nonce") }, oauth2BadParams, "nonce"},
		{"stale timestamp", func(m map[string]any) {
			m["timestamp"] = fmt.Sprint(h.clock.Now().Add(-6 * time.Minute).UnixMilli())
		}, oauth2BadParams, "timestamp"},
		{"future timestamp", func(m map[string]any) {
			m["timestamp"] = fmt.Sprint(h.clock.Now().Add(6 * time.Minute).UnixMilli())
		}, oauth2BadParams, "timestamp"},
		{"wrong accountId", func(m map[string]any) { m["accountId"] = "1" }, authBadAccountID, "accountId"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, r := h.post("/kapi/oauth2/getToken", oauthBody(h, c.mutate))
			if r["errorCode"] != c.code || r["status"] != false || r["data"] != nil {
				t.Fatalf("got %v", r)
			}
			if msg := r["message"].(string); !strings.HasPrefix(msg, c.field+": ") {
				t.Fatalf("message should name %s: %q", c.field, msg)
			}
		})
	}
	// Four minutes of skew is inside the documented ±5 min.
	if _, r := h.post("/kapi/oauth2/getToken", oauthBody(h, func(m map[string]any) {
		m["timestamp"] = fmt.Sprint(h.clock.Now().Add(-4 * time.Minute).UnixMilli())
	})); r["errorCode"] != "0" {
		t.Fatalf("4 min skew refused: %v", r)
	}
}

func TestOAuth2RateLimit(t *testing.T) {
	h := newHarness(t, Options{OAuth2RatePerMinute: 2})
	for i := 0; i < 2; i++ {
		if _, r := h.post("/kapi/oauth2/getToken", oauthBody(h, nil)); r["errorCode"] != "0" {
			t.Fatalf("call %d: %v", i, r)
		}
	}
	if _, r := h.post("/kapi/oauth2/getToken", oauthBody(h, nil)); r["errorCode"] != oauth2RateLimited {
		t.Fatalf("third call in a minute: %v", r)
	}
	h.clock.Advance(time.Minute)
	if _, r := h.post("/kapi/oauth2/getToken", oauthBody(h, nil)); r["errorCode"] != "0" {
		t.Fatalf("next minute: %v", r)
	}
}

func TestTokensExpireOnTheSimulatorClock(t *testing.T) {
	h := newHarness(t, Options{TokenTTL: 30 * time.Minute})
	tok := h.accessToken()
	h.mustOK(h.message(tok, "getEventCode", "m1", billData("B1", nil)))

	h.clock.Advance(29 * time.Minute)
	h.mustOK(h.message(tok, "getEventCode", "m2", billData("B1", nil)))

	h.clock.Advance(time.Minute)
	status, resp := h.message(tok, "getEventCode", "m3", billData("B1", nil))
	if status != http.StatusUnauthorized || resp["errorCode"] != codeTokenInvalid || !strings.Contains(resp["message"].(string), "token失效") {
		t.Fatalf("expired token: HTTP %d %v", status, resp)
	}
	if strings.Contains(fmt.Sprint(resp), tok) {
		t.Fatal("the error text must not contain the token")
	}
	// The app_token expired too: login.do refuses it.
	_, r := h.post("/api/login.do", map[string]any{"user": "13825207590", "apptoken": "whatever",
		"tenantid": "devbiz", "accountId": "1534920374578620490"})
	if dig(r, "data", "error_code") != authBadAppToken {
		t.Fatalf("login with a bad apptoken: %v", r)
	}
	// A fresh login works again.
	h.mustOK(h.message(h.accessToken(), "getEventCode", "m4", billData("B1", nil)))
}

func TestTokenPlacement(t *testing.T) {
	h := newHarness(t, Options{})
	legacy := h.accessToken()
	_, r := h.post("/kapi/oauth2/getToken", oauthBody(h, nil))
	oauth := dig(r, "data", "access_token").(string)
	_, app := h.post("/api/getAppToken.do", legacyCreds())
	appToken := dig(app, "data", "app_token").(string)
	body := map[string]any{"messageType": "getEventCode", "messageId": "p", "data": billData("B1", nil)}

	cases := []struct {
		name   string
		path   string
		header map[string]string
		want   int
	}{
		{"legacy in query", "/kapi/app/rim/message?access_token=" + legacy, nil, http.StatusOK},
		{"legacy in header", "/kapi/app/rim/message", map[string]string{"access_token": legacy}, http.StatusOK},
		{"oauth2 in accesstoken header", "/kapi/app/rim/message", map[string]string{"accesstoken": oauth}, http.StatusOK},
		{"oauth2 in query is refused", "/kapi/app/rim/message?access_token=" + oauth, nil, http.StatusUnauthorized},
		{"app_token is not an access token", "/kapi/app/rim/message", map[string]string{"access_token": appToken}, http.StatusUnauthorized},
		{"unknown token", "/kapi/app/rim/message", map[string]string{"access_token": "nope"}, http.StatusUnauthorized},
		{"bearer header", "/kapi/app/rim/message", map[string]string{"Authorization": "Bearer " + oauth}, http.StatusOK},
		{"no token", "/kapi/app/rim/message", nil, http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, resp := h.do(http.MethodPost, c.path, body, c.header)
			if status != c.want {
				t.Fatalf("HTTP %d, want %d: %v", status, c.want, resp)
			}
		})
	}
}

func TestExpireTokensFault(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	if status, _ := h.post("/__sim/faults", map[string]any{"expireTokens": true}); status != http.StatusOK {
		t.Fatalf("set faults: %d", status)
	}
	if status, _ := h.message(tok, "getEventCode", "x1", billData("B1", nil)); status != http.StatusUnauthorized {
		t.Fatalf("revoked token still accepted: %d", status)
	}
	h.mustOK(h.message(h.accessToken(), "getEventCode", "x2", billData("B1", nil)))
}
