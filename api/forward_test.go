package api

import (
	"strings"
	"testing"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// A forwarded payload is checked strictly: every problem named by its JSON path, nothing sent.
func TestForwardIsCheckedStrictly(t *testing.T) {
	good := `{"invoiceData":[{"serialNo":"S1","invoiceType":27,"invoiceNo":"123","invoiceDate":"2026-11-20",
		"invoiceAmount":100.00,"totalTaxAmount":"13.00","totalAmount":113,"taxRate":"0.13",
		"items":[{"goodsName":"纸","num":"3","unitPrice":"33.333333","detailAmount":"100.00","taxAmount":13}]}],
		"attachData":[{"attachUrl":"http://x/a.pdf","attachName":"a.pdf"}]}`
	sig, e := DecodeForward([]byte(good))
	if e != nil {
		t.Fatalf("good payload refused: %v", e)
	}
	if len(sig.InvoiceData) != 1 || sig.InvoiceData[0].SerialNo != "S1" || sig.InvoiceData[0].TotalAmount.StringFixed(2) != "113.00" {
		t.Errorf("decoded %+v", sig.InvoiceData)
	}

	for name, c := range map[string]struct{ body, field string }{
		"unknown top field":        {`{"invoiceData":[{"serialNo":"S"}],"extra":1}`, "extra"},
		"unknown invoice field":    {`{"invoiceData":[{"serialNo":"S","someVendorField":"x"}]}`, "invoiceData[0].someVendorField"},
		"unknown item field":       {`{"invoiceData":[{"serialNo":"S","items":[{"colour":"red"}]}]}`, "invoiceData[0].items[0].colour"},
		"unknown attach field":     {`{"invoiceData":[{"serialNo":"S"}],"attachData":[{"size":1}]}`, "attachData[0].size"},
		"serialNo missing":         {`{"invoiceData":[{"invoiceNo":"1"}]}`, "invoiceData[0].serialNo"},
		"serialNo twice":           {`{"invoiceData":[{"serialNo":"S"},{"serialNo":"S"}]}`, "invoiceData[1].serialNo"},
		"serialNo a number array":  {`{"invoiceData":[{"serialNo":[1]}]}`, "invoiceData[0].serialNo"},
		"three decimals":           {`{"invoiceData":[{"serialNo":"S","invoiceAmount":"1.005"}]}`, "invoiceData[0].invoiceAmount"},
		"negative amount":          {`{"invoiceData":[{"serialNo":"S","totalAmount":-1}]}`, "invoiceData[0].totalAmount"},
		"amount not a number":      {`{"invoiceData":[{"serialNo":"S","totalTaxAmount":"ten"}]}`, "invoiceData[0].totalTaxAmount"},
		"amount a bool":            {`{"invoiceData":[{"serialNo":"S","totalTaxAmount":true}]}`, "invoiceData[0].totalTaxAmount"},
		"sum does not add up":      {`{"invoiceData":[{"serialNo":"S","invoiceAmount":"100","totalTaxAmount":"13","totalAmount":"112.99"}]}`, "invoiceData[0].totalAmount"},
		"text given a number":      {`{"invoiceData":[{"serialNo":"S","salerName":5}]}`, "invoiceData[0].salerName"},
		"code given a fraction":    {`{"invoiceData":[{"serialNo":"S","invoiceType":4.5}]}`, "invoiceData[0].invoiceType"},
		"bad date":                 {`{"invoiceData":[{"serialNo":"S","invoiceDate":"20/11/2026"}]}`, "invoiceData[0].invoiceDate"},
		"items not an array":       {`{"invoiceData":[{"serialNo":"S","items":"none"}]}`, "invoiceData[0].items"},
		"invoice not an object":    {`{"invoiceData":["S"]}`, "invoiceData[0]"},
		"no invoices":              {`{"invoiceData":[]}`, "invoiceData"},
		"control char in a string": {`{"invoiceData":[{"serialNo":"S","salerName":"a\u0000b"}]}`, "invoiceData[0].salerName"},
	} {
		_, e := DecodeForward([]byte(c.body))
		if e == nil || e.Status != 400 || e.Fields[c.field] == "" {
			t.Errorf("%s: %s not named: %+v", name, c.field, e)
		}
	}
	// Every problem at once.
	_, e = DecodeForward([]byte(`{"invoiceData":[{"serialNo":"S","a":1,"invoiceAmount":"1.001"},{"b":2}]}`))
	if e == nil || len(e.Fields) != 4 {
		t.Errorf("not every problem named: %+v", e)
	}
	if _, e := DecodeForward([]byte(`{"invoiceData":[{"serialNo":"S"}]} trailing`)); e == nil || !strings.Contains(e.Message, "after") {
		t.Errorf("trailing data: %+v", e)
	}
}

// The ERP's lines on a forward: decoded strictly, checked as billSave's against the payload's
// invoices, each problem named by its path.
func TestForwardLines(t *testing.T) {
	inv := `{"serialNo":"S1","invoiceAmount":"100","totalTaxAmount":"13","totalAmount":"113"}`
	sig, e := DecodeForward([]byte(`{"invoiceData":[` + inv + `],"lines":[{"serialNo":"S1","amount":"56.50","entryId":"E-1",` +
		`"deductionTaxAmount":6.5,"outputAmount":"1.00","remark":"福利"}]}`))
	if e != nil {
		t.Fatalf("good lines refused: %v", e)
	}
	if len(sig.Lines) != 1 || sig.Lines[0].Amount.StringFixed(2) != "56.50" || sig.Lines[0].EntryID != "E-1" ||
		sig.Lines[0].DeductionTaxAmount.StringFixed(2) != "6.50" || sig.Lines[0].Remark != "福利" {
		t.Errorf("decoded %+v", sig.Lines)
	}
	for name, c := range map[string]struct{ lines, field string }{
		"over the total":         {`[{"serialNo":"S1","amount":"113.01"}]`, "lines[0].amount"},
		"tax over the tax":       {`[{"serialNo":"S1","deductionTaxAmount":"13.01"}]`, "lines[0].deductionTaxAmount"},
		"three decimals":         {`[{"serialNo":"S1","amount":"1.005"}]`, "lines[0].amount"},
		"zero amount":            {`[{"serialNo":"S1","amount":0}]`, "lines[0].amount"},
		"another invoice":        {`[{"serialNo":"S9","amount":"1"}]`, "lines[0].serialNo"},
		"twice":                  {`[{"serialNo":"S1"},{"serialNo":"S1"}]`, "lines[1].serialNo"},
		"unknown line field":     {`[{"serialNo":"S1","colour":"red"}]`, "lines[0].colour"},
		"amount not a decimal":   {`[{"serialNo":"S1","amount":"ten"}]`, "lines[0].amount"},
		"lines not an array":     {`{"serialNo":"S1"}`, "lines"},
		"entryId a number":       {`[{"serialNo":"S1","entryId":5}]`, "lines[0].entryId"},
		"control char in remark": {`[{"serialNo":"S1","outputAmount":"1","remark":"a\u0000b"}]`, "lines[0].remark"},
	} {
		_, e := DecodeForward([]byte(`{"invoiceData":[` + inv + `],"lines":` + c.lines + `}`))
		if e == nil || e.Status != 400 || e.Fields[c.field] == "" {
			t.Errorf("%s: %s not named: %+v", name, c.field, e)
		}
	}
	// The bill's own limits judge what the ceiling lets through: a transfer out without its
	// reason, unless the bill's enterprise allows it; a remark over the bill's bound.
	bill := &forwardTarget{bill: workflows.BillInput{BillTaxNo: "91330100MA2B3C4D5N"}}
	for _, c := range []struct {
		lines, field string
		limits       *invoicecloud.Limits
	}{
		{`[{"serialNo":"S1","outputAmount":"1"}]`, "lines[0].remark", nil},
		{`[{"serialNo":"S1","outputAmount":"1"}]`, "", &invoicecloud.Limits{OutputRemarkOptional: true}},
		{`[{"serialNo":"S1","remark":"` + strings.Repeat("r", 300) + `"}]`, "lines[0].remark", nil},
		{`[{"serialNo":"S1","remark":"` + strings.Repeat("r", 300) + `"}]`, "", &invoicecloud.Limits{RemarkLen: 300}},
	} {
		sig, e := DecodeForward([]byte(`{"invoiceData":[` + inv + `],"lines":` + c.lines + `}`))
		if e != nil {
			t.Fatalf("%s under the ceiling: %v", c.lines, e)
		}
		sig.InvoiceData[0].BuyerTaxNo = "91330100MA2B3C4D5N"
		bill.bill.Limits = c.limits
		e = checkForwarded(sig, bill)
		if c.field == "" && e != nil || c.field != "" && (e == nil || e.Fields[c.field] == "") {
			t.Errorf("%s under %+v: %v, want %q named", c.lines[:40], c.limits, e, c.field)
		}
	}
}
