package workflows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"rimflow/invoicecloud"
)

// What a scan found, against the invoices bound to the bill: the image system's lines, or the
// ERP's report compared here (match mode).

// matchImages describes every difference between the scan and the bound invoices ("" = match).
func matchImages(invoices []invoicecloud.Invoice, img ImagesRequest) string {
	bound := map[string]invoicecloud.Invoice{}
	for _, inv := range invoices {
		bound[invoiceNumber(inv)] = inv
	}
	scanned := map[string]bool{}
	var problems []string
	var notBound []string
	for _, no := range img.InvoiceNos {
		scanned[no] = true
		inv, ok := bound[no]
		if !ok {
			notBound = append(notBound, no)
			continue
		}
		if s, ok := img.Amounts[no]; ok {
			amt, _ := decimal.NewFromString(s) // validated
			if want := totalOf(inv); !amt.Equal(want) {
				problems = append(problems, fmt.Sprintf("amount of %s: scanned %s, bound %s", no, amt.StringFixed(2), want.StringFixed(2)))
			}
		}
	}
	var missing []string
	for _, inv := range invoices {
		if !scanned[invoiceNumber(inv)] {
			missing = append(missing, invoiceNumber(inv))
		}
	}
	slices.Sort(missing)
	slices.Sort(notBound)
	if len(missing) > 0 {
		problems = append([]string{"not scanned: " + strings.Join(missing, ", ")}, problems...)
	}
	if len(notBound) > 0 {
		problems = append(problems, "scanned but not on the bill: "+strings.Join(notBound, ", "))
	}
	return strings.Join(problems, "; ")
}

func describeScanLine(l invoicecloud.ScanLine) string {
	no := l.InvoiceNo
	if l.InvoiceCode != "" {
		no = l.InvoiceCode + "-" + no
	}
	switch l.Problem {
	case "missing":
		return "not scanned: " + no
	case "extra":
		return "scanned but not on the bill: " + no
	case "amount":
		exp, got := "?", "?"
		if l.Expected != nil {
			exp = l.Expected.StringFixed(2)
		}
		if l.Scanned != nil {
			got = l.Scanned.StringFixed(2)
		}
		return fmt.Sprintf("amount of %s: scanned %s, bound %s", no, got, exp)
	}
	return l.Problem + ": " + no
}
