package simulator

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Edition is which Invoice Cloud product serves a tenant.
type Edition string

const (
	EditionUltimate Edition = "ultimate" // 旗舰版: /kapi/app/rim/message, Options.Credentials
	EditionStandard Edition = "standard" // 标准版: /base/oauth/token, /m4/fpzs/*
)

// Tenant is one enterprise's cloud in the simulator. The ultimate tenant is the one the ultimate
// endpoints serve (its Credentials); standard tenants are keyed by their enterprise (TaxNo) and
// client id, and share the simulator's invoice pool and bills, so /__sim/ shows under which
// enterprise each invoice is bound.
type Tenant struct {
	Edition Edition
	Name    string // the enterprise name (ghf_mc)
	TaxNo   string // the enterprise (tin); required for a standard tenant

	// Ultimate tenant: the accepted credentials (zero fields take Options.Credentials').
	Credentials Credentials

	// Standard tenant: the enterprise authorization (企业授权).
	ClientID     string
	ClientSecret string
	EncryptKey   string // 16 characters: request bodies are AES-128-ECB/PKCS#7/Base64
	// PlaintextCalls are the calls this tenant takes as plain JSON ([assumed]: by default every
	// business call must be encrypted). Names: getLinkKey, getUserKey, entrySave, statusUpdate,
	// entryDelete, deduction, voucherReverse, erpBillPush, queryBillStatus.
	PlaintextCalls []string
	// UserKeyTTL is how long a userKey opens the pages [assumed] (default DefaultUserKeyTTL).
	UserKeyTTL time.Duration
	// RequireIssuedLinkKey refuses a getUserKey whose linkKey getLinkKey did not issue
	// ([assumed]: by default the caller's linkKey is accepted, as the ultimate edition's).
	RequireIssuedLinkKey bool
	// Push lists the AWS收票推送 addresses: what the user imports is POSTed there.
	Push []PushTarget

	// ScanPoints are the image system's scanning points (default one, DefaultScanPoint).
	ScanPoints []ScanPoint
	// ImageFromPushes makes the tenant's image system match a bill's scan with the invoices it
	// received at its push address (POST {ImageSystemPrefix}/: the cloud's push, directly or
	// relayed) instead of reading the cloud's bound invoices: its match mode then needs the push
	// (收票配置: 同步和匹配模式必须配置).
	ImageFromPushes bool
}

// PushTarget is one row of the AWS收票推送表.
type PushTarget struct {
	Name     string `json:"name"`
	TaxNo    string `json:"taxNo"`
	ClientID string `json:"clientId"`
	URL      string `json:"url"`
}

// ScanPoint is one 影像扫描点.
type ScanPoint struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Defaults of the standard edition and the image system [assumed].
const (
	DefaultUserKeyTTL   = 2 * time.Hour
	DefaultPushRetryMin = time.Second
	DefaultPushRetryMax = time.Minute
	standardCallNames   = "getLinkKey getUserKey entrySave statusUpdate entryDelete deduction voucherReverse erpBillPush queryBillStatus queryScanPoints"
)

// DefaultScanPoint is every tenant's scanning point unless ScanPoints says otherwise.
var DefaultScanPoint = ScanPoint{ID: "SP01", Name: "默认扫描点"}

// UltimateTenant is the default tenant: today's one ultimate tenant with the default credentials.
func UltimateTenant() Tenant {
	return Tenant{Edition: EditionUltimate, Name: "ultimate", Credentials: DefaultCredentials()}
}

// Validate checks the options that can be wrong (the tenants); the error names the field, e.g.
// tenants[1].encryptKey. New panics on what Validate refuses.
func (o Options) Validate() error {
	ultimate := 0
	clients, taxNos := map[string]bool{}, map[string]bool{}
	for i, t := range o.Tenants {
		p := fmt.Sprintf("tenants[%d].", i)
		switch t.Edition {
		case EditionUltimate:
			if ultimate++; ultimate > 1 {
				return fieldError(p+"edition", "at most one ultimate tenant (the ultimate endpoints serve one tenant)")
			}
		case EditionStandard:
			if err := t.validateStandard(p); err != nil {
				return err
			}
			if clients[t.ClientID] {
				return fieldError(p+"clientId", "used by another tenant")
			}
			if taxNos[normTaxNo(t.TaxNo)] {
				return fieldError(p+"taxNo", "used by another standard tenant")
			}
			clients[t.ClientID], taxNos[normTaxNo(t.TaxNo)] = true, true
		default:
			return fieldError(p+"edition", `must be "ultimate" or "standard"`)
		}
		for j, sp := range t.ScanPoints {
			if strings.TrimSpace(sp.ID) == "" {
				return fieldError(fmt.Sprintf("%sscanPoints[%d].id", p, j), "required")
			}
		}
	}
	return nil
}

func (t Tenant) validateStandard(p string) error {
	for _, f := range []struct{ name, v string }{
		{"name", t.Name}, {"taxNo", t.TaxNo}, {"clientId", t.ClientID}, {"clientSecret", t.ClientSecret},
	} {
		if strings.TrimSpace(f.v) == "" {
			return fieldError(p+f.name, "required for a standard tenant")
		}
	}
	if len(t.EncryptKey) != 16 {
		return fieldError(p+"encryptKey", "must be 16 characters (AES-128)")
	}
	for _, c := range t.PlaintextCalls {
		if !slices.Contains(strings.Fields(standardCallNames), c) {
			return fieldError(p+"plaintextCalls", "unknown call "+c)
		}
	}
	for j, pt := range t.Push {
		q := fmt.Sprintf("%spush[%d].", p, j)
		switch {
		case normTaxNo(pt.TaxNo) != normTaxNo(t.TaxNo):
			return fieldError(q+"taxNo", "must be the tenant's tax number "+t.TaxNo)
		case pt.ClientID != t.ClientID:
			return fieldError(q+"clientId", "must be the tenant's client id")
		case !strings.HasPrefix(pt.URL, "http://") && !strings.HasPrefix(pt.URL, "https://"):
			return fieldError(q+"url", "must be an http(s) URL")
		}
	}
	return nil
}

// tenantState is a tenant at run time.
type tenantState struct {
	Tenant
	linkKeys map[string]bool // issued by getLinkKey
}

// tenantsState holds the tenants; the ultimate one is first.
type tenantsState struct {
	all      []*tenantState
	ultimate *tenantState
	byClient map[string]*tenantState // standard tenants by client id
	byToken  map[string]*tenantState // standard access tokens
}

// withTenants fills in the tenants: the ultimate tenant (from Credentials, or the listed one,
// whose credentials then become Options.Credentials) first, then the standard ones.
func (o Options) withTenants() Options {
	var out []Tenant
	ult := Tenant{Edition: EditionUltimate, Name: "ultimate"}
	for _, t := range o.Tenants {
		if t.Edition == EditionUltimate {
			ult = t
		} else {
			out = append(out, t)
		}
	}
	if ult.Credentials != (Credentials{}) {
		o.Credentials = ult.Credentials
	}
	ult.Credentials = Credentials{} // filled from o.Credentials by withDefaults
	for i := range out {
		if out[i].UserKeyTTL <= 0 {
			out[i].UserKeyTTL = DefaultUserKeyTTL
		}
	}
	o.Tenants = append([]Tenant{ult}, out...)
	for i := range o.Tenants {
		if len(o.Tenants[i].ScanPoints) == 0 {
			o.Tenants[i].ScanPoints = []ScanPoint{DefaultScanPoint}
		}
	}
	o.StandardPaths = o.StandardPaths.withDefaults()
	if o.PushRetryMin <= 0 {
		o.PushRetryMin = DefaultPushRetryMin
	}
	if o.PushRetryMax < o.PushRetryMin {
		o.PushRetryMax = max(DefaultPushRetryMax, o.PushRetryMin)
	}
	return o
}

func newTenantsState(o Options) *tenantsState {
	ts := &tenantsState{byClient: map[string]*tenantState{}, byToken: map[string]*tenantState{}}
	for _, t := range o.Tenants {
		st := &tenantState{Tenant: t, linkKeys: map[string]bool{}}
		if t.Edition == EditionUltimate {
			st.Credentials = o.Credentials
			ts.ultimate = st
		} else {
			ts.byClient[t.ClientID] = st
		}
		ts.all = append(ts.all, st)
	}
	return ts
}

// owner is the tenant of a bill (nil bill tenant: the ultimate one).
func (s *Sim) owner(b *bill) *tenantState {
	if b != nil && b.tenant != nil {
		return b.tenant
	}
	return s.tenants.ultimate
}

// enterpriseOf is the tax number a bill belongs to: its standard tenant's, else its billTaxNo
// (else its first company).
func (s *Sim) enterpriseOf(b *bill) string {
	if b == nil {
		return ""
	}
	if b.tenant != nil {
		return b.tenant.TaxNo
	}
	if b.billTaxNo != "" {
		return b.billTaxNo
	}
	if len(b.companies) > 0 {
		return b.companies[0].TaxNo
	}
	return ""
}

// TenantView is a tenant in /__sim/tenants (no secret, no key).
type TenantView struct {
	Edition    Edition      `json:"edition"`
	Name       string       `json:"name"`
	TaxNo      string       `json:"taxNo,omitempty"`
	ClientID   string       `json:"clientId,omitempty"`
	UserKeyTTL string       `json:"userKeyTTL,omitempty"`
	Push       []PushTarget `json:"push"`
	ScanPoints []ScanPoint  `json:"scanPoints"`
}

// Tenants lists the tenants, the ultimate one first.
func (s *Sim) Tenants() []TenantView {
	out := make([]TenantView, 0, len(s.tenants.all))
	for _, t := range s.tenants.all {
		v := TenantView{Edition: t.Edition, Name: t.Name, TaxNo: t.TaxNo, ClientID: t.ClientID,
			Push: slices.Clone(t.Push), ScanPoints: slices.Clone(t.ScanPoints)}
		if t.Edition == EditionUltimate {
			v.ClientID = t.Credentials.ClientID
		} else {
			v.UserKeyTTL = t.UserKeyTTL.String()
		}
		if v.Push == nil {
			v.Push = []PushTarget{}
		}
		out = append(out, v)
	}
	return out
}

// ultimateScope keeps the ultimate tenant's rim messages off the standard enterprises' bills and
// invoices, as separate clouds would be: such a bill is unknown (2001), such an invoice is not in
// the pool (2002). Caller holds s.mu.
func (s *Sim) ultimateScope(f fields) *apiError {
	id, _ := f.str("billId", false, 0)
	res, _ := f.str("resource", false, 0)
	if b := s.bills[billKey{Resource: res, BillID: id}]; b != nil && b.tenant != nil {
		return businessError(CodeBillNotFound, "billId", "单据不存在 ("+res+"/"+id+" is a standard-edition enterprise's)")
	}
	ids, _ := f.strList("expenseIdArray")
	for i, id := range ids {
		for _, b := range s.bills {
			if b.key.BillID == id && b.tenant != nil {
				return businessError(CodeBillNotFound, fmt.Sprintf("expenseIdArray[%d]", i), "单据不存在 ("+id+")")
			}
		}
	}
	standardOnly := func(path, sn string) *apiError {
		if pi := s.pool[sn]; pi != nil && s.owner(s.bills[pi.collectedFor]) != s.tenants.ultimate {
			return businessError(CodeSerialNotInPool, path, "发票不存在于发票池 (serialNo "+sn+")")
		}
		return nil
	}
	lines, _ := f.list("invoiceData", false)
	for _, l := range lines {
		if sn, _ := l.str("serialNo", false, 0); sn != "" {
			if err := standardOnly(l.path("serialNo"), sn); err != nil {
				return err
			}
		}
	}
	serials, _ := f.strList("serialNoArray")
	for i, sn := range serials {
		if err := standardOnly(fmt.Sprintf("serialNoArray[%d]", i), sn); err != nil {
			return err
		}
	}
	return nil
}
