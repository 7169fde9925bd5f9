package harness

import (
	"cmp"
	"slices"
	"strings"

	"rimflow/cloudsim/simulator"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
	"rimflow/invoicecloud/ultimate"
)

// The demo's second enterprise: a standard-edition (标准版) tenant of the simulator that pushes its
// invoices to the API (AWS收票推送). Its credentials are the simulator's own, not secrets.
const (
	DemoStandardTaxNo = "91310115MA1K4L8R20"
	demoStandardName  = "上海标准版示例有限公司"
	demoStandardID    = "DEMO-STD"
	demoStandardKey   = "demoEncryptKey16" // the 16-character encrypt_key
)

// demoTaxNoName is the ultimate demo enterprise's name.
const demoTaxNoName = "深圳示例科技有限公司"

// DemoTenants are the simulator's tenants for the devstack: today's ultimate tenant and the
// standard demo enterprise, whose imports are pushed to the API at apiURL, and whose image system
// matches from the pushes it received (relayed by rimflow: DemoEnterprises).
func DemoTenants(apiURL string) []simulator.Tenant {
	return []simulator.Tenant{
		simulator.UltimateTenant(),
		{Edition: simulator.EditionStandard, Name: demoStandardName, TaxNo: DemoStandardTaxNo,
			ClientID: demoStandardID, ClientSecret: "demo-standard-secret", EncryptKey: demoStandardKey,
			Push: []simulator.PushTarget{{Name: demoStandardName, TaxNo: DemoStandardTaxNo, ClientID: demoStandardID,
				URL: apiURL + "/v1/push/" + DemoStandardTaxNo}},
			ImageFromPushes: true},
	}
}

// PollKeyOf is the poll key derivation the simulator with o reads [assumed], as a deployment
// configures its cloud's (pollKey).
func PollKeyOf(o simulator.Options) invoicecloud.PollKeyDerivation {
	if o.Assume.PollKeyMD5() {
		return invoicecloud.PollKeyMD5
	}
	return invoicecloud.PollKeyLinkKey
}

// LimitsOf are the enterprise limits that match the simulator with o [assumed], as a deployment
// sets its cloud's (limits): a bound the simulator does not check is the most rimflow allows.
func LimitsOf(o simulator.Options) *invoicecloud.Limits {
	sim, c := o.Limits.WithDefaults(), invoicecloud.CeilingLimits
	bound := func(v, ceiling int) int {
		if v < 0 || v > ceiling {
			return ceiling
		}
		return v
	}
	return &invoicecloud.Limits{EntryIDLen: bound(sim.EntryIDLen, c.EntryIDLen), RemarkLen: bound(sim.RemarkLen, c.RemarkLen),
		CoverBytes: bound(sim.CoverBytes, c.CoverBytes), Attachments: bound(sim.Attachments, c.Attachments),
		AttachURLLen: bound(sim.AttachURLLen, c.AttachURLLen), AttachNameLen: bound(sim.AttachNameLen, c.AttachNameLen),
		UploadBytes: bound(cmp.Or(o.ImageUploadMaxBytes, simulator.DefaultImageUploadMaxBytes), c.UploadBytes)}
}

// DemoEnterprises is the devstack's registry over the simulator at cloudURL: its ultimate tenant
// as DemoTaxNo and each standard tenant as itself, every one with the simulator's scanning point
// (the image system), the pushing ones with push on.
func DemoEnterprises(cloudURL string, o simulator.Options) []enterprises.Spec {
	creds, paths := o.Credentials, o.Paths
	ult := ultimate.Config{
		BaseURL:        cloudURL,
		AuthMode:       ultimate.AuthLegacy,
		TokenPlacement: ultimate.TokenInHeader,
		AppID:          creds.AppID,
		AppSecret:      creds.AppSecret,
		TenantID:       creds.TenantID,
		AccountID:      creds.AccountID,
		User:           creds.User,
		Paths:          ultimate.Paths{PollData: paths.PollData, PollReceipt: paths.PollReceipt},
		MessageTypes:   ultimate.MessageTypes{Unbind: paths.UnbindMessageType, VoucherReverse: paths.VoucherReverseMessageType},
		// The simulator's reading of billSave, as a deployment configures its cloud's.
		BillSaveKeepsOmitted: !o.Assume.BillSaveReplacesSet(),
		PollKey:              PollKeyOf(o),
		ScanPointsOperate:    paths.ScanPointsOperate,
	}
	// Each enterprise's image system answers at its own address (the simulator's /image), as the
	// vendor's demo image host differs from the cloud's. What feeds it the cloud's push: for a
	// tenant whose imports the cloud pushes somewhere (to the API), rimflow relays them; for the
	// others the simulator's image system reads the cloud's invoices itself, standing in for the
	// cloud pushing to it directly.
	imageAt := cloudURL + simulator.ImageSystemPrefix
	limits := LimitsOf(o)
	specs := []enterprises.Spec{{TaxNo: DemoTaxNo, Name: demoTaxNoName, Settings: ult, Limits: limits,
		ScanPoint: simulator.DefaultScanPoint.ID, Image: &enterprises.ImageSystem{BaseURL: imageAt, Push: enterprises.PushDirect}}}
	for _, t := range o.Tenants {
		if t.Edition != simulator.EditionStandard {
			continue
		}
		scan := simulator.DefaultScanPoint.ID
		if len(t.ScanPoints) > 0 {
			scan = t.ScanPoints[0].ID
		}
		image := &enterprises.ImageSystem{BaseURL: imageAt, Push: enterprises.PushDirect}
		if slices.ContainsFunc(t.Push, func(p simulator.PushTarget) bool { return !strings.HasPrefix(p.URL, imageAt) }) {
			image.Push = enterprises.PushRelay
		}
		sp := o.StandardPaths
		spec := enterprises.Spec{TaxNo: t.TaxNo, Name: t.Name, ScanPoint: scan, Image: image, Limits: limits,
			Settings: standard.Config{BaseURL: cloudURL, TaxNo: t.TaxNo, CompanyName: t.Name,
				ClientID: t.ClientID, ClientSecret: t.ClientSecret, EncryptKey: t.EncryptKey, PlaintextCalls: t.PlaintextCalls,
				Paths: standard.Paths{Deduction: sp.Deduction, ImagePush: sp.ImagePush, ImageOperate: sp.ImageOperate,
					ViewPage: sp.ViewPage, VoucherReverse: sp.VoucherReverse},
				BillSaveKeepsOmitted: !o.Assume.BillSaveReplacesSet(), PollKey: PollKeyOf(o),
				ScanPointsOperate: paths.ScanPointsOperate, UserKeyTTL: t.UserKeyTTL}}
		if image.Push == enterprises.PushRelay { // rimflow receives the push
			spec.Push = &invoicecloud.PushEnterprise{TaxNo: t.TaxNo, Name: t.Name, ClientID: t.ClientID, EncryptKey: t.EncryptKey}
		}
		specs = append(specs, spec)
	}
	return specs
}
