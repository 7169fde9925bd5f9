package simulator

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors of Collect and the pages: an eventCode the cloud never issued, or one past its TTL.
var (
	ErrUnknownEventCode error = &FieldError{Field: "eventCode", Reason: "unknown (never issued)"}
	ErrEventCodeExpired error = &FieldError{Field: "eventCode", Reason: "expired"}
	// ErrLinkKeyConsumed (strict mode): the eventCode's linkKey has delivered its one message.
	ErrLinkKeyConsumed error = &FieldError{Field: "linkKey",
		Reason: "already consumed: 一个linkKey只能消费一次 (its message was delivered); reopen the collect page from the bill for a new eventCode and linkKey"}
)

// Attach is an attachment delivered with invoices (socket attachData).
type Attach struct {
	AttachURL  string `json:"attachUrl"`
	AttachType string `json:"attachType"`
	AttachNo   string `json:"attachNo"`
	AttachName string `json:"attachName"`
}

// CollectResult is what one import delivered to the bill's linkKey and what it refused.
type CollectResult struct {
	MsgID     string    `json:"msgId,omitempty"`
	Delivered []Invoice `json:"delivered"`
	Refused   []Refusal `json:"refused"`
}

// Refusal is an invoice the cloud would not import, with the reason shown to the user.
type Refusal struct {
	SerialNo string   `json:"serialNo"`
	Reason   string   `json:"reason"`
	Invoice  *Invoice `json:"invoice,omitempty"`
}

// delivery is one message waiting for (or handed to) a socket or a poll.
type delivery struct {
	msgID    string
	invoices []Invoice
	attach   []Attach
}

// socketPayload is the socket's message shape.
func (d *delivery) socketPayload() ([]byte, error) {
	attach := d.attach
	if attach == nil {
		attach = []Attach{}
	}
	return json.Marshal(map[string]any{"invoiceData": d.invoices, "attachData": attach})
}

// linkQueue holds the messages of one linkKey, addressed by MD5(linkKey) as the poll is.
type linkQueue struct {
	linkKey  string // "" while only polls (which know the hash) have named it
	pending  []*delivery
	inflight []*inflight   // polled, awaiting a receipt, oldest first
	sockets  []*socketConn // newest last
	notify   chan struct{} // closed and replaced when something is queued
	// consumed: a message was handed to a socket or a poll. Strict mode then refuses imports.
	consumed bool
	// pollOnly: the getEventCode that gave this linkKey said pushType poll (standard: sourceType
	// polling): its messages wait for the long poll, a socket on it gets none.
	pollOnly bool
	// Messages handed over for the first time, handed again to a poll for want of a receipt,
	// and receipted.
	delivered, redelivered, receipted int
}

// inflight is a polled message that has not been receipted; after due the next poll gets it again.
type inflight struct {
	d   *delivery
	due time.Time
}

// queueOfPollKey is the hash of the queue a poll's or a receipt's key names: the key itself
// (MD5(linkKey), lowercase hex), or with Assume.DisablePollKeyMD5 the MD5 of the key, which is the
// linkKey. Caller holds s.mu or not: it reads options only.
func (s *Sim) queueOfPollKey(key string) string {
	key = strings.TrimSpace(key)
	if s.opts.Assume.PollKeyMD5() {
		return strings.ToLower(key)
	}
	return LinkKeyHash(key)
}

// LinkKeyHash is the poll's key: lower-case hex MD5 of the linkKey.
func LinkKeyHash(linkKey string) string {
	sum := md5.Sum([]byte(linkKey))
	return hex.EncodeToString(sum[:])
}

// mailroom holds what the cloud delivers: a queue per linkKey (addressed by its hash, as the
// poll is), the polled messages awaiting a receipt, and the live sockets. The Sim's mu guards it.
type mailroom struct {
	strict   bool                    // Options.Strict: a linkKey carries one message
	queues   map[string]*linkQueue   // by MD5(linkKey)
	receipts map[string]*pollReceipt // by msgId
	sockets  map[*socketConn]struct{}
}

// linkQueue returns the queue of a linkKey, remembering the key itself; caller holds the Sim's mu.
func (m *mailroom) linkQueue(linkKey string) *linkQueue {
	q := m.queue(LinkKeyHash(linkKey))
	q.linkKey = linkKey
	return q
}

// queue returns the queue of a linkKey hash; caller holds the Sim's mu.
func (m *mailroom) queue(hash string) *linkQueue {
	q := m.queues[hash]
	if q == nil {
		q = &linkQueue{notify: make(chan struct{})}
		m.queues[hash] = q
	}
	return q
}

func (q *linkQueue) wake() {
	close(q.notify)
	q.notify = make(chan struct{})
}

// enqueue queues d for the linkKey and hands it to a live socket if there is one. In strict mode a
// linkKey carries one message: an import made before it is handed over joins it. Answers the
// message id. Caller holds the Sim's mu.
func (m *mailroom) enqueue(q *linkQueue, d *delivery) string {
	if m.strict && len(q.pending) > 0 {
		m := q.pending[0]
		m.invoices = append(m.invoices, d.invoices...)
		m.attach = append(m.attach, d.attach...)
		return m.msgID
	}
	q.pending = append(q.pending, d)
	m.dispatch(q)
	q.wake()
	return d.msgID
}

// requeueFront puts back a message a socket failed to write; caller holds the Sim's mu.
func (m *mailroom) requeueFront(hash string, d *delivery) {
	q := m.queue(hash)
	q.pending = append([]*delivery{d}, q.pending...)
	m.dispatch(q)
	q.wake()
}

// dispatch hands pending messages to the newest live socket; a message handed over is consumed
// (a poll will not see it) unless the write fails. Caller holds the Sim's mu.
func (m *mailroom) dispatch(q *linkQueue) {
	if q.pollOnly {
		return
	}
	for len(q.pending) > 0 && len(q.sockets) > 0 {
		c := q.sockets[len(q.sockets)-1]
		select {
		case c.out <- frame{delivery: q.pending[0]}:
			q.pending = q.pending[1:]
			q.consumed = true
		default:
			return // the socket is backed up; the message waits
		}
	}
}

// importTarget finds the bill and the linkKey an import through eventCode delivers to: the bill's
// current linkKey, or in strict mode the one given with that eventCode, refused once consumed.
// Caller holds s.mu.
func (s *Sim) importTarget(code string) (*bill, *linkQueue, error) {
	b, err := s.lookupEventCode(code)
	if err != nil {
		return nil, nil, err
	}
	if !s.opts.Strict {
		return b, s.linkQueue(b.linkKey), nil
	}
	q := s.linkQueue(s.eventCodes[strings.TrimSpace(code)].linkKey)
	if q.consumed {
		s.stats.ImportsRefused++
		return nil, nil, ErrLinkKeyConsumed
	}
	return b, q, nil
}

// lookupEventCode finds the bill an eventCode opens; caller holds the Sim's mu.
func (k *books) lookupEventCode(code string) (*bill, error) {
	ec, ok := k.eventCodes[strings.TrimSpace(code)]
	if !ok {
		return nil, ErrUnknownEventCode
	}
	if !k.clock.read().Before(ec.expires) {
		return nil, ErrEventCodeExpired
	}
	return k.bills[ec.bill], nil
}

// newMsgID draws a message id (19 digits, like the cloud's ids); caller holds s.mu.
func (s *Sim) newMsgID() string {
	return fmt.Sprint(1+s.codeRand.IntN(9)) + randomDigits(s.codeRand, 18)
}

// deliver adds invoices to the pool and queues them on q for the bill; caller holds s.mu.
func (s *Sim) deliver(b *bill, q *linkQueue, invs []Invoice, attach []Attach) string {
	now := s.Now()
	for _, inv := range invs {
		if p, ok := s.pool[inv.SerialNo]; ok {
			p.inv = inv.clone() // collected again: the record is refreshed, the status kept
			continue
		}
		s.pool[inv.SerialNo] = &poolInvoice{inv: inv.clone(), status: StatusUnused, collectedFor: b.key, collectedAt: now}
	}
	d := &delivery{msgID: s.newMsgID(), invoices: invs, attach: attach}
	msgID := s.enqueue(q, d)
	s.push(b, d) // AWS收票推送, for a standard tenant with push addresses
	s.stats.Collections++
	s.stats.InvoicesCollected += len(invs)
	return msgID
}

// maxCollectCount bounds /__sim/collect's count.
const maxCollectCount = 200

// Collect does what the page's 「导入单据」 does with the first count compliant samples not yet
// imported for the eventCode's bill: they enter the invoice pool and are queued for its linkKey.
func (s *Sim) Collect(eventCode string, count int) ([]Invoice, error) {
	res, err := s.CollectCount(eventCode, count)
	return res.Delivered, err
}

// CollectCount is Collect answering the whole result (the message id included).
func (s *Sim) CollectCount(eventCode string, count int) (CollectResult, error) {
	if count < 1 || count > maxCollectCount {
		return CollectResult{}, fieldError("count", fmt.Sprintf("must be between 1 and %d", maxCollectCount))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, q, err := s.importTarget(eventCode)
	if err != nil {
		return CollectResult{}, err
	}
	var picked []int
	for i := 0; len(picked) < count; i++ {
		s.ensureSamples(b, i+1)
		if b.samples[i].compliant && !b.imported[i] {
			picked = append(picked, i)
		}
	}
	return s.importIndexes(b, q, picked, nil), nil
}

// importIndexes imports samples by index; caller holds s.mu.
func (s *Sim) importIndexes(b *bill, q *linkQueue, idx []int, refused []Refusal) CollectResult {
	res := CollectResult{Delivered: []Invoice{}, Refused: refused}
	for _, i := range idx {
		if b.imported == nil {
			b.imported = map[int]bool{}
		}
		b.imported[i] = true
		res.Delivered = append(res.Delivered, b.samples[i].inv.clone())
	}
	if res.Refused == nil {
		res.Refused = []Refusal{}
	}
	s.stats.InvoicesRefused += len(res.Refused)
	if len(res.Delivered) > 0 {
		res.MsgID = s.deliver(b, q, res.Delivered, nil)
	}
	return res
}

// ImportSelected is the page's 「导入单据」: the chosen serial numbers, in page order.
// Non-compliant, unknown and already imported ones are refused; the rest are delivered.
func (s *Sim) ImportSelected(eventCode string, serialNos []string) (CollectResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, q, err := s.importTarget(eventCode)
	if err != nil {
		return CollectResult{}, err
	}
	s.ensureSamples(b, max(s.visibleSamples(b), len(b.samples)))
	var picked []int
	var refused []Refusal
	seen := map[string]bool{}
	for _, sn := range serialNos {
		sn = strings.TrimSpace(sn)
		if sn == "" || seen[sn] {
			continue
		}
		seen[sn] = true
		i, ok := b.bySerial[sn]
		switch {
		case !ok:
			refused = append(refused, Refusal{SerialNo: sn, Reason: "不是本次采集页面上的发票"})
		case !b.samples[i].compliant:
			inv := b.samples[i].inv.clone()
			refused = append(refused, Refusal{SerialNo: sn, Reason: b.samples[i].reason, Invoice: &inv})
		case b.imported[i]:
			refused = append(refused, Refusal{SerialNo: sn, Reason: "已导入本单据"})
		default:
			picked = append(picked, i)
		}
	}
	slices.Sort(picked)
	return s.importIndexes(b, q, picked, refused), nil
}

// CollectRecords imports invoices the caller describes (the /__sim/collect "invoices" form):
// a missing serialNo is filled in, a missing buyer is the bill's first company, amounts are
// checked; records for another buyer, void ones, or ones bound to another bill are refused.
func (s *Sim) CollectRecords(eventCode string, records []json.RawMessage, attach []Attach) (CollectResult, error) {
	if len(records) == 0 {
		return CollectResult{}, fieldError("invoices", "must hold at least one record")
	}
	if len(records) > maxCollectCount {
		return CollectResult{}, fieldError("invoices", fmt.Sprintf("at most %d records", maxCollectCount))
	}
	invs := make([]Invoice, 0, len(records))
	for i, raw := range records {
		inv, err := parseInvoiceRecord(fmt.Sprintf("invoices[%d]", i), raw)
		if err != nil {
			return CollectResult{}, err
		}
		invs = append(invs, inv)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, q, err := s.importTarget(eventCode)
	if err != nil {
		return CollectResult{}, err
	}
	buyer := s.acceptedBuyers(b)[0]
	seen := map[string]bool{}
	for i := range invs {
		inv := &invs[i]
		if inv.SerialNo == "" {
			inv.SerialNo = randomHex(s.codeRand, 32)
		}
		if seen[inv.SerialNo] {
			return CollectResult{}, fieldError(fmt.Sprintf("invoices[%d].serialNo", i), "duplicate in this request")
		}
		seen[inv.SerialNo] = true
		if inv.BuyerTaxNo == "" {
			inv.BuyerTaxNo, inv.BuyerName = buyer.TaxNo, buyer.Name
		}
		if inv.InvoiceType == "" {
			inv.InvoiceType = "26"
		}
		if inv.InvoiceNo == "" {
			inv.InvoiceNo = s.Now().Format("06") + "44" + randomDigits(s.codeRand, 16)
		}
		if inv.InvoiceDate == "" {
			inv.InvoiceDate = s.Now().Format(time.DateOnly)
		}
		if inv.InvoiceStatus == "" {
			inv.InvoiceStatus = "0"
		}
	}
	res := CollectResult{Delivered: []Invoice{}, Refused: []Refusal{}}
	for _, inv := range invs {
		reason := s.complianceProblem(b, inv)
		if p, ok := s.pool[inv.SerialNo]; ok && reason == "" && p.bill != nil && *p.bill != b.key && p.status != StatusUnused {
			reason = "发票已被其他单据占用 (" + p.bill.Resource + "/" + p.bill.BillID + ")"
		}
		if reason != "" {
			c := inv.clone()
			res.Refused = append(res.Refused, Refusal{SerialNo: inv.SerialNo, Reason: reason, Invoice: &c})
			continue
		}
		res.Delivered = append(res.Delivered, inv)
	}
	s.stats.InvoicesRefused += len(res.Refused)
	if len(res.Delivered) > 0 {
		res.MsgID = s.deliver(b, q, res.Delivered, attach)
	}
	return res, nil
}
