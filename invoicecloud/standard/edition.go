package standard

import (
	"strings"
	"time"

	"rimflow/invoicecloud"
	"rimflow/invoicecloud/aesecb"
)

// Name is the edition's name: the key of its block in the enterprises file.
const Name = "standard"

// Edition plugs the standard edition into rimflow (invoicecloud/editions registers it).
var Edition = invoicecloud.Edition{Name: Name, NewBlock: func() invoicecloud.Block { return &block{} }}

// block is a standard enterprise's block in the enterprises file (the enterprise authorization,
// 企业授权; the tax number and name are the enterprise's):
//
//	standard:
//	  baseURL: https://api.piaozone.com
//	  clientId: …
//	  clientSecret: file:/run/secrets/sz-secret
//	  encryptKey: env:SZ_ENCRYPT_KEY
//	  encType: 0                   # 0 MD5, 1 SHA-256, 2 HMAC-SHA256
type block struct {
	BaseURL        string   `yaml:"baseURL"`
	ClientID       string   `yaml:"clientId"`
	ClientSecret   string   `yaml:"clientSecret"`
	EncryptKey     string   `yaml:"encryptKey"`
	EncType        *int     `yaml:"encType"`
	EID            string   `yaml:"eid"`
	PlaintextCalls []string `yaml:"plaintextCalls"`
	UserKeyTTL     string   `yaml:"userKeyTTL"`
	// BillSaveKeepsOmitted [assumed]: this cloud's entry/save only adds and updates the invoices
	// it names (default false: its list replaces the bill's set).
	BillSaveKeepsOmitted bool `yaml:"billSaveKeepsOmitted"`
	// PollKey: md5 (default, public) | linkKey, the same switch as the ultimate edition's
	// [assumed] one, for a cloud that reads the key otherwise.
	PollKey string `yaml:"pollKey"`
	// ScanPointsOperate [assumed]: the image system's operateType that lists its scanning points
	// (default queryScanPoints).
	ScanPointsOperate string `yaml:"scanPointsOperate"`
	// Paths override the edition's paths by name (Paths.byName: deduction, voucherReverse,
	// imagePush, imageOperate, viewPage and socket are the [assumed] ones; the public ones for a
	// deployment that serves them elsewhere). Each is a path under baseURL, starting with "/".
	Paths map[string]string `yaml:"paths"`
	// NothingBoundCodes [assumed]: the codes with which this cloud's entry delete answers a bill
	// holding nothing, counted as done (default 1305).
	NothingBoundCodes []string `yaml:"nothingBoundCodes"`
}

// Settings takes the transport's timeouts from the environment's settings (RIMFLOW_CLOUD_*) and
// the rest from the block.
func (b *block) Settings(r invoicecloud.BlockReader) invoicecloud.Settings {
	c := Config{BaseURL: strings.TrimRight(b.BaseURL, "/"), TaxNo: r.TaxNo, CompanyName: r.Name, EID: b.EID,
		ClientID: b.ClientID, PlaintextCalls: b.PlaintextCalls, BillSaveKeepsOmitted: b.BillSaveKeepsOmitted,
		PollKey: invoicecloud.PollKeyDerivation(b.PollKey), ScanPointsOperate: strings.TrimSpace(b.ScanPointsOperate)}
	if r.Env != nil {
		t := r.Env.Timeouts()
		c.Timeout, c.PollHold, c.RefreshBefore = t.Timeout, t.PollHold, t.RefreshBefore
	}
	c.ClientSecret = r.Secret("clientSecret", b.ClientSecret)
	c.EncryptKey = r.Secret("encryptKey", b.EncryptKey)
	if b.EncType != nil {
		c.EncType = EncType(*b.EncType)
	}
	if b.UserKeyTTL != "" {
		d, err := time.ParseDuration(b.UserKeyTTL)
		if err != nil || d <= 0 {
			r.Bad("userKeyTTL", "want a positive duration such as 2h, got %q", b.UserKeyTTL)
		}
		c.UserKeyTTL = d
	}
	invoicecloud.SetByName(r, "paths", b.Paths, c.Paths.byName(), invoicecloud.PathProblem)
	invoicecloud.SetCodes(r, "nothingBoundCodes", b.NothingBoundCodes, &c.NothingBoundCodes)
	if c.EncryptKey != "" && len(c.EncryptKey) != aesecb.KeyLen {
		r.Bad("encryptKey", "must be the 16-character encrypt_key (AES-128)")
	}
	r.Judge(c.WithDefaults().Validate())
	return c
}

var _ invoicecloud.Settings = Config{}

// Edition is Name.
func (c Config) Edition() string { return Name }

// Describe shows the base URL; the token request is signed.
func (c Config) Describe() invoicecloud.Description {
	return invoicecloud.Description{BaseURL: c.BaseURL, AuthMode: "signed"}
}

// PushCredentials: the enterprise authorization's client id and encrypt_key seal its pushes too.
func (c Config) PushCredentials() (string, string) { return c.ClientID, c.EncryptKey }

// TokenEndpoint: the token path, for the client id.
func (c Config) TokenEndpoint() (string, []string) {
	d := c.WithDefaults()
	return strings.Join([]string{Name, d.BaseURL, d.ClientID}, "|"), []string{d.Paths.Token}
}

// Timeouts are the transport's.
func (c Config) Timeouts() invoicecloud.Timeouts {
	return invoicecloud.Timeouts{Timeout: c.Timeout, PollHold: c.PollHold, RefreshBefore: c.RefreshBefore}
}

// Rebased is the same enterprise's settings at another address of the vendor's (the image system's).
func (c Config) Rebased(baseURL string) invoicecloud.Settings {
	c.BaseURL, c.AllowInsecureHTTP = strings.TrimRight(baseURL, "/"), true // checked by ValidateImageBaseURL
	return c
}

// NewClient builds the enterprise's client with the registry's logger, observer and transport.
func (c Config) NewClient(o invoicecloud.ClientOptions) (invoicecloud.EnterpriseClient, error) {
	c.Logger, c.Observe, c.Transport = o.Logger, o.Observe, o.Transport
	return New(c)
}
