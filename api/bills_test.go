package api

import (
	"testing"
	"time"

	"rimflow/internal/policy"
	"rimflow/workflows"
)

// The scanning point and how often the image system is asked are not policy matters: a start
// keeps the caller's, even under a rule that lets the caller choose nothing, and a poll interval
// below the minimum is refused naming the field.
func TestUnderPolicyKeepsTheCallersScanOptions(t *testing.T) {
	pol, err := policy.Parse([]byte("default:\n  imageMode: match\n  allowCallerOptions: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := &Bills{Policy: pol}
	in := workflows.BillInput{BillID: "B-1", BillNo: "BX-1", BillType: "expense", Resource: "OA", BillTaxNo: "91330100MA2B3C4D5E",
		UserID: "u-7", Options: workflows.Options{ScanPoint: "SP02", ScanPollEvery: workflows.Duration(2 * time.Second), HistoryLimit: 500}}
	out, e := b.underPolicy(in)
	if e != nil {
		t.Fatalf("underPolicy: %v", e)
	}
	o := out.Options
	if o.ImageMode != workflows.ImageMatch || o.ScanPoint != "SP02" || o.ScanPollEvery != workflows.Duration(2*time.Second) || o.HistoryLimit != 500 {
		t.Errorf("effective options: imageMode %q scanPoint %q scanPollEvery %s historyLimit %d, want match SP02 2s 500",
			o.ImageMode, o.ScanPoint, time.Duration(o.ScanPollEvery), o.HistoryLimit)
	}

	in.Options.ScanPollEvery = workflows.Duration(10 * time.Millisecond)
	if _, e := b.underPolicy(in); e == nil || e.Fields["options.scanPollEvery"] == "" {
		t.Errorf("a 10ms scan poll: %v, want a 400 naming options.scanPollEvery", e)
	}
}
