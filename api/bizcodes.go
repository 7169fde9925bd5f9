package api

import "encoding/json"

// BusinessCode is one row of the stable table an ERP maps its own messages to: error.businessCode.
// A code never changes meaning and is never reused; new situations get new codes. docs/errors.md
// is the table for people (TestBusinessCodesAreDocumented keeps it complete).
type BusinessCode struct {
	Code    string // "RF2001"
	Status  int    // the HTTP status the answer carries
	APICode string // error.code
	SubCode string // error.subCode (409), or the cloudCode class of a 502 ("http", "config"), or ""
	Meaning string
}

// BusinessCodes is the whole table, in order. error.code and error.subCode stay as they were;
// businessCode is the one key that tells every answer apart.
var BusinessCodes = []BusinessCode{
	{"RF1000", 400, CodeInvalidJSON, "", "the body is not UTF-8 JSON, has trailing data, a wrong type or an unknown field (fields names it)"},
	{"RF1001", 400, CodeValidation, "", "the input breaks a rule; fields names every bad field"},
	{"RF1002", 413, CodeBodyTooLarge, "", "the body, a forwarded payload or a batch is over its limit"},
	{"RF1003", 415, CodeUnsupportedMediaType, "", "a POST without Content-Type: application/json"},
	{"RF1004", 422, CodeKeyReused, "", "the Idempotency-Key was used before with another request (fields names the header)"},
	{"RF1100", 401, CodeUnauthorized, "", "missing or wrong bearer token"},
	{"RF1101", 403, CodeForbidden, "", "the client may not use the operation on this resource"},
	{"RF1102", 429, CodeTooManyRequests, "", "too many wrong bearer tokens from the caller's address; wait Retry-After"},
	{"RF1200", 404, CodeNotFound, "", "no such bill (or route)"},
	{"RF1201", 405, CodeMethodNotAllowed, "", "known path, other method"},
	{"RF1202", 404, CodeNotFound, SubNoWebhook, "the client has no webhook for this resource"},
	{"RF2000", 409, CodeConflict, SubRefused, "the bill refused the operation for another reason; the message says why"},
	{"RF2001", 409, CodeConflict, SubWrongStage, "the bill is not in a stage that takes the operation"},
	{"RF2002", 409, CodeConflict, SubAlreadyDecided, "the role (or the voucher) has decided already, differently"},
	{"RF2003", 409, CodeConflict, SubInProgress, "the same kind of operation is being applied now: read the state later"},
	{"RF2004", 409, CodeAlreadyFinished, SubFinished, "the bill has ended; its key lives once"},
	{"RF2005", 409, CodeConflict, SubBillFailed, "the bill is failed: retry, amend or cancel it first"},
	{"RF2006", 409, CodeConflict, SubVoucherSaved, "the voucher is saved: nothing is undone after it"},
	{"RF2007", 409, CodeConflict, SubNoInvoices, "nothing is bound: nothing to submit"},
	{"RF2008", 409, CodeConflict, SubPolicy, "segregation of duties or the policy refused it"},
	{"RF2009", 409, CodeConflict, SubDifferentBody, "a start for a running bill with other values; fields names each"},
	{"RF2010", 409, CodeConflict, SubVoucherInUse, "the vouchId is booked on another bill; fields.vouchId names it"},
	{"RF2011", 409, CodeConflict, SubVoucherShared, "a voucher reversal of a voucher booked on several bills (a voucher set); fields.vouchId names the others"},
	{"RF2012", 409, CodeConflict, SubDeductionSelected, "a voucher reversal after the bill's invoices were selected for deduction (勾选): undo that first"},
	{"RF2013", 409, CodeConflict, SubJournalPruned, "a webhook replay from a sequence the journal no longer keeps; fields.fromSeq names the oldest kept"},
	{"RF3000", 502, CodeCloudRefused, "", "Invoice Cloud refused the call for good: cloudCode is its code, cloudMessage its own text"},
	{"RF3001", 502, CodeCloudRefused, "http", "Invoice Cloud failed at the HTTP level (cloudCode http)"},
	{"RF3002", 502, CodeCloudRefused, "config", "the worker's credentials or settings for the cloud are refused (cloudCode config; field names the setting)"},
	{"RF9000", 503, CodeUnavailable, "", "Temporal is unreachable: try again later"},
	{"RF9001", 504, CodeTimeout, "", "the bill did not answer in time; the call may still take effect"},
	{"RF9999", 500, CodeInternal, "", "a defect: the server's log line (by requestId) says more"},
}

// businessCodeOf finds e's row: by code and sub-code (a 502 by its cloudCode class), else the
// code's general row.
func businessCodeOf(e *Error) string {
	sub := e.SubCode
	if e.Code == CodeCloudRefused {
		sub = e.CloudCode
	}
	general := ""
	for _, b := range BusinessCodes {
		if b.APICode != e.Code {
			continue
		}
		if b.SubCode == sub && sub != "" {
			return b.Code
		}
		if general == "" {
			general = b.Code
		}
	}
	if general == "" {
		return "RF9999"
	}
	return general
}

// MarshalJSON fills businessCode: every error answer (API and CLI) carries it, however the
// Error was made.
func (e Error) MarshalJSON() ([]byte, error) {
	type plain Error
	out := plain(e)
	if out.BusinessCode == "" {
		out.BusinessCode = businessCodeOf(&e)
	}
	return json.Marshal(out)
}

func businessCodeList() []string {
	out := make([]string, len(BusinessCodes))
	for i, b := range BusinessCodes {
		out[i] = b.Code
	}
	return out
}
