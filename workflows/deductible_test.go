package workflows_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"rimflow/workflows"
)

func TestDeductionTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range workflows.DeductionRules {
		if seen[r.InvoiceType] {
			t.Errorf("invoice type %s twice in the table", r.InvoiceType)
		}
		seen[r.InvoiceType] = true
		if r.Name == "" || r.Source == "" {
			t.Errorf("rule %s lacks its name or source: %+v", r.InvoiceType, r)
		}
		calculated := r.Method == workflows.DeductCalculated
		if calculated != r.Rate.IsPositive() || calculated != (r.Base != "") {
			t.Errorf("rule %s: a calculated deduction has a rate and a base, others neither: %+v", r.InvoiceType, r)
		}
	}
}

// The 39号 rates: rail and air 9%, road and waterway 3%, computed from the face value.
func TestCalculatedInputTax(t *testing.T) {
	for _, c := range []struct {
		typ, base, want string
		ok              bool
	}{
		{"9", "1090.00", "90.00", true},   // rail: 1090 ÷ 1.09 × 9%
		{"29", "545.00", "45.00", true},   // 数电 rail
		{"10", "2180.00", "180.00", true}, // air: (fare + fuel) ÷ 1.09 × 9%
		{"16", "103.00", "3.00", true},    // road: 103 ÷ 1.03 × 3%
		{"20", "100.00", "2.91", true},    // waterway: 2.912… rounds to 2.91
		{"4", "113.00", "0", false},       // a special invoice deducts the tax shown, not a calculated one
		{"26", "100.00", "0", false},      // 数电普票: not deductible
	} {
		got, ok := workflows.CalculatedInputTax(c.typ, decimal.RequireFromString(c.base))
		if ok != c.ok || !got.Equal(decimal.RequireFromString(c.want)) {
			t.Errorf("CalculatedInputTax(%s, %s) = %s, %v; want %s, %v", c.typ, c.base, got, ok, c.want, c.ok)
		}
	}
}
