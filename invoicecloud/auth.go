package invoicecloud

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// fetchToken gets a fresh access token in the configured mode.
func (c *Client) fetchToken(ctx context.Context) (token, error) {
	if c.cfg.AuthMode == AuthOAuth2 {
		return c.fetchOAuth2(ctx)
	}
	return c.fetchLegacy(ctx)
}

// legacyAnswer is the shape of 1.01 getAppToken and 1.02 login.
type legacyAnswer struct {
	Data struct {
		AppToken    string     `json:"app_token"`
		AccessToken string     `json:"access_token"`
		Success     flexBool   `json:"success"`
		ErrorDesc   flexString `json:"error_desc"`
		ExpireTime  flexInt    `json:"expire_time"` // ms epoch
		ErrorCode   flexString `json:"error_code"`
	} `json:"data"`
	State flexString `json:"state"`
	// Gateways answer some failures in the message envelope instead.
	ErrorCode flexString `json:"errorCode"`
	Message   flexString `json:"message"`
}

// fetchLegacy runs 1.01 (app_token) then 1.02 (access_token). The app_token is not cached:
// it is only needed for login, and refetching it keeps one code path for expiry and revocation.
func (c *Client) fetchLegacy(ctx context.Context) (token, error) {
	app, err := c.legacyCall(ctx, c.cfg.Paths.AppToken, map[string]string{
		"appId":      c.cfg.AppID,
		"appSecuret": c.cfg.AppSecret, // the vendor's spelling
		"tenantid":   c.cfg.TenantID,
		"accountId":  c.cfg.AccountID,
		"language":   c.cfg.Language,
	}, func(a *legacyAnswer) string { return a.Data.AppToken })
	if err != nil {
		return token{}, err
	}
	now := time.Now()
	login, err := c.legacyCall(ctx, c.cfg.Paths.Login, map[string]string{
		"user":      c.cfg.User,
		"apptoken":  app.Data.AppToken,
		"tenantid":  c.cfg.TenantID,
		"accountId": c.cfg.AccountID,
		"usertype":  c.cfg.UserType,
	}, func(a *legacyAnswer) string { return a.Data.AccessToken })
	if err != nil {
		return token{}, err
	}
	expires := now.Add(DefaultTokenLifetime)
	if ms := int64(login.Data.ExpireTime); ms > 0 {
		expires = time.UnixMilli(ms)
	}
	return newToken(login.Data.AccessToken, now, expires, c.cfg.RefreshBefore), nil
}

func (c *Client) legacyCall(ctx context.Context, path string, body map[string]string, tokenOf func(*legacyAnswer) string) (*legacyAnswer, error) {
	var a legacyAnswer
	err := c.authExchange(ctx, path, body, c.cfg.AuthMode, func(_ int, b []byte) (bool, string, string, error) {
		jerr := json.Unmarshal(b, &a)
		code := string(firstNonEmpty(a.Data.ErrorCode, a.ErrorCode))
		ok := bool(a.Data.Success) && (code == "" || code == "0") && tokenOf(&a) != "" && (a.State == "" || a.State == "success")
		return ok, code, string(firstNonEmpty(a.Data.ErrorDesc, a.Message)), jerr
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// authExchange posts body to a token endpoint; judge decodes the answer into its own shape and
// says whether it is a success (with the refusal's code and description when not). Outages and
// non-JSON answers are classified here, refusals by authError; Observe sees the outcome.
func (c *Client) authExchange(ctx context.Context, path string, body any, mode AuthMode,
	judge func(status int, b []byte) (ok bool, code, desc string, jerr error)) error {
	start := time.Now()
	status, b, terr := c.exchange(ctx, request{name: "auth", method: http.MethodPost, path: path, body: body, timeout: c.cfg.Timeout})
	if terr != nil {
		c.observe("auth", start, terr)
		return terr
	}
	ok, code, desc, jerr := judge(status, b)
	var err error
	switch {
	case status/100 != 2 && (jerr != nil || httpRetryable(status)):
		err = statusError("auth", status, b)
	case jerr != nil:
		err = &Error{MessageType: "auth", HTTPStatus: status, Message: "answer is not JSON (check baseURL and paths)"}
	case !ok:
		err = authError(status, code, desc, mode)
	}
	c.observe("auth", start, err)
	return err
}

// oauth2Answer is the shape of /kapi/oauth2/getToken.
type oauth2Answer struct {
	Data struct {
		AccessToken  string  `json:"access_token"`
		TokenType    string  `json:"token_type"`
		RefreshToken string  `json:"refresh_token"`
		ExpiresIn    flexInt `json:"expires_in"` // ms
	} `json:"data"`
	ErrorCode flexString `json:"errorCode"`
	Status    flexBool   `json:"status"`
	Message   flexString `json:"message"`
}

func (c *Client) fetchOAuth2(ctx context.Context) (token, error) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	now := time.Now()
	body := map[string]string{
		"client_id":     c.cfg.ClientID,
		"client_secret": c.cfg.ClientSecret,
		"username":      c.cfg.Username,
		"accountId":     c.cfg.AccountID,
		"language":      c.cfg.Language,
		"nonce":         hex.EncodeToString(nonce),
		"timestamp":     strconv.FormatInt(now.UnixMilli(), 10),
	}
	var a oauth2Answer
	err := c.authExchange(ctx, c.cfg.Paths.OAuth2Token, body, AuthOAuth2, func(status int, b []byte) (bool, string, string, error) {
		jerr := json.Unmarshal(b, &a)
		ok := status/100 == 2 && bool(a.Status) && (a.ErrorCode == "" || a.ErrorCode == "0") && a.Data.AccessToken != ""
		return ok, string(a.ErrorCode), string(a.Message), jerr
	})
	if err != nil {
		return token{}, err
	}
	life := DefaultTokenLifetime
	if ms := int64(a.Data.ExpiresIn); ms > 0 {
		life = time.Duration(ms) * time.Millisecond
	}
	return newToken(a.Data.AccessToken, now, now.Add(life), c.cfg.RefreshBefore), nil
}

// authStandard is the standard edition's signed /base/oauth/token (see StandardClient).
const authStandard AuthMode = "standard"

// authError turns a refused authentication into an *Error. Credential problems are
// configuration errors (not retryable) whose Field names the setting to fix; rate limiting,
// outages and a token revoked between the two legacy steps are retryable.
func authError(status int, code, desc string, mode AuthMode) *Error {
	e := &Error{MessageType: "auth", HTTPStatus: status, Code: code, Message: Redact(desc)}
	if e.Message == "" {
		e.Message = "authentication refused"
	}
	field := authField(code, desc, mode)
	switch {
	case status == http.StatusTooManyRequests || status >= 500 || code == "429":
		e.Retryable = true // getToken allows 30 calls/min; an outage is not a credential problem
	case field == "apptoken":
		e.Retryable = true // the app_token died between 1.01 and 1.02: start over
	default:
		e.Field = field
	}
	return e
}

// vendorParamFields maps the vendor's request parameter names (as they appear in error
// descriptions, e.g. "accountId: 数据中心不存在") to the Config field to fix.
var vendorParamFields = map[string]string{
	"appid": "appId", "appsecuret": "appSecret", "appsecret": "appSecret", "tenantid": "tenantId",
	"accountid": "accountId", "user": "user", "usertype": "userType", "apptoken": "apptoken",
	"client_id": "clientId", "client_secret": "clientSecret", "username": "username",
	"timestamp": "timestamp", "nonce": "nonce", "language": "language",
	// standard edition (/base/oauth/token and its business calls)
	"sign": "clientSecret", "enctype": "encType", "encrypt_key": "encryptKey", "tin": "taxNo",
}

// authCodeFields maps auth error codes to the field at fault: the legacy codes the simulator
// documents (docs/cloudsim.md). The real cloud's codes are not public, so descriptions are
// consulted first and wording heuristics last.
var authCodeFields = map[string]string{
	"1011": "accountId", "1012": "appId", "1013": "appSecret", "1014": "user",
	"1015": "apptoken", "1016": "tenantId",
}

// authField decides which configuration field a refusal is about.
func authField(code, desc string, mode AuthMode) string {
	// 1. A description that starts with the parameter name ("client_secret: 客户端密钥错误").
	if i := strings.IndexAny(desc, ":："); i > 0 {
		if f, ok := vendorParamFields[strings.ToLower(strings.TrimSpace(desc[:i]))]; ok {
			return f
		}
	}
	// 2. A known code.
	if f, ok := authCodeFields[code]; ok {
		return f
	}
	// 3. The vendor's wording (seed-000 names the accountId / appid-appsecuret failures).
	d := strings.ToLower(desc)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(d, w) {
				return true
			}
		}
		return false
	}
	switch {
	case mode == authStandard && has("encrypt", "解密", "加密"):
		return "encryptKey"
	case mode == authStandard && has("secret", "sign", "签名", "密钥"):
		return "clientSecret" // the sign is made with the secret (and encType)
	case mode == authStandard:
		return "clientId"
	case has("accountid", "数据中心"):
		return "accountId"
	case mode == AuthOAuth2 && has("client_secret", "clientsecret", "secret", "密钥"):
		return "clientSecret"
	case mode == AuthOAuth2 && has("username", "用户"):
		return "username"
	case mode == AuthOAuth2:
		return "clientId" // 401 "bad client": id and secret are checked together
	case has("appsecuret", "appsecret", "secret", "密钥"):
		return "appSecret"
	case has("tenant", "租户"):
		return "tenantId"
	case has("user", "用户"):
		return "user"
	}
	return "appId"
}
