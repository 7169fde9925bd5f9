package api

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"rimflow/workflows"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const goodBill = `{"billId":"B-1","billNo":"BX-2026-001","billType":"er_dailyreimbursebill","resource":"OA",
 "billTaxNo":"91330100MA2B3C4D5N","userId":"u-7","options":{"approvals":["supervisor"],"sla":{"approval":"48h"}}}`

// DecodeStart normalises the bill's own fields but keeps the options as asked for: the policy
// decides at start which of them the caller may choose, and then fills the rest.
func TestDecodeStartKeepsRequestedOptions(t *testing.T) {
	in, err := DecodeStart([]byte(goodBill))
	if err != nil {
		t.Fatal(err)
	}
	if in.PushType != workflows.PushSocket || in.Policy != nil || in.Options.AutoSubmit != nil ||
		in.Options.ImageMode != "" || len(in.Options.Approvals) != 1 || in.Options.SLA.Approval.D() != 48*time.Hour {
		t.Errorf("bill not normalised or options not as requested: %+v", in)
	}
	eff, e := (&Bills{}).underPolicy(in)
	if e != nil {
		t.Fatal(e)
	}
	if eff.Options.AutoSubmit == nil || !*eff.Options.AutoSubmit || eff.Options.ImageMode != workflows.ImageNone ||
		eff.Policy == nil || eff.Policy.Rule != "default" || !eff.Policy.Duties.OnePersonOneRole || eff.Policy.Duties.SubmitterMayApprove {
		t.Errorf("under the built-in policy: %+v policy %+v", eff.Options, eff.Policy)
	}
}

// FuzzStartBody: any POST /v1/bills body either decodes to an input the workflow accepts, or is
// refused with a 4xx that names at least one field — never a panic, never a half-checked input.
func FuzzStartBody(f *testing.F) {
	for _, seed := range []string{
		goodBill, `{}`, ``, `null`, `[]`, `"x"`, `{"billId":7}`, `{"billId":"B","colour":1}`,
		`{"options":{"sla":{"approval":"forever"}}}`, `{"options":{"sla":{"byRole":{"x":"1h"}}}}`,
		`{"options":{"approvals":["A B",""],"imageMode":"x","onDeadline":"cancel"}}`,
		`{"companyInfo":[{"taxNo":""}],"resource":"a:b/c"}`, `{"billId":"\u0000"}` + strings.Repeat(" ", 3),
		`{"options":{"sla":{"approval":-5}}}`, `{"billId":"B"} trailing`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, e := DecodeStart(body)
		if e != nil {
			if e.Status < 400 || e.Status > 499 {
				t.Fatalf("status %d for a bad body", e.Status)
			}
			if len(e.Fields) == 0 {
				t.Fatalf("refusal names no field: %+v", e)
			}
			if !reflect.DeepEqual(in, workflows.BillInput{}) {
				t.Fatalf("a refused body still produced an input: %+v", in)
			}
			return
		}
		// Accepted: under the built-in policy (every option the caller's) it is what the bill
		// starts with, which the workflow's own check accepts, and the bill's fields are normalised.
		eff, e := (&Bills{}).underPolicy(in)
		if e != nil {
			t.Fatalf("accepted, then refused under the built-in policy: %v", e)
		}
		if verr := eff.Validate(); verr != nil {
			t.Fatalf("accepted an input the workflow refuses: %v", verr)
		}
		if eff.PushType != in.PushType || eff.BillID != in.BillID || eff.Resource != in.Resource {
			t.Fatalf("accepted input is not normalised")
		}
	})
}
