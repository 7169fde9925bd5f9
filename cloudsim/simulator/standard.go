package simulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// The standard edition (标准版) of the invoice assistant: getLinkKey, getUserKey, entry save,
// status update, entry delete and the [assumed] deduction, served per standard tenant on the
// same bills, invoice pool, queues and pages as the ultimate edition. Each call is translated
// to the ultimate operation it equals (getEventCode, billSave, voucherSave, billDelete,
// deduction), so both editions obey one set of rules; answers and field names are translated
// back (StdCodes, the per-call names below).

// StandardPaths are the standard edition's paths the vendor has not published [assumed].
type StandardPaths struct {
	Deduction    string // default /m4/fpzs/deduction/select
	ImagePush    string // default /m4/bds/erpBillPush
	ImageOperate string // default /m4/bds/operate
	ViewPage     string // default /m4-web/fpzs/view
	// VoucherReverse is the voucher reversal's (反记账, reversal.go), default /m4/fpzs/expense/voucher/delete.
	VoucherReverse string
}

// Public paths of the standard edition.
const (
	stdTokenPath        = "/base/oauth/token"
	stdLinkKeyPath      = "/m4/fpzs/getLinkKey"
	stdUserKeyPath      = "/m4/fpzs/getUserKey"
	stdEntrySavePath    = "/m4/fpzs/expense/entry/save"
	stdStatusUpdatePath = "/m4/fpzs/expense/invoice/status/update"
	stdEntryDeletePath  = "/m4/fpzs/expense/entry/delete"
	stdCollectPagePath  = "/m4-web/fpzs/index"
)

func (p StandardPaths) withDefaults() StandardPaths {
	for _, f := range []struct {
		v *string
		d string
	}{
		{&p.Deduction, "/m4/fpzs/deduction/select"}, {&p.ImagePush, "/m4/bds/erpBillPush"},
		{&p.ImageOperate, "/m4/bds/operate"}, {&p.ViewPage, "/m4-web/fpzs/view"},
		{&p.VoucherReverse, DefaultStdVoucherReversePath},
	} {
		if *f.v == "" {
			*f.v = f.d
		}
	}
	return p
}

// stdCodes translates the ultimate rules' codes into the standard edition's.
var stdCodes = map[string]string{
	codeBadParam: StdBadParam, CodeBillNotFound: StdBillNotFound, CodeSerialNotInPool: StdNotInPool,
	CodeSerialBoundElse: StdBoundElsewhere, CodeBadTransition: StdBadTransition, codeCoverConflict: stdCoverConflict,
	CodeVoucherNotBound: StdNotOnBill, CodeBillAccounted: StdBillAccounted, CodeDeductionNoMatch: stdDeductionRefuse,
	CodeVoucherMismatch: StdVoucherMismatch, CodeDeductionSelected: StdDeductionSelected,
}

// stdDefaultResource is a standard bill's resource when the call names none [assumed]: the
// standard edition keys a bill by bxd_key alone; rimflow also sends its resource.
const stdDefaultResource = "STD"

// standardOp is one standard call: it reads the plain body and answers data or a refusal.
// Caller holds s.mu.
type standardOp func(t *tenantState, f fields, n *callNote) (any, *apiError)

// standardRoutes registers the standard edition's endpoints.
func (s *Sim) standardRoutes(product func(method, path string, h http.HandlerFunc)) {
	p := s.opts.StandardPaths
	product("POST", stdTokenPath, s.handleStandardToken)
	product("POST", stdLinkKeyPath, s.standardCall("getLinkKey", s.stdGetLinkKey))
	product("POST", stdUserKeyPath, s.standardCall("getUserKey", s.stdGetUserKey))
	product("POST", stdEntrySavePath, s.standardCall("entrySave", s.stdEntrySave))
	product("POST", stdStatusUpdatePath, s.standardCall("statusUpdate", s.stdStatusUpdate))
	product("POST", stdEntryDeletePath, s.standardCall("entryDelete", s.stdEntryDelete))
	product("POST", p.Deduction, s.standardCall("deduction", s.stdDeduction))
	product("POST", p.VoucherReverse, s.standardCall("voucherReverse", s.stdVoucherReverse))
	product("POST", p.ImagePush, s.standardCall("erpBillPush", s.stdScanTask))
	product("POST", p.ImageOperate, s.standardCall("queryBillStatus", s.stdScanQuery))
	product("GET", stdCollectPagePath, s.handleStandardPage)
	product("GET", p.ViewPage, s.handleStandardPage)
}

// standardCall wraps an op: token, decryption, faults (by call name, like messageTypes), the
// {errcode, description, traceId, data} answer.
func (s *Sim) standardCall(name string, op standardOp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
		s.mu.Lock()
		defer s.mu.Unlock()
		t := s.standardTenant(w, r)
		if t == nil {
			return
		}
		s.stats.StandardCalls[name]++
		answer := func(data any, err *apiError) {
			trace := randomHex(s.codeRand, 16)
			if err != nil {
				s.log.Debug("cloudsim business error", "kind", name, "errorCode", err.code, "field", err.field)
				writeJSON(w, http.StatusOK, stdAnswer(err.code, err.msg, map[string]any{"traceId": trace, "data": map[string]any{"field": err.field}}))
				return
			}
			writeJSON(w, http.StatusOK, stdAnswer(stdOK, "操作成功", map[string]any{"traceId": trace, "data": data}))
		}
		if rerr != nil {
			answer(nil, badParam("body", rerr.Error()))
			return
		}
		plain, aerr := t.openBody(name, body)
		if aerr != nil {
			answer(nil, aerr)
			return
		}
		f, aerr := parseFields("", plain)
		if aerr != nil {
			answer(nil, aerr)
			return
		}
		status, afterApply := s.faultFor(name)
		if status != 0 && !afterApply {
			writeJSON(w, status, stdAnswer(codeServiceFault, "服务暂时不可用，请稍后重试 (injected fault)", nil))
			return
		}
		var note callNote
		data, aerr := op(t, f, &note)
		outcome := outcomeUnchanged
		switch {
		case aerr != nil:
			outcome = outcomeRefused
		case note.changed:
			outcome = outcomeApplied
		}
		s.countCall(note, outcome)
		if status != 0 {
			writeJSON(w, status, stdAnswer(codeServiceFault, "服务暂时不可用，请稍后重试 (injected fault)", nil))
			return
		}
		answer(data, aerr)
	}
}

// tin reads the call's tin: the tenant's enterprise, else 1101.
func (t *tenantState) tin(f fields) (string, *apiError) {
	tin, err := f.str("tin", true, 0)
	if err != nil {
		return "", err
	}
	if normTaxNo(tin) != normTaxNo(t.TaxNo) {
		return "", businessError(StdWrongCompany, "tin", "授权信息与企业不匹配 (client "+t.ClientID+" is not authorised for "+tin+")")
	}
	return t.TaxNo, nil
}

// translated builds an ultimate operation's fields from a standard body: names maps standard
// keys to ultimate ones (absent keys are left out), extra adds values.
func translated(f fields, names map[string]string, extra map[string]any) fields {
	out := fields{m: map[string]json.RawMessage{}}
	for std, ult := range names {
		if v, ok := f.m[std]; ok {
			out.m[ult] = v
		}
	}
	for k, v := range extra {
		raw, _ := json.Marshal(v)
		out.m[k] = raw
	}
	return out
}

// back translates an ultimate refusal into the standard edition's code and field names (names
// is the call's standard→ultimate map; the ultimate prefix of err.field is replaced).
func back(err *apiError, names map[string]string) *apiError {
	if err == nil {
		return nil
	}
	out := *err
	if c, ok := stdCodes[err.code]; ok {
		out.code = c
	}
	for std, ult := range names {
		if rest, ok := strings.CutPrefix(err.field, ult); ok && (rest == "" || rest[0] == '[' || rest[0] == '.') {
			out.field = std + rest
			out.msg = out.field + strings.TrimPrefix(err.msg, err.field)
			break
		}
	}
	return &out
}

// stdBill finds the bill of bxd_key (+ resource) for the tenant: nil (and no error) when unknown,
// 1305 when another enterprise's.
func (s *Sim) stdBill(t *tenantState, f fields) (*bill, billKey, *apiError) {
	id, err := f.str("bxd_key", true, 0)
	if err != nil {
		return nil, billKey{}, err
	}
	res, err := f.str("resource", false, 10)
	if err != nil {
		return nil, billKey{}, err
	}
	if res == "" {
		res = stdDefaultResource
		f.m["resource"], _ = json.Marshal(res)
	}
	key := billKey{Resource: res, BillID: id}
	b := s.bills[key]
	if b != nil && s.owner(b) != t {
		return nil, key, businessError(StdBillNotFound, "bxd_key", "单据不属于本企业 (bill "+res+"/"+id+" belongs to "+s.enterpriseOf(b)+")")
	}
	return b, key, nil
}

// stdGetLinkKey issues a linkKey (a poll may arrive before anything is collected).
func (s *Sim) stdGetLinkKey(t *tenantState, f fields, n *callNote) (any, *apiError) {
	if _, err := t.tin(f); err != nil {
		return nil, err
	}
	lk := "LK" + randomHex(s.codeRand, 30)
	t.linkKeys[lk] = true
	s.queue(LinkKeyHash(lk))
	return map[string]any{"linkKey": lk}, nil
}

var userKeyNames = map[string]string{"bxd_key": "billId", "resource": "resource", "billNumber": "billNo",
	"billType": "billType", "orgNumber": "orgNumber", "linkKey": "linkKey", "companyInfo": "companyInfo",
	"tin": "billTaxNo", "userId": "userId"}

// stdGetUserKey opens the invoice assistant for a bill (getEventCode): the userKey is the
// bill's page code, valid UserKeyTTL.
func (s *Sim) stdGetUserKey(t *tenantState, f fields, n *callNote) (any, *apiError) {
	tin, err := t.tin(f)
	if err != nil {
		return nil, err
	}
	ghf, err := f.str("ghf_mc", true, 0)
	if err != nil {
		return nil, err
	}
	if lk, _ := f.str("linkKey", false, 0); t.RequireIssuedLinkKey && !t.linkKeys[lk] {
		return nil, badParam("linkKey", "不是getLinkKey发放的linkKey (not issued by getLinkKey)")
	}
	source, err := f.oneOf("sourceType", false, "socket", "polling")
	if err != nil {
		return nil, err
	}
	user, _ := f.str("userId", false, 0)
	if user == "" {
		user, _ = f.str("eid", false, 0)
	}
	if _, _, err := s.stdBill(t, f); err != nil {
		return nil, err
	}
	extra := map[string]any{"billTaxNo": tin, "pushType": map[bool]string{true: "socket", false: "poll"}[source == "socket"], "userId": user}
	if !f.has("companyInfo") {
		extra["companyInfo"] = []Company{{TaxNo: tin, Name: ghf}}
	}
	data, aerr := s.getEventCode(translated(f, userKeyNames, extra), n)
	if aerr != nil {
		return nil, back(aerr, userKeyNames)
	}
	code := data.(map[string]any)["eventCode"].(string)
	ec := s.eventCodes[code]
	ec.expires = s.Now().Add(t.UserKeyTTL)
	s.bills[ec.bill].tenant = t
	return map[string]any{"userKey": code}, nil
}

var entryNames = map[string]string{"bxd_key": "billId", "resource": "resource", "billnumber": "billNo",
	"billType": "billType", "orgNumber": "orgNumber", "coverData": "coverData", "invoices": "invoiceData", "tin": "billTaxNo"}

// stdEntrySave makes the bill's invoice set exactly the invoices sent (billSave): new ones enter
// at 30, those already on the bill keep their status, those left out are released. A reimbursed
// bill (60) takes no new invoice. Each invoice must be in this enterprise's pool.
func (s *Sim) stdEntrySave(t *tenantState, f fields, n *callNote) (any, *apiError) {
	tin, err := t.tin(f)
	if err != nil {
		return nil, err
	}
	b, key, err := s.stdBill(t, f)
	if err != nil {
		return nil, err
	}
	items, err := f.list("invoices", true)
	if err != nil {
		return nil, err
	}
	status := StatusInUse
	if b != nil && b.status == StatusUsed && len(b.serials) > 0 {
		status = StatusUsed
	}
	for _, it := range items {
		sn, _ := it.str("serialNo", false, 0)
		pi := s.pool[sn]
		if pi != nil && s.owner(s.bills[pi.collectedFor]) != t {
			return nil, businessError(StdNotInPool, it.path("serialNo"), "发票不在本企业的发票池 (serialNo "+sn+")")
		}
		if status == StatusUsed && !slices.Contains(b.serials, sn) {
			return nil, businessError(StdBadTransition, it.path("serialNo"), "单据已报销，不能新增发票 (serialNo "+sn+")")
		}
	}
	if !f.has("billType") && b != nil {
		f.m["billType"], _ = json.Marshal(b.billType)
	}
	if !f.has("billnumber") && b != nil {
		f.m["billnumber"], _ = json.Marshal(b.billNo)
	}
	extra := map[string]any{"billTaxNo": tin, "status": status}
	data, aerr := s.billSave(translated(f, entryNames, extra), n)
	if aerr == nil && b == nil {
		s.bills[key].tenant = t // billSave opened the bill: it is this enterprise's
	}
	return data, back(aerr, entryNames)
}

var voucherNames = map[string]string{"serialNos": "serialNoArray", "bxd_keys": "expenseIdArray",
	"voucher.vouchId": "vouchId", "voucher.vouchNo": "vouchNo", "voucher.accountDate": "accountDate",
	"voucher.accountTime": "accountTime", "voucher.businessDate": "businessDate", "voucher.resource": "resource"}

// stdStatusUpdate sets the status of the bill's invoices (1, 30, 60: billSave with the whole
// set, which serialNos must list) or, with 65 已报销已入账, records the voucher (voucherSave).
func (s *Sim) stdStatusUpdate(t *tenantState, f fields, n *callNote) (any, *apiError) {
	tin, err := t.tin(f)
	if err != nil {
		return nil, err
	}
	status, err := f.oneOf("expenseStatus", true, StatusUnused, StatusInUse, StatusUsed, "65")
	if err != nil {
		return nil, err
	}
	serials, err := f.strList("serialNos")
	if err != nil {
		return nil, err
	}
	if status == "65" {
		return s.stdAccount(t, f, n)
	}
	b, _, err := s.stdBill(t, f)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, businessError(StdBillNotFound, "bxd_key", "单据不存在")
	}
	for i, sn := range serials {
		if !slices.Contains(b.serials, sn) {
			return nil, businessError(StdNotOnBill, fmt.Sprintf("serialNos[%d]", i), "发票不在该单据上 (serialNo "+sn+")")
		}
	}
	for _, sn := range b.serials {
		if !slices.Contains(serials, sn) {
			// The simulator keeps one status per bill, as billSave does [assumed].
			return nil, badParam("serialNos", "必须列出单据的全部发票 (missing "+sn+")")
		}
	}
	lines := make([]map[string]any, 0, len(b.serials))
	for _, sn := range b.serials {
		lines = append(lines, s.pool[sn].line.wire(sn))
	}
	data, aerr := s.billSave(translated(fields{}, nil, map[string]any{"billId": b.key.BillID, "resource": b.key.Resource,
		"billNo": b.billNo, "billType": b.billType, "billTaxNo": tin, "status": status, "invoiceData": lines}), n)
	if aerr = back(aerr, map[string]string{"serialNos": "invoiceData"}); aerr != nil {
		// invoiceData[i].serialNo is serialNos[i] here.
		field := strings.TrimSuffix(aerr.field, ".serialNo")
		aerr.msg, aerr.field = field+strings.TrimPrefix(aerr.msg, aerr.field), field
	}
	return data, aerr
}

// wire is a billSave line that keeps what entry save said about the invoice.
func (l billLine) wire(serialNo string) map[string]any {
	m := map[string]any{"serialNo": serialNo, "deductionFlag": l.DeductionFlag, "remark": l.Remark, "entryId": l.EntryID}
	if l.Amount != nil {
		m["amount"] = l.Amount
	}
	if l.DeductionTaxAmount != nil {
		m["deductionTaxAmount"] = l.DeductionTaxAmount
	}
	if l.OutputAmount != nil {
		m["outputAmount"] = l.OutputAmount
	}
	if len(l.Attach) > 0 {
		m["attachData"] = l.Attach
	}
	return m
}

// stdAccount is status 65: the voucher (voucherSave) on invoices of this enterprise's bills.
func (s *Sim) stdAccount(t *tenantState, f fields, n *callNote) (any, *apiError) {
	keys, err := f.strList("bxd_keys")
	if err != nil {
		return nil, err
	}
	v, ok, err := f.obj("voucher")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, badParam("voucher", "65 已报销已入账 needs the voucher {vouchId, vouchNo, accountDate, accountTime, businessDate, resource}")
	}
	for i, id := range keys {
		for _, b := range s.bills {
			if b.key.BillID == id && s.owner(b) != t {
				return nil, businessError(StdBillNotFound, fmt.Sprintf("bxd_keys[%d]", i), "单据不属于本企业 ("+id+")")
			}
		}
	}
	uf := translated(f, map[string]string{"serialNos": "serialNoArray", "bxd_keys": "expenseIdArray"}, nil)
	for k, raw := range v.m {
		uf.m[k] = raw
	}
	data, aerr := s.voucherSave(uf, n)
	return data, back(aerr, voucherNames)
}

var deleteNames = map[string]string{"bxd_key": "billId", "resource": "resource", "billType": "billType"}

// stdEntryDelete releases every invoice of the bill (billDelete). userKey is optional
// [assumed]; when given it must be one of the bill's.
func (s *Sim) stdEntryDelete(t *tenantState, f fields, n *callNote) (any, *apiError) {
	if _, err := t.tin(f); err != nil {
		return nil, err
	}
	b, key, err := s.stdBill(t, f)
	if err != nil {
		return nil, err
	}
	if uk, _ := f.str("userKey", false, 0); uk != "" {
		if ec := s.eventCodes[uk]; ec == nil || ec.bill != key {
			return nil, badParam("userKey", "不是该单据的userKey")
		}
	}
	if b != nil && !f.has("billType") {
		f.m["billType"], _ = json.Marshal(b.billType)
	}
	data, aerr := s.billDelete(translated(f, deleteNames, nil), n)
	return data, back(aerr, deleteNames)
}

// stdDeduction is the [assumed] deduction call: the ultimate invoiceSelect for the tenant's
// enterprise.
func (s *Sim) stdDeduction(t *tenantState, f fields, n *callNote) (any, *apiError) {
	tin, err := t.tin(f)
	if err != nil {
		return nil, err
	}
	if taxNo, _ := f.str("taxNo", false, 0); taxNo != "" && normTaxNo(taxNo) != normTaxNo(tin) {
		return nil, businessError(StdWrongCompany, "taxNo", "只能勾选本企业的发票 ("+taxNo+")")
	}
	if _, err := f.str("requestId", true, 0); err != nil {
		return nil, err
	}
	data := translated(f, map[string]string{"authenticateFlag": "authenticateFlag", "deductionPurpose": "deductionPurpose",
		"billType": "billType", "asyncFlag": "asyncFlag", "invoices": "invoices"}, map[string]any{"taxNo": tin})
	raw, _ := json.Marshal(data.m)
	top := translated(fields{}, nil, map[string]any{"businessSystemCode": "standard", "interfaceCode": "invoiceSelect",
		"data": json.RawMessage(raw)})
	out, aerr := s.deduction(top, n)
	if aerr != nil {
		aerr = back(aerr, nil)
		aerr.field = strings.TrimPrefix(aerr.field, "data.")
		aerr.msg = strings.TrimPrefix(aerr.msg, "data.")
	}
	return out, aerr
}
