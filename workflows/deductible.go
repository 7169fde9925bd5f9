package workflows

import (
	"slices"

	"github.com/shopspring/decimal"
)

// Which invoices carry deductible input VAT, and how, by the tax rules: one table (DeductionRules),
// read by the bill (deductionFlag, the deducting stage) and documented in docs/api.md.
//
// Sources:
//   - 《中华人民共和国增值税暂行条例》第八条: the VAT shown on a special VAT invoice (增值税专用发票)
//     obtained from the seller is deductible. That covers the paper, the electronic and the fully
//     digital (数电) special invoice alike; the taxpayer confirms each one by selecting it (勾选),
//     which is the deducting stage's invoiceSelect call.
//   - 财政部 税务总局 海关总署公告2019年第39号（关于深化增值税改革有关政策的公告）第六条: input VAT on
//     domestic passenger transport bought for the taxpayer's employees is deductible when the ticket
//     names the passenger, computed from the face value: air (航空运输电子客票行程单)
//     (fare + fuel surcharge) ÷ (1 + 9%) × 9%; rail (铁路车票) face value ÷ (1 + 9%) × 9%; road and
//     waterway (公路、水路等其他客票) face value ÷ (1 + 3%) × 3%. An ordinary VAT e-invoice that names
//     the passenger deducts the tax shown on it; its type code (1) does not say whether it is a
//     ticket, so it is not in the table.
//
// Type codes are the vendor's invoiceType table (docs/invoicecloud.md, "The invoice record").

// DeductionMethod says how an invoice type's input VAT is deducted.
type DeductionMethod string

const (
	// DeductInvoiceTax: the tax shown on the invoice, confirmed by selecting (勾选) it at the cloud.
	DeductInvoiceTax DeductionMethod = "invoice_tax"
	// DeductCalculated: the tax is computed from the ticket's face value at Rate (passenger
	// transport) and claimed on the VAT return; nothing is selected at the cloud.
	DeductCalculated DeductionMethod = "calculated"
)

// DeductionRule is one deductible invoice type.
type DeductionRule struct {
	InvoiceType string          `json:"invoiceType"` // vendor code
	Name        string          `json:"name"`
	Method      DeductionMethod `json:"method"`
	// Rate is the rate of a calculated deduction: input tax = base ÷ (1 + Rate) × Rate.
	Rate decimal.Decimal `json:"rate,omitzero"`
	// Base is what the rate applies to (calculated deductions).
	Base      string `json:"base,omitempty"`
	Condition string `json:"condition,omitempty"`
	Source    string `json:"source"`
}

const (
	sourceSpecialVAT = "《中华人民共和国增值税暂行条例》第八条"
	sourcePassenger  = "财政部 税务总局 海关总署公告2019年第39号 第六条"
	passengerRule    = "domestic passenger transport of the taxpayer's own employees; the ticket names the passenger"
)

var (
	rate9 = decimal.RequireFromString("0.09")
	rate3 = decimal.RequireFromString("0.03")
)

// DeductionRules is the table: every invoice type whose input VAT is deductible, with how.
var DeductionRules = []DeductionRule{
	{InvoiceType: "4", Name: "增值税专用发票", Method: DeductInvoiceTax, Source: sourceSpecialVAT},
	{InvoiceType: "2", Name: "电子专用发票", Method: DeductInvoiceTax, Source: sourceSpecialVAT},
	{InvoiceType: "27", Name: "数电票（增值税专用发票）", Method: DeductInvoiceTax, Source: sourceSpecialVAT},
	{InvoiceType: "10", Name: "飞机行程单", Method: DeductCalculated, Rate: rate9,
		Base: "fare + fuel surcharge (票价 + 燃油附加费)", Condition: passengerRule, Source: sourcePassenger},
	{InvoiceType: "28", Name: "数电票（航空运输电子客票行程单）", Method: DeductCalculated, Rate: rate9,
		Base: "fare + fuel surcharge (票价 + 燃油附加费)", Condition: passengerRule, Source: sourcePassenger},
	{InvoiceType: "9", Name: "火车/高铁票", Method: DeductCalculated, Rate: rate9,
		Base: "face value (票面金额)", Condition: passengerRule, Source: sourcePassenger},
	{InvoiceType: "29", Name: "数电票（铁路电子客票）", Method: DeductCalculated, Rate: rate9,
		Base: "face value (票面金额)", Condition: passengerRule, Source: sourcePassenger},
	{InvoiceType: "16", Name: "公路汽车票", Method: DeductCalculated, Rate: rate3,
		Base: "face value (票面金额)", Condition: passengerRule, Source: sourcePassenger},
	{InvoiceType: "20", Name: "轮船票", Method: DeductCalculated, Rate: rate3,
		Base: "face value (票面金额)", Condition: passengerRule, Source: sourcePassenger},
}

// deductionRuleFor is the rule of an invoice type (false: its input VAT is not deductible).
func deductionRuleFor(invoiceType string) (DeductionRule, bool) {
	i := slices.IndexFunc(DeductionRules, func(r DeductionRule) bool { return r.InvoiceType == invoiceType })
	if i < 0 {
		return DeductionRule{}, false
	}
	return DeductionRules[i], true
}

// Deductible reports whether an invoice type deducts the tax shown on it (DeductInvoiceTax): such
// invoices are bound with deductionFlag "1" and selected in the deducting stage. Passenger tickets
// (DeductCalculated) are claimed on the return from CalculatedInputTax instead.
func Deductible(invoiceType string) bool {
	r, ok := deductionRuleFor(invoiceType)
	return ok && r.Method == DeductInvoiceTax
}

// CalculatedInputTax is the deductible input VAT of a passenger ticket: base ÷ (1 + rate) × rate,
// rounded half up to the fen. ok is false for a type without a calculated deduction.
func CalculatedInputTax(invoiceType string, base decimal.Decimal) (tax decimal.Decimal, ok bool) {
	r, found := deductionRuleFor(invoiceType)
	if !found || r.Method != DeductCalculated {
		return decimal.Zero, false
	}
	return base.Mul(r.Rate).Div(decimal.NewFromInt(1).Add(r.Rate)).Round(2), true
}
