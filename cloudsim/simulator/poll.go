package simulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

type pollReceipt struct {
	hash  string
	acked bool
}

// handlePoll serves the long poll: GET {PollData}?key=MD5(linkKey), token in the header (or, unless
// strict, ?access_token=). It answers a polled message still unreceipted after ReceiptTimeout (same
// msgId), else the oldest queued message, else, after PollHold, 1307 没有数据.
func (s *Sim) handlePoll(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimSpace(r.URL.Query().Get("key"))
	s.mu.Lock()
	if problem := s.requestTokenProblem(r, true, receivingTokenKinds...); problem != "" {
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errcode": pollTokenInvalid, "description": problem})
		return
	}
	if key == "" {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"errcode": pollBadParam, "description": "key: 必填 (MD5 of the linkKey)"})
		return
	}
	s.stats.Polls++
	s.mu.Unlock()
	key = s.queueOfPollKey(key)

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
		if r.Context().Err() != nil {
			s.mu.Unlock()
			return // nobody to answer: leave the messages where they are
		}
		q := s.queue(key)
		if d := s.nextForPoll(key, q); d != nil {
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, pollPayload(d))
			return
		}
		wait := q.notify
		var redue <-chan time.Time // nil blocks: only a message awaiting its receipt sets it
		if len(q.inflight) > 0 {
			// Unreferenced timers are collected (Go ≥ 1.23): no Stop needed on the early returns.
			redue = time.After(max(q.inflight[0].due.Sub(s.Now()), time.Millisecond))
		}
		s.mu.Unlock()
		select {
		case <-wait:
		case <-redue:
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

// nextForPoll takes what a poll on q answers: the oldest unreceipted message past its
// ReceiptTimeout (delivered again), else the next queued one. Caller holds s.mu.
func (s *Sim) nextForPoll(key string, q *linkQueue) *delivery {
	now := s.Now()
	if len(q.inflight) > 0 && !now.Before(q.inflight[0].due) {
		m := q.inflight[0]
		m.due = now.Add(s.opts.ReceiptTimeout)
		q.inflight = append(q.inflight[1:], m) // keeps inflight ordered by due
		q.redelivered++
		s.stats.RedeliveredByPoll++
		return m.d
	}
	if len(q.pending) == 0 {
		return nil
	}
	d := q.pending[0]
	q.pending = q.pending[1:]
	q.consumed = true
	q.delivered++
	s.receipts[d.msgID] = &pollReceipt{hash: key}
	s.stats.DeliveredByPoll++
	if s.opts.Assume.PollRedelivery() {
		q.inflight = append(q.inflight, &inflight{d: d, due: now.Add(s.opts.ReceiptTimeout)})
	}
	return d
}

func writeNoData(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{"errcode": pollNoData, "description": "没有数据"})
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
		"errcode":     pollOK,
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

// handleReceipt serves GET {PollReceipt}?key&msgId (token as the poll's): acknowledges a polled
// message, which is then never delivered again. A repeated receipt answers 0000 again.
func (s *Sim) handleReceipt(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := strings.TrimSpace(q.Get("key"))
	msgID := strings.TrimSpace(q.Get("msgId"))
	if !s.holdReceipt(r) {
		return // the caller gave up while the holdReceipts fault held it: nothing acknowledged
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if problem := s.requestTokenProblem(r, true, receivingTokenKinds...); problem != "" {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errcode": pollTokenInvalid, "description": problem})
		return
	}
	for _, f := range []struct{ name, v string }{{"key", key}, {"msgId", msgID}} {
		if f.v == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errcode": pollBadParam, "description": f.name + ": 必填"})
			return
		}
	}
	key = s.queueOfPollKey(key)
	rc, ok := s.receipts[msgID]
	if !ok || rc.hash != key {
		writeJSON(w, http.StatusOK, map[string]any{"errcode": pollUnknownMsgID, "description": "msgId: 该key没有这条消息"})
		return
	}
	if !rc.acked {
		q := s.queue(key)
		q.inflight = slices.DeleteFunc(q.inflight, func(m *inflight) bool { return m.d.msgID == msgID })
		q.receipted++
	}
	rc.acked = true
	s.stats.Receipts++
	writeJSON(w, http.StatusOK, map[string]any{"errcode": pollOK, "description": "成功"})
}
