package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Token kinds.
const (
	tokenApp    = "app"    // app_token: only good for login.do
	tokenAccess = "access" // access_token of login.do
	tokenOAuth2 = "oauth2" // access_token of /kapi/oauth2/getToken (header only on /kapi/)
)

type token struct {
	kind    string
	expires time.Time
	revoked bool
}

// tokenBook is every token the simulator issued (by value), the refresh tokens, and the OAuth2
// calls per client in the current minute (its rate limit). The Sim's mu guards it.
type tokenBook struct {
	tokenRand  *rand.Rand
	tokens     map[string]*token
	oauthCalls map[string]*rateWindow
	// refreshTokens are only remembered so IssuedTokens can list them.
	refreshTokens []string
	ttl           time.Duration // Options.TokenTTL
	clock         *clock
	stats         *Stats
}

type rateWindow struct {
	minute int64
	count  int
}

// issueToken creates a token valid for TokenTTL; caller holds the Sim's mu.
func (t *tokenBook) issueToken(kind string) (string, time.Time) {
	v := fmt.Sprintf("%s-%s-%s-%s-%s", randomHex(t.tokenRand, 8), randomHex(t.tokenRand, 4),
		randomHex(t.tokenRand, 4), randomHex(t.tokenRand, 4), randomHex(t.tokenRand, 12))
	exp := t.clock.read().Add(t.ttl)
	t.tokens[v] = &token{kind: kind, expires: exp}
	switch kind {
	case tokenApp:
		t.stats.TokensIssued.App++
	case tokenAccess:
		t.stats.TokensIssued.Access++
	case tokenOAuth2:
		t.stats.TokensIssued.OAuth2++
	}
	return v, exp
}

// tokenProblem says why a token cannot be used; "" when it can. Caller holds the Sim's mu.
// The token value itself never appears in the answer.
func (b *tokenBook) tokenProblem(value string, kinds ...string) string {
	if value == "" {
		return "access_token: 缺少访问令牌 (missing)"
	}
	t, ok := b.tokens[value]
	if !ok {
		return "access_token: token失效 (unknown token)"
	}
	kindOK := false
	for _, k := range kinds {
		kindOK = kindOK || t.kind == k
	}
	switch {
	case !kindOK:
		return "access_token: token失效 (" + t.kind + " token cannot be used here)"
	case t.revoked:
		return "access_token: token失效 (revoked)"
	case !b.clock.read().Before(t.expires):
		return "access_token: token失效 (expired)"
	}
	return ""
}

// flexString accepts a JSON string or number (accountId is a 19-digit number that some
// clients send unquoted; a float would corrupt it, so numbers are kept as written).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = flexString(v)
		return nil
	}
	if string(b) == "null" {
		*f = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number")
	}
	*f = flexString(n.String())
	return nil
}

func (f flexString) trim() string { return strings.TrimSpace(string(f)) }

// legacyAnswer is the shape of getAppToken.do and login.do.
func legacyAnswer(tokenField, value string, expires time.Time, code, desc string) map[string]any {
	data := map[string]any{
		tokenField:   value,
		"success":    code == authOK,
		"error_desc": desc,
		"expire_time": func() int64 {
			if expires.IsZero() {
				return 0
			}
			return expires.UnixMilli()
		}(),
		"error_code": code,
	}
	state := "success"
	if code != authOK {
		state = "error"
	}
	return map[string]any{"data": data, "state": state}
}

// decodeBody decodes a JSON object; the error names what is wrong.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 8<<20))
	if err := dec.Decode(v); err != nil {
		return jsonFieldError("body", err)
	}
	return nil
}

// jsonFieldError turns a decoding error into one naming the field.
func jsonFieldError(prefix string, err error) error {
	var te *json.UnmarshalTypeError
	if ok := asTypeError(err, &te); ok && te.Field != "" {
		return fieldError(te.Field, "wrong type: want "+te.Type.String())
	}
	var fe *FieldError
	if asFieldError(err, &fe) {
		return fe
	}
	return fieldError(prefix, "invalid JSON: "+err.Error())
}

// firstMissing names the first of the (name, value) pairs whose value is empty, or "".
func firstMissing(nameValues ...string) string {
	for i := 0; i+1 < len(nameValues); i += 2 {
		if nameValues[i+1] == "" {
			return nameValues[i]
		}
	}
	return ""
}

func (s *Sim) handleAppToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AppID      flexString `json:"appId"`
		AppSecuret flexString `json:"appSecuret"`
		TenantID   flexString `json:"tenantid"`
		AccountID  flexString `json:"accountId"`
		Language   flexString `json:"language"`
	}
	fail := func(code, desc string) { s.refuseAuth(w, legacyAnswer("app_token", "", time.Time{}, code, desc)) }
	if err := decodeBody(r, &req); err != nil {
		fail(authBadParams, err.Error())
		return
	}
	c := s.opts.Credentials
	if name := firstMissing(
		"appId", req.AppID.trim(),
		"appSecuret", req.AppSecuret.trim(),
		"tenantid", req.TenantID.trim(),
		"accountId", req.AccountID.trim(),
	); name != "" {
		fail(authBadParams, name+": 参数不能为空 (required)")
		return
	}
	switch {
	case req.AccountID.trim() != c.AccountID:
		fail(authBadAccountID, "accountId: 数据中心不存在，请检查accountId是否为数据中心分配的账号ID")
	case req.TenantID.trim() != c.TenantID:
		fail(authBadTenantID, "tenantid: 租户不存在")
	case req.AppID.trim() != c.AppID:
		fail(authBadAppID, "appId: 第三方应用不存在，请检查appId")
	case req.AppSecuret.trim() != c.AppSecret:
		fail(authBadAppSecret, "appSecuret: 应用密钥错误，请检查appSecuret")
	default:
		s.mu.Lock()
		v, exp := s.issueToken(tokenApp)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, legacyAnswer("app_token", v, exp, authOK, ""))
	}
}

func (s *Sim) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User      flexString `json:"user"`
		AppToken  flexString `json:"apptoken"`
		TenantID  flexString `json:"tenantid"`
		AccountID flexString `json:"accountId"`
		UserType  flexString `json:"usertype"`
	}
	fail := func(code, desc string) { s.refuseAuth(w, legacyAnswer("access_token", "", time.Time{}, code, desc)) }
	if err := decodeBody(r, &req); err != nil {
		fail(authBadParams, err.Error())
		return
	}
	if name := firstMissing(
		"user", req.User.trim(),
		"apptoken", req.AppToken.trim(),
		"tenantid", req.TenantID.trim(),
		"accountId", req.AccountID.trim(),
	); name != "" {
		fail(authBadParams, name+": 参数不能为空 (required)")
		return
	}
	c := s.opts.Credentials
	userType := req.UserType.trim()
	if userType != "" && userType != "Mobile" && userType != "UserName" {
		fail(authBadParams, "usertype: 只能是 Mobile 或 UserName")
		return
	}
	s.mu.Lock()
	problem := s.tokenProblem(req.AppToken.trim(), tokenApp)
	s.mu.Unlock()
	switch {
	case problem != "":
		fail(authBadAppToken, "apptoken: app_token无效或已过期，请重新获取")
	case req.AccountID.trim() != c.AccountID:
		fail(authBadAccountID, "accountId: 数据中心不存在，请检查accountId是否为数据中心分配的账号ID")
	case req.TenantID.trim() != c.TenantID:
		fail(authBadTenantID, "tenantid: 租户不存在")
	case req.User.trim() != c.User && req.User.trim() != c.Username:
		fail(authBadUser, "user: 用户不存在")
	default:
		s.mu.Lock()
		v, exp := s.issueToken(tokenAccess)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, legacyAnswer("access_token", v, exp, authOK, ""))
	}
}

func (s *Sim) handleOAuth2Token(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID     flexString `json:"client_id"`
		ClientSecret flexString `json:"client_secret"`
		Username     flexString `json:"username"`
		AccountID    flexString `json:"accountId"`
		Language     flexString `json:"language"`
		Nonce        flexString `json:"nonce"`
		Timestamp    flexString `json:"timestamp"`
	}
	fail := func(code, msg string) {
		s.refuseAuth(w, map[string]any{"data": nil, "errorCode": code, "message": msg, "status": false})
	}
	if err := decodeBody(r, &req); err != nil {
		fail(oauth2BadParams, err.Error())
		return
	}
	if name := firstMissing(
		"client_id", req.ClientID.trim(),
		"client_secret", req.ClientSecret.trim(),
		"username", req.Username.trim(),
		"accountId", req.AccountID.trim(),
		"nonce", req.Nonce.trim(),
		"timestamp", req.Timestamp.trim(),
	); name != "" {
		fail(oauth2BadParams, name+": 参数不能为空 (required)")
		return
	}
	ts, err := strconv.ParseInt(req.Timestamp.trim(), 10, 64)
	if err != nil {
		fail(oauth2BadParams, "timestamp: 必须是毫秒时间戳 (milliseconds since epoch)")
		return
	}
	if ts < 100_000_000_000 { // ten digits: seconds
		ts *= 1000
	}
	now := s.Now()
	if skew := now.Sub(time.UnixMilli(ts)); skew > s.opts.OAuth2Skew || skew < -s.opts.OAuth2Skew {
		fail(oauth2BadParams, fmt.Sprintf("timestamp: 与服务器时间相差超过%d分钟", int(s.opts.OAuth2Skew/time.Minute)))
		return
	}
	c := s.opts.Credentials
	switch {
	case req.AccountID.trim() != c.AccountID:
		fail(oauth2AccountIDBad, "accountId: 数据中心不存在，请检查accountId是否为数据中心分配的账号ID")
		return
	case req.ClientID.trim() != c.ClientID:
		fail(oauth2BadClient, "client_id: 客户端不存在")
		return
	case req.ClientSecret.trim() != c.ClientSecret:
		fail(oauth2BadClient, "client_secret: 客户端密钥错误")
		return
	case req.Username.trim() != c.Username && req.Username.trim() != c.User:
		fail(oauth2BadClient, "username: 用户不存在")
		return
	}
	s.mu.Lock()
	if limit := s.opts.OAuth2RatePerMinute; limit > 0 {
		minute := now.Unix() / 60
		rw := s.oauthCalls[req.ClientID.trim()]
		if rw == nil || rw.minute != minute {
			rw = &rateWindow{minute: minute}
			s.oauthCalls[req.ClientID.trim()] = rw
		}
		rw.count++
		if rw.count > limit {
			s.mu.Unlock()
			fail(oauth2RateLimited, fmt.Sprintf("client_id: 调用过于频繁，每分钟最多%d次", limit))
			return
		}
	}
	access, _ := s.issueToken(tokenOAuth2)
	refresh := randomHex(s.tokenRand, 32)
	s.refreshTokens = append(s.refreshTokens, refresh)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"data": map[string]any{
			"access_token":  access,
			"token_type":    "Bearer",
			"refresh_token": refresh,
			"expires_in":    s.opts.TokenTTL.Milliseconds(),
			"scope":         "API",
			"state":         "success",
		},
		"errorCode": "0",
		"message":   "",
		"status":    true,
	})
}
