package workflows

import (
	"slices"

	"github.com/shopspring/decimal"

	"rimflow/invoicecloud"
)

// totalOf is the amount including tax: totalAmount, else amount + tax, else zero.
func totalOf(inv invoicecloud.Invoice) decimal.Decimal {
	if inv.TotalAmount != nil {
		return *inv.TotalAmount
	}
	return dec(inv.InvoiceAmount).Add(dec(inv.TotalTaxAmount))
}

func dec(d *decimal.Decimal) decimal.Decimal {
	if d == nil {
		return decimal.Zero
	}
	return *d
}

// invoiceNumber is the number printed on the invoice: invoiceNo, or the 数电 number.
func invoiceNumber(inv invoicecloud.Invoice) string {
	if inv.InvoiceNo != "" {
		return inv.InvoiceNo
	}
	return inv.EtaxInvoiceNo
}

func viewOf(inv invoicecloud.Invoice, status string) InvoiceView {
	v := InvoiceView{
		SerialNo:    inv.SerialNo,
		InvoiceType: inv.InvoiceType,
		InvoiceCode: inv.InvoiceCode,
		InvoiceNo:   invoiceNumber(inv),
		InvoiceDate: inv.InvoiceDate,
		SalerName:   inv.SalerName,
		BuyerTaxNo:  inv.BuyerTaxNo,
		Amount:      dec(inv.InvoiceAmount).StringFixed(2),
		TaxAmount:   dec(inv.TotalTaxAmount).StringFixed(2),
		TotalAmount: totalOf(inv).StringFixed(2),
		Status:      status,
		Deductible:  Deductible(inv.InvoiceType),
	}
	if v.Deductible {
		v.DeductionFlag = "1"
	}
	return v
}

// mergeInvoices appends the incoming invoices whose serialNo is new; order is kept.
func mergeInvoices(current, incoming []invoicecloud.Invoice) []invoicecloud.Invoice {
	out := slices.Clone(current)
	seen := map[string]bool{}
	for _, inv := range current {
		seen[inv.SerialNo] = true
	}
	for _, inv := range incoming {
		if inv.SerialNo == "" || seen[inv.SerialNo] {
			continue
		}
		seen[inv.SerialNo] = true
		out = append(out, inv)
	}
	return out
}

func serials(invs []invoicecloud.Invoice) []string {
	out := make([]string, len(invs))
	for i, inv := range invs {
		out[i] = inv.SerialNo
	}
	return out
}

func sameSerialSet(a, b []invoicecloud.Invoice) bool {
	if len(a) != len(b) {
		return false
	}
	sa, sb := serials(a), serials(b)
	slices.Sort(sa)
	slices.Sort(sb)
	return slices.Equal(sa, sb)
}

// billInvoices is billSave's invoiceData for a set: deductible ones carry deductionFlag "1".
func billInvoices(invs []invoicecloud.Invoice) []invoicecloud.BillInvoice {
	out := make([]invoicecloud.BillInvoice, len(invs))
	for i, inv := range invs {
		out[i] = invoicecloud.BillInvoice{SerialNo: inv.SerialNo}
		if Deductible(inv.InvoiceType) {
			out[i].DeductionFlag = "1"
		}
	}
	return out
}

// deductionInvoices are the deductible invoices in the deduction API's shape.
func deductionInvoices(invs []invoicecloud.Invoice) []invoicecloud.DeductionInvoice {
	var out []invoicecloud.DeductionInvoice
	for _, inv := range invs {
		if !Deductible(inv.InvoiceType) {
			continue
		}
		out = append(out, invoicecloud.DeductionInvoice{
			InvoiceType:        inv.InvoiceType,
			InvoiceCode:        inv.InvoiceCode,
			InvoiceNo:          inv.InvoiceNo,
			EtaxInvoiceNo:      inv.EtaxInvoiceNo,
			InvoiceDate:        inv.InvoiceDate,
			InvoiceAmount:      dec(inv.InvoiceAmount),
			EffectiveTaxAmount: inv.EffectiveTaxAmount,
			TotalTaxAmount:     dec(inv.TotalTaxAmount),
			SalerName:          inv.SalerName,
			SalerTaxNo:         inv.SalerTaxNo,
		})
	}
	return out
}

func overlap(a, b []invoicecloud.Invoice) int {
	in := map[string]bool{}
	for _, x := range a {
		in[x.SerialNo] = true
	}
	n := 0
	for _, x := range b {
		if in[x.SerialNo] {
			n++
		}
	}
	return n
}

func orStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// invoiceViews are the state's views of invoices at a cloud status.
func invoiceViews(invs []invoicecloud.Invoice, status string) []InvoiceView {
	views := make([]InvoiceView, len(invs))
	for i, inv := range invs {
		views[i] = viewOf(inv, status)
	}
	return views
}

// totalOfAll is the sum of the invoices' totals including tax.
func totalOfAll(invs []invoicecloud.Invoice) decimal.Decimal {
	total := decimal.Zero
	for _, inv := range invs {
		total = total.Add(totalOf(inv))
	}
	return total
}

// serialSet is the set of the invoices' serial numbers.
func serialSet(sets ...[]invoicecloud.Invoice) map[string]bool {
	m := map[string]bool{}
	for _, invs := range sets {
		for _, inv := range invs {
			m[inv.SerialNo] = true
		}
	}
	return m
}
