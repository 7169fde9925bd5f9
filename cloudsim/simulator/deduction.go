package simulator

import (
	"encoding/json"
	"net/http"
)

// DeductionKind is the messageTypes name of the deduction API for faults and stats.
const DeductionKind = "deduction"

// handleDeduction serves POST /kapi/app/rim/deduction (interfaceCode invoiceSelect): selects (1)
// or unselects (0) invoices of the pool for input-VAT deduction and answers a taskNo.
func (s *Sim) handleDeduction(w http.ResponseWriter, r *http.Request) {
	body, ok := s.businessBody(w, r, deductionAnswer)
	defer s.mu.Unlock()
	if !ok {
		return
	}
	var raw json.RawMessage = body
	top, err := parseFields("", raw)
	if err != nil {
		err.code, err.msg = codeBadJSON, "body: 不是合法的JSON对象"
		writeJSON(w, http.StatusOK, deductionAnswer(nil, err))
		return
	}
	s.stats.MessageTypes[DeductionKind]++
	requestID, err := top.str("requestId", true, 0)
	if err != nil {
		writeJSON(w, http.StatusOK, deductionAnswer(nil, err))
		return
	}
	s.answerNoted(w, "deduction:"+requestID, DeductionKind, func(n *callNote) (any, *apiError) { return s.deduction(top, n) }, deductionAnswer)
}

func deductionAnswer(data any, err *apiError) map[string]any {
	if err != nil {
		var d any
		if err.field != "" {
			d = map[string]any{"field": err.field}
		}
		return map[string]any{"errorCode": err.code, "message": err.msg, "success": false, "data": d}
	}
	return map[string]any{"errorCode": codeOK, "message": "成功", "success": true, "data": data}
}

// deduction validates and records a selection; all-or-nothing. It is counted on the bills of the
// invoices it names (the bill an invoice is in, else the one it was collected for). Caller holds s.mu.
func (s *Sim) deduction(top fields, n *callNote) (any, *apiError) {
	n.counter = counterDeduction
	if _, err := top.str("businessSystemCode", true, 0); err != nil {
		return nil, err
	}
	code, err := top.str("interfaceCode", true, 0)
	if err != nil {
		return nil, err
	}
	if code != "invoiceSelect" {
		return nil, &apiError{code: codeUnknownType, field: "interfaceCode", msg: "interfaceCode: 不支持 " + code + " (want invoiceSelect)"}
	}
	f, err := top.requiredObj("data")
	if err != nil {
		return nil, err
	}
	flag, err := f.oneOf("authenticateFlag", true, "0", "1")
	if err != nil {
		return nil, err
	}
	taxNo, err := f.str("taxNo", true, 0)
	if err != nil {
		return nil, err
	}
	purpose, err := f.oneOf("deductionPurpose", flag == "1", "1", "2", "3")
	if err != nil {
		return nil, err
	}
	if _, err := f.oneOf("billType", false, "0", "1"); err != nil {
		return nil, err
	}
	asyncFlag, err := f.oneOf("asyncFlag", false, "0", "1")
	if err != nil {
		return nil, err
	}
	items, err := f.list("invoices", true)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, badParam("data.invoices", "must not be empty")
	}
	var picked []*poolInvoice
	for _, it := range items {
		for _, name := range []string{"invoiceType", "invoiceNo", "invoiceDate"} {
			if _, err := it.str(name, true, 0); err != nil {
				return nil, err
			}
		}
		for _, name := range []string{"invoiceAmount", "totalTaxAmount"} {
			d, err := it.dec(name)
			if err != nil {
				return nil, err
			}
			if d == nil {
				return nil, badParam(it.path(name), "必填 (required)")
			}
		}
		no, _ := it.str("invoiceNo", true, 0)
		invCode, _ := it.str("invoiceCode", false, 0)
		var match *poolInvoice
		for _, pi := range s.pool {
			if pi.inv.InvoiceNo == no && (invCode == "" || pi.inv.InvoiceCode == invCode) {
				match = pi
				break
			}
		}
		if match != nil {
			if match.bill != nil {
				n.about(*match.bill)
			} else {
				n.about(match.collectedFor)
			}
		}
		if match == nil {
			return nil, businessError(CodeDeductionNoMatch, it.path("invoiceNo"), "发票不在发票池中 (invoiceNo "+no+")")
		}
		if normTaxNo(match.inv.BuyerTaxNo) != normTaxNo(taxNo) {
			return nil, businessError(CodeDeductionNoMatch, it.path("invoiceNo"),
				"购方税号与taxNo不一致 (invoice buyer "+match.inv.BuyerTaxNo+")")
		}
		if amt, _ := it.dec("invoiceAmount"); !amt.Equal(match.inv.InvoiceAmount) {
			return nil, badParam(it.path("invoiceAmount"), "与发票池中的金额不一致 "+match.inv.InvoiceAmount.StringFixed(2))
		}
		picked = append(picked, match)
	}
	taskNo := "T" + s.Now().Format("20060102") + randomDigits(s.codeRand, 10)
	success := make([]map[string]any, 0, len(picked))
	for _, pi := range picked {
		if d := pi.deduction; (d == nil && flag == "1") || (d != nil && (d.Selected != (flag == "1") || d.Purpose != purpose || d.TaxNo != taxNo)) {
			n.changed = true
		}
		pi.deduction = &deductionState{Selected: flag == "1", Purpose: purpose, TaskNo: taskNo, TaxNo: taxNo}
		success = append(success, map[string]any{
			"serialNo": pi.inv.SerialNo, "invoiceCode": pi.inv.InvoiceCode, "invoiceNo": pi.inv.InvoiceNo,
			"authenticateFlag": flag,
		})
		if flag == "1" {
			s.stats.DeductionSelected++
		} else {
			s.stats.DeductionUndone++
		}
	}
	return map[string]any{"asyncFlag": asyncFlag, "taskNo": taskNo, "success": success}, nil
}
