package simulator

import (
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// Invoice statuses of billSave (the reimbursement state).
const (
	StatusUnused = "1"  // 未用: free for any bill
	StatusInUse  = "30" // 在用: bound to a bill under review
	StatusUsed   = "60" // 已用: the bill was approved
)

// StatusLabel is the page's Chinese label for an invoice status.
func StatusLabel(status string) string {
	switch status {
	case StatusUnused:
		return "未用"
	case StatusInUse:
		return "在用"
	case StatusUsed:
		return "已用"
	}
	return status
}

// Company is one buyer the bill accepts (getEventCode companyInfo).
type Company struct {
	TaxNo string `json:"taxNo"`
	Name  string `json:"name"`
}

// books is what the cloud records: the eventCodes it issued, the bills, the enterprise's invoice
// pool, the covers and vouchers, and the answers given by messageId/requestId (idempotency). The
// Sim's mu guards it.
type books struct {
	eventCodes map[string]*eventCode
	bills      map[billKey]*bill
	pool       map[string]*poolInvoice
	covers     map[coverKey]billKey
	vouchers   map[billKey]*voucher     // by bill: one voucher per bill [assumed]
	answers    map[string]*storedAnswer // idempotency by messageId / requestId
	clock      *clock
}

type billKey struct{ Resource, BillID string }

type coverKey struct{ Resource, CoveNo string }

type eventCode struct {
	code    string
	bill    billKey
	linkKey string // given with this eventCode (strict mode delivers its imports there)
	expires time.Time
}

// bill is what the cloud knows about one ERP bill (billId+resource).
type bill struct {
	key       billKey
	billNo    string
	billType  string
	billTaxNo string
	orgNumber string
	pushType  string
	userID    string
	linkKey   string
	linkKeys  []string // every linkKey getEventCode gave the bill, first first
	companies []Company
	created   time.Time

	status        string   // last billSave status
	serials       []string // invoices in the bill, in the order of the last billSave
	voucherID     string
	reversed      []*voucher // vouchers taken back (反记账, reversal.go), oldest first
	unbound       bool
	billSaveCalls int
	cover         *cover
	eventCodes    int
	calls         BillCalls

	tenant *tenantState // the standard tenant that opened it (nil: the ultimate tenant)

	samples  []sample       // generated lazily, deterministic from seed+resource+billId
	imported map[int]bool   // sample indexes already imported
	bySerial map[string]int // sample serialNo -> index
}

type cover struct {
	CoveNo   string `json:"coveNo"`
	CoveType string `json:"coveType"`
	Bytes    int    `json:"bytes"`
}

// billLine is what billSave said about one invoice of the bill.
type billLine struct {
	Amount             *decimal.Decimal
	DeductionFlag      string
	DeductionTaxAmount *decimal.Decimal
	OutputAmount       *decimal.Decimal
	Remark             string
	EntryID            string
	Attach             []AttachView // the line's attachData
}

func (l billLine) equal(o billLine) bool {
	sameDec := func(a, b *decimal.Decimal) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	return sameDec(l.Amount, o.Amount) && sameDec(l.DeductionTaxAmount, o.DeductionTaxAmount) &&
		sameDec(l.OutputAmount, o.OutputAmount) && l.DeductionFlag == o.DeductionFlag && l.Remark == o.Remark && l.EntryID == o.EntryID &&
		slices.Equal(l.Attach, o.Attach)
}

// poolInvoice is one invoice of the enterprise's invoice pool (全票池).
type poolInvoice struct {
	inv          Invoice
	status       string
	bill         *billKey // set while the invoice is in a bill's set
	collectedFor billKey
	collectedAt  time.Time
	line         billLine
	voucherID    string
	deduction    *deductionState
	history      []Binding
}

// Binding is one event of an invoice's life in bills: "bind" (it entered a bill), "status" (its
// status changed within the bill) or "release" (it left the bill, back to 1).
type Binding struct {
	Event    string    `json:"event"`
	Resource string    `json:"resource"`
	BillID   string    `json:"billId"`
	Status   string    `json:"status"`
	At       time.Time `json:"at"`
}

type deductionState struct {
	Selected bool   `json:"selected"`
	Purpose  string `json:"deductionPurpose,omitempty"`
	TaskNo   string `json:"taskNo"`
	TaxNo    string `json:"taxNo"`
}

// voucher is the voucher voucherSave recorded; the view shows it as it is stored.
type voucher VoucherView

func (v *voucher) equal(o *voucher) bool {
	if v == nil || o == nil {
		return v == o
	}
	return v.VouchID == o.VouchID && v.VouchNo == o.VouchNo && v.AccountDate == o.AccountDate && v.AccountTime == o.AccountTime &&
		v.BusinessDate == o.BusinessDate && v.Resource == o.Resource &&
		slices.Equal(v.SerialNoArray, o.SerialNoArray) && slices.Equal(v.ExpenseIDArray, o.ExpenseIDArray)
}

// storedAnswer is a processed call's answer, replayed for the same messageId.
type storedAnswer struct {
	messageType string
	status      int
	body        []byte
	note        callNote // what the call was about, so a replay is counted on the same bills
}
