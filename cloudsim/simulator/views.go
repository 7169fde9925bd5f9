package simulator

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// BillView is the cloud's view of one bill (GET /__sim/bills/{resource}/{billId}).
type BillView struct {
	Resource    string            `json:"resource"`
	BillID      string            `json:"billId"`
	BillNo      string            `json:"billNo"`
	BillType    string            `json:"billType"`
	BillTaxNo   string            `json:"billTaxNo"`
	OrgNumber   string            `json:"orgNumber,omitempty"`
	PushType    string            `json:"pushType,omitempty"`
	UserID      string            `json:"userId,omitempty"`
	LinkKey     string            `json:"linkKey,omitempty"`
	CompanyInfo []Company         `json:"companyInfo"`
	Status      string            `json:"status"` // last billSave status ("" before any)
	Invoices    []BillInvoiceView `json:"invoices"`
	Voucher     *VoucherView      `json:"voucher"`
	// ReversedVouchers are the vouchers taken back from the bill (反记账 [assumed]), oldest first.
	ReversedVouchers []VoucherView `json:"reversedVouchers,omitempty"`
	Unbound          bool          `json:"unbound"`
	BillSaveCalls    int           `json:"billSaveCalls"`
	Cover            *CoverView    `json:"cover,omitempty"`
	EventCodes       int           `json:"eventCodes"`
	Collected        int           `json:"collected"` // samples imported through the page or /__sim/collect count
	// Calls counts billSave (by status), voucherSave, billDelete and deduction calls about the bill.
	Calls BillCalls `json:"calls"`
	// LinkKeys are the linkKeys getEventCode gave the bill, first first, with their deliveries.
	LinkKeys []LinkKeyView `json:"linkKeys"`
	// Edition, Tenant and Enterprise say whose bill it is: the ultimate tenant's (enterprise =
	// billTaxNo) or a standard tenant's (enterprise = its tax number).
	Edition    Edition `json:"edition"`
	Tenant     string  `json:"tenant"`
	Enterprise string  `json:"enterprise"`
}

// LinkKeyView is what happened on one linkKey (GET /__sim/linkkeys/{linkKey}).
type LinkKeyView struct {
	LinkKey string `json:"linkKey"`
	Key     string `json:"key"` // MD5(linkKey), the poll's key
	// Pending messages wait for a socket or a poll.
	Pending int `json:"pending"`
	// Delivered counts messages handed to a socket or a poll the first time.
	Delivered int `json:"delivered"`
	// Redelivered counts polls answered again with an unreceipted message.
	Redelivered int `json:"redelivered"`
	// Receipted counts polled messages receipted (once each).
	Receipted int `json:"receipted"`
	// AwaitingReceipt: polled, not yet receipted, to be delivered again after the receipt timeout.
	AwaitingReceipt int `json:"awaitingReceipt"`
	// Consumed: a message was handed over; in strict mode the linkKey takes no more imports.
	Consumed bool `json:"consumed"`
}

// LinkKey returns what happened on a linkKey the simulator has seen (getEventCode or a poll).
func (s *Sim) LinkKey(linkKey string) (LinkKeyView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[LinkKeyHash(linkKey)]
	if !ok {
		return LinkKeyView{}, false
	}
	return linkKeyView(linkKey, q), true
}

func linkKeyView(linkKey string, q *linkQueue) LinkKeyView {
	return LinkKeyView{LinkKey: linkKey, Key: LinkKeyHash(linkKey), Pending: len(q.pending), Delivered: q.delivered,
		Redelivered: q.redelivered, Receipted: q.receipted, AwaitingReceipt: len(q.inflight), Consumed: q.consumed}
}

// BillInvoiceView is one invoice of a bill.
type BillInvoiceView struct {
	SerialNo      string `json:"serialNo"`
	Status        string `json:"status"`
	Amount        string `json:"amount,omitempty"`
	DeductionFlag string `json:"deductionFlag,omitempty"`
	EntryID       string `json:"entryId,omitempty"`
	// The rest of billSave's line: the tax entered, the tax transferred out and its reason.
	DeductionTaxAmount string `json:"deductionTaxAmount,omitempty"`
	OutputAmount       string `json:"outputAmount,omitempty"`
	Remark             string `json:"remark,omitempty"`
	// AttachData is the line's attachments as billSave last gave them.
	AttachData []AttachView `json:"attachData,omitempty"`
	Accounted  bool         `json:"accounted"`
}

// AttachView is an attachment of a billSave line.
type AttachView struct {
	AttachURL  string `json:"attachUrl"`
	AttachName string `json:"attachName"`
	AttachType string `json:"attachType,omitempty"`
	AttachNo   string `json:"attachNo,omitempty"`
	Remark     string `json:"remark,omitempty"`
}

// VoucherView is a voucher written back by voucherSave.
type VoucherView struct {
	VouchID        string   `json:"vouchId"`
	VouchNo        string   `json:"vouchNo"`
	AccountDate    string   `json:"accountDate"`
	AccountTime    string   `json:"accountTime"`
	BusinessDate   string   `json:"businessDate"`
	Resource       string   `json:"resource"`
	SerialNoArray  []string `json:"serialNoArray"`
	ExpenseIDArray []string `json:"expenseIdArray"`
}

// CoverView is the bill's cover (coverData).
type CoverView struct {
	CoveNo   string `json:"coveNo"`
	CoveType string `json:"coveType"`
	Bytes    int    `json:"bytes"`
}

// InvoiceView is one invoice of the pool (GET /__sim/invoices/{serialNo}).
type InvoiceView struct {
	SerialNo      string    `json:"serialNo"`
	Status        string    `json:"status"`
	BillID        string    `json:"billId"`   // "" when in no bill
	Resource      string    `json:"resource"` // "" when in no bill
	CollectedFor  string    `json:"collectedFor"`
	CollectedAt   time.Time `json:"collectedAt"`
	Amount        string    `json:"amount,omitempty"`
	DeductionFlag string    `json:"deductionFlag,omitempty"`
	EntryID       string    `json:"entryId,omitempty"`
	// The rest of billSave's line (BillInvoiceView).
	DeductionTaxAmount string          `json:"deductionTaxAmount,omitempty"`
	OutputAmount       string          `json:"outputAmount,omitempty"`
	Remark             string          `json:"remark,omitempty"`
	VoucherID          string          `json:"vouchId,omitempty"`
	Accounted          bool            `json:"accounted"`
	Deduction          *deductionState `json:"deduction,omitempty"`
	History            []Binding       `json:"history"`
	Invoice            Invoice         `json:"invoice"`
	// Edition, Tenant and Enterprise of the bill the invoice is bound to ("" when in no bill).
	Edition    Edition `json:"edition,omitempty"`
	Tenant     string  `json:"tenant,omitempty"`
	Enterprise string  `json:"enterprise,omitempty"`
}

func voucherView(v *voucher) *VoucherView {
	if v == nil {
		return nil
	}
	vv := VoucherView(*v)
	vv.SerialNoArray, vv.ExpenseIDArray = slices.Clone(v.SerialNoArray), slices.Clone(v.ExpenseIDArray)
	return &vv
}

// Bill returns the cloud's view of a bill.
func (s *Sim) Bill(resource, billID string) (BillView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bills[billKey{resource, billID}]
	if b == nil {
		return BillView{}, false
	}
	return s.billView(b), true
}

// billView builds the view; caller holds s.mu.
func (s *Sim) billView(b *bill) BillView {
	v := BillView{
		Resource: b.key.Resource, BillID: b.key.BillID, BillNo: b.billNo, BillType: b.billType,
		BillTaxNo: b.billTaxNo, OrgNumber: b.orgNumber, PushType: b.pushType, UserID: b.userID,
		LinkKey: b.linkKey, CompanyInfo: slices.Clone(b.companies), Status: b.status,
		Invoices: []BillInvoiceView{}, Unbound: b.unbound, BillSaveCalls: b.billSaveCalls,
		EventCodes: b.eventCodes, Collected: len(b.imported), Calls: b.calls, LinkKeys: []LinkKeyView{},
	}
	for _, lk := range b.linkKeys {
		v.LinkKeys = append(v.LinkKeys, linkKeyView(lk, s.queue(LinkKeyHash(lk))))
	}
	t := s.owner(b)
	v.Edition, v.Tenant, v.Enterprise = t.Edition, t.Name, s.enterpriseOf(b)
	if v.CompanyInfo == nil {
		v.CompanyInfo = []Company{}
	}
	for _, sn := range b.serials {
		pi := s.pool[sn]
		iv := BillInvoiceView{SerialNo: sn, Status: pi.status, DeductionFlag: pi.line.DeductionFlag,
			EntryID: pi.line.EntryID, Remark: pi.line.Remark, AttachData: slices.Clone(pi.line.Attach), Accounted: pi.voucherID != ""}
		iv.Amount, iv.DeductionTaxAmount, iv.OutputAmount = fixed2(pi.line.Amount), fixed2(pi.line.DeductionTaxAmount), fixed2(pi.line.OutputAmount)
		v.Invoices = append(v.Invoices, iv)
	}
	if b.voucherID != "" {
		v.Voucher = voucherView(s.vouchers[b.key])
	}
	for _, r := range b.reversed {
		v.ReversedVouchers = append(v.ReversedVouchers, *voucherView(r))
	}
	if b.cover != nil {
		v.Cover = &CoverView{CoveNo: b.cover.CoveNo, CoveType: b.cover.CoveType, Bytes: b.cover.Bytes}
	}
	return v
}

// Bills lists every bill, ordered by resource and billId.
func (s *Sim) Bills() []BillView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]BillView, 0, len(s.bills))
	for _, b := range s.bills {
		out = append(out, s.billView(b))
	}
	slices.SortFunc(out, func(a, b BillView) int {
		return strings.Compare(a.Resource+"\x00"+a.BillID, b.Resource+"\x00"+b.BillID)
	})
	return out
}

// Invoice returns the pool's view of an invoice.
func (s *Sim) Invoice(serialNo string) (InvoiceView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pi := s.pool[serialNo]
	if pi == nil {
		return InvoiceView{}, false
	}
	return s.invoiceView(serialNo, pi), true
}

// Invoices lists the whole invoice pool, ordered by serialNo.
func (s *Sim) Invoices() []InvoiceView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]InvoiceView, 0, len(s.pool))
	for sn, pi := range s.pool {
		out = append(out, s.invoiceView(sn, pi))
	}
	slices.SortFunc(out, func(a, b InvoiceView) int { return strings.Compare(a.SerialNo, b.SerialNo) })
	return out
}

// Release frees an invoice (status 1, out of its bill), as an operator would in the cloud's UI.
// An accounted invoice is not released.
func (s *Sim) Release(serialNo string) (InvoiceView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pi := s.pool[serialNo]
	if pi == nil {
		return InvoiceView{}, ErrUnknownSerialNo
	}
	if pi.voucherID != "" {
		return InvoiceView{}, fieldError("serialNo", "accounted (voucher "+pi.voucherID+"): cannot be released")
	}
	s.release(serialNo)
	return s.invoiceView(serialNo, pi), nil
}

// ErrUnknownSerialNo: the serial number is not in the invoice pool.
var ErrUnknownSerialNo = errors.New("serialNo: not in the invoice pool")

// IssuedTokens lists every token issued so far (app, access, OAuth2 access and refresh), so tests
// can check that none leaks into logs or errors.
func (s *Sim) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tokens)+len(s.refreshTokens))
	for v := range s.tokens {
		out = append(out, v)
	}
	out = append(out, s.refreshTokens...)
	slices.Sort(out)
	return out
}

// invoiceView builds the view; caller holds s.mu.
func (s *Sim) invoiceView(serialNo string, pi *poolInvoice) InvoiceView {
	v := InvoiceView{
		SerialNo: serialNo, Status: pi.status, CollectedFor: pi.collectedFor.Resource + "/" + pi.collectedFor.BillID,
		CollectedAt: pi.collectedAt, DeductionFlag: pi.line.DeductionFlag, EntryID: pi.line.EntryID,
		VoucherID: pi.voucherID, Accounted: pi.voucherID != "", Invoice: pi.inv.clone(),
	}
	if pi.bill != nil {
		v.BillID, v.Resource = pi.bill.BillID, pi.bill.Resource
		b := s.bills[*pi.bill]
		t := s.owner(b)
		v.Edition, v.Tenant, v.Enterprise = t.Edition, t.Name, s.enterpriseOf(b)
	}
	v.Amount, v.DeductionTaxAmount, v.OutputAmount = fixed2(pi.line.Amount), fixed2(pi.line.DeductionTaxAmount), fixed2(pi.line.OutputAmount)
	v.Remark = pi.line.Remark
	if pi.deduction != nil {
		d := *pi.deduction
		v.Deduction = &d
	}
	v.History = slices.Clone(pi.history)
	if v.History == nil {
		v.History = []Binding{}
	}
	return v
}

// fixed2 shows an amount of a line with its two decimals ("" when not given).
func fixed2(d *decimal.Decimal) string {
	if d == nil {
		return ""
	}
	return d.StringFixed(2)
}

// SocketsFor is how many sockets are open on the linkKey an eventCode was issued with (0 for an
// unknown eventCode): a test or the bench waits on it to see a watcher's socket close.
func (s *Sim) SocketsFor(eventCode string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ec, ok := s.eventCodes[strings.TrimSpace(eventCode)]
	if !ok {
		return 0
	}
	q, ok := s.queues[LinkKeyHash(ec.linkKey)]
	if !ok {
		return 0
	}
	return len(q.sockets)
}
