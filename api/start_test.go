package api

import (
	"testing"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// A start for a running bill is compared field by field, down to the options' own fields; what
// the server sets (policy, notify) and what normalising makes equal are not differences.
func TestBillDiffNamesTheFields(t *testing.T) {
	posted := func() workflows.BillInput {
		in := workflows.BillInput{BillID: "B", BillNo: "N", BillType: "T", Resource: "OA", BillTaxNo: "91330100ma2b3c4d5e",
			UserID: "u", CompanyInfo: []invoicecloud.Company{{TaxNo: "91330100MA2B3C4D5E", Name: "A"}},
			Options: workflows.Options{SLA: workflows.SLAs{Approval: workflows.Duration(3600e9)}}}
		in.Normalize()
		return in
	}
	running := posted()
	running.Options.Notify = true
	running.Policy = &workflows.BillPolicy{Rule: "server"}
	running.BillTaxNo = "91330100ma2b3c4d5e" // an older bill frozen before tax numbers were upper-cased
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
