package simulator

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"rimflow/invoicecloud/aesecb"
)

// The standard edition's authentication: POST /base/oauth/token {client_id, sign, timestamp,
// encType} signed with the client secret, the token then in ?access_token=, and business bodies
// encrypted with the tenant's encrypt_key.

// tokenStandard is the kind of a /base/oauth/token access token.
const tokenStandard = "standard"

// receivingTokenKinds may hold the long poll, its receipt and the socket: both editions'.
var receivingTokenKinds = []string{tokenAccess, tokenOAuth2, tokenStandard}

// Standard edition answer codes. 0000, 1101, 1200, 1301 and 1307 are the vendor's; the others
// are the simulator's documented choice (docs/cloudsim.md) [assumed].
const (
	stdOK              = "0000"
	StdBadParam        = "1001" // a field is missing or invalid; the description starts with its name
	StdWrongCompany    = "1101" // documented: the credentials do not match the company (tin)
	StdUndecryptable   = "1102" // the body does not decrypt with the encrypt_key (or must be encrypted)
	stdClientIDEmpty   = "1200" // documented: client_id is empty
	StdUnknownClient   = "1201" // client_id unknown
	StdBadSign         = "1202" // sign does not verify (client_secret or encType)
	stdBadTimestamp    = "1203" // timestamp missing or more than 5 minutes from the cloud's clock
	StdNotOnBill       = "1301" // documented: the serial number is not on this bill
	StdBoundElsewhere  = "1302" // the serial number is bound (30/60) to another bill
	StdNotInPool       = "1303" // the serial number is not in this enterprise's invoice pool
	StdBadTransition   = "1304" // status change not allowed (60→30, accounted, reimbursed bill edited)
	StdBillNotFound    = "1305" // no such bill (bxd_key) for this enterprise
	StdBillAccounted   = "1306" // the bill has a voucher: cannot be deleted
	stdNoData          = pollNoData
	stdCoverConflict   = "1309" // coveNo already used by another bill
	stdDeductionRefuse = "1310" // deduction: invoice not in the pool or bought by another company
	stdTokenInvalid    = "401"  // HTTP 401: token missing, unknown, expired
)

// signers compute the token request's sign for each encType over client_id+secret+timestamp.
var signers = map[string]func(secret string) hash.Hash{
	"0": func(string) hash.Hash { return md5.New() },
	"1": func(string) hash.Hash { return sha256.New() },
	"2": func(secret string) hash.Hash { return hmac.New(sha256.New, []byte(secret)) },
}

func signMatches(encType, clientID, secret, timestamp, sign string) bool {
	newHash, ok := signers[encType]
	if !ok {
		return false
	}
	h := newHash(secret)
	io.WriteString(h, clientID+secret+timestamp)
	return hmac.Equal([]byte(hex.EncodeToString(h.Sum(nil))), []byte(strings.ToLower(strings.TrimSpace(sign))))
}

func stdAnswer(code, description string, extra map[string]any) map[string]any {
	out := map[string]any{"errcode": code, "description": description}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// standardTokenRequest is /base/oauth/token's body.
type standardTokenRequest struct {
	ClientID  flexString `json:"client_id"`
	Sign      flexString `json:"sign"`
	Timestamp flexString `json:"timestamp"`
	EncType   flexString `json:"encType"` // 0 MD5 (default), 1 SHA-256, 2 HMAC-SHA256
}

// refuseAuth counts and answers a refused token request (HTTP 200, as the token endpoints do).
func (s *Sim) refuseAuth(w http.ResponseWriter, answer map[string]any) {
	s.mu.Lock()
	s.stats.AuthFailures++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, answer)
}

// handleStandardToken serves POST /base/oauth/token.
func (s *Sim) handleStandardToken(w http.ResponseWriter, r *http.Request) {
	var req standardTokenRequest
	fail := func(code, desc string) { s.refuseAuth(w, stdAnswer(code, desc, nil)) }
	if err := decodeBody(r, &req); err != nil {
		fail(StdBadParam, err.Error())
		return
	}
	encType := req.EncType.trim()
	if encType == "" {
		encType = "0"
	}
	t := s.tenants.byClient[req.ClientID.trim()]
	ts, perr := strconv.ParseInt(req.Timestamp.trim(), 10, 64)
	if perr == nil && ts < 100_000_000_000 { // ten digits: seconds
		ts *= 1000
	}
	switch {
	case req.ClientID.trim() == "":
		fail(stdClientIDEmpty, "client_id: 不能为空")
	case t == nil:
		fail(StdUnknownClient, "client_id: 授权标识不存在")
	case signers[encType] == nil:
		fail(StdBadParam, "encType: 只能是 0 (MD5)、1 (SHA256) 或 2 (HMACSHA256)")
	case perr != nil:
		fail(stdBadTimestamp, "timestamp: 必须是毫秒时间戳")
	case s.Now().Sub(time.UnixMilli(ts)).Abs() > s.opts.OAuth2Skew:
		fail(stdBadTimestamp, fmt.Sprintf("timestamp: 与服务器时间相差超过%d分钟", int(s.opts.OAuth2Skew/time.Minute)))
	case !signMatches(encType, t.ClientID, t.ClientSecret, req.Timestamp.trim(), req.Sign.trim()):
		fail(StdBadSign, "sign: 签名错误，请检查client_secret与encType")
	default:
		s.mu.Lock()
		v, _ := s.issueToken(tokenStandard)
		s.stats.TokensIssued.Standard++
		s.tenants.byToken[v] = t
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, stdAnswer(stdOK, "成功", map[string]any{
			"access_token": v, "expires_in": int64(s.opts.TokenTTL / time.Second)}))
	}
}

// standardTenant authorises a standard business call by its ?access_token= and answers its
// tenant; otherwise it answers 401 and returns nil. Caller holds s.mu.
func (s *Sim) standardTenant(w http.ResponseWriter, r *http.Request) *tenantState {
	v := r.URL.Query().Get("access_token")
	problem := s.tokenProblem(v, tokenStandard)
	if problem == "" {
		return s.tenants.byToken[v]
	}
	s.stats.TokenRejections++
	writeJSON(w, http.StatusUnauthorized, stdAnswer(stdTokenInvalid, problem, nil))
	return nil
}

// operateType is a plain operate body's operateType ("" when it has none).
func operateType(body string) string {
	var b struct {
		OperateType string `json:"operateType"`
	}
	_ = json.Unmarshal([]byte(body), &b)
	return b.OperateType
}

// openBody returns the plain JSON of a standard call's body: decrypted with the tenant's
// encrypt_key, or as is when the tenant takes this call in clear ([assumed]: an encrypted body is
// the Base64 text itself).
func (t *tenantState) openBody(call string, body []byte) ([]byte, *apiError) {
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "{") {
		if call == "queryBillStatus" && operateType(trimmed) != "queryBillStatus" {
			call = "queryScanPoints" // the operate path's other call: its scanning points
		}
		for _, c := range t.PlaintextCalls {
			if c == call {
				return []byte(trimmed), nil
			}
		}
		return nil, &apiError{code: StdUndecryptable, field: "body", msg: "body: 报文必须使用encrypt_key加密 (" + call + " takes an encrypted body)"}
	}
	plain, err := aesecb.Decrypt(t.EncryptKey, trimmed)
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(plain)), "{") {
		return nil, &apiError{code: StdUndecryptable, field: "encrypt_key", msg: "encrypt_key: 报文解密失败 (the body does not decrypt with the enterprise's encrypt_key)"}
	}
	return plain, nil
}
