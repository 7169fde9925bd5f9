package invoicecloud

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Requests are validated before they are sent, so a bad request never leaves the process and
// fails fast (non-retryable) with the JSON path of the offending field, e.g. invoiceData[2].serialNo.

// MaxResourceLen is the cloud's limit on `resource` (the source system code).
const MaxResourceLen = 10

var (
	// Unified social credit code: 2 registration chars, 6-digit region, 10 chars (org code + check).
	usccPattern = regexp.MustCompile(`^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$`)
	// Older taxpayer numbers: 15, 17 or 20 uppercase alphanumerics.
	legacyTaxNoPattern = regexp.MustCompile(`^(?:[0-9A-Z]{15}|[0-9A-Z]{17}|[0-9A-Z]{20})$`)
)

// ValidTaxNo reports whether s has the shape of a Chinese taxpayer id: an 18-char unified social
// credit code or a legacy 15/17/20-char number. Only the shape is checked here, not the check
// character: this is what the client sends and reads (an invoice's seller as the cloud reports
// it is never refused for it). The API checks the check character of what the ERP sends
// (CreditCodeProblem).
func ValidTaxNo(s string) bool {
	switch len(s) {
	case 18:
		return usccPattern.MatchString(s)
	case 15, 17, 20:
		return legacyTaxNoPattern.MatchString(s)
	}
	return false
}

// creditCodeChars are the characters of a unified social credit code, in the order of their
// values (GB 32100-2015 §4: digits and the capital letters but I, O, S, V and Z).
const creditCodeChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditCodeWeights are GB 32100-2015's weights of the first 17 characters (3^(i) mod 31).
var creditCodeWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// CreditCodeCheckChar is the check character (the 18th) of a unified social credit code whose
// first 17 characters are first17 (GB 32100-2015 §5: 31 - (Σ value×weight mod 31), 31 read as 0);
// false when first17 is not 17 characters of the code's alphabet.
func CreditCodeCheckChar(first17 string) (byte, bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditCodeChars, first17[i])
		if v < 0 {
			return 0, false
		}
		sum += v * creditCodeWeights[i]
	}
	return creditCodeChars[(31-sum%31)%31], true
}

// CreditCodeProblem explains why an 18-character tax number (upper-cased) is not a unified social
// credit code: its check character does not verify (a typo). "" for a code that verifies and for
// any other length: the 15-, 17- and 20-character numbers of before the unified code (tax
// registration numbers, individuals' numbers) are still printed on invoices and accepted by their
// shape alone (docs/invoicecloud.md).
func CreditCodeProblem(s string) string {
	if len(s) != 18 || !usccPattern.MatchString(s) {
		return ""
	}
	if want, ok := CreditCodeCheckChar(s[:17]); ok && want != s[17] {
		return fmt.Sprintf("not a unified social credit code: the check character (GB 32100) of %s is %c, not %c: a typo?", s[:17], want, s[17])
	}
	return ""
}

// NormalizeTaxNo is a tax number as rimflow compares and routes it: trimmed and upper-cased
// (taxpayer ids are upper-case letters and digits; ERPs send them in any case).
func NormalizeTaxNo(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// validator collects the first problem found; later checks are no-ops.
type validator struct {
	messageType string
	err         *Error
}

func (v *validator) fail(field, format string, args ...any) {
	if v.err == nil {
		v.err = FieldError(v.messageType, field, format, args...)
	}
}

func (v *validator) required(field, s string) bool {
	if strings.TrimSpace(s) == "" {
		v.fail(field, "required")
		return false
	}
	return true
}

func (v *validator) resource(field, s string) {
	if v.required(field, s) && utf8.RuneCountInString(s) > MaxResourceLen {
		v.fail(field, "at most %d characters, got %d", MaxResourceLen, utf8.RuneCountInString(s))
	}
}

func (v *validator) taxNo(field, s string, required bool) {
	if s == "" && !required {
		return
	}
	if v.required(field, s) && !ValidTaxNo(s) {
		v.fail(field, "not a taxpayer id (18-char unified social credit code or 15/17/20 uppercase letters/digits)")
	}
}

func (v *validator) oneOf(field, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	if s == "" {
		v.fail(field, "required, one of %s", strings.Join(allowed, ", "))
		return
	}
	v.fail(field, "must be one of %s, got %q", strings.Join(allowed, ", "), s)
}

func (v *validator) optionalOneOf(field, s string, allowed ...string) {
	if s != "" {
		v.oneOf(field, s, allowed...)
	}
}

func (v *validator) date(field, s string) {
	if v.required(field, s) {
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			v.fail(field, "must be a date yyyy-MM-dd, got %q", s)
		}
	}
}

// dateOrDateTime accepts yyyy-MM-dd or yyyy-MM-dd HH:mm:ss (accountTime is a time in some ERPs).
func (v *validator) dateOrDateTime(field, s string) {
	if v.required(field, s) {
		_, e1 := time.Parse(time.DateOnly, s)
		_, e2 := time.Parse(time.DateTime, s)
		if e1 != nil && e2 != nil {
			v.fail(field, "must be a date yyyy-MM-dd (or yyyy-MM-dd HH:mm:ss), got %q", s)
		}
	}
}

// amount: money is non-negative with at most two decimal places (fen).
func (v *validator) amount(field string, d *decimal.Decimal) {
	if d == nil {
		return
	}
	if d.IsNegative() {
		v.fail(field, "must not be negative, got %s", d.String())
	} else if !d.Equal(d.Round(2)) {
		v.fail(field, "at most 2 decimal places, got %s", d.String())
	}
}

// base64 requires standard Base64 text (cover pages, images).
func (v *validator) base64(field, s string) {
	if v.required(field, s) {
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			v.fail(field, "not valid base64")
		}
	}
}

// bill checks what identifies a bill in every call that names one.
func (v *validator) bill(billID, resource, billNo, billType string) {
	v.required("billId", billID)
	v.resource("resource", resource)
	v.required("billNo", billNo)
	v.required("billType", billType)
}

func validateMessageID(v *validator, name, id string) {
	if v.required(name, id) && len(id) > 128 {
		v.fail(name, "at most 128 characters")
	}
}

// ValidateEventCode checks getEventCode's request (mt names the call in the error).
func ValidateEventCode(mt, messageID string, r EventCodeRequest) error {
	v := &validator{messageType: mt}
	validateMessageID(v, "messageId", messageID)
	v.bill(r.BillID, r.Resource, r.BillNo, r.BillType)
	v.taxNo("billTaxNo", r.BillTaxNo, false)
	v.oneOf("pushType", r.PushType, "socket", "poll")
	v.required("userId", r.UserID)
	v.required("linkKey", r.LinkKey)
	for i, co := range r.CompanyInfo {
		v.taxNo(fmt.Sprintf("companyInfo[%d].taxNo", i), co.TaxNo, true)
		v.required(fmt.Sprintf("companyInfo[%d].name", i), co.Name)
	}
	return errOrNil(v)
}

// ValidateBillSave checks billSave's request.
func ValidateBillSave(mt, messageID string, r BillSaveRequest) error {
	v := &validator{messageType: mt}
	validateMessageID(v, "messageId", messageID)
	v.bill(r.BillID, r.Resource, r.BillNo, r.BillType)
	v.taxNo("billTaxNo", r.BillTaxNo, true)
	v.oneOf("status", r.Status, StatusUnused, StatusInUse, StatusUsed)
	if c := r.CoverData; c != nil {
		v.base64("coverData.base64", c.Base64)
		v.required("coverData.coveNo", c.CoveNo)
		v.oneOf("coverData.coveType", c.CoveType, "1", "2")
	}
	if len(r.InvoiceData) == 0 {
		v.fail("invoiceData", "at least one invoice is required")
	}
	seen := map[string]int{}
	for i, inv := range r.InvoiceData {
		p := fmt.Sprintf("invoiceData[%d].", i)
		if v.required(p+"serialNo", inv.SerialNo) {
			if j, dup := seen[inv.SerialNo]; dup {
				v.fail(p+"serialNo", "duplicate of invoiceData[%d]", j)
			}
			seen[inv.SerialNo] = i
		}
		v.amount(p+"amount", inv.Amount)
		v.optionalOneOf(p+"deductionFlag", inv.DeductionFlag, "0", "1")
		v.amount(p+"deductionTaxAmount", inv.DeductionTaxAmount)
		v.amount(p+"outputAmount", inv.OutputAmount)
		v.amount(p+"useAmount", inv.UseAmount)
		v.amount(p+"effectiveTaxAmount", inv.EffectiveTaxAmount)
		v.optionalOneOf(p+"deductionPurpose", inv.DeductionPurpose, "1", "2", "3")
		for j, a := range inv.AttachData {
			ap := fmt.Sprintf("%sattachData[%d].", p, j)
			v.required(ap+"attachUrl", a.AttachURL)
			v.required(ap+"attachName", a.AttachName)
		}
	}
	return errOrNil(v)
}

// ValidateVoucherSave checks voucherSave's request.
func ValidateVoucherSave(mt, messageID string, r VoucherSaveRequest) error {
	v := &validator{messageType: mt}
	validateMessageID(v, "messageId", messageID)
	v.required("vouchId", r.VouchID)
	v.required("vouchNo", r.VouchNo)
	v.date("accountDate", r.AccountDate)
	v.dateOrDateTime("accountTime", r.AccountTime)
	v.date("businessDate", r.BusinessDate)
	v.resource("resource", r.Resource)
	nonEmptyList(v, "serialNoArray", r.SerialNoArray)
	nonEmptyList(v, "expenseIdArray", r.ExpenseIDArray)
	return errOrNil(v)
}

func nonEmptyList(v *validator, field string, list []string) {
	if len(list) == 0 {
		v.fail(field, "at least one entry is required")
	}
	for i, s := range list {
		v.required(fmt.Sprintf("%s[%d]", field, i), s)
	}
}

// ValidateVoucherReverse checks a voucher reversal's request.
func ValidateVoucherReverse(mt, messageID string, r VoucherReverseRequest) error {
	v := &validator{messageType: mt}
	validateMessageID(v, "messageId", messageID)
	v.required("vouchId", r.VouchID)
	v.required("vouchNo", r.VouchNo)
	v.resource("resource", r.Resource)
	nonEmptyList(v, "serialNoArray", r.SerialNoArray)
	nonEmptyList(v, "expenseIdArray", r.ExpenseIDArray)
	return errOrNil(v)
}

// ValidateUnbind checks an unbind's request.
func ValidateUnbind(mt, messageID string, r UnbindRequest) error {
	v := &validator{messageType: mt}
	validateMessageID(v, "messageId", messageID)
	v.required("billId", r.BillID)
	v.resource("resource", r.Resource)
	v.required("billType", r.BillType) // part of the [assumed] billDelete shape
	return errOrNil(v)
}

// ValidateDeduction checks a deduction selection's request.
func ValidateDeduction(name, requestID string, r DeductionRequest) error {
	v := &validator{messageType: name}
	validateMessageID(v, "requestId", requestID)
	v.oneOf("authenticateFlag", r.AuthenticateFlag, "0", "1")
	v.taxNo("taxNo", r.TaxNo, true)
	if r.AuthenticateFlag == "1" {
		v.oneOf("deductionPurpose", r.DeductionPurpose, "1", "2", "3")
	} else {
		v.optionalOneOf("deductionPurpose", r.DeductionPurpose, "1", "2", "3")
	}
	v.optionalOneOf("billType", r.BillType, "0", "1")
	v.optionalOneOf("asyncFlag", r.AsyncFlag, "0", "1")
	if len(r.Invoices) == 0 {
		v.fail("invoices", "at least one invoice is required")
	}
	for i, inv := range r.Invoices {
		p := fmt.Sprintf("invoices[%d].", i)
		v.required(p+"invoiceType", inv.InvoiceType)
		v.required(p+"invoiceNo", inv.InvoiceNo)
		v.date(p+"invoiceDate", inv.InvoiceDate)
		ia, tt := inv.InvoiceAmount, inv.TotalTaxAmount
		v.amount(p+"invoiceAmount", &ia)
		v.amount(p+"totalTaxAmount", &tt)
		v.amount(p+"effectiveTaxAmount", inv.EffectiveTaxAmount)
		v.taxNo(p+"salerTaxNo", inv.SalerTaxNo, false)
	}
	return errOrNil(v)
}

// errOrNil avoids the typed-nil trap of returning a nil *Error as error.
func errOrNil(v *validator) error {
	if v.err == nil {
		return nil
	}
	return v.err
}
