package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/shopspring/decimal"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// forwardTarget is what checkForwarded needs of the bill a payload is forwarded to.
type forwardTarget struct {
	workflowID, runID string
	bill              workflows.BillInput // its companies: billTaxNo, companyInfo
	held              int                 // invoices bound or pending (InvoiceCount + PendingInvoices)
}

// checkForwarded is the one check of an invoice payload the ERP forwards (POST …/invoices, the
// CLI's `invoices`): a forwarded payload is the caller's word, so it is held to what the cloud
// checks before it would deliver an invoice. It is called twice: with bill nil before any call to
// Temporal, for what the payload alone shows (serialNo present and unique, amounts non-negative
// and adding up, invoiceStatus normal, at most calls.MaxDeliveryInvoices invoices); then with the
// bill, for what needs it (the buyer is one of its companies; a bill already holding
// workflows.MaxInvoicesPerBill takes no more, and the bill itself keeps no more than that).
// New rules belong here, so both ways in keep one standard.
func checkForwarded(msg workflows.InvoicesSignal, bill *forwardTarget) *Error {
	fields := map[string]string{}
	switch n := len(msg.InvoiceData); {
	case n == 0:
		fields["invoiceData"] = "required: at least one invoice"
	case n > calls.MaxDeliveryInvoices:
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
			Message: fmt.Sprintf("a forwarded payload holds at most %d invoices, this one %d: forward it as several", calls.MaxDeliveryInvoices, n),
			Fields:  map[string]string{"invoiceData": fmt.Sprintf("at most %d invoices", calls.MaxDeliveryInvoices)}}
	}
	seen := map[string]int{}
	for i, inv := range msg.InvoiceData {
		at := func(field string) string { return fmt.Sprintf("invoiceData[%d].%s", i, field) }
		serial := strings.TrimSpace(inv.SerialNo)
		if serial == "" {
			fields[at("serialNo")] = "required"
		} else if first, dup := seen[serial]; dup {
			fields[at("serialNo")] = fmt.Sprintf("the same invoice as invoiceData[%d]", first)
		} else {
			seen[serial] = i
		}
		checkAmounts(inv, at, fields)
		if inv.InvoiceStatus != "" && strings.TrimSpace(inv.InvoiceStatus) != "0" {
			fields[at("invoiceStatus")] = fmt.Sprintf("%q: not a normal invoice (0); the cloud refuses void, red-letter or out-of-control invoices", inv.InvoiceStatus)
		}
		if bill != nil {
			if why := buyerProblem(inv, bill.bill); why != "" {
				fields[at("buyerTaxNo")] = why
			}
		}
	}
	if len(fields) > 0 {
		return ValidationFailed(fields)
	}
	if bill != nil && bill.held >= workflows.MaxInvoicesPerBill {
		return newError(http.StatusConflict, CodeConflict, "bill %s already holds %d invoices; a bill holds at most %d",
			bill.workflowID, bill.held, workflows.MaxInvoicesPerBill)
	}
	return nil
}

// checkAmounts: every amount present is non-negative, and amount + tax = total when all three are given.
func checkAmounts(inv invoicecloud.Invoice, at func(string) string, fields map[string]string) {
	for _, a := range []struct {
		name string
		v    *decimal.Decimal
	}{
		{"invoiceAmount", inv.InvoiceAmount}, {"totalTaxAmount", inv.TotalTaxAmount},
		{"totalAmount", inv.TotalAmount}, {"effectiveTaxAmount", inv.EffectiveTaxAmount},
	} {
		if a.v != nil && a.v.IsNegative() {
			fields[at(a.name)] = "must not be negative"
		}
	}
	if inv.InvoiceAmount != nil && inv.TotalTaxAmount != nil && inv.TotalAmount != nil &&
		!inv.InvoiceAmount.Add(*inv.TotalTaxAmount).Equal(*inv.TotalAmount) {
		fields[at("totalAmount")] = fmt.Sprintf("%s is not invoiceAmount %s + totalTaxAmount %s",
			inv.TotalAmount.String(), inv.InvoiceAmount.String(), inv.TotalTaxAmount.String())
	}
	for j, it := range inv.Items {
		for _, a := range []struct {
			name string
			v    *decimal.Decimal
		}{{"detailAmount", it.Amount}, {"taxAmount", it.TaxAmount}, {"num", it.Num}, {"unitPrice", it.UnitPrice}} {
			if a.v != nil && a.v.IsNegative() {
				fields[at(fmt.Sprintf("items[%d].%s", j, a.name))] = "must not be negative"
			}
		}
	}
}

// buyerProblem says why an invoice's buyer is not the bill's ("" when it is): its tax number must
// be the bill's billTaxNo or one of its companyInfo's, and where companyInfo names that company,
// a buyer name the invoice carries must be that name (the cloud: 税号和企业名称).
func buyerProblem(inv invoicecloud.Invoice, bill workflows.BillInput) string {
	taxNo := normTaxNo(inv.BuyerTaxNo)
	if taxNo == "" {
		return "required: the buyer must be one of the bill's companies (billTaxNo, companyInfo)"
	}
	for _, c := range bill.CompanyInfo {
		if normTaxNo(c.TaxNo) != taxNo {
			continue
		}
		if name := strings.TrimSpace(inv.BuyerName); name != "" && strings.TrimSpace(c.Name) != "" && name != strings.TrimSpace(c.Name) {
			return fmt.Sprintf("the buyer's name %q is not %q, the name companyInfo gives tax number %s", name, c.Name, c.TaxNo)
		}
		return ""
	}
	if normTaxNo(bill.BillTaxNo) == taxNo {
		return ""
	}
	return fmt.Sprintf("buyer %s is not one of the bill's companies (billTaxNo, companyInfo): the cloud would refuse it as 不合规", inv.BuyerTaxNo)
}

func normTaxNo(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
