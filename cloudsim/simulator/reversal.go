package simulator

import (
	"fmt"
	"slices"
)

// Voucher reversal (反记账) [assumed]: the vendor's texts name no call that takes a booked voucher
// back. The simulator's, like rimflow's client, is configurable: the ultimate edition's messageType
// Paths.VoucherReverseMessageType (default voucherDelete) with data {vouchId, vouchNo, resource,
// serialNoArray, expenseIdArray}, and the standard edition's StandardPaths.VoucherReverse (default
// /m4/fpzs/expense/voucher/delete) with {tin, vouchId, vouchNo, resource, serialNos, bxd_keys}.
// The invoices stay bound to their bills at 60 (the standard edition's 60 已报销未入账 again), so
// a new voucher can be booked; the reversed voucher is kept in the bill's view (reversedVouchers).

// Codes of the reversal [assumed].
const (
	CodeVoucherMismatch   = "2009" // the bill holds another voucher than vouchId
	CodeDeductionSelected = "2010" // an invoice of the voucher is selected for deduction (勾选): undo that first
	StdVoucherMismatch    = "1311"
	StdDeductionSelected  = "1312"
)

// DefaultVoucherReverseMessageType and DefaultStdVoucherReversePath are the [assumed] names.
const (
	DefaultVoucherReverseMessageType = "voucherDelete"
	DefaultStdVoucherReversePath     = "/m4/fpzs/expense/voucher/delete"
)

// voucherDelete takes vouchId off the bills of expenseIdArray. A bill that holds no voucher any
// more is already reversed (unchanged, success): a retried reversal is safe. Caller holds s.mu.
func (s *Sim) voucherDelete(f fields, n *callNote) (any, *apiError) {
	n.counter = counterVoucherDelete
	vouchID, err := f.str("vouchId", true, 0)
	if err != nil {
		return nil, err
	}
	if _, err := f.str("vouchNo", true, 0); err != nil {
		return nil, err
	}
	if _, err := f.str("resource", true, 10); err != nil {
		return nil, err
	}
	serials, err := f.strList("serialNoArray")
	if err != nil {
		return nil, err
	}
	ids, err := f.strList("expenseIdArray")
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, badParam("expenseIdArray", "不能为空")
	}
	var bills []*bill
	for i, id := range ids {
		found := false
		for _, b := range s.bills {
			if b.key.BillID == id {
				n.about(b.key)
				found = true
				if b.voucherID != "" && b.voucherID != vouchID {
					return nil, businessError(CodeVoucherMismatch, fmt.Sprintf("expenseIdArray[%d]", i),
						"单据的凭证不是该凭证 (bill "+id+" holds voucher "+b.voucherID+")")
				}
				if b.voucherID == vouchID {
					bills = append(bills, b)
				}
			}
		}
		if !found {
			return nil, businessError(CodeBillNotFound, fmt.Sprintf("expenseIdArray[%d]", i), "单据不存在 (billId "+id+")")
		}
	}
	for i, sn := range serials {
		pi, ok := s.pool[sn]
		if !ok {
			return nil, businessError(CodeSerialNotInPool, fmt.Sprintf("serialNoArray[%d]", i), "发票不存在于发票池 (serialNo "+sn+")")
		}
		if pi.bill == nil || !slices.Contains(ids, pi.bill.BillID) {
			return nil, businessError(CodeVoucherNotBound, fmt.Sprintf("serialNoArray[%d]", i),
				"发票未关联到expenseIdArray中的单据 (serialNo "+sn+" is not bound to those bills)")
		}
		if pi.voucherID != "" && pi.voucherID != vouchID {
			return nil, businessError(CodeVoucherMismatch, fmt.Sprintf("serialNoArray[%d]", i),
				"发票的凭证不是该凭证 (serialNo "+sn+" has voucher "+pi.voucherID+")")
		}
	}
	for _, b := range bills {
		for _, sn := range s.vouchers[b.key].SerialNoArray {
			if pi := s.pool[sn]; pi != nil && pi.voucherID == vouchID && pi.deduction != nil && pi.deduction.Selected {
				return nil, businessError(CodeDeductionSelected, "vouchId",
					"发票已勾选抵扣，不能反记账 (serialNo "+sn+" is selected for deduction)")
			}
		}
	}
	for _, b := range bills {
		old := s.vouchers[b.key]
		for _, sn := range old.SerialNoArray {
			if pi := s.pool[sn]; pi != nil && pi.bill != nil && *pi.bill == b.key && pi.voucherID == old.VouchID {
				pi.voucherID = ""
			}
		}
		b.reversed = append(b.reversed, old)
		delete(s.vouchers, b.key)
		b.voucherID = ""
		n.changed = true
	}
	if n.changed {
		s.stats.VouchersReversed++
	}
	return map[string]any{}, nil
}

var reverseNames = map[string]string{"serialNos": "serialNoArray", "bxd_keys": "expenseIdArray", "vouchId": "vouchId", "vouchNo": "vouchNo", "resource": "resource"}

// stdVoucherReverse is the standard edition's reversal: voucherDelete for this enterprise's bills.
func (s *Sim) stdVoucherReverse(t *tenantState, f fields, n *callNote) (any, *apiError) {
	if _, err := t.tin(f); err != nil {
		return nil, err
	}
	keys, err := f.strList("bxd_keys")
	if err != nil {
		return nil, err
	}
	for i, id := range keys {
		for _, b := range s.bills {
			if b.key.BillID == id && s.owner(b) != t {
				return nil, businessError(StdBillNotFound, fmt.Sprintf("bxd_keys[%d]", i), "单据不属于本企业 ("+id+")")
			}
		}
	}
	data, aerr := s.voucherDelete(translated(f, reverseNames, nil), n)
	return data, back(aerr, reverseNames)
}
