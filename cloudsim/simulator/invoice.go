package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/shopspring/decimal"
)

// Invoice is the structured invoice record the cloud delivers (socket, poll, /__sim/collect).
// Amounts are decimals and go on the wire as JSON numbers with two decimals, written from the
// decimal's text (never through a float).
type Invoice struct {
	SerialNo           string
	InvoiceType        string // code table: 4 增值税专用发票, 27 数电专票, 26 数电普票, 1 电子普通发票, 9 火车票, 10 行程单 …
	InvoiceCode        string
	InvoiceNo          string
	EtaxInvoiceNo      string
	InvoiceDate        string          // yyyy-MM-dd
	InvoiceAmount      decimal.Decimal // excluding tax
	TotalTaxAmount     decimal.Decimal
	TotalAmount        decimal.Decimal // including tax
	EffectiveTaxAmount decimal.Decimal // deductible tax
	TaxRate            string          // decimal fraction, e.g. "0.13"
	SalerName          string
	SalerTaxNo         string
	BuyerName          string
	BuyerTaxNo         string
	CheckCode          string
	InvoiceStatus      string // 0 正常, 1 失控, 2 作废, 3 红冲 …
	Items              []InvoiceItem
	// Extra keeps fields this type does not know (records given to /__sim/collect), re-emitted as is.
	Extra map[string]json.RawMessage
}

// InvoiceItem is one goods/service line.
type InvoiceItem struct {
	GoodsName string          `json:"goodsName"`
	SpecModel string          `json:"specModel"`
	Unit      string          `json:"unit"`
	Num       decimal.Decimal `json:"num"`
	UnitPrice decimal.Decimal `json:"unitPrice"`
	Amount    decimal.Decimal `json:"detailAmount"`
	TaxRate   string          `json:"taxRate"`
	TaxAmount decimal.Decimal `json:"taxAmount"`
}

// number writes a decimal as a JSON number with the given decimals.
func number(d decimal.Decimal, places int32) json.Number { return json.Number(d.StringFixed(places)) }

type invoiceItemWire struct {
	GoodsName string      `json:"goodsName"`
	SpecModel string      `json:"specModel"`
	Unit      string      `json:"unit"`
	Num       json.Number `json:"num"`
	UnitPrice json.Number `json:"unitPrice"`
	Amount    json.Number `json:"detailAmount"`
	TaxRate   string      `json:"taxRate"`
	TaxAmount json.Number `json:"taxAmount"`
}

// MarshalJSON writes the vendor's field names; amounts as numbers.
func (inv Invoice) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, 20+len(inv.Extra))
	for k, v := range inv.Extra {
		m[k] = v
	}
	items := make([]invoiceItemWire, 0, len(inv.Items))
	for _, it := range inv.Items {
		items = append(items, invoiceItemWire{
			GoodsName: it.GoodsName, SpecModel: it.SpecModel, Unit: it.Unit,
			Num: json.Number(it.Num.String()), UnitPrice: json.Number(it.UnitPrice.String()),
			Amount: number(it.Amount, 2), TaxRate: it.TaxRate, TaxAmount: number(it.TaxAmount, 2),
		})
	}
	m["serialNo"] = inv.SerialNo
	m["invoiceType"] = inv.InvoiceType
	m["invoiceCode"] = inv.InvoiceCode
	m["invoiceNo"] = inv.InvoiceNo
	m["etaxInvoiceNo"] = inv.EtaxInvoiceNo
	m["invoiceDate"] = inv.InvoiceDate
	m["invoiceAmount"] = number(inv.InvoiceAmount, 2)
	m["totalTaxAmount"] = number(inv.TotalTaxAmount, 2)
	m["totalAmount"] = number(inv.TotalAmount, 2)
	m["effectiveTaxAmount"] = number(inv.EffectiveTaxAmount, 2)
	m["taxRate"] = inv.TaxRate
	m["salerName"] = inv.SalerName
	m["salerTaxNo"] = inv.SalerTaxNo
	m["buyerName"] = inv.BuyerName
	m["buyerTaxNo"] = inv.BuyerTaxNo
	m["checkCode"] = inv.CheckCode
	m["invoiceStatus"] = inv.InvoiceStatus
	m["items"] = items
	return json.Marshal(m)
}

// knownInvoiceFields are decoded into the struct; every other key lands in Extra.
var knownInvoiceFields = []string{
	"serialNo", "invoiceType", "invoiceCode", "invoiceNo", "etaxInvoiceNo", "invoiceDate",
	"invoiceAmount", "totalTaxAmount", "totalAmount", "effectiveTaxAmount", "taxRate",
	"salerName", "salerTaxNo", "buyerName", "buyerTaxNo", "checkCode", "invoiceStatus", "items",
}

// parseInvoiceRecord decodes a record given to /__sim/collect; errors name the field under path.
// Missing amounts are derived (total = amount + tax); inconsistent ones are refused.
func parseInvoiceRecord(path string, raw json.RawMessage) (Invoice, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Invoice{}, fieldError(path, "must be a JSON object")
	}
	var inv Invoice
	str := func(name string, dst *string) error {
		v, ok := fields[name]
		if !ok || string(v) == "null" {
			return nil
		}
		var f flexString
		if err := json.Unmarshal(v, &f); err != nil {
			return fieldError(path+"."+name, "must be a string")
		}
		*dst = f.trim()
		return nil
	}
	dec := func(name string, dst *decimal.Decimal) (bool, error) {
		v, ok := fields[name]
		if !ok || string(v) == "null" || string(v) == `""` {
			return false, nil
		}
		var d decimal.Decimal
		if err := d.UnmarshalJSON(v); err != nil {
			return false, fieldError(path+"."+name, "must be a decimal amount")
		}
		if reason := moneyProblem(d); reason != "" {
			return false, fieldError(path+"."+name, reason)
		}
		*dst = d
		return true, nil
	}
	for name, dst := range map[string]*string{
		"serialNo": &inv.SerialNo, "invoiceType": &inv.InvoiceType, "invoiceCode": &inv.InvoiceCode,
		"invoiceNo": &inv.InvoiceNo, "etaxInvoiceNo": &inv.EtaxInvoiceNo, "invoiceDate": &inv.InvoiceDate,
		"taxRate": &inv.TaxRate, "salerName": &inv.SalerName, "salerTaxNo": &inv.SalerTaxNo,
		"buyerName": &inv.BuyerName, "buyerTaxNo": &inv.BuyerTaxNo, "checkCode": &inv.CheckCode,
		"invoiceStatus": &inv.InvoiceStatus,
	} {
		if err := str(name, dst); err != nil {
			return Invoice{}, err
		}
	}
	hasAmount, err := dec("invoiceAmount", &inv.InvoiceAmount)
	if err != nil {
		return Invoice{}, err
	}
	if _, err := dec("totalTaxAmount", &inv.TotalTaxAmount); err != nil { // missing tax means 0
		return Invoice{}, err
	}
	hasTotal, err := dec("totalAmount", &inv.TotalAmount)
	if err != nil {
		return Invoice{}, err
	}
	hasEffective, err := dec("effectiveTaxAmount", &inv.EffectiveTaxAmount)
	if err != nil {
		return Invoice{}, err
	}
	switch {
	case !hasAmount && !hasTotal:
		return Invoice{}, fieldError(path+".totalAmount", "required (or invoiceAmount)")
	case !hasTotal:
		inv.TotalAmount = inv.InvoiceAmount.Add(inv.TotalTaxAmount)
	case !hasAmount:
		inv.InvoiceAmount = inv.TotalAmount.Sub(inv.TotalTaxAmount)
	case !inv.InvoiceAmount.Add(inv.TotalTaxAmount).Equal(inv.TotalAmount):
		return Invoice{}, fieldError(path+".totalAmount", fmt.Sprintf("must equal invoiceAmount + totalTaxAmount (%s)",
			inv.InvoiceAmount.Add(inv.TotalTaxAmount).StringFixed(2)))
	}
	if !hasEffective {
		inv.EffectiveTaxAmount = inv.TotalTaxAmount
	}
	if v, ok := fields["items"]; ok && string(v) != "null" {
		var items []InvoiceItem
		if err := json.Unmarshal(v, &items); err != nil {
			return Invoice{}, jsonPathError(path+".items", err)
		}
		for i, it := range items {
			for name, d := range map[string]decimal.Decimal{"detailAmount": it.Amount, "taxAmount": it.TaxAmount} {
				if reason := moneyProblem(d); reason != "" {
					return Invoice{}, fieldError(fmt.Sprintf("%s.items[%d].%s", path, i, name), reason)
				}
			}
			for name, d := range map[string]decimal.Decimal{"num": it.Num, "unitPrice": it.UnitPrice} {
				if e := d.Exponent(); e < -20 || e > 20 {
					return Invoice{}, fieldError(fmt.Sprintf("%s.items[%d].%s", path, i, name), "out of range")
				}
			}
		}
		inv.Items = items
	}
	for k, v := range fields {
		if !slices.Contains(knownInvoiceFields, k) {
			if inv.Extra == nil {
				inv.Extra = map[string]json.RawMessage{}
			}
			inv.Extra[k] = bytes.Clone(v)
		}
	}
	return inv, nil
}

func jsonPathError(path string, err error) error {
	fe := jsonFieldError(path, err)
	var f *FieldError
	if asFieldError(fe, &f) && f.Field != path {
		return fieldError(path+"."+f.Field, f.Reason)
	}
	return fe
}

func (inv Invoice) clone() Invoice {
	inv.Items = slices.Clone(inv.Items)
	inv.Extra = maps.Clone(inv.Extra)
	return inv
}
