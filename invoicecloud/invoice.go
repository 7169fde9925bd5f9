package invoicecloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"rimflow/invoicecloud/flex"

	"github.com/shopspring/decimal"
)

// invoiceWire mirrors Invoice with tolerant field types: the cloud sends amounts, codes and
// rates as strings in one payload and numbers in the next.
type invoiceWire struct {
	SerialNo           flex.String       `json:"serialNo"`
	InvoiceType        flex.String       `json:"invoiceType"`
	InvoiceCode        flex.String       `json:"invoiceCode"`
	InvoiceNo          flex.String       `json:"invoiceNo"`
	EtaxInvoiceNo      flex.String       `json:"etaxInvoiceNo"`
	InvoiceDate        flex.String       `json:"invoiceDate"`
	InvoiceAmount      flex.Decimal      `json:"invoiceAmount"`
	TotalTaxAmount     flex.Decimal      `json:"totalTaxAmount"`
	TotalAmount        flex.Decimal      `json:"totalAmount"`
	EffectiveTaxAmount flex.Decimal      `json:"effectiveTaxAmount"`
	SalerName          flex.String       `json:"salerName"`
	SalerTaxNo         flex.String       `json:"salerTaxNo"`
	BuyerName          flex.String       `json:"buyerName"`
	BuyerTaxNo         flex.String       `json:"buyerTaxNo"`
	CheckCode          flex.String       `json:"checkCode"`
	TaxRate            flex.String       `json:"taxRate"`
	InvoiceStatus      flex.String       `json:"invoiceStatus"`
	Items              []json.RawMessage `json:"items"`
}

// UnmarshalJSON decodes the documented fields tolerantly and keeps the record as received in
// Raw. Unknown fields never fail; a malformed amount is left nil (Raw still has it). Only a
// record that is not a JSON object is an error.
func (inv *Invoice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("invoicecloud: an invoice must be a JSON object")
	}
	var w invoiceWire
	if err := json.Unmarshal(b, &w); err != nil {
		// The object is well-formed but a field has an unexpected shape (e.g. items is a
		// string): keep what the scalar fields give by decoding them without items.
		var lenient struct {
			invoiceWire
			Items json.RawMessage `json:"items"`
		}
		if err2 := json.Unmarshal(b, &lenient); err2 != nil {
			return fmt.Errorf("invoicecloud: invoice: %w", err)
		}
		w = lenient.invoiceWire
		w.Items = nil
	}
	*inv = Invoice{
		SerialNo:           string(w.SerialNo),
		InvoiceType:        string(w.InvoiceType),
		InvoiceCode:        string(w.InvoiceCode),
		InvoiceNo:          string(w.InvoiceNo),
		EtaxInvoiceNo:      string(w.EtaxInvoiceNo),
		InvoiceDate:        string(w.InvoiceDate),
		InvoiceAmount:      w.InvoiceAmount.Value(),
		TotalTaxAmount:     w.TotalTaxAmount.Value(),
		TotalAmount:        w.TotalAmount.Value(),
		EffectiveTaxAmount: w.EffectiveTaxAmount.Value(),
		SalerName:          string(w.SalerName),
		SalerTaxNo:         string(w.SalerTaxNo),
		BuyerName:          string(w.BuyerName),
		BuyerTaxNo:         string(w.BuyerTaxNo),
		CheckCode:          string(w.CheckCode),
		TaxRate:            string(w.TaxRate),
		InvoiceStatus:      string(w.InvoiceStatus),
		Raw:                append(json.RawMessage(nil), b...),
	}
	for _, raw := range w.Items {
		var it InvoiceItem
		if it.UnmarshalJSON(raw) == nil { // a non-object line is skipped; Raw keeps it
			inv.Items = append(inv.Items, it)
		}
	}
	return nil
}

// MarshalJSON re-emits Raw when present, so an invoice travels losslessly (through Temporal
// payloads, signals, the ERP). An Invoice built in code (no Raw) emits its known fields.
func (inv Invoice) MarshalJSON() ([]byte, error) {
	if len(inv.Raw) > 0 && json.Valid(inv.Raw) {
		return inv.Raw, nil
	}
	type plain Invoice // drops the methods, so no recursion
	return json.Marshal(plain(inv))
}

type itemWire struct {
	GoodsName flex.String  `json:"goodsName"`
	Specs     flex.String  `json:"specModel"`
	Unit      flex.String  `json:"unit"`
	Num       flex.Decimal `json:"num"`
	UnitPrice flex.Decimal `json:"unitPrice"`
	Amount    flex.Decimal `json:"detailAmount"`
	TaxRate   flex.String  `json:"taxRate"`
	TaxAmount flex.Decimal `json:"taxAmount"`
}

// UnmarshalJSON decodes an item line tolerantly and keeps it in Raw (see Invoice).
func (it *InvoiceItem) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("invoicecloud: an invoice item must be a JSON object")
	}
	var w itemWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("invoicecloud: invoice item: %w", err)
	}
	*it = InvoiceItem{
		GoodsName: string(w.GoodsName),
		Specs:     string(w.Specs),
		Unit:      string(w.Unit),
		Num:       w.Num.Value(),
		UnitPrice: w.UnitPrice.Value(),
		Amount:    w.Amount.Value(),
		TaxRate:   string(w.TaxRate),
		TaxAmount: w.TaxAmount.Value(),
		Raw:       append(json.RawMessage(nil), b...),
	}
	return nil
}

// MarshalJSON re-emits Raw when present (see Invoice.MarshalJSON).
func (it InvoiceItem) MarshalJSON() ([]byte, error) {
	if len(it.Raw) > 0 && json.Valid(it.Raw) {
		return it.Raw, nil
	}
	type plain InvoiceItem
	return json.Marshal(plain(it))
}

// Total returns the amount including tax: totalAmount, else invoiceAmount + totalTaxAmount.
func (inv Invoice) Total() (decimal.Decimal, bool) {
	switch {
	case inv.TotalAmount != nil:
		return *inv.TotalAmount, true
	case inv.InvoiceAmount != nil && inv.TotalTaxAmount != nil:
		return inv.InvoiceAmount.Add(*inv.TotalTaxAmount), true
	}
	return decimal.Zero, false
}
