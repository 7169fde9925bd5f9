package ultimate

import (
	"strings"

	"rimflow/invoicecloud"
)

// Name is the edition's name: the key of its block in the enterprises file.
const Name = "ultimate"

// Edition plugs the ultimate edition into rimflow (invoicecloud/editions registers it).
var Edition = invoicecloud.Edition{Name: Name, NewBlock: func() invoicecloud.Block { return &block{} }}

// block is an ultimate enterprise's block in the enterprises file:
//
//	ultimate:
//	  baseURL: https://api.kingdee.com
//	  authMode: oauth2             # legacy | oauth2
//	  clientId: …                  # oauth2: clientId, clientSecret, username, accountId
//	  clientSecret: env:SH_SECRET  # legacy: appId, appSecret, tenantId, accountId, user
//	  username: …
//	  accountId: …
//	  orgNumber: "1001"            # the accounting organisation of bills that name none
//	  encryptKey: env:SH_KEY       # only when the cloud pushes the enterprise's invoices
type block struct {
	BaseURL        string `yaml:"baseURL"`
	AuthMode       string `yaml:"authMode"`
	TokenPlacement string `yaml:"tokenPlacement"`
	AppID          string `yaml:"appId"`
	AppSecret      string `yaml:"appSecret"` // the vendor's appSecuret
	TenantID       string `yaml:"tenantId"`
	AccountID      string `yaml:"accountId"`
	User           string `yaml:"user"`
	UserType       string `yaml:"userType"`
	Username       string `yaml:"username"`
	ClientID       string `yaml:"clientId"`
	ClientSecret   string `yaml:"clientSecret"`
	OrgNumber      string `yaml:"orgNumber"`
	EncryptKey     string `yaml:"encryptKey"`
	// BillSaveKeepsOmitted [assumed] overrides RIMFLOW_CLOUD_BILLSAVE_KEEPS_OMITTED for this
	// enterprise: its cloud's billSave only adds and updates the invoices it names.
	BillSaveKeepsOmitted *bool `yaml:"billSaveKeepsOmitted"`
	// PollKey [assumed] overrides RIMFLOW_CLOUD_POLL_KEY for this enterprise: md5 | linkKey.
	PollKey string `yaml:"pollKey"`
	// ScanPointsOperate [assumed] overrides RIMFLOW_CLOUD_SCAN_POINTS_OPERATE for this enterprise.
	ScanPointsOperate string `yaml:"scanPointsOperate"`
	// Paths and MessageTypes override the environment's by name (Paths.byName,
	// MessageTypes.byName): the [assumed] ones (pollData, pollReceipt; unbind, voucherReverse) and,
	// for a deployment that serves them elsewhere, the public ones.
	Paths        map[string]string `yaml:"paths"`
	MessageTypes map[string]string `yaml:"messageTypes"`
	// NothingBoundCodes [assumed] override RIMFLOW_CLOUD_NOTHING_BOUND_CODES: the codes with which
	// this cloud answers the unbind of a bill holding nothing, counted as done.
	NothingBoundCodes []string `yaml:"nothingBoundCodes"`
	// BusinessSystemCode overrides RIMFLOW_CLOUD_BUSINESS_SYSTEM_CODE: the deduction's
	// businessSystemCode, as the tenant registered it (default rimflow).
	BusinessSystemCode string `yaml:"businessSystemCode"`
}

// Settings starts from the environment's ultimate settings (RIMFLOW_CLOUD_*: the [assumed] names
// and paths, timeouts) and takes the enterprise's own from the block.
func (b *block) Settings(r invoicecloud.BlockReader) invoicecloud.Settings {
	var c Config
	if env, ok := r.Env.(Config); ok {
		c = env
	}
	c.BaseURL = strings.TrimRight(b.BaseURL, "/")
	c.AuthMode = AuthMode(strings.ToLower(b.AuthMode))
	c.TokenPlacement = TokenPlacement(strings.ToLower(b.TokenPlacement))
	c.AppID, c.TenantID, c.AccountID, c.User, c.UserType = b.AppID, b.TenantID, b.AccountID, b.User, b.UserType
	c.AppSecret = r.Secret("appSecret", b.AppSecret)
	c.ClientID, c.Username = b.ClientID, b.Username
	c.ClientSecret = r.Secret("clientSecret", b.ClientSecret)
	if b.BillSaveKeepsOmitted != nil {
		c.BillSaveKeepsOmitted = *b.BillSaveKeepsOmitted
	}
	if b.PollKey != "" {
		c.PollKey = invoicecloud.PollKeyDerivation(b.PollKey)
	}
	if b.ScanPointsOperate != "" {
		c.ScanPointsOperate = strings.TrimSpace(b.ScanPointsOperate)
	}
	invoicecloud.SetByName(r, "paths", b.Paths, c.Paths.byName(), invoicecloud.PathProblem)
	invoicecloud.SetByName(r, "messageTypes", b.MessageTypes, c.MessageTypes.byName(), invoicecloud.NameProblem)
	invoicecloud.SetCodes(r, "nothingBoundCodes", b.NothingBoundCodes, &c.NothingBoundCodes)
	if b.BusinessSystemCode != "" {
		c.BusinessSystemCode = strings.TrimSpace(b.BusinessSystemCode)
	}
	e := Enterprise{Config: c, OrgNumber: b.OrgNumber}
	if b.EncryptKey != "" && !r.Push {
		r.Bad("encryptKey", "an ultimate enterprise has one only for its pushes (push: true)")
	} else if r.Push {
		e.EncryptKey = r.Secret("encryptKey", b.EncryptKey)
	}
	r.Judge(c.WithDefaults().Validate())
	return e
}

// Enterprise is an ultimate enterprise's settings as the enterprises file gives them: the
// client's configuration, the accounting organisation, and the encrypt_key that seals its pushes.
type Enterprise struct {
	Config
	OrgNumber  string
	EncryptKey string
}

// Describe adds the accounting organisation.
func (e Enterprise) Describe() invoicecloud.Description {
	d := e.Config.Describe()
	d.OrgNumber = e.OrgNumber
	return d
}

// PushCredentials are the client id and the encrypt_key of the pushes.
func (e Enterprise) PushCredentials() (string, string) { return e.ClientID, e.EncryptKey }

// Config is also the settings of one enterprise (the one RIMFLOW_CLOUD_* describes).
var _ invoicecloud.Settings = Config{}

// Edition is Name.
func (c Config) Edition() string { return Name }

// Describe shows the base URL and the authentication mode.
func (c Config) Describe() invoicecloud.Description {
	return invoicecloud.Description{BaseURL: c.BaseURL, AuthMode: string(c.WithDefaults().AuthMode)}
}

// PushCredentials: a Config alone has no encrypt_key (Enterprise carries one).
func (c Config) PushCredentials() (string, string) { return c.ClientID, "" }

// TokenEndpoint: the tenant's login paths, for its application and user.
func (c Config) TokenEndpoint() (string, []string) {
	d := c.WithDefaults()
	return strings.Join([]string{Name, d.BaseURL, d.AppID, d.ClientID, d.AccountID}, "|"),
		[]string{d.Paths.AppToken, d.Paths.Login, d.Paths.OAuth2Token}
}

// Timeouts are the transport's.
func (c Config) Timeouts() invoicecloud.Timeouts {
	return invoicecloud.Timeouts{Timeout: c.Timeout, PollHold: c.PollHold, RefreshBefore: c.RefreshBefore}
}

// Rebased is the same settings at another address of the vendor's (the image system's).
func (c Config) Rebased(baseURL string) invoicecloud.Settings {
	c.BaseURL, c.AllowInsecureHTTP = strings.TrimRight(baseURL, "/"), true // checked by ValidateImageBaseURL
	return c
}

// Rebased keeps the organisation and the push key.
func (e Enterprise) Rebased(baseURL string) invoicecloud.Settings {
	e.Config = e.Config.Rebased(baseURL).(Config)
	return e
}

// NewClient builds the enterprise's client with the registry's logger, observer and transport.
func (c Config) NewClient(o invoicecloud.ClientOptions) (invoicecloud.EnterpriseClient, error) {
	c.Logger, c.Observe, c.Transport = o.Logger, o.Observe, o.Transport
	return New(c)
}
