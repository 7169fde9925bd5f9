package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	enumspb "go.temporal.io/api/enums/v1"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// A forwarded payload ({"invoiceData":[…],"attachData":[…]}, POST …/invoices) is checked
// strictly before it reaches the bill: only the cloud's documented invoice fields, each of the
// JSON kind it takes (the cloud writes codes and amounts as strings or numbers, so both are
// taken), amounts in fen (at most 2 decimals, not negative), amount + tax = total, serialNo on
// every invoice and once per payload. checkForward is the one place these rules live; the
// OpenAPI schema of the body is written from the same tables.

// valueKind is the JSON a field takes.
type valueKind int

const (
	kindText    valueKind = iota // a string
	kindCode                     // a string, or an integer the cloud sent as a number
	kindAmount                   // money: a number or a decimal string, ≥ 0, at most 2 decimals
	kindDecimal                  // a quantity or rate: a number or a decimal string, ≥ 0
	kindDate                     // yyyy-MM-dd (or yyyy-MM-dd HH:mm:ss)
	kindItems                    // an array of item objects
)

type fieldSpec struct {
	Name string
	Kind valueKind
	Doc  string
}

// forwardInvoiceFields are the invoice record's fields (docs/invoice-cloud-api.md).
var forwardInvoiceFields = []fieldSpec{
	{"serialNo", kindText, "the invoice's serial number in the cloud's pool (required)"},
	{"invoiceType", kindCode, "the vendor's type code: 4 增值税专用发票, 27 数电专票, 26 数电普票, 9 火车票 …"},
	{"invoiceCode", kindCode, "invoice code"},
	{"invoiceNo", kindCode, "invoice number"},
	{"etaxInvoiceNo", kindCode, "数电 invoice number"},
	{"invoiceDate", kindDate, "issue date"},
	{"invoiceAmount", kindAmount, "amount excluding tax"},
	{"totalTaxAmount", kindAmount, "tax"},
	{"totalAmount", kindAmount, "amount including tax: invoiceAmount + totalTaxAmount"},
	{"effectiveTaxAmount", kindAmount, "deductible tax"},
	{"salerName", kindText, "seller"},
	{"salerTaxNo", kindCode, "seller's tax number"},
	{"buyerName", kindText, "buyer"},
	{"buyerTaxNo", kindCode, "buyer's tax number"},
	{"checkCode", kindCode, "check code"},
	{"taxRate", kindDecimal, "tax rate as a fraction, e.g. 0.13"},
	{"invoiceStatus", kindCode, "0 正常, 1 失控, 2 作废, 3 红冲 …"},
	{"items", kindItems, "the goods or service lines"},
}

var forwardItemFields = []fieldSpec{
	{"goodsName", kindText, "goods or service"},
	{"specModel", kindText, "specification"},
	{"unit", kindText, "unit"},
	{"num", kindDecimal, "quantity"},
	{"unitPrice", kindDecimal, "unit price"},
	{"detailAmount", kindAmount, "line amount excluding tax"},
	{"taxRate", kindDecimal, "tax rate as a fraction"},
	{"taxAmount", kindAmount, "line tax"},
}

var forwardAttachFields = []fieldSpec{
	{"attachUrl", kindText, "where the attachment is"},
	{"attachType", kindCode, "attachment type"},
	{"attachNo", kindCode, "attachment number"},
	{"attachName", kindText, "file name"},
}

// DecodeForward checks a forwarded payload strictly (every problem named by its JSON path) and
// decodes it as the worker decodes the cloud's own messages (invoicecloud.DecodeMessage: the
// records travel as received).
func DecodeForward(body []byte) (workflows.InvoicesSignal, *Error) {
	if e := checkForward(body); e != nil {
		return workflows.InvoicesSignal{}, e
	}
	msg, err := invoicecloud.DecodeMessage(body)
	if err != nil {
		return workflows.InvoicesSignal{}, ValidationFailed(map[string]string{"body": err.Error()})
	}
	sig := workflows.InvoicesSignal{InvoiceData: msg.InvoiceData, AttachData: msg.AttachData}
	// The ERP's line fields for the payload's invoices (docs/invoicecloud.md, "The ERP's line
	// fields"): not the cloud's, so decoded strictly on their own and checked as billSave's.
	var top struct {
		Lines json.RawMessage `json:"lines"`
	}
	_ = json.Unmarshal(body, &top) // checkForward read the body as an object
	if len(top.Lines) > 0 && string(top.Lines) != "null" {
		if e := decodeStrict(top.Lines, &sig.Lines); e != nil {
			return workflows.InvoicesSignal{}, prefixed(e, "lines")
		}
		f := map[string]string{}
		// At the ceiling: the bill checks its own limits (a 400 naming the line all the same).
		workflows.CheckForwardLines(f, sig.Lines, sig.InvoiceData, &invoicecloud.CeilingLimits)
		if len(f) > 0 {
			return workflows.InvoicesSignal{}, ValidationFailed(f)
		}
	}
	return sig, nil
}

// prefixed names a decode error of a part of the body by the part's field.
func prefixed(e *Error, field string) *Error {
	out := *e
	fields := map[string]string{}
	for k, v := range e.Fields {
		switch {
		case k == "body":
			fields[field] = v
		case strings.HasPrefix(k, "["):
			fields[field+k] = v
		default:
			fields[field+"."+k] = v
		}
	}
	if len(fields) == 0 {
		fields[field] = e.Message
	}
	out.Fields = fields
	return &out
}

func checkForward(body []byte) *Error {
	var top map[string]json.RawMessage
	if e := decodeStrict(body, &top); e != nil {
		return e
	}
	if top == nil {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "the body must be a JSON object",
			Fields: map[string]string{"body": "must be {\"invoiceData\":[…],\"attachData\":[…]}"}}
	}
	f := map[string]string{}
	for k := range top {
		if k != "invoiceData" && k != "attachData" && k != "lines" {
			f[k] = "unknown field (the payload holds invoiceData and attachData, and the ERP's lines)"
		}
	}
	invoices, problem := objects(top["invoiceData"])
	switch {
	case problem != "":
		f["invoiceData"] = problem
	case len(invoices) == 0:
		f["invoiceData"] = "required: at least one invoice"
	case len(invoices) > workflows.MaxInvoicesPerBill:
		f["invoiceData"] = fmt.Sprintf("at most %d invoices, got %d", workflows.MaxInvoicesPerBill, len(invoices))
	}
	seen := map[string]int{}
	for i, inv := range invoices {
		path := fmt.Sprintf("invoiceData[%d]", i)
		if inv == nil {
			f[path] = "must be an object"
			continue
		}
		checkFields(f, path, inv, forwardInvoiceFields)
		serial := textOf(inv["serialNo"])
		switch {
		case strings.TrimSpace(serial) == "":
			setOnce(f, path+".serialNo", "required")
		case seen[serial] > 0:
			setOnce(f, path+".serialNo", fmt.Sprintf("the same serialNo as invoiceData[%d]", seen[serial]-1))
		default:
			seen[serial] = i + 1
		}
		amount, okA := amountOf(inv["invoiceAmount"])
		tax, okT := amountOf(inv["totalTaxAmount"])
		total, okS := amountOf(inv["totalAmount"])
		if okA && okT && okS && !amount.Add(tax).Equal(total) {
			setOnce(f, path+".totalAmount", fmt.Sprintf("must be invoiceAmount + totalTaxAmount = %s, got %s",
				amount.Add(tax).StringFixed(2), total.StringFixed(2)))
		}
	}
	if raw, ok := top["attachData"]; ok {
		attachments, problem := objects(raw)
		if problem != "" {
			f["attachData"] = problem
		}
		for i, a := range attachments {
			path := fmt.Sprintf("attachData[%d]", i)
			if a == nil {
				f[path] = "must be an object"
				continue
			}
			checkFields(f, path, a, forwardAttachFields)
		}
	}
	if len(f) > 0 {
		return ValidationFailed(f)
	}
	return nil
}

func setOnce(f map[string]string, name, problem string) {
	if _, named := f[name]; !named {
		f[name] = problem
	}
}

// objects reads a JSON array of objects (null or absent: none); a non-object element is nil.
func objects(raw json.RawMessage) ([]map[string]json.RawMessage, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, ""
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, "must be an array"
	}
	out := make([]map[string]json.RawMessage, len(elems))
	for i, e := range elems {
		var m map[string]json.RawMessage
		if bytes.HasPrefix(bytes.TrimSpace(e), []byte("{")) && json.Unmarshal(e, &m) == nil {
			out[i] = m
		}
	}
	return out, ""
}

// checkFields names every unknown field of obj and every value of the wrong kind.
func checkFields(f map[string]string, path string, obj map[string]json.RawMessage, specs []fieldSpec) {
	for name, raw := range obj {
		i := indexOfField(specs, name)
		if i < 0 {
			f[path+"."+name] = "unknown field"
			continue
		}
		if string(raw) == "null" {
			continue
		}
		if problem := kindProblem(specs[i].Kind, raw); problem != "" {
			f[path+"."+name] = problem
		}
		if specs[i].Kind == kindItems {
			items, _ := objects(raw)
			for j, it := range items {
				ipath := fmt.Sprintf("%s.%s[%d]", path, name, j)
				if it == nil {
					f[ipath] = "must be an object"
					continue
				}
				checkFields(f, ipath, it, forwardItemFields)
			}
		}
	}
}

func indexOfField(specs []fieldSpec, name string) int {
	for i, s := range specs {
		if s.Name == name {
			return i
		}
	}
	return -1
}

func kindProblem(k valueKind, raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	isString := len(raw) > 0 && raw[0] == '"'
	var s string
	if isString {
		_ = json.Unmarshal(raw, &s)
	}
	isNumber := len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
	switch k {
	case kindText:
		if !isString {
			return "must be a string"
		}
		return workflows.Unprintable(s)
	case kindCode:
		switch {
		case isString:
			return workflows.Unprintable(s)
		case isNumber && !bytes.ContainsAny(raw, ".eE-"):
			return ""
		}
		return "must be a string (or a whole number)"
	case kindAmount, kindDecimal:
		text := string(raw)
		if isString {
			text = strings.TrimSpace(s)
		} else if !isNumber {
			return "must be a decimal number or a decimal string"
		}
		d, err := decimal.NewFromString(text)
		switch {
		case err != nil:
			return fmt.Sprintf("not a decimal: %q", text)
		case d.IsNegative():
			return "must not be negative, got " + text
		case k == kindAmount && !d.Equal(d.Round(2)):
			return "at most 2 decimals (fen), got " + text
		}
		return ""
	case kindDate:
		if !isString {
			return "must be a date string yyyy-MM-dd"
		}
		if _, e1 := time.Parse(time.DateOnly, s); e1 != nil {
			if _, e2 := time.Parse(time.DateTime, s); e2 != nil {
				return fmt.Sprintf("must be a date yyyy-MM-dd, got %q", s)
			}
		}
		return ""
	case kindItems:
		if len(raw) == 0 || raw[0] != '[' {
			return "must be an array of item objects"
		}
	}
	return ""
}

func textOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.Trim(string(bytes.TrimSpace(raw)), `"`)
}

// amountOf reads a well-formed amount (false when absent or malformed: named elsewhere).
func amountOf(raw json.RawMessage) (decimal.Decimal, bool) {
	if len(raw) == 0 || string(raw) == "null" || kindProblem(kindAmount, raw) != "" {
		return decimal.Zero, false
	}
	text := textOf(raw)
	d, err := decimal.NewFromString(strings.TrimSpace(text))
	return d, err == nil
}

// forwardTarget is what checkForwarded needs of the bill a payload is forwarded to.
type forwardTarget struct {
	workflowID, runID string
	bill              workflows.BillInput // its companies: billTaxNo, companyInfo
	held              int                 // invoices bound or pending (InvoiceCount + PendingInvoices)
	stage             workflows.Stage     // its BillStage search attribute
	status            enumspb.WorkflowExecutionStatus
}

// endedError is the 409 of a bill that has ended (nil while it runs): it takes no invoices.
func (t *forwardTarget) endedError(ref BillRef) *Error {
	if t.status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return nil
	}
	return conflict(SubFinished, fmt.Sprintf("bill %s has ended (workflow %s): it takes no invoices",
		ref.ID(), strings.ToLower(t.status.String())))
}

// checkForwarded holds a decoded payload (DecodeForward checked its shape) to what the cloud checks
// before it would deliver an invoice. It is called twice: with bill nil before any call to
// Temporal, for what the invoices alone show (at most calls.MaxDeliveryInvoices of them, each a
// normal invoice); then with the bill, for what needs it (the buyer is one of its companies; a bill
// already holding workflows.MaxInvoicesPerBill takes no more).
func checkForwarded(msg workflows.InvoicesSignal, bill *forwardTarget) *Error {
	if n := len(msg.InvoiceData); n > calls.MaxDeliveryInvoices {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
			Message: fmt.Sprintf("a forwarded payload holds at most %d invoices, this one %d: forward it as several", calls.MaxDeliveryInvoices, n),
			Fields:  map[string]string{"invoiceData": fmt.Sprintf("at most %d invoices", calls.MaxDeliveryInvoices)}}
	}
	fields := map[string]string{}
	for i, inv := range msg.InvoiceData {
		at := func(field string) string { return fmt.Sprintf("invoiceData[%d].%s", i, field) }
		if inv.InvoiceStatus != "" && strings.TrimSpace(inv.InvoiceStatus) != "0" {
			fields[at("invoiceStatus")] = fmt.Sprintf("%q: not a normal invoice (0); the cloud refuses void, red-letter or out-of-control invoices", inv.InvoiceStatus)
		}
		if bill != nil {
			if why := buyerProblem(inv, bill.bill); why != "" {
				fields[at("buyerTaxNo")] = why
			}
		}
	}
	if bill != nil && len(msg.Lines) > 0 {
		// The bill's own limits (frozen at its start), where the decode checked the ceiling.
		workflows.CheckForwardLines(fields, msg.Lines, msg.InvoiceData, bill.bill.Limits)
	}
	if len(fields) > 0 {
		return ValidationFailed(fields)
	}
	if bill != nil && bill.held >= workflows.MaxInvoicesPerBill {
		return conflict(SubRefused, fmt.Sprintf("bill %s already holds %d invoices; a bill holds at most %d",
			bill.workflowID, bill.held, workflows.MaxInvoicesPerBill))
	}
	return nil
}

// buyerProblem says why an invoice's buyer is not the bill's ("" when it is): its tax number must
// be the bill's billTaxNo or one of its companyInfo's, and where companyInfo names that company,
// a buyer name the invoice carries must be that name (the cloud: 税号和企业名称).
func buyerProblem(inv invoicecloud.Invoice, bill workflows.BillInput) string {
	taxNo := invoicecloud.NormalizeTaxNo(inv.BuyerTaxNo)
	if taxNo == "" {
		return "required: the buyer must be one of the bill's companies (billTaxNo, companyInfo)"
	}
	for _, c := range bill.CompanyInfo {
		if invoicecloud.NormalizeTaxNo(c.TaxNo) != taxNo {
			continue
		}
		if name := strings.TrimSpace(inv.BuyerName); name != "" && strings.TrimSpace(c.Name) != "" && name != strings.TrimSpace(c.Name) {
			return fmt.Sprintf("the buyer's name %q is not %q, the name companyInfo gives tax number %s", name, c.Name, c.TaxNo)
		}
		return ""
	}
	if invoicecloud.NormalizeTaxNo(bill.BillTaxNo) == taxNo {
		return ""
	}
	return fmt.Sprintf("buyer %s is not one of the bill's companies (billTaxNo, companyInfo): the cloud would refuse it as 不合规", inv.BuyerTaxNo)
}
