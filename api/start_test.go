package api

import (
	"strings"
	"testing"

	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// A start for a running bill is compared field by field, down to the options' own fields; what
// the server sets (policy, notify) and what normalising makes equal are not differences.
func TestBillDiffNamesTheFields(t *testing.T) {
	posted := func() workflows.BillInput {
		in := workflows.BillInput{BillID: "B", BillNo: "N", BillType: "T", Resource: "OA", BillTaxNo: "91330100ma2b3c4d5n",
			UserID: "u", CompanyInfo: []invoicecloud.Company{{TaxNo: "91330100MA2B3C4D5N", Name: "A"}},
			Options: workflows.Options{SLA: workflows.SLAs{Approval: workflows.Duration(3600e9)}}}
		in.Normalize()
		return in
	}
	running := posted()
	running.Options.Notify = true
	running.Policy = &workflows.BillPolicy{Rule: "server"}
	running.BillTaxNo = "91330100ma2b3c4d5n" // an older bill frozen before tax numbers were upper-cased
	if d := billDiff(running, posted()); len(d) != 0 {
		t.Errorf("equal bodies differ: %v", d)
	}
	other := posted()
	other.UserID = "u2"
	other.Options.ImageMode = workflows.ImageBasic
	other.Options.SLA.Approval = workflows.Duration(7200e9)
	other.CompanyInfo[0].Name = "B"
	d := billDiff(running, other)
	for _, f := range []string{"userId", "options.imageMode", "options.sla.approval", "companyInfo"} {
		if d[f] == "" {
			t.Errorf("%s not named: %v", f, d)
		}
	}
	if len(d) != 4 {
		t.Errorf("named more than differs: %v", d)
	}
}

// A tax number whose GB 32100 check character does not verify is refused at start, naming each
// field; the older 15-character numbers pass on their shape.
func TestStartRefusesATaxNumberWithAWrongCheckCharacter(t *testing.T) {
	in := workflows.BillInput{BillID: "B", BillNo: "N", BillType: "T", Resource: "OA", BillTaxNo: "91330100MA2B3C4D5E",
		UserID: "u", CompanyInfo: []invoicecloud.Company{{TaxNo: "91330100MA2B3C4D5N", Name: "A"}, {TaxNo: "91440300ma5g9gk78x", Name: "B"}}}
	e := checkBill(&in)
	if e == nil || e.Fields["billTaxNo"] == "" || e.Fields["companyInfo[1].taxNo"] == "" || e.Fields["companyInfo[0].taxNo"] != "" {
		t.Fatalf("got %v", e)
	}
	in = workflows.BillInput{BillID: "B", BillNo: "N", BillType: "T", Resource: "OA", BillTaxNo: "440300192345678", UserID: "u"}
	if e := checkBill(&in); e != nil {
		t.Errorf("a 15-character tax registration number: %v", e)
	}
}

// oneEnterprise is a registry of one enterprise (Bills.Enterprises).
type oneEnterprise struct{ e enterprises.Enterprise }

func (o oneEnterprise) Lookup(taxNo string) (*enterprises.Enterprise, error) {
	if invoicecloud.NormalizeTaxNo(taxNo) != o.e.TaxNo {
		return nil, &enterprises.UnknownError{TaxNo: taxNo}
	}
	return &o.e, nil
}
func (o oneEnterprise) List() []enterprises.Info           { return nil }
func (o oneEnterprise) Pushes() *invoicecloud.PushReceiver { return nil }

// A bill whose image mode its enterprise's image system is not set up for (imageSystem.modes) is
// refused at start naming options.imageMode; a mode it is set up for takes the enterprise's
// scanning point.
func TestStartRefusesAnImageModeTheImageSystemLacks(t *testing.T) {
	ent := enterprises.Enterprise{Spec: enterprises.Spec{TaxNo: "91330100MA2B3C4D5N", Name: "A", ScanPoint: "SP01",
		Image: &enterprises.ImageSystem{BaseURL: "https://image.example", Modes: []string{"basic"}}}}
	b := &Bills{Enterprises: oneEnterprise{ent}}
	in := workflows.BillInput{BillTaxNo: "91330100MA2B3C4D5N", Options: workflows.Options{ImageMode: workflows.ImageMatch}}
	if e := b.toEnterprise(&in); e == nil || !strings.Contains(e.Fields["options.imageMode"], "basic only") {
		t.Fatalf("match on an image system set up for basic: %v", e)
	}
	in.Options.ImageMode = "basic"
	if e := b.toEnterprise(&in); e != nil || in.Options.ScanPoint != "SP01" {
		t.Fatalf("basic: %v, scanPoint %q", e, in.Options.ScanPoint)
	}
}

// The enterprise's limits (its limits block [assumed]) are frozen into the bill at start and the
// bill's lines are checked against them, above or below the defaults; the body may not carry
// limits, and the decode checks only the ceiling.
func TestStartFreezesTheEnterprisesLimits(t *testing.T) {
	body := func(remark int, extra string) []byte {
		return []byte(`{"billId":"B","billNo":"N","billType":"T","resource":"OA","billTaxNo":"91330100MA2B3C4D5N","userId":"u",` +
			`"lines":[{"serialNo":"S1","remark":"` + strings.Repeat("r", remark) + `"}]` + extra + `}`)
	}
	if _, e := DecodeStart(body(1, `,"limits":{"remarkLen":900}`)); e == nil || !strings.Contains(e.Fields["limits"], "set by the server") {
		t.Fatalf("a body carrying limits: %v", e)
	}
	if _, e := DecodeStart(body(invoicecloud.CeilingLimits.RemarkLen+1, "")); e == nil || e.Fields["lines[0].remark"] == "" {
		t.Fatalf("a remark above the ceiling: %v", e)
	}
	in, e := DecodeStart(body(300, ""))
	if e != nil || in.Limits != nil {
		t.Fatalf("a remark under the ceiling at decode: %v, limits %v", e, in.Limits)
	}
	spec := enterprises.Spec{TaxNo: "91330100MA2B3C4D5N", Name: "A"}
	// The defaults: 300 characters are too many.
	if _, e := (&Bills{Enterprises: oneEnterprise{enterprises.Enterprise{Spec: spec}}}).underPolicy(in); e == nil ||
		!strings.Contains(e.Fields["lines[0].remark"], "at most 200") {
		t.Fatalf("a remark above the default: %v", e)
	}
	// The enterprise's own: frozen whole (unset fields at their defaults) and applied.
	spec.Limits = &invoicecloud.Limits{RemarkLen: 500}
	got, e := (&Bills{Enterprises: oneEnterprise{enterprises.Enterprise{Spec: spec}}}).underPolicy(in)
	if e != nil {
		t.Fatalf("a remark within the enterprise's limit: %v", e)
	}
	want := invoicecloud.DefaultLimits
	want.RemarkLen = 500
	if got.Limits == nil || *got.Limits != want {
		t.Fatalf("frozen limits: %+v, want %+v", got.Limits, want)
	}
	spec.Limits = &invoicecloud.Limits{RemarkLen: 100}
	in, _ = DecodeStart(body(150, ""))
	if _, e := (&Bills{Enterprises: oneEnterprise{enterprises.Enterprise{Spec: spec}}}).underPolicy(in); e == nil ||
		!strings.Contains(e.Fields["lines[0].remark"], "at most 100") {
		t.Fatalf("a remark above the enterprise's lower limit: %v", e)
	}
	// A running bill is compared without the server's limits.
	running := got
	running.Limits = &invoicecloud.Limits{RemarkLen: 7}
	if d := billDiff(running, in); d["limits"] != "" {
		t.Errorf("limits compared: %v", d)
	}
}
