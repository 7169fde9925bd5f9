package ultimate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"rimflow/invoicecloud"
	"rimflow/invoicecloud/flex"
)

// fetchToken gets a fresh access token in the configured mode.
func (c *Client) fetchToken(ctx context.Context) (invoicecloud.Token, error) {
	if c.cfg.AuthMode == AuthOAuth2 {
		return c.fetchOAuth2(ctx)
	}
	return c.fetchLegacy(ctx)
}

// legacyAnswer is the shape of 1.01 getAppToken and 1.02 login.
type legacyAnswer struct {
	Data struct {
		AppToken    string      `json:"app_token"`
		AccessToken string      `json:"access_token"`
		Success     flex.Bool   `json:"success"`
		ErrorDesc   flex.String `json:"error_desc"`
		ExpireTime  flex.Int    `json:"expire_time"` // ms epoch
		ErrorCode   flex.String `json:"error_code"`
	} `json:"data"`
	State flex.String `json:"state"`
	// Gateways answer some failures in the message envelope instead.
	ErrorCode flex.String `json:"errorCode"`
	Message   flex.String `json:"message"`
}

// fetchLegacy runs 1.01 (app_token) then 1.02 (access_token). The app_token is not cached:
// it is only needed for login, and refetching it keeps one code path for expiry and revocation.
func (c *Client) fetchLegacy(ctx context.Context) (invoicecloud.Token, error) {
	app, err := c.legacyCall(ctx, c.cfg.Paths.AppToken, map[string]string{
		"appId":      c.cfg.AppID,
		"appSecuret": c.cfg.AppSecret, // the vendor's spelling
		"tenantid":   c.cfg.TenantID,
		"accountId":  c.cfg.AccountID,
		"language":   c.cfg.Language,
	}, func(a *legacyAnswer) string { return a.Data.AppToken })
	if err != nil {
		return invoicecloud.Token{}, err
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
		return invoicecloud.Token{}, err
	}
	expires := now.Add(invoicecloud.DefaultTokenLifetime)
	if ms := int64(login.Data.ExpireTime); ms > 0 {
		expires = time.UnixMilli(ms)
	}
	return invoicecloud.NewToken(login.Data.AccessToken, now, expires, c.cfg.RefreshBefore), nil
}

func (c *Client) legacyCall(ctx context.Context, path string, body map[string]string, tokenOf func(*legacyAnswer) string) (*legacyAnswer, error) {
	var a legacyAnswer
	err := c.t.AuthExchange(ctx, path, body, func(_ int, b []byte) (bool, string, string, error) {
		jerr := json.Unmarshal(b, &a)
		code := string(flex.First(a.Data.ErrorCode, a.ErrorCode))
		ok := bool(a.Data.Success) && (code == "" || code == "0") && tokenOf(&a) != "" && (a.State == "" || a.State == "success")
		return ok, code, string(flex.First(a.Data.ErrorDesc, a.Message)), jerr
	}, c.authField)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// oauth2Answer is the shape of /kapi/oauth2/getToken.
type oauth2Answer struct {
	Data struct {
		AccessToken  string   `json:"access_token"`
		TokenType    string   `json:"token_type"`
		RefreshToken string   `json:"refresh_token"`
		ExpiresIn    flex.Int `json:"expires_in"` // ms
	} `json:"data"`
	ErrorCode flex.String `json:"errorCode"`
	Status    flex.Bool   `json:"status"`
	Message   flex.String `json:"message"`
}

func (c *Client) fetchOAuth2(ctx context.Context) (invoicecloud.Token, error) {
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
	err := c.t.AuthExchange(ctx, c.cfg.Paths.OAuth2Token, body, func(status int, b []byte) (bool, string, string, error) {
		jerr := json.Unmarshal(b, &a)
		ok := status/100 == 2 && bool(a.Status) && (a.ErrorCode == "" || a.ErrorCode == "0") && a.Data.AccessToken != ""
		return ok, string(a.ErrorCode), string(a.Message), jerr
	}, c.authField)
	if err != nil {
		return invoicecloud.Token{}, err
	}
	life := invoicecloud.DefaultTokenLifetime
	if ms := int64(a.Data.ExpiresIn); ms > 0 {
		life = time.Duration(ms) * time.Millisecond
	}
	return invoicecloud.NewToken(a.Data.AccessToken, now, now.Add(life), c.cfg.RefreshBefore), nil
}

// vendorParamFields maps the vendor's request parameter names (as they appear in error
// descriptions, e.g. "accountId: 数据中心不存在") to the Config field to fix.
var vendorParamFields = map[string]string{
	"appid": "appId", "appsecuret": "appSecret", "appsecret": "appSecret", "tenantid": "tenantId",
	"accountid": "accountId", "user": "user", "usertype": "userType", "apptoken": invoicecloud.FieldApptoken,
	"client_id": "clientId", "client_secret": "clientSecret", "username": "username",
	"timestamp": "timestamp", "nonce": "nonce", "language": "language",
}

// authCodeFields maps auth error codes to the field at fault: the legacy codes the simulator
// documents (docs/cloudsim.md). The real cloud's codes are not public, so descriptions are
// consulted first and wording heuristics last.
var authCodeFields = map[string]string{
	"1011": "accountId", "1012": "appId", "1013": "appSecret", "1014": "user",
	"1015": invoicecloud.FieldApptoken, "1016": "tenantId",
}

// authField decides which configuration field a refused login is about.
func (c *Client) authField(code, desc string) string {
	// 1. A description that starts with the parameter name ("client_secret: 客户端密钥错误").
	if f := invoicecloud.ParamField(desc, vendorParamFields); f != "" {
		return f
	}
	// 2. A known code.
	if f, ok := authCodeFields[code]; ok {
		return f
	}
	// 3. The vendor's wording (the login section names the accountId / appid-appsecuret failures).
	has := func(words ...string) bool { return invoicecloud.Mentions(desc, words...) }
	oauth2 := c.cfg.AuthMode == AuthOAuth2
	switch {
	case has("accountid", "数据中心"):
		return "accountId"
	case oauth2 && has("client_secret", "clientsecret", "secret", "密钥"):
		return "clientSecret"
	case oauth2 && has("username", "用户"):
		return "username"
	case oauth2:
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
