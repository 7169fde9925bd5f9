// Package enterprises is the enterprise registry (企业授权配置): the legal entities a group runs on
// Invoice Cloud, each with its tax number, edition, credentials, accounting organisation, image
// system and push settings. A bill is routed by its billTaxNo to its enterprise for every cloud
// call, page and watcher.
//
// The registry is a YAML file (RIMFLOW_ENTERPRISES_FILE); secrets are references (env:NAME or
// file:PATH), never inline. Without a file, the RIMFLOW_CLOUD_* variables describe a registry of one
// enterprise that serves any tax number its tenant accepts.
package enterprises

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"rimflow/internal/secretref"
	"rimflow/invoicecloud"
)

// Edition is which Invoice Cloud product serves an enterprise.
type Edition string

const (
	Ultimate Edition = "ultimate" // 旗舰版
	Standard Edition = "standard" // 标准版
)

// AnyTaxNo is the tax number of the registry of one described by RIMFLOW_CLOUD_*: it serves every
// bill, whatever its billTaxNo (the tenant decides what it accepts).
const AnyTaxNo = "*"

// DefaultTokenCallsPerMinute is the public limit of the oauth2 token endpoint (30 calls a minute),
// applied per set of credentials to every token endpoint.
const DefaultTokenCallsPerMinute = 30

// Spec is one enterprise as the registry describes it (secrets resolved).
type Spec struct {
	TaxNo   string
	Name    string
	Edition Edition
	// OrgNumber is the accounting organisation, where the ultimate tenant holds several: a bill
	// without its own orgNumber is sent with this one.
	OrgNumber string
	// Ultimate or Standard is the client configuration (by Edition).
	Ultimate *invoicecloud.Config
	Standard *invoicecloud.StandardConfig
	// ScanPoint is the image system's scanning point (影像扫描点) for this enterprise's bills; empty:
	// the enterprise's scans are reported by the ERP (the bill's images update).
	ScanPoint string
	// Push, when set, is the AWS收票推送 row: the cloud pushes this enterprise's invoices to
	// POST /v1/push/{taxNo}, encrypted with its encrypt_key.
	Push *invoicecloud.PushEnterprise
	// TokenCallsPerMinute limits the token endpoint for these credentials (0: the default 30).
	TokenCallsPerMinute int
}

// Info is what the registry shows of an enterprise: no secret.
type Info struct {
	TaxNo     string  `json:"taxNo"`
	Name      string  `json:"name"`
	Edition   Edition `json:"edition"`
	BaseURL   string  `json:"baseUrl"`
	AuthMode  string  `json:"authMode"`            // legacy | oauth2 (ultimate); signed (standard)
	OrgNumber string  `json:"orgNumber,omitempty"` // the accounting organisation
	ScanPoint string  `json:"scanPoint,omitempty"` // image system scanning point; empty: the ERP reports scans
	Push      bool    `json:"push"`                // invoices are pushed to /v1/push/{taxNo}
}

// Info describes s without secrets.
func (s Spec) Info() Info {
	i := Info{TaxNo: s.TaxNo, Name: s.Name, Edition: s.Edition, OrgNumber: s.OrgNumber, ScanPoint: s.ScanPoint, Push: s.Push != nil}
	switch {
	case s.Ultimate != nil:
		i.BaseURL, i.AuthMode = s.Ultimate.BaseURL, string(s.Ultimate.WithDefaults().AuthMode)
	case s.Standard != nil:
		i.BaseURL, i.AuthMode = s.Standard.BaseURL, "signed"
	}
	return i
}

// fingerprint identifies a spec's settings: a reload keeps an enterprise's client (and its token)
// when it is unchanged. Secrets are part of it but it is never shown.
func (s Spec) fingerprint() string {
	var u, st any
	if s.Ultimate != nil {
		c := *s.Ultimate
		c.Logger, c.Observe, c.Transport = nil, nil, nil
		u = c
	}
	if s.Standard != nil {
		c := *s.Standard
		c.Logger, c.Observe, c.Transport = nil, nil, nil
		st = c
	}
	return fmt.Sprintf("%s|%s|%s|%s|%s|%v|%d|%+v|%+v", s.TaxNo, s.Name, s.Edition, s.OrgNumber, s.ScanPoint, s.Push, s.TokenCallsPerMinute, u, st)
}

// file is the registry's YAML:
//
//	enterprises:
//	  - taxNo: 91310000MA1FL0001X
//	    name: 上海示例有限公司
//	    edition: ultimate            # ultimate | standard
//	    baseURL: https://api.kingdee.com
//	    authMode: oauth2             # ultimate: legacy | oauth2
//	    clientId: …                  # oauth2: clientId, clientSecret, username, accountId
//	    clientSecret: env:SH_SECRET  # legacy: appId, appSecret, tenantId, accountId, user
//	    username: …
//	    accountId: …
//	    orgNumber: "1001"
//	    scanPoint: SP01              # optional: the image system's scanning point
//	  - taxNo: 91440300MA5G00002Y
//	    name: 深圳示例有限公司
//	    edition: standard
//	    baseURL: https://api.piaozone.com
//	    clientId: …
//	    clientSecret: file:/run/secrets/sz-secret
//	    encryptKey: env:SZ_ENCRYPT_KEY
//	    encType: 0                   # 0 MD5, 1 SHA-256, 2 HMAC-SHA256
//	    push: true                   # the cloud pushes collected invoices to /v1/push/{taxNo}
type file struct {
	Enterprises []entry `yaml:"enterprises"`
}

type entry struct {
	TaxNo   string `yaml:"taxNo"`
	Name    string `yaml:"name"`
	Edition string `yaml:"edition"`
	BaseURL string `yaml:"baseURL"`

	// ultimate
	AuthMode       string `yaml:"authMode"`
	TokenPlacement string `yaml:"tokenPlacement"`
	AppID          string `yaml:"appId"`
	AppSecret      string `yaml:"appSecret"` // the vendor's appSecuret
	TenantID       string `yaml:"tenantId"`
	AccountID      string `yaml:"accountId"`
	User           string `yaml:"user"`
	UserType       string `yaml:"userType"`
	Username       string `yaml:"username"`
	OrgNumber      string `yaml:"orgNumber"`

	// both (oauth2 and standard)
	ClientID     string `yaml:"clientId"`
	ClientSecret string `yaml:"clientSecret"`

	// standard
	EncryptKey     string   `yaml:"encryptKey"`
	EncType        *int     `yaml:"encType"`
	EID            string   `yaml:"eid"`
	PlaintextCalls []string `yaml:"plaintextCalls"`
	UserKeyTTL     string   `yaml:"userKeyTTL"`

	ScanPoint           string `yaml:"scanPoint"`
	Push                bool   `yaml:"push"`
	TokenCallsPerMinute int    `yaml:"tokenCallsPerMinute"`
}

// Parse reads a registry. base carries the settings every ultimate enterprise shares (the
// [assumed] names from RIMFLOW_CLOUD_*, timeouts); secrets are resolved with getenv and readFile.
// Every problem is reported, each naming its place (enterprises[1].clientSecret).
func Parse(data []byte, base invoicecloud.Config, getenv func(string) string, readFile func(string) ([]byte, error)) ([]Spec, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("enterprises: %v", err)
	}
	if len(f.Enterprises) == 0 {
		return nil, errors.New("enterprises: the file lists no enterprise")
	}
	var errs []error
	seen := map[string]int{}
	specs := make([]Spec, 0, len(f.Enterprises))
	for i, e := range f.Enterprises {
		where := fmt.Sprintf("enterprises[%d]", i)
		bad := func(field, format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s.%s: %s", where, field, fmt.Sprintf(format, args...)))
		}
		secret := func(field, ref string) string {
			if ref == "" {
				return ""
			}
			v, err := secretref.Resolve(ref, getenv, readFile)
			if err != nil {
				bad(field, "%v", err)
				return ""
			}
			return string(v)
		}
		before := len(errs)
		judge := func(err error) { // the client's own verdict, unless this entry is already wrong
			if err != nil && len(errs) == before {
				bad(fieldOf(err), "%s", messageOf(err))
			}
		}
		taxNo := strings.ToUpper(strings.TrimSpace(e.TaxNo))
		if !invoicecloud.ValidTaxNo(taxNo) {
			bad("taxNo", "not a taxpayer id (18-character unified social credit code, or 15/17/20 letters and digits)")
		} else if j, dup := seen[taxNo]; dup {
			bad("taxNo", "%s is listed twice (also enterprises[%d])", taxNo, j)
		}
		seen[taxNo] = i
		if strings.TrimSpace(e.Name) == "" {
			bad("name", "required")
		}
		s := Spec{TaxNo: taxNo, Name: strings.TrimSpace(e.Name), Edition: Edition(strings.ToLower(e.Edition)),
			OrgNumber: e.OrgNumber, ScanPoint: e.ScanPoint, TokenCallsPerMinute: e.TokenCallsPerMinute}
		if e.TokenCallsPerMinute < 0 {
			bad("tokenCallsPerMinute", "must not be negative")
		}
		switch s.Edition {
		case Ultimate:
			c := base
			c.BaseURL = strings.TrimRight(e.BaseURL, "/")
			c.AuthMode = invoicecloud.AuthMode(strings.ToLower(e.AuthMode))
			c.TokenPlacement = invoicecloud.TokenPlacement(strings.ToLower(e.TokenPlacement))
			c.AppID, c.TenantID, c.AccountID, c.User, c.UserType = e.AppID, e.TenantID, e.AccountID, e.User, e.UserType
			c.AppSecret = secret("appSecret", e.AppSecret)
			c.ClientID, c.Username = e.ClientID, e.Username
			c.ClientSecret = secret("clientSecret", e.ClientSecret)
			if e.EncType != nil {
				bad("encType", "a standard-edition setting on an ultimate enterprise")
			}
			if e.EID != "" {
				bad("eid", "a standard-edition setting on an ultimate enterprise")
			}
			if e.EncryptKey != "" && !e.Push {
				bad("encryptKey", "an ultimate enterprise has one only for its pushes (push: true)")
			}
			judge(c.WithDefaults().Validate())
			s.Ultimate = &c
		case Standard:
			c := invoicecloud.StandardConfig{BaseURL: strings.TrimRight(e.BaseURL, "/"), TaxNo: taxNo, CompanyName: s.Name, EID: e.EID,
				ClientID: e.ClientID, PlaintextCalls: e.PlaintextCalls, Timeout: base.Timeout, PollHold: base.PollHold, RefreshBefore: base.RefreshBefore}
			c.ClientSecret = secret("clientSecret", e.ClientSecret)
			c.EncryptKey = secret("encryptKey", e.EncryptKey)
			if e.EncType != nil {
				c.EncType = invoicecloud.EncType(*e.EncType)
			}
			if e.UserKeyTTL != "" {
				d, err := time.ParseDuration(e.UserKeyTTL)
				if err != nil || d <= 0 {
					bad("userKeyTTL", "want a positive duration such as 2h, got %q", e.UserKeyTTL)
				}
				c.UserKeyTTL = d
			}
			for _, f := range []struct{ name, v string }{{"authMode", e.AuthMode}, {"appId", e.AppID}, {"appSecret", e.AppSecret},
				{"tenantId", e.TenantID}, {"accountId", e.AccountID}, {"user", e.User}, {"username", e.Username}, {"orgNumber", e.OrgNumber}} {
				if f.v != "" {
					bad(f.name, "an ultimate-edition setting on a standard enterprise")
				}
			}
			if c.EncryptKey != "" && len(c.EncryptKey) != 16 {
				bad("encryptKey", "must be the 16-character encrypt_key (AES-128)")
			}
			judge(c.WithDefaults().Validate())
			s.Standard = &c
		default:
			bad("edition", `must be "ultimate" or "standard", got %q`, e.Edition)
		}
		if e.Push {
			key, id := "", e.ClientID
			if s.Standard != nil {
				key = s.Standard.EncryptKey
			} else {
				key = secret("encryptKey", e.EncryptKey)
			}
			if key == "" || id == "" {
				bad("push", "a pushing enterprise needs its clientId and encryptKey (the push is encrypted with it)")
			}
			s.Push = &invoicecloud.PushEnterprise{TaxNo: taxNo, Name: s.Name, ClientID: id, EncryptKey: key}
		}
		specs = append(specs, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return specs, nil
}

// ReadFile reads the registry at path.
func ReadFile(path string, base invoicecloud.Config, getenv func(string) string) ([]Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("enterprises file %q: %w", path, err)
	}
	specs, err := Parse(data, base, getenv, os.ReadFile)
	if err != nil {
		return nil, fmt.Errorf("enterprises file %q: %w", path, err)
	}
	return specs, nil
}

// FromEnv is the registry of one that RIMFLOW_CLOUD_* describes: an ultimate tenant serving any
// tax number.
func FromEnv(cfg invoicecloud.Config) []Spec {
	c := cfg
	return []Spec{{TaxNo: AnyTaxNo, Name: "RIMFLOW_CLOUD_*", Edition: Ultimate, Ultimate: &c}}
}

// fieldOf and messageOf split a client configuration error into the field it names and its text.
func fieldOf(err error) string {
	var ce *invoicecloud.Error
	if errors.As(err, &ce) && ce.Field != "" {
		return ce.Field
	}
	return "config"
}

func messageOf(err error) string {
	var ce *invoicecloud.Error
	if errors.As(err, &ce) && ce.Message != "" {
		return ce.Message
	}
	return err.Error()
}
