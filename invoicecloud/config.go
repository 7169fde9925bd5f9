package invoicecloud

import (
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// Defaults for Config's zero values.
const (
	DefaultLanguage           = "zh_CN"
	DefaultUserType           = "Mobile"
	DefaultTimeout            = 15 * time.Second
	DefaultPollHold           = 35 * time.Second // the cloud holds a poll up to 30 s
	DefaultRefreshBefore      = 5 * time.Minute
	DefaultBusinessSystemCode = "rimflow"
	// DefaultTokenLifetime is assumed when the cloud's expiry cannot be trusted
	// (an expire_time already in the past means the clocks disagree). Tokens live about 2 h.
	DefaultTokenLifetime = 2 * time.Hour
	// EventCodeLifetime is how long an ultimate eventCode opens the pages (seed-000: 10 minutes).
	EventCodeLifetime = 10 * time.Minute
	// DefaultUserKeyTTL is how long a standard userKey is assumed to open the pages [assumed].
	DefaultUserKeyTTL = 2 * time.Hour
)

// DefaultPaths are the ultimate edition's paths; PollData and PollReceipt are [assumed]
// (the standard edition's documented shape) and must stay configurable.
func DefaultPaths() Paths {
	return Paths{
		AppToken:    "/api/getAppToken.do",
		Login:       "/api/login.do",
		OAuth2Token: "/kapi/oauth2/getToken",
		Message:     "/kapi/app/rim/message",
		Deduction:   "/kapi/app/rim/deduction",
		MsgWatch:    "/msgwatch/",
		PollData:    "/polling/fpzs/invoice/data/v2",
		PollReceipt: "/polling/fpzs/portal/receipt",
		BDSBillPush: "/kapi/app/bds/erpBillPush",
		BDSOperate:  "/kapi/app/bds/operate",
	}
}

// DefaultMessageTypes are the messageType names of /kapi/app/rim/message; Unbind's
// "billDelete" is [assumed].
func DefaultMessageTypes() MessageTypes {
	return MessageTypes{
		GetEventCode: "getEventCode",
		BillSave:     "billSave",
		VoucherSave:  "voucherSave",
		Unbind:       "billDelete",
	}
}

// DefaultNothingBoundCodes [assumed]: the simulator's "bill not found" (2001); the vendor's code
// for it is not public.
var DefaultNothingBoundCodes = []string{"2001"}

// WithDefaults returns c with every zero value replaced by its documented default.
func (c Config) WithDefaults() Config {
	if c.NothingBoundCodes == nil {
		c.NothingBoundCodes = DefaultNothingBoundCodes
	}
	if c.AuthMode == "" {
		c.AuthMode = AuthLegacy
	}
	if c.TokenPlacement == "" {
		c.TokenPlacement = TokenInHeader
	}
	if c.Language == "" {
		c.Language = DefaultLanguage
	}
	if c.UserType == "" {
		c.UserType = DefaultUserType
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PollHold == 0 {
		c.PollHold = DefaultPollHold
	}
	if c.RefreshBefore == 0 {
		c.RefreshBefore = DefaultRefreshBefore
	}
	if c.BusinessSystemCode == "" {
		c.BusinessSystemCode = DefaultBusinessSystemCode
	}
	dp, dm := DefaultPaths(), DefaultMessageTypes()
	for _, p := range []struct {
		v *string
		d string
	}{
		{&c.Paths.AppToken, dp.AppToken}, {&c.Paths.Login, dp.Login}, {&c.Paths.OAuth2Token, dp.OAuth2Token},
		{&c.Paths.Message, dp.Message}, {&c.Paths.Deduction, dp.Deduction}, {&c.Paths.MsgWatch, dp.MsgWatch},
		{&c.Paths.PollData, dp.PollData}, {&c.Paths.PollReceipt, dp.PollReceipt},
		{&c.Paths.BDSBillPush, dp.BDSBillPush}, {&c.Paths.BDSOperate, dp.BDSOperate},
		{&c.MessageTypes.GetEventCode, dm.GetEventCode}, {&c.MessageTypes.BillSave, dm.BillSave},
		{&c.MessageTypes.VoucherSave, dm.VoucherSave}, {&c.MessageTypes.Unbind, dm.Unbind},
	} {
		if *p.v == "" {
			*p.v = p.d
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Validate checks a defaulted Config and names the first missing or bad field.
// Field names are the camelCase names of the configuration (and of the vendor's parameters).
func (c Config) Validate() error {
	bad := configError
	if err := validateBaseURL(c.BaseURL, c.AllowInsecureHTTP); err != nil {
		return err
	}
	switch c.AuthMode {
	case AuthLegacy:
		if err := requireAll("required for authMode legacy", namedValue{"appId", c.AppID}, namedValue{"appSecret", c.AppSecret},
			namedValue{"tenantId", c.TenantID}, namedValue{"accountId", c.AccountID}, namedValue{"user", c.User}); err != nil {
			return err
		}
		if c.UserType != "Mobile" && c.UserType != "UserName" {
			return bad("userType", `must be "Mobile" or "UserName"`)
		}
	case AuthOAuth2:
		if err := requireAll("required for authMode oauth2", namedValue{"clientId", c.ClientID}, namedValue{"clientSecret", c.ClientSecret},
			namedValue{"username", c.Username}, namedValue{"accountId", c.AccountID}); err != nil {
			return err
		}
	default:
		return bad("authMode", `must be "legacy" or "oauth2"`)
	}
	if c.TokenPlacement != TokenInHeader && c.TokenPlacement != TokenInQuery {
		return bad("tokenPlacement", `must be "header" or "query"`)
	}
	if c.AuthMode == AuthOAuth2 && c.TokenPlacement == TokenInQuery {
		// 登录认证 mode: Cosmic accepts these tokens only in the access_token header.
		return bad("tokenPlacement", `authMode oauth2 tokens travel only in the header`)
	}
	if err := validateDurations(c.Timeout, c.PollHold, c.RefreshBefore); err != nil {
		return err
	}
	return validatePaths([]namedValue{
		{"paths.appToken", c.Paths.AppToken}, {"paths.login", c.Paths.Login},
		{"paths.oauth2Token", c.Paths.OAuth2Token}, {"paths.message", c.Paths.Message},
		{"paths.deduction", c.Paths.Deduction}, {"paths.msgWatch", c.Paths.MsgWatch},
		{"paths.pollData", c.Paths.PollData}, {"paths.pollReceipt", c.Paths.PollReceipt},
		{"paths.bdsBillPush", c.Paths.BDSBillPush}, {"paths.bdsOperate", c.Paths.BDSOperate},
	})
}

// configError is a bad setting: never retryable, Field names it.
func configError(field, msg string) error {
	return &Error{MessageType: "config", Field: field, Message: msg}
}

// namedValue is a setting and its name in errors.
type namedValue struct{ name, v string }

// requireAll names the first empty setting.
func requireAll(why string, settings ...namedValue) error {
	for _, f := range settings {
		if strings.TrimSpace(f.v) == "" {
			return configError(f.name, why)
		}
	}
	return nil
}

// validateBaseURL: required, an absolute http(s) URL without query or fragment (both editions);
// plain http only to this machine (a loopback host) unless allowInsecure says so: secrets and
// tokens travel on every call.
func validateBaseURL(baseURL string, allowInsecure bool) error {
	u, err := url.Parse(baseURL)
	switch {
	case strings.TrimSpace(baseURL) == "":
		return configError("baseURL", "required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return configError("baseURL", "must be an absolute http(s) URL")
	case u.RawQuery != "" || u.Fragment != "":
		return configError("baseURL", "must not carry a query or fragment")
	case u.Scheme == "http" && !allowInsecure && !loopbackHost(u.Hostname()):
		return configError("baseURL", "must be https: credentials and tokens travel on every call (plain http is accepted only to a loopback host, or with allowInsecureHTTP)")
	}
	return nil
}

// loopbackHost reports whether host (no port) is this machine: "localhost" or a loopback IP.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validateDurations(timeout, pollHold, refreshBefore time.Duration) error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", timeout}, {"pollHold", pollHold}, {"refreshBefore", refreshBefore}} {
		if d.v < 0 {
			return configError(d.name, "must not be negative")
		}
	}
	return nil
}

// validatePaths: every path starts with "/" and carries no query.
func validatePaths(paths []namedValue) error {
	for _, p := range paths {
		if !strings.HasPrefix(p.v, "/") || strings.ContainsAny(p.v, "?# ") {
			return configError(p.name, `must start with "/" and carry no query`)
		}
	}
	return nil
}
