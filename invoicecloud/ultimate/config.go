package ultimate

import (
	"cmp"
	"log/slog"
	"time"

	"rimflow/invoicecloud"
)

// Defaults for Config's zero values (the transport's are invoicecloud's: DefaultTimeout, …).
const (
	DefaultLanguage           = "zh_CN"
	DefaultUserType           = "Mobile"
	DefaultBusinessSystemCode = "rimflow"
	// EventCodeLifetime is how long an eventCode opens the pages (10 minutes).
	EventCodeLifetime = 10 * time.Minute
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
		// The vendor's texts name no reversal call [assumed].
		VoucherReverse: "voucherDelete",
	}
}

// byName are the paths by their names in an enterprise's paths block (paths.pollData, …).
func (p *Paths) byName() map[string]*string {
	return map[string]*string{
		"appToken": &p.AppToken, "login": &p.Login, "oauth2Token": &p.OAuth2Token, "message": &p.Message,
		"deduction": &p.Deduction, "msgWatch": &p.MsgWatch, "pollData": &p.PollData, "pollReceipt": &p.PollReceipt,
		"bdsBillPush": &p.BDSBillPush, "bdsOperate": &p.BDSOperate,
	}
}

// byName are the messageTypes by their names in an enterprise's messageTypes block.
func (m *MessageTypes) byName() map[string]*string {
	return map[string]*string{
		"getEventCode": &m.GetEventCode, "billSave": &m.BillSave, "voucherSave": &m.VoucherSave,
		"unbind": &m.Unbind, "voucherReverse": &m.VoucherReverse,
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
	c.ScanPointsOperate = cmp.Or(c.ScanPointsOperate, invoicecloud.DefaultScanPointsOperate)
	c.Timeout = cmp.Or(c.Timeout, invoicecloud.DefaultTimeout)
	c.PollHold = cmp.Or(c.PollHold, invoicecloud.DefaultPollHold)
	c.RefreshBefore = cmp.Or(c.RefreshBefore, invoicecloud.DefaultRefreshBefore)
	if c.BusinessSystemCode == "" {
		c.BusinessSystemCode = DefaultBusinessSystemCode
	}
	dp, dm := DefaultPaths(), DefaultMessageTypes()
	invoicecloud.FillDefaults(
		invoicecloud.Default(&c.Paths.AppToken, dp.AppToken), invoicecloud.Default(&c.Paths.Login, dp.Login), invoicecloud.Default(&c.Paths.OAuth2Token, dp.OAuth2Token),
		invoicecloud.Default(&c.Paths.Message, dp.Message), invoicecloud.Default(&c.Paths.Deduction, dp.Deduction), invoicecloud.Default(&c.Paths.MsgWatch, dp.MsgWatch),
		invoicecloud.Default(&c.Paths.PollData, dp.PollData), invoicecloud.Default(&c.Paths.PollReceipt, dp.PollReceipt),
		invoicecloud.Default(&c.Paths.BDSBillPush, dp.BDSBillPush), invoicecloud.Default(&c.Paths.BDSOperate, dp.BDSOperate),
		invoicecloud.Default(&c.MessageTypes.GetEventCode, dm.GetEventCode), invoicecloud.Default(&c.MessageTypes.BillSave, dm.BillSave),
		invoicecloud.Default(&c.MessageTypes.VoucherSave, dm.VoucherSave), invoicecloud.Default(&c.MessageTypes.Unbind, dm.Unbind),
		invoicecloud.Default(&c.MessageTypes.VoucherReverse, dm.VoucherReverse),
	)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks a defaulted Config and names the first missing or bad field.
// Field names are the camelCase names of the configuration (and of the vendor's parameters).
func (c Config) Validate() error {
	bad := invoicecloud.ConfigError
	if err := invoicecloud.ValidateBaseURL(c.BaseURL, c.AllowInsecureHTTP); err != nil {
		return err
	}
	switch c.AuthMode {
	case AuthLegacy:
		if err := invoicecloud.RequireAll("required for authMode legacy", invoicecloud.Named("appId", c.AppID), invoicecloud.Named("appSecret", c.AppSecret),
			invoicecloud.Named("tenantId", c.TenantID), invoicecloud.Named("accountId", c.AccountID), invoicecloud.Named("user", c.User)); err != nil {
			return err
		}
		if c.UserType != "Mobile" && c.UserType != "UserName" {
			return bad("userType", `must be "Mobile" or "UserName"`)
		}
	case AuthOAuth2:
		if err := invoicecloud.RequireAll("required for authMode oauth2", invoicecloud.Named("clientId", c.ClientID), invoicecloud.Named("clientSecret", c.ClientSecret),
			invoicecloud.Named("username", c.Username), invoicecloud.Named("accountId", c.AccountID)); err != nil {
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
	if err := invoicecloud.ValidateDurations(c.Timeout, c.PollHold, c.RefreshBefore); err != nil {
		return err
	}
	if err := invoicecloud.ValidatePollKey(c.PollKey); err != nil {
		return err
	}
	return invoicecloud.ValidatePaths(
		invoicecloud.Named("paths.appToken", c.Paths.AppToken), invoicecloud.Named("paths.login", c.Paths.Login),
		invoicecloud.Named("paths.oauth2Token", c.Paths.OAuth2Token), invoicecloud.Named("paths.message", c.Paths.Message),
		invoicecloud.Named("paths.deduction", c.Paths.Deduction), invoicecloud.Named("paths.msgWatch", c.Paths.MsgWatch),
		invoicecloud.Named("paths.pollData", c.Paths.PollData), invoicecloud.Named("paths.pollReceipt", c.Paths.PollReceipt),
		invoicecloud.Named("paths.bdsBillPush", c.Paths.BDSBillPush), invoicecloud.Named("paths.bdsOperate", c.Paths.BDSOperate),
	)
}
