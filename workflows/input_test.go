package workflows_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

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
