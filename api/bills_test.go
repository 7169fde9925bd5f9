package api

import (
	"strings"
	"testing"
	"time"

	"rimflow/internal/policy"
	"rimflow/workflows"
)

// historyLimit, scanPoint and scanPollEvery change how a bill runs: a caller sets them only where
// the rule's allowCallerOptions lists them (400 naming each field otherwise), within bounds (a
// historyLimit of 1 would continue as new at every quiet point; a 10 ms scan poll hammers the
// image system), and a start keeps them where allowed.
func TestCallerMechanicsUnderThePolicy(t *testing.T) {
	in := workflows.BillInput{BillID: "B-1", BillNo: "BX-1", BillType: "expense", Resource: "OA", BillTaxNo: "91330100MA2B3C4D5N",
		UserID: "u-7", Options: workflows.Options{ScanPoint: "SP02", ScanPollEvery: workflows.Duration(2 * time.Second), HistoryLimit: 500}}

	closed, err := policy.Parse([]byte("default:\n  imageMode: match\n  allowCallerOptions: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, e := (&Bills{Policy: closed}).underPolicy(in)
	for _, f := range []string{"options.historyLimit", "options.scanPoint", "options.scanPollEvery"} {
		if e == nil || !strings.Contains(e.Fields[f], "may not choose") {
			t.Errorf("%s under a rule that allows nothing: %v", f, e)
		}
	}

	open, err := policy.Parse([]byte("default:\n  imageMode: match\n  allowCallerOptions: [historyLimit, scanPoint, scanPollEvery]\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := &Bills{Policy: open}
	out, e := b.underPolicy(in)
	if e != nil {
		t.Fatalf("underPolicy: %v", e)
	}
	o := out.Options
	if o.ImageMode != workflows.ImageMatch || o.ScanPoint != "SP02" || o.ScanPollEvery != workflows.Duration(2*time.Second) || o.HistoryLimit != 500 {
		t.Errorf("effective options: imageMode %q scanPoint %q scanPollEvery %s historyLimit %d, want match SP02 2s 500",
			o.ImageMode, o.ScanPoint, time.Duration(o.ScanPollEvery), o.HistoryLimit)
	}
	for field, opts := range map[string]workflows.Options{
		"options.historyLimit":  {HistoryLimit: 1},
		"options.scanPollEvery": {ScanPollEvery: workflows.Duration(10 * time.Millisecond)},
		"options.scanPoint":     {ScanPoint: strings.Repeat("P", 65)},
	} {
		bad := in
		bad.Options = opts
		if _, e := b.underPolicy(bad); e == nil || e.Fields[field] == "" {
			t.Errorf("out of bounds: %v, want a 400 naming %s", e, field)
		}
	}
	bad := in
	bad.Options = workflows.Options{ScanPollEvery: workflows.Duration(2 * time.Hour)}
	if _, e := b.underPolicy(bad); e == nil || e.Fields["options.scanPollEvery"] == "" {
		t.Errorf("a 2h scan poll: %v", e)
	}
}
