package workflows

import (
	"encoding/base64"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// The ERP's line fields on billSave (docs/invoicecloud.md, "The ERP's line fields"): per invoice,
// the amount it reimburses (partial reimbursement: at most the invoice's total), the ERP's expense
// line (entryId), the deductible tax (deductionTaxAmount), the tax transferred out (outputAmount)
// with its reason (remark); per bill, the cover (coverData). They are given at start, with a
// forwarded payload, or by an amend, kept with the bill's input, and sent on every billSave.

// InvoiceLine is the ERP's line for one invoice, by serialNo; a field left out is not sent (the
// cloud's default: the whole invoice is reimbursed).
type InvoiceLine struct {
	SerialNo           string           `json:"serialNo"`
	Amount             *decimal.Decimal `json:"amount,omitempty"`
	EntryID            string           `json:"entryId,omitempty"`
	DeductionTaxAmount *decimal.Decimal `json:"deductionTaxAmount,omitempty"`
	OutputAmount       *decimal.Decimal `json:"outputAmount,omitempty"`
	Remark             string           `json:"remark,omitempty"`
}

// MaxLines bounds the lines: one per invoice. The other bounds of the line fields and the cover are
// the bill's limits (invoicecloud.Limits [assumed: the vendor's text gives no lengths]).
const MaxLines = MaxInvoicesPerBill

// maxAmount: the cloud's amounts are below 10^15 (docs/cloudsim.md).
var maxAmount = decimal.New(1, 15)

// CheckLines names every bad field of lines (prefix "lines"): each serialNo once, amounts
// positive with at most 2 decimals, a transferred-out amount with its reason, lengths bounded;
// against an invoice that is known (inv), the amount at most its total and the taxes at most
// its tax, as the cloud checks them. lim are the bill's limits (nil: the defaults).
func CheckLines(f map[string]string, prefix string, lines []InvoiceLine, inv func(serialNo string) *invoicecloud.Invoice, lim *invoicecloud.Limits) {
	bounds := lim.Or()
	if len(lines) > MaxLines {
		f[prefix] = fmt.Sprintf("at most %d lines", MaxLines)
		return
	}
	seen := map[string]int{}
	for i, l := range lines {
		p := fmt.Sprintf("%s[%d].", prefix, i)
		if l.SerialNo == "" {
			f[p+"serialNo"] = "required"
		} else if j, dup := seen[l.SerialNo]; dup {
			f[p+"serialNo"] = fmt.Sprintf("repeats %s[%d]", prefix, j)
		}
		seen[l.SerialNo] = i
		money := func(name string, v *decimal.Decimal, zeroOK bool) {
			switch {
			case v == nil:
			case v.IsNegative() || !zeroOK && v.IsZero():
				f[p+name] = "must be greater than 0"
				if zeroOK {
					f[p+name] = "must not be negative"
				}
			case v.Exponent() < -2 && !v.Equal(v.Round(2)):
				f[p+name] = "at most 2 decimals (yuan and fen)"
			case v.GreaterThanOrEqual(maxAmount):
				f[p+name] = "must be below 10^15"
			}
		}
		money("amount", l.Amount, false)
		money("deductionTaxAmount", l.DeductionTaxAmount, true)
		money("outputAmount", l.OutputAmount, false)
		for _, t := range [][2]string{{"serialNo", l.SerialNo}, {"entryId", l.EntryID}, {"remark", l.Remark}} {
			if why := Unprintable(t[1]); why != "" {
				f[p+t[0]] = why
			}
		}
		if utf8.RuneCountInString(l.EntryID) > bounds.EntryIDLen {
			f[p+"entryId"] = fmt.Sprintf("at most %d characters", bounds.EntryIDLen)
		}
		if utf8.RuneCountInString(l.Remark) > bounds.RemarkLen {
			f[p+"remark"] = fmt.Sprintf("at most %d characters", bounds.RemarkLen)
		}
		if l.OutputAmount != nil && l.Remark == "" && !bounds.OutputRemarkOptional {
			f[p+"remark"] = "required with outputAmount: the reason the tax is transferred out"
		}
		if inv == nil {
			continue
		}
		if known := inv(l.SerialNo); known != nil {
			if l.Amount != nil && known.TotalAmount != nil && l.Amount.GreaterThan(*known.TotalAmount) {
				f[p+"amount"] = "at most the invoice's total (totalAmount " + known.TotalAmount.StringFixed(2) + ")"
			}
			for _, t := range []struct {
				name string
				v    *decimal.Decimal
			}{{"deductionTaxAmount", l.DeductionTaxAmount}, {"outputAmount", l.OutputAmount}} {
				if t.v != nil && known.TotalTaxAmount != nil && t.v.GreaterThan(*known.TotalTaxAmount) {
					f[p+t.name] = "at most the invoice's tax (totalTaxAmount " + known.TotalTaxAmount.StringFixed(2) + ")"
				}
			}
		}
	}
}

// CheckCover names every bad field of the cover (prefix "coverData"), as the cloud checks it,
// its size within the bill's limits (nil: the defaults).
func CheckCover(f map[string]string, c *invoicecloud.CoverData, lim *invoicecloud.Limits) {
	if c == nil {
		return
	}
	raw, err := base64.StdEncoding.DecodeString(c.Base64)
	switch {
	case c.Base64 == "":
		f["coverData.base64"] = "required"
	case err != nil:
		f["coverData.base64"] = "must be standard base64"
	case len(raw) > lim.Or().CoverBytes:
		f["coverData.base64"] = fmt.Sprintf("at most %d bytes of file", lim.Or().CoverBytes)
	}
	if c.CoveNo == "" {
		f["coverData.coveNo"] = "required (unique per resource)"
	}
	if c.CoveType != "1" && c.CoveType != "2" {
		f["coverData.coveType"] = fmt.Sprintf("must be 1 (pdf) or 2 (image), got %q", c.CoveType)
	}
}

// CheckForwardLines names every bad line of a forwarded payload: the rules of CheckLines, each
// line naming one of the payload's invoices (lines for the bill's others are amended instead).
func CheckForwardLines(f map[string]string, lines []InvoiceLine, invoices []invoicecloud.Invoice, lim *invoicecloud.Limits) {
	CheckLines(f, "lines", lines, func(sn string) *invoicecloud.Invoice {
		if i := slices.IndexFunc(invoices, func(inv invoicecloud.Invoice) bool { return inv.SerialNo == sn }); i >= 0 {
			return &invoices[i]
		}
		return nil
	}, lim)
	for i, l := range lines {
		p := fmt.Sprintf("lines[%d].serialNo", i)
		if _, named := f[p]; !named && l.SerialNo != "" &&
			!slices.ContainsFunc(invoices, func(inv invoicecloud.Invoice) bool { return inv.SerialNo == l.SerialNo }) {
			f[p] = "not among this payload's invoiceData (amend the bill's lines for its other invoices)"
		}
	}
}

// withLines merges lines into the bill's: a serialNo given again takes its new line.
func withLines(have, give []InvoiceLine) []InvoiceLine {
	out := slices.Clone(have)
	for _, l := range give {
		if i := slices.IndexFunc(out, func(o InvoiceLine) bool { return o.SerialNo == l.SerialNo }); i >= 0 {
			out[i] = l
		} else {
			out = append(out, l)
		}
	}
	return out
}

// withLineFields fills billSave's lines from the ERP's, with their attachments.
func (in BillInput) withLineFields(lines []invoicecloud.BillInvoice) []invoicecloud.BillInvoice {
	for i := range lines {
		lines[i].AttachData = in.attachmentsOf(lines[i].SerialNo) // attachments.go
		j := slices.IndexFunc(in.Lines, func(l InvoiceLine) bool { return l.SerialNo == lines[i].SerialNo })
		if j < 0 {
			continue
		}
		l := in.Lines[j]
		lines[i].Amount, lines[i].EntryID, lines[i].DeductionTaxAmount = l.Amount, l.EntryID, l.DeductionTaxAmount
		lines[i].OutputAmount, lines[i].Remark = l.OutputAmount, l.Remark
	}
	return lines
}

// takeLines keeps the line fields a forwarded payload gives (validateInvoices checked them; the
// billSave that binds the payload's invoices carries them).
func (b *bill) takeLines(lines []InvoiceLine) {
	if len(lines) == 0 {
		return
	}
	b.in.Lines = withLines(b.in.Lines, lines)
	b.View.Bill = b.in
}

// linesOnly: the amend changes only the line fields or the cover (allowed while collecting).
func (req AmendRequest) linesOnly() bool {
	return req.BillNo == nil && req.BillType == nil && req.BillTaxNo == nil && req.OrgNumber == nil &&
		req.UserID == nil && req.CompanyInfo == nil && (len(req.Lines) > 0 || req.CoverData != nil)
}

// boundInvoice is the bound (or pending) invoice with serialNo, nil when the bill has none.
func (b *bill) boundInvoice(serialNo string) *invoicecloud.Invoice {
	for _, set := range [][]invoicecloud.Invoice{b.Invoices, b.Pending} {
		if i := slices.IndexFunc(set, func(inv invoicecloud.Invoice) bool { return inv.SerialNo == serialNo }); i >= 0 {
			return &set[i]
		}
	}
	return nil
}

// amendLinesChange marks the collecting stage's amend of the line fields (a billSave 30 of the
// bound set with the new lines follows).
const amendLinesChange = "amend-lines-while-collecting"

// amendLines applies an amend of the line fields or the cover while collecting; with invoices
// bound, the cloud gets them at once (billSave 30 of the bound set): every billSave carries them.
func (b *bill) amendLines(ctx workflow.Context, ev *event) error {
	_ = workflow.GetVersion(ctx, amendLinesChange, workflow.DefaultVersion, 1)
	req := *ev.amend
	b.in, _ = b.in.Amend(req) // validated: it applies
	b.View.Bill = b.in
	b.note(b.View.Stage, fmt.Sprintf("line fields amended by %s: %s", actorName(req.Actor), req.Reason))
	b.publish()
	if len(b.Invoices) == 0 {
		b.reply(ev, nil)
		return nil
	}
	return b.runOrPark(ctx, "bindInvoices", ev, func(ctx workflow.Context) error {
		in := calls.BillSaveInput{MessageID: b.msgID("bindInvoices"), Request: b.in.billSave(invoicecloud.StatusInUse, b.Invoices)}
		if err := callNoResult(cloudCallOptions(ctx), acts.BindInvoices, in); err != nil {
			return err
		}
		b.reply(ev, nil)
		return nil
	})
}
