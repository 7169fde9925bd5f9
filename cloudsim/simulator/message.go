package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// businessToken finds the access token of a /kapi/ call. OAuth2 ("enhanced") tokens are accepted
// only in the header, as the vendor documents; legacy tokens also in ?access_token=.
func (s *Sim) businessToken(r *http.Request) (value string, inQuery bool) {
	if v := r.Header.Get("access_token"); v != "" {
		return v, false
	}
	if v := r.Header.Get("accesstoken"); v != "" {
		return v, false
	}
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && v != "" {
		return strings.TrimSpace(v), false
	}
	return r.URL.Query().Get("access_token"), true
}

// requestTokenProblem says why the access token of a /kapi/ call, the poll or the receipt is
// refused ("" when the call may proceed). Strict mode refuses any ?access_token= (the vendor's red
// note: no token spliced into the URL); otherwise an OAuth2 token in the URL is refused only where
// oauth2InURL is false (the /kapi/ calls, as the vendor documents the enhanced mode). Caller holds s.mu.
//
// kinds are the token kinds the endpoint takes. A standard-edition token travels in the URL by
// that edition's documented shape, so strict mode refuses only the ultimate edition's there.
func (s *Sim) requestTokenProblem(r *http.Request, oauth2InURL bool, kinds ...string) string {
	v, inQuery := s.businessToken(r)
	problem := s.tokenProblem(v, kinds...)
	standard := problem == "" && s.tokens[v].kind == tokenStandard
	switch {
	case s.opts.Strict && r.URL.Query().Has("access_token") && !standard:
		problem = "access_token: 不允许在URL中拼接access_token，请放在请求头 (strict: the token must travel in the access_token header, not the URL)"
	case problem == "" && inQuery && !oauth2InURL && s.tokens[v].kind == tokenOAuth2:
		problem = "access_token: token失效 (an OAuth2 token must travel in the access_token header, not the URL)"
	}
	if problem != "" {
		s.stats.TokenRejections++
	}
	return problem
}

// checkBusinessToken answers 401 and returns false when the call may not proceed. Caller holds s.mu.
func (s *Sim) checkBusinessToken(w http.ResponseWriter, r *http.Request) bool {
	problem := s.requestTokenProblem(r, false, tokenAccess, tokenOAuth2)
	if problem == "" {
		return true
	}
	writeJSON(w, http.StatusUnauthorized, map[string]any{
		"data": nil, "success": "false", "errorCode": codeTokenInvalid, "message": problem,
	})
	return false
}

func messageAnswer(data any, err *apiError) map[string]any {
	if err != nil {
		var d any
		if err.field != "" {
			d = map[string]any{"field": err.field} // simulator extension: the field at fault
		}
		return map[string]any{"data": d, "success": "false", "errorCode": err.code, "message": err.msg}
	}
	return map[string]any{"data": data, "success": "true", "errorCode": codeOK, "message": "成功"}
}

func faultAnswer(status int) map[string]any {
	return map[string]any{"data": nil, "success": "false", "errorCode": codeServiceFault,
		"message": "服务暂时不可用，请稍后重试 (injected fault, HTTP " + http.StatusText(status) + ")"}
}

// writeStored writes a stored answer.
func writeStored(w http.ResponseWriter, a *storedAnswer) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// businessBody reads a business call's body, then takes s.mu (the caller releases it) and checks
// the token. ok is false when it has answered: 401, or an unreadable body in answer's shape.
func (s *Sim) businessBody(w http.ResponseWriter, r *http.Request, answer func(any, *apiError) map[string]any) (body []byte, ok bool) {
	body, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	s.mu.Lock()
	if !s.checkBusinessToken(w, r) {
		return nil, false
	}
	if rerr != nil {
		writeJSON(w, http.StatusOK, answer(nil, &apiError{code: codeBadJSON, field: "body", msg: "body: " + rerr.Error()}))
		return nil, false
	}
	return body, true
}

// handleMessage serves POST /kapi/app/rim/message {messageType, messageId, data}.
func (s *Sim) handleMessage(w http.ResponseWriter, r *http.Request) {
	body, ok := s.businessBody(w, r, messageAnswer)
	defer s.mu.Unlock()
	if !ok {
		return
	}
	var env struct {
		MessageType flexString      `json:"messageType"`
		MessageID   flexString      `json:"messageId"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		writeJSON(w, http.StatusOK, messageAnswer(nil, &apiError{code: codeBadJSON, field: "body", msg: "body: 不是合法的JSON (" + err.Error() + ")"}))
		return
	}
	mt, mid := env.MessageType.trim(), env.MessageID.trim()
	if mt == "" {
		writeJSON(w, http.StatusOK, messageAnswer(nil, badParam("messageType", "必填 (required)")))
		return
	}
	if mid == "" {
		writeJSON(w, http.StatusOK, messageAnswer(nil, badParam("messageId", "必填 (required)")))
		return
	}
	s.stats.MessageTypes[mt]++
	var also []string // a billSave's status narrows faults: "billSave:60"
	if mt == "billSave" {
		var d struct {
			Status flexString `json:"status"`
		}
		if json.Unmarshal(env.Data, &d) == nil && d.Status != "" {
			also = append(also, "billSave:"+d.Status.trim())
		}
	}
	s.answerNoted(w, "message:"+mid, mt, func(n *callNote) (any, *apiError) {
		op := map[string]func(fields, *callNote) (any, *apiError){
			"getEventCode":                         s.getEventCode,
			"billSave":                             s.billSave,
			"voucherSave":                          s.voucherSave,
			s.opts.Paths.UnbindMessageType:         s.billDelete,
			s.opts.Paths.VoucherReverseMessageType: s.voucherDelete,
		}[mt]
		if op == nil {
			return nil, &apiError{code: codeUnknownType, field: "messageType", msg: "messageType: 不支持的消息类型 " + mt}
		}
		f, err := parseFields("", env.Data)
		if err != nil {
			return nil, err
		}
		if err := s.ultimateScope(f); err != nil {
			return nil, err // a standard enterprise's bill or invoice (tenants.go)
		}
		return op(f, n)
	}, messageAnswer, also...)
}

// answerOnce runs op at most once per idempotency key and writes its answer; a repeated key
// gets the stored answer. Injected faults (before or after applying) are drawn here.
// Caller holds s.mu.
func (s *Sim) answerOnce(w http.ResponseWriter, idemKey, kind string, op func() (any, *apiError),
	shape func(any, *apiError) map[string]any) {
	s.answerNoted(w, idemKey, kind, func(*callNote) (any, *apiError) { return op() }, shape)
}

// answerNoted is answerOnce for an operation that notes which bills it concerns and whether it
// changed anything, so the call is counted per bill. With the [assumed] messageId idempotency
// switched off every call is applied as new. Caller holds s.mu.
func (s *Sim) answerNoted(w http.ResponseWriter, idemKey, kind string, op func(*callNote) (any, *apiError),
	shape func(any, *apiError) map[string]any, faultKinds ...string) {
	idempotent := s.opts.Assume.IdempotentMessageID()
	if a, ok := s.answers[idemKey]; ok && idempotent {
		if a.messageType != kind {
			writeJSON(w, http.StatusOK, shape(nil, businessError(codeMessageIDReused, "messageId",
				"已被"+a.messageType+"使用 (the id was used for another messageType)")))
			return
		}
		s.stats.Replays++
		s.countCall(a.note, outcomeReplayed)
		writeStored(w, a)
		return
	}
	faultStatus, afterApply := s.faultFor(append([]string{kind}, faultKinds...)...)
	if code := s.faults.RefuseCode; faultStatus != 0 && code != "" && strings.HasPrefix(idemKey, "message:") {
		// An injected business refusal: answered like any refusal, nothing applied.
		field := s.faults.RefuseField
		faultStatus, op = 0, func(*callNote) (any, *apiError) {
			return nil, businessError(code, field, "injected refusal (/__sim/faults refuseCode)")
		}
	}
	if faultStatus != 0 && !afterApply {
		s.log.Debug("cloudsim injected fault", "kind", kind, "status", faultStatus)
		writeJSON(w, faultStatus, faultAnswer(faultStatus))
		return
	}
	var note callNote
	data, err := op(&note)
	outcome := outcomeUnchanged
	switch {
	case err != nil:
		outcome = outcomeRefused
		// Code and field only: messages may quote caller data, never needed to diagnose a run.
		s.log.Debug("cloudsim business error", "kind", kind, "errorCode", err.code, "field", err.field)
	case note.changed:
		outcome = outcomeApplied
	}
	s.countCall(note, outcome)
	body, merr := json.Marshal(shape(data, err))
	if merr != nil {
		writeJSON(w, http.StatusInternalServerError, faultAnswer(http.StatusInternalServerError))
		return
	}
	a := &storedAnswer{messageType: kind, status: http.StatusOK, body: body, note: note}
	if idempotent {
		s.answers[idemKey] = a
	}
	if faultStatus != 0 {
		writeJSON(w, faultStatus, faultAnswer(faultStatus))
		return
	}
	writeStored(w, a)
}
