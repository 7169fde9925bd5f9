package simulator

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// getEventCode stores the bill's parameters and answers a fresh eventCode valid EventCodeTTL.
// Caller holds s.mu.
func (s *Sim) getEventCode(f fields, _ *callNote) (any, *apiError) {
	var (
		p   [9]string
		err *apiError
	)
	specs := []struct {
		name     string
		required bool
		max      int
	}{
		{"billId", true, 0}, {"resource", true, 10}, {"billNo", true, 0}, {"billType", true, 0},
		{"billTaxNo", false, 0}, {"orgNumber", false, 0}, {"pushType", true, 0}, {"userId", true, 0}, {"linkKey", true, 0},
	}
	for i, sp := range specs {
		if p[i], err = f.str(sp.name, sp.required, sp.max); err != nil {
			return nil, err
		}
	}
	billID, resource, billNo, billType, billTaxNo, orgNumber, pushType, userID, linkKey := p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]
	if pushType != "socket" && pushType != "poll" {
		return nil, badParam("pushType", "must be socket or poll")
	}
	items, err := f.list("companyInfo", false)
	if err != nil {
		return nil, err
	}
	companies := make([]Company, 0, len(items))
	for _, it := range items {
		taxNo, err := it.str("taxNo", true, 0)
		if err != nil {
			return nil, err
		}
		name, err := it.str("name", true, 0)
		if err != nil {
			return nil, err
		}
		companies = append(companies, Company{TaxNo: taxNo, Name: name})
	}

	key := billKey{Resource: resource, BillID: billID}
	b := s.bills[key]
	if b == nil {
		b = &bill{key: key, created: s.Now()}
		s.bills[key] = b
	}
	if !slices.Equal(b.companies, companies) || b.billTaxNo != billTaxNo {
		b.resetSamples() // the buyer shown on the samples changes
	}
	b.billNo, b.billType, b.billTaxNo, b.orgNumber = billNo, billType, billTaxNo, orgNumber
	b.pushType, b.userID, b.linkKey, b.companies = pushType, userID, linkKey, companies
	b.eventCodes++

	if !slices.Contains(b.linkKeys, linkKey) {
		b.linkKeys = append(b.linkKeys, linkKey)
	}

	code := randomHex(s.codeRand, 32)
	s.eventCodes[code] = &eventCode{code: code, bill: key, linkKey: linkKey, expires: s.Now().Add(s.opts.EventCodeTTL)}
	// A poll may arrive before anything is collected. The latest getEventCode's pushType decides
	// how the linkKey delivers: poll keeps its messages from sockets.
	s.linkQueue(linkKey).pollOnly = pushType == "poll"
	s.stats.EventCodesIssued++
	return map[string]any{"eventCode": code}, nil
}

type billSaveLine struct {
	serialNo string
	line     billLine
}

// noteBill tells the accounting which bill a call names, read leniently before validation so a
// refused call is counted on its bill too.
func noteBill(f fields, n *callNote) {
	id, _ := f.str("billId", false, 0)
	res, _ := f.str("resource", false, 0)
	if id != "" && res != "" {
		n.about(billKey{Resource: res, BillID: id})
	}
}

// billSave binds the invoices sent to the bill with the status sent; the bill's set becomes
// exactly what was sent (unless the [assumed] replacement is switched off: then it only adds and
// updates). All checks run before anything changes. Caller holds s.mu.
func (s *Sim) billSave(f fields, n *callNote) (any, *apiError) {
	st, _ := f.str("status", false, 0)
	n.counter = counterBillSave + st
	noteBill(f, n)
	var (
		p   [6]string
		err *apiError
	)
	for i, sp := range []struct {
		name     string
		required bool
		max      int
	}{{"billId", true, 0}, {"resource", true, 10}, {"billNo", true, 0}, {"billType", true, 0}, {"billTaxNo", true, 0}, {"orgNumber", false, 0}} {
		if p[i], err = f.str(sp.name, sp.required, sp.max); err != nil {
			return nil, err
		}
	}
	billID, resource, billNo, billType, billTaxNo, orgNumber := p[0], p[1], p[2], p[3], p[4], p[5]
	status, err := f.oneOf("status", true, StatusUnused, StatusInUse, StatusUsed)
	if err != nil {
		return nil, err
	}
	var cov *cover
	if cf, ok, err := f.obj("coverData"); err != nil {
		return nil, err
	} else if ok {
		b64, err := cf.str("base64", true, 0)
		if err != nil {
			return nil, err
		}
		raw, derr := base64.StdEncoding.DecodeString(b64)
		if derr != nil {
			return nil, badParam("coverData.base64", "must be standard base64")
		}
		if most := s.opts.Limits.CoverBytes; most > 0 && len(raw) > most {
			return nil, badParam("coverData.base64", fmt.Sprintf("封面文件过大 (at most %d bytes) [assumed]", most))
		}
		coveNo, err := cf.str("coveNo", true, 0)
		if err != nil {
			return nil, err
		}
		coveType, err := cf.oneOf("coveType", true, "1", "2")
		if err != nil {
			return nil, err
		}
		cov = &cover{CoveNo: coveNo, CoveType: coveType, Bytes: len(raw)}
	}
	items, err := f.list("invoiceData", true)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 && s.opts.Strict {
		return nil, badParam("invoiceData", "不能为空 (strict: billSave must name at least one invoice; release a bill's invoices with "+s.opts.Paths.UnbindMessageType+")")
	}
	replaceSet := s.opts.Assume.BillSaveReplacesSet()
	key := billKey{Resource: resource, BillID: billID}
	lines := make([]billSaveLine, 0, len(items))
	seen := map[string]bool{}
	attached := 0
	for _, it := range items {
		sn, err := it.str("serialNo", true, 0)
		if err != nil {
			return nil, err
		}
		if seen[sn] {
			return nil, badParam(it.path("serialNo"), "duplicate serialNo "+sn+" in invoiceData")
		}
		seen[sn] = true
		var l billLine
		if l.Amount, err = it.dec("amount"); err != nil {
			return nil, err
		}
		if l.DeductionFlag, err = it.oneOf("deductionFlag", false, "0", "1"); err != nil {
			return nil, err
		}
		if l.DeductionTaxAmount, err = it.dec("deductionTaxAmount"); err != nil {
			return nil, err
		}
		if l.OutputAmount, err = it.dec("outputAmount"); err != nil {
			return nil, err
		}
		if l.Remark, err = it.str("remark", false, s.opts.Limits.RemarkLen); err != nil {
			return nil, err
		}
		if l.EntryID, err = it.str("entryId", false, s.opts.Limits.EntryIDLen); err != nil {
			return nil, err
		}
		if l.Attach, err = attachLines(it, sn, s.opts.Limits); err != nil {
			return nil, err
		}
		if attached += len(l.Attach); s.opts.Limits.Attachments > 0 && attached > s.opts.Limits.Attachments {
			return nil, badParam(it.path("attachData"), fmt.Sprintf("附件过多 (at most %d per bill) [assumed]", s.opts.Limits.Attachments))
		}
		pi, ok := s.pool[sn]
		if !ok {
			return nil, businessError(CodeSerialNotInPool, it.path("serialNo"), "发票不存在于发票池 (serialNo "+sn+" was never collected)")
		}
		if pi.bill != nil && *pi.bill != key && pi.status != StatusUnused {
			return nil, businessError(CodeSerialBoundElse, it.path("serialNo"), fmt.Sprintf(
				"发票已被其他单据占用 (serialNo %s is %s in bill %s/%s)", sn, StatusLabel(pi.status), pi.bill.Resource, pi.bill.BillID))
		}
		current := StatusUnused
		if pi.bill != nil && *pi.bill == key {
			current = pi.status
		}
		if pi.voucherID != "" && status != current {
			return nil, businessError(CodeBadTransition, it.path("serialNo"), "发票已入账，不能修改状态 (serialNo "+sn+" has voucher)")
		}
		if current == StatusUsed && status == StatusInUse {
			return nil, businessError(CodeBadTransition, it.path("serialNo"), "状态不能从已用(60)改为在用(30) (serialNo "+sn+")")
		}
		if l.Amount != nil && l.Amount.GreaterThan(pi.inv.TotalAmount) {
			return nil, badParam(it.path("amount"), "报销金额不能大于发票价税合计 "+pi.inv.TotalAmount.StringFixed(2))
		}
		if l.DeductionTaxAmount != nil && l.DeductionTaxAmount.GreaterThan(pi.inv.TotalTaxAmount) {
			return nil, badParam(it.path("deductionTaxAmount"), "不能大于发票税额 "+pi.inv.TotalTaxAmount.StringFixed(2))
		}
		if l.OutputAmount != nil && l.OutputAmount.GreaterThan(pi.inv.TotalTaxAmount) {
			return nil, badParam(it.path("outputAmount"), "转出金额不能大于发票税额 "+pi.inv.TotalTaxAmount.StringFixed(2))
		}
		// [assumed] A transfer out names its reason (转出原因): strict mode, as rimflow checks it.
		if l.OutputAmount != nil && l.Remark == "" && s.opts.Strict {
			return nil, badParam(it.path("remark"), "转出原因不能为空 (strict: outputAmount needs its remark)")
		}
		lines = append(lines, billSaveLine{serialNo: sn, line: l})
	}
	b := s.bills[key]
	if b != nil && replaceSet {
		for _, sn := range b.serials {
			if !seen[sn] && s.pool[sn].voucherID != "" {
				return nil, businessError(CodeBadTransition, "invoiceData", "发票已入账，不能从单据移除 (serialNo "+sn+")")
			}
		}
	}
	if cov != nil {
		if owner, ok := s.covers[coverKey{resource, cov.CoveNo}]; ok && owner != key {
			return nil, businessError(codeCoverConflict, "coverData.coveNo", fmt.Sprintf(
				"封面编号已被单据 %s/%s 使用 (coveNo+resource must be unique)", owner.Resource, owner.BillID))
		}
	}

	// Every check passed: apply.
	if b == nil {
		b = &bill{key: key, created: s.Now()}
		s.bills[key] = b
		n.changed = true
	}
	n.about(key) // a bill created here is counted too
	if b.billNo != billNo || b.billType != billType || b.billTaxNo != billTaxNo || (orgNumber != "" && b.orgNumber != orgNumber) ||
		b.status != status || b.unbound {
		n.changed = true
	}
	b.billNo, b.billType, b.billTaxNo = billNo, billType, billTaxNo
	if orgNumber != "" {
		b.orgNumber = orgNumber
	}
	var serials []string
	for _, sn := range slices.Clone(b.serials) {
		switch {
		case seen[sn]:
		case replaceSet:
			s.release(sn)
			n.changed = true
		default:
			serials = append(serials, sn) // kept: billSave only adds and updates
		}
	}
	for _, l := range lines {
		pi := s.pool[l.serialNo]
		if pi.bill != nil && *pi.bill != key {
			s.release(l.serialNo) // free at status 1 in another bill: it moves here
		}
		switch {
		case pi.bill == nil || *pi.bill != key:
			pi.history = append(pi.history, Binding{Event: "bind", Resource: key.Resource, BillID: key.BillID, Status: status, At: s.Now()})
			n.changed = true
		case pi.status != status:
			pi.history = append(pi.history, Binding{Event: "status", Resource: key.Resource, BillID: key.BillID, Status: status, At: s.Now()})
			n.changed = true
		case !pi.line.equal(l.line):
			n.changed = true
		}
		k := key
		pi.bill, pi.status, pi.line = &k, status, l.line
		serials = append(serials, l.serialNo)
	}
	if !slices.Equal(b.serials, serials) {
		n.changed = true
	}
	b.serials = serials
	b.status = status
	b.unbound = false
	b.billSaveCalls++
	if cov != nil && (b.cover == nil || *b.cover != *cov) {
		n.changed = true
	}
	if cov != nil {
		if b.cover != nil {
			delete(s.covers, coverKey{resource, b.cover.CoveNo})
		}
		b.cover = cov
		s.covers[coverKey{resource, cov.CoveNo}] = key
	}
	s.stats.BillSaveApplied++
	return map[string]any{}, nil
}

// release frees an invoice: status 1, no bill. Caller holds the Sim's mu.
func (k *books) release(serialNo string) {
	pi := k.pool[serialNo]
	if pi == nil || pi.bill == nil {
		return
	}
	pi.history = append(pi.history, Binding{Event: "release", Resource: pi.bill.Resource, BillID: pi.bill.BillID, Status: StatusUnused, At: k.clock.read()})
	if b := k.bills[*pi.bill]; b != nil {
		b.serials = slices.DeleteFunc(b.serials, func(v string) bool { return v == serialNo })
	}
	pi.bill, pi.status, pi.line = nil, StatusUnused, billLine{}
}

func validDate(v string) bool {
	_, err := time.Parse(time.DateOnly, v)
	return err == nil
}

// voucherSave records the voucher on invoices bound to the listed bills. Caller holds s.mu.
func (s *Sim) voucherSave(f fields, n *callNote) (any, *apiError) {
	n.counter = counterVoucherSave
	if ids, err := f.strList("expenseIdArray"); err == nil {
		for _, b := range s.bills {
			if slices.Contains(ids, b.key.BillID) {
				n.about(b.key)
			}
		}
	}
	var (
		p   [6]string
		err *apiError
	)
	for i, name := range []string{"vouchId", "vouchNo", "accountDate", "accountTime", "businessDate", "resource"} {
		if p[i], err = f.str(name, true, 0); err != nil {
			return nil, err
		}
	}
	v := &voucher{VouchID: p[0], VouchNo: p[1], AccountDate: p[2], AccountTime: p[3], BusinessDate: p[4], Resource: p[5]}
	for _, d := range []struct{ name, v string }{{"accountDate", v.AccountDate}, {"businessDate", v.BusinessDate}} {
		if !validDate(d.v) {
			return nil, badParam(d.name, "must be a date yyyy-MM-dd")
		}
	}
	if !validDate(v.AccountTime) {
		if _, terr := time.Parse(time.DateTime, v.AccountTime); terr != nil {
			return nil, badParam("accountTime", "must be a date yyyy-MM-dd")
		}
	}
	if v.SerialNoArray, err = f.strList("serialNoArray"); err != nil {
		return nil, err
	}
	if v.ExpenseIDArray, err = f.strList("expenseIdArray"); err != nil {
		return nil, err
	}
	var bills []*bill
	for i, id := range v.ExpenseIDArray {
		found := false
		for _, b := range s.bills {
			if b.key.BillID == id {
				bills = append(bills, b)
				found = true
			}
		}
		if !found {
			return nil, businessError(CodeBillNotFound, fmt.Sprintf("expenseIdArray[%d]", i), "单据不存在 (billId "+id+")")
		}
	}
	for i, sn := range v.SerialNoArray {
		pi, ok := s.pool[sn]
		if !ok {
			return nil, businessError(CodeSerialNotInPool, fmt.Sprintf("serialNoArray[%d]", i), "发票不存在于发票池 (serialNo "+sn+")")
		}
		if pi.bill == nil || pi.status == StatusUnused || !slices.Contains(v.ExpenseIDArray, pi.bill.BillID) {
			return nil, businessError(CodeVoucherNotBound, fmt.Sprintf("serialNoArray[%d]", i),
				"发票未关联到expenseIdArray中的单据 (serialNo "+sn+" is not bound to those bills)")
		}
	}
	// One voucher per bill [assumed]: the vendor's texts do not say what the same vouchId on another
	// bill does, so a save touches only the bills it lists. A bill's earlier voucher is replaced
	// (its invoices un-booked first); another bill holding the same vouchId keeps its own.
	for _, sn := range v.SerialNoArray {
		n.changed = n.changed || s.pool[sn].voucherID != v.VouchID
	}
	for _, b := range bills {
		n.changed = n.changed || b.voucherID != v.VouchID || !v.equal(s.vouchers[b.key])
	}
	for _, b := range bills {
		if old := s.vouchers[b.key]; old != nil {
			for _, sn := range old.SerialNoArray {
				if pi := s.pool[sn]; pi != nil && pi.bill != nil && *pi.bill == b.key && pi.voucherID == old.VouchID {
					pi.voucherID = ""
				}
			}
		}
		s.vouchers[b.key] = v
		b.voucherID = v.VouchID
	}
	for _, sn := range v.SerialNoArray {
		s.pool[sn].voucherID = v.VouchID
	}
	s.stats.VouchersSaved++
	return map[string]any{}, nil
}

// billDelete (the [assumed] unbind) releases every invoice of the bill. A bill the cloud knows
// with nothing bound answers success (nothing to do); an unknown bill answers 2001. Caller holds s.mu.
func (s *Sim) billDelete(f fields, n *callNote) (any, *apiError) {
	n.counter = counterBillDelete
	noteBill(f, n)
	billID, err := f.str("billId", true, 0)
	if err != nil {
		return nil, err
	}
	resource, err := f.str("resource", true, 10)
	if err != nil {
		return nil, err
	}
	billType, err := f.str("billType", true, 0)
	if err != nil {
		return nil, err
	}
	b := s.bills[billKey{resource, billID}]
	if b == nil {
		return nil, businessError(CodeBillNotFound, "billId", "单据不存在 ("+resource+"/"+billID+")")
	}
	if b.billType != "" && !strings.EqualFold(b.billType, billType) {
		return nil, badParam("billType", "does not match the bill's billType "+b.billType)
	}
	if b.voucherID != "" {
		return nil, businessError(CodeBillAccounted, "billId", "单据已生成凭证，不能删除 (voucher "+b.voucherID+")")
	}
	n.changed = len(b.serials) > 0 // a bill with nothing bound is already undone
	for _, sn := range slices.Clone(b.serials) {
		s.release(sn)
	}
	b.serials = nil
	b.unbound = true
	b.status = StatusUnused
	s.stats.BillsDeleted++
	return map[string]any{}, nil
}

// attachLines reads a billSave line's attachData (the public page's billSave): attachUrl and
// attachName required, serialNo (when given) the line's own.
func attachLines(it fields, serialNo string, lim Limits) ([]AttachView, *apiError) {
	items, err := it.list("attachData", false)
	if err != nil {
		return nil, err
	}
	var out []AttachView
	for _, a := range items {
		var v AttachView
		for _, sp := range []struct {
			name     string
			to       *string
			required bool
		}{{"attachUrl", &v.AttachURL, true}, {"attachName", &v.AttachName, true}, {"attachType", &v.AttachType, false},
			{"attachNo", &v.AttachNo, false}, {"remark", &v.Remark, false}} {
			most := map[string]int{"remark": lim.RemarkLen, "attachUrl": lim.AttachURLLen, "attachName": lim.AttachNameLen}[sp.name]
			if *sp.to, err = a.str(sp.name, sp.required, most); err != nil {
				return nil, err
			}
		}
		sn, err := a.str("serialNo", false, 0)
		if err != nil {
			return nil, err
		}
		if sn != "" && sn != serialNo {
			return nil, badParam(a.path("serialNo"), "附件的发票流水号必须是本行的 "+serialNo)
		}
		out = append(out, v)
	}
	return out, nil
}
