package workflows_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

func TestNormalizeDefaults(t *testing.T) {
	var in workflows.BillInput
	if err := json.Unmarshal([]byte(`{"billId":" B1 ","billNo":"N","billType":"T","resource":"OA","billTaxNo":"X","userId":"u","options":{}}`), &in); err != nil {
		t.Fatal(err)
	}
	in.Normalize()
	o := in.Options
	if in.BillID != "B1" || in.PushType != workflows.PushSocket || o.AutoSubmit == nil || !*o.AutoSubmit ||
		!slices.Equal(o.Approvals, []string{"supervisor", "finance"}) || o.ImageMode != "none" || o.Deduction != "none" || o.OnDeadline != "remind" {
		t.Errorf("normalised = %+v / %+v", in, o)
	}
	if err := in.Validate(); err != nil {
		t.Errorf("valid input refused: %v", err)
	}
	// [] means no approvals, and survives a JSON round trip.
	var none workflows.BillInput
	_ = json.Unmarshal([]byte(`{"options":{"approvals":[]}}`), &none)
	none.Normalize()
	if none.Options.Approvals == nil || len(none.Options.Approvals) != 0 {
		t.Errorf("empty approvals became %v", none.Options.Approvals)
	}
}

func TestValidateNamesEveryField(t *testing.T) {
	in := workflows.BillInput{Resource: "TOO-LONG-RESOURCE", PushType: "fax", Options: workflows.Options{
		Approvals: []string{"supervisor", "Boss!", "supervisor"}, ImageMode: "x", Deduction: "y", OnDeadline: "cancel",
		SLA: workflows.SLAs{Collect: -1, ByRole: map[string]workflows.Duration{"ceo": 1}}, ScanPollEvery: workflows.Duration(time.Millisecond),
	}}
	in.Normalize()
	err := in.Validate()
	if err == nil {
		t.Fatal("bad input accepted")
	}
	for _, f := range []string{"billId", "billNo", "billType", "userId", "billTaxNo", "resource", "pushType",
		"options.approvals[1]", "options.approvals[2]", "options.imageMode", "options.deduction",
		"options.sla.collect", "options.sla.byRole.ceo", "options.sla.hard", "options.scanPollEvery"} {
		if _, ok := err.Fields[f]; !ok {
			t.Errorf("field %s not named; got %v", f, err.Fields)
		}
	}
}

func TestRoutePlacesImageReview(t *testing.T) {
	cases := []struct {
		approvals []string
		mode      string
		want      []workflows.Stage
	}{
		{[]string{"supervisor", "finance"}, "basic", []workflows.Stage{"awaiting_supervisor", "image_review", "awaiting_finance"}},
		{[]string{"finance", "cfo"}, "match", []workflows.Stage{"image_review", "awaiting_finance", "awaiting_cfo"}},
		{[]string{"supervisor", "manager"}, "match", []workflows.Stage{"awaiting_supervisor", "image_review", "awaiting_manager"}},
		{[]string{}, "basic", []workflows.Stage{"image_review"}},
		{[]string{"supervisor", "finance"}, "submitter", []workflows.Stage{"awaiting_supervisor", "awaiting_finance"}},
		{[]string{}, "none", []workflows.Stage{}},
	}
	for _, c := range cases {
		got := workflows.Options{Approvals: c.approvals, ImageMode: c.mode}.Route()
		if !slices.Equal(got, c.want) {
			t.Errorf("Route(%v, %s) = %v, want %v", c.approvals, c.mode, got, c.want)
		}
	}
}

func TestDeductibleSet(t *testing.T) {
	for typ, want := range map[string]bool{"4": true, "2": true, "27": true, "26": false, "1": false, "10": false} {
		if workflows.Deductible(typ) != want {
			t.Errorf("Deductible(%s) != %v", typ, want)
		}
	}
}

// A new bill's rules (ValidateAtStart): printable Unicode keys, tax numbers by shape (upper-cased
// by Normalize), companyInfo once per company; every problem named.
func TestValidateAtStart(t *testing.T) {
	good := func() workflows.BillInput {
		return workflows.BillInput{BillID: "报销单-十四", BillNo: "BX 14", BillType: "er_dailyreimbursebill", Resource: "办公",
			BillTaxNo: " 91440300ma5g9gk78y ", UserID: "u1",
			CompanyInfo: []invoicecloud.Company{{TaxNo: "91440300ma5g9gk78y", Name: "金蝶 (深圳)"}}}
	}
	in := good()
	in.Normalize()
	if err := in.ValidateAtStart(); err != nil {
		t.Fatalf("good input refused: %v", err)
	}
	if in.BillTaxNo != "91440300MA5G9GK78Y" || in.CompanyInfo[0].TaxNo != "91440300MA5G9GK78Y" {
		t.Errorf("tax numbers not upper-cased: %q %q", in.BillTaxNo, in.CompanyInfo[0].TaxNo)
	}
	for _, id := range []string{"B 16 é", "a/b", "a:b", "x%41"} {
		in := good()
		in.BillID = id
		in.Normalize()
		if err := in.ValidateAtStart(); err != nil {
			t.Errorf("billId %q refused: %v", id, err)
		}
	}

	for name, c := range map[string]struct {
		mutate func(*workflows.BillInput)
		field  string
	}{
		"control char in billId":  {func(in *workflows.BillInput) { in.BillID = "B\x07" }, "billId"},
		"zero-width in billId":    {func(in *workflows.BillInput) { in.BillID = "B\u200b1" }, "billId"},
		"invalid UTF-8 billId":    {func(in *workflows.BillInput) { in.BillID = "B\xff" }, "billId"},
		"dot-dot billId":          {func(in *workflows.BillInput) { in.BillID = ".." }, "billId"},
		"long billId":             {func(in *workflows.BillInput) { in.BillID = strings.Repeat("长", 101) }, "billId"},
		"colon in resource":       {func(in *workflows.BillInput) { in.Resource = "O:A" }, "resource"},
		"slash in resource":       {func(in *workflows.BillInput) { in.Resource = "O/A" }, "resource"},
		"control char resource":   {func(in *workflows.BillInput) { in.Resource = "O\tA" }, "resource"},
		"bad tax":                 {func(in *workflows.BillInput) { in.BillTaxNo = "bad-tax" }, "billTaxNo"},
		"short tax":               {func(in *workflows.BillInput) { in.BillTaxNo = "123" }, "billTaxNo"},
		"company tax":             {func(in *workflows.BillInput) { in.CompanyInfo[0].TaxNo = "123" }, "companyInfo[0].taxNo"},
		"company twice":           {func(in *workflows.BillInput) { in.CompanyInfo = append(in.CompanyInfo, in.CompanyInfo[0]) }, "companyInfo[1].taxNo"},
		"company without name":    {func(in *workflows.BillInput) { in.CompanyInfo[0].Name = " " }, "companyInfo[0].name"},
		"newline in billNo":       {func(in *workflows.BillInput) { in.BillNo = "BX\n1" }, "billNo"},
		"control char in orgNum":  {func(in *workflows.BillInput) { in.OrgNumber = "O\x00" }, "orgNumber"},
		"control char in company": {func(in *workflows.BillInput) { in.CompanyInfo[0].Name = "A\x1bB" }, "companyInfo[0].name"},
	} {
		in := good()
		c.mutate(&in)
		in.Normalize()
		err := in.ValidateAtStart()
		if err == nil || err.Fields[c.field] == "" {
			t.Errorf("%s: %s not named: %v", name, c.field, err)
		}
	}
}

func TestAmendAppliesAndChecks(t *testing.T) {
	in := workflows.BillInput{BillID: "B", BillNo: "N", BillType: "T", Resource: "OA", BillTaxNo: "91440300MA5G9GK78Y", UserID: "u"}
	in.Normalize()
	fixed := "91330100ma2b3c4d5n"
	out, err := in.Amend(workflows.AmendRequest{BillTaxNo: &fixed, Reason: "typo"})
	if err != nil || out.BillTaxNo != "91330100MA2B3C4D5N" || out.BillNo != "N" {
		t.Errorf("amend: %+v %v", out, err)
	}
	bad := "bad-tax"
	if _, err := in.Amend(workflows.AmendRequest{BillTaxNo: &bad}); err == nil || err.Fields["billTaxNo"] == "" || err.Fields["reason"] == "" {
		t.Errorf("bad amend: %v", err)
	}
	if _, err := in.Amend(workflows.AmendRequest{Reason: "nothing"}); err == nil || err.Fields["body"] == "" {
		t.Errorf("empty amend: %v", err)
	}
	if in.BillTaxNo != "91440300MA5G9GK78Y" {
		t.Errorf("amend changed its receiver: %q", in.BillTaxNo)
	}
}
