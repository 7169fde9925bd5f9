package simulator

// Error codes the simulator answers. The vendor publishes only some of them (0000, 1307, the
// OAuth2 401/603); the others are the simulator's documented choice, listed in docs/cloudsim.md so
// a client can map each one to the field or condition it names.

// Legacy auth (getAppToken.do, login.do): data.error_code.
const (
	authOK             = "0"
	authBadParams      = "1010" // a required field is missing; error_desc names it
	authBadAccountID   = "1011" // accountId does not name a data centre (数据中心)
	authBadAppID       = "1012" // appId unknown (第三方应用)
	authBadAppSecret   = "1013" // appSecuret does not match the appId
	authBadUser        = "1014" // user unknown in the tenant
	authBadAppToken    = "1015" // apptoken of login.do unknown or expired
	authBadTenantID    = "1016" // tenantid unknown
	oauth2BadClient    = "401"  // client_id/client_secret/username wrong (OAuth2, documented)
	oauth2BadParams    = "603"  // missing field or timestamp outside ±5 min (OAuth2, documented)
	oauth2RateLimited  = "429"  // more than OAuth2RatePerMinute calls for one client_id
	oauth2AccountIDBad = authBadAccountID
)

// Business calls (/kapi/app/rim/message, /kapi/app/rim/deduction): errorCode.
const (
	codeOK               = "0000"
	codeBadParam         = "1001" // a field is missing or invalid; message starts with the field path
	codeUnknownType      = "1002" // messageType (or interfaceCode) unknown
	codeBadJSON          = "1003" // the body is not the expected JSON
	codeMessageIDReused  = "1004" // messageId already used by a different messageType
	CodeBillNotFound     = "2001" // billId(+resource) unknown
	CodeSerialNotInPool  = "2002" // serialNo not in the invoice pool (never collected)
	CodeSerialBoundElse  = "2003" // serialNo bound (status 30/60) to another bill
	CodeBadTransition    = "2004" // status change not allowed (60→30, or the invoice is accounted)
	codeCoverConflict    = "2005" // coveNo+resource already used by another bill
	CodeVoucherNotBound  = "2006" // voucherSave serialNo not bound to any of expenseIdArray's bills
	CodeBillAccounted    = "2008" // bill already has a voucher: cannot be deleted
	codeTokenInvalid     = "401"  // HTTP 401: token missing, unknown, expired or placed wrongly
	codeServiceFault     = "503"  // injected fault (HTTP 5xx)
	CodeDeductionNoMatch = "2101" // deduction invoice not in the pool or buyer tax number differs
)

// Long poll (standard-edition shape): errcode.
const (
	pollOK           = "0000"
	pollNoData       = "1307" // documented: 没有数据
	pollBadParam     = "1001"
	pollUnknownMsgID = "1308" // receipt for a msgId this key never received [assumed]
	pollTokenInvalid = "401"
)
