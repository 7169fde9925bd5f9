package simulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

type pollReceipt struct {
	hash  string
	acked bool
}

func pollToken(r *http.Request) string {
	if v := r.URL.Query().Get("access_token"); v != "" {
		return v
	}
	if v := r.Header.Get("access_token"); v != "" {
		return v
	}
	return r.Header.Get("accesstoken")
}

// handlePoll serves the long poll: GET {PollData}?access_token=…&key=MD5(linkKey).
// It answers the oldest queued message (consuming it) or, after PollHold, 1307 没有数据.
func (s *Sim) handlePoll(w http.ResponseWriter, r *http.Request) {
	key := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("key")))
	s.mu.Lock()
	problem := s.tokenProblem(pollToken(r), receivingTokenKinds...)
	if problem != "" {
		s.stats.TokenRejections++
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errcode": PollTokenInvalid, "description": problem})
		return
	}
	if key == "" {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"errcode": PollBadParam, "description": "key: 必填 (MD5 of the linkKey)"})
		return
	}
	s.stats.Polls++
	s.mu.Unlock()

	hold := time.NewTimer(s.opts.PollHold)
	defer hold.Stop()
	for {
		s.mu.Lock()
		if s.closed {
			s.stats.PollsEmpty++
			s.mu.Unlock()
			writeNoData(w)
			return
		}
		q := s.queue(key)
		if len(q.pending) > 0 {
			d := q.pending[0]
			q.pending = q.pending[1:]
			s.receipts[d.msgID] = &pollReceipt{hash: key}
			s.stats.DeliveredByPoll++
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, pollPayload(d))
			return
		}
		wait := q.notify
		s.mu.Unlock()
		select {
		case <-wait:
		case <-hold.C:
			s.mu.Lock()
			s.stats.PollsEmpty++
			s.mu.Unlock()
			writeNoData(w)
			return
		case <-s.done:
		case <-r.Context().Done():
			return
		}
	}
}

func writeNoData(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{"errcode": PollNoData, "description": "没有数据"})
}

// pollPayload is the standard edition's documented push shape.
func pollPayload(d *delivery) map[string]any {
	amount, tax := decimal.Zero, decimal.Zero
	for _, inv := range d.invoices {
		amount = amount.Add(inv.TotalAmount)
		tax = tax.Add(inv.TotalTaxAmount)
	}
	attach := d.attach
	if attach == nil {
		attach = []Attach{}
	}
	return map[string]any{
		"errcode":     PollOK,
		"description": "成功",
		"data": map[string]any{
			"msgId": d.msgID,
			"data": map[string]any{
				"eventType": "push-invoice",
				"type":      "saveBill",
				"data": map[string]any{
					"data":              d.invoices,
					"attachData":        attach,
					"invoicesAmount":    json.Number(amount.StringFixed(2)),
					"invoicesTaxAmount": json.Number(tax.StringFixed(2)),
				},
			},
		},
	}
}

// handleReceipt serves GET {PollReceipt}?access_token&key&msgId: acknowledges a polled message.
func (s *Sim) handleReceipt(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := strings.ToLower(strings.TrimSpace(q.Get("key")))
	msgID := strings.TrimSpace(q.Get("msgId"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if problem := s.tokenProblem(pollToken(r), receivingTokenKinds...); problem != "" {
		s.stats.TokenRejections++
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errcode": PollTokenInvalid, "description": problem})
		return
	}
	for _, f := range []struct{ name, v string }{{"key", key}, {"msgId", msgID}} {
		if f.v == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errcode": PollBadParam, "description": f.name + ": 必填"})
			return
		}
	}
	rc, ok := s.receipts[msgID]
	if !ok || rc.hash != key {
		writeJSON(w, http.StatusOK, map[string]any{"errcode": PollUnknownMsgID, "description": "msgId: 该key没有这条消息"})
		return
	}
	rc.acked = true
	s.stats.Receipts++
	writeJSON(w, http.StatusOK, map[string]any{"errcode": PollOK, "description": "成功"})
}
