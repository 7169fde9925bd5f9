package invoicecloud

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
)

// Invoice status in the bill ("reimbursement state") as billSave sends it.
const (
	StatusUnused = "1"  // 未用 / 未报销: free for any bill
	StatusInUse  = "30" // 在用 / 审核中: bound to a bill under review
	StatusUsed   = "60" // 已用 / 已报销: the bill was approved
)

// Company is one entry of getEventCode's companyInfo: a buyer the bill accepts.
type Company struct {
	TaxNo string `json:"taxNo"`
	Name  string `json:"name"`
}

// EventCodeRequest is getEventCode's data. billId+resource identify the bill in the cloud.
type EventCodeRequest struct {
	BillID      string    `json:"billId"`
	Resource    string    `json:"resource"`
	BillNo      string    `json:"billNo"`
	BillType    string    `json:"billType"`
	BillTaxNo   string    `json:"billTaxNo,omitempty"`
	OrgNumber   string    `json:"orgNumber,omitempty"`
	PushType    string    `json:"pushType"` // socket | poll
	UserID      string    `json:"userId"`
	LinkKey     string    `json:"linkKey"`
	CompanyInfo []Company `json:"companyInfo,omitempty"`
}

// EventCodeResponse is getEventCode's data plus the pages it opens.
type EventCodeResponse struct {
	EventCode string `json:"eventCode"`
	// LinkKey is the key Watch must listen on (and the next EventCodeRequest should carry): the
	// request's linkKey, or — standard edition, request without one — the one getLinkKey issued.
	LinkKey string `json:"linkKey,omitempty"`
	Pages   Pages  `json:"pages"`
	// ValidFor is how long the code opens the pages: the ultimate eventCode's 10 minutes
	// (EventCodeLifetime), the standard userKey's StandardConfig.UserKeyTTL [assumed].
	ValidFor time.Duration `json:"validFor,omitempty"`
}

// Pages are the invoice-assistant URLs opened with an eventCode (single sign-on).
type Pages struct {
	CollectPC     string `json:"collectPc"`
	CollectMobile string `json:"collectMobile"`
	ViewPC        string `json:"viewPc"`
	ViewMobile    string `json:"viewMobile"`
}

// CoverData is billSave's optional cover page (coveNo+resource is unique in the cloud).
type CoverData struct {
	Base64   string `json:"base64"`
	CoveNo   string `json:"coveNo"`
	CoveType string `json:"coveType"` // 1 pdf, 2 image
}

// BillInvoice is one line of billSave's invoiceData.
type BillInvoice struct {
	SerialNo             string              `json:"serialNo"`
	Amount               *decimal.Decimal    `json:"amount,omitempty"` // reimbursed amount; nil = all
	DeductionFlag        string              `json:"deductionFlag,omitempty"`
	DeductionTaxAmount   *decimal.Decimal    `json:"deductionTaxAmount,omitempty"`
	OutputAmount         *decimal.Decimal    `json:"outputAmount,omitempty"`
	Remark               string              `json:"remark,omitempty"`
	EntryID              string              `json:"entryId,omitempty"`
	ExtInfo              map[string]any      `json:"extInfo,omitempty"`
	UseAmount            *decimal.Decimal    `json:"useAmount,omitempty"`
	DeductionPurpose     string              `json:"deductionPurpose,omitempty"`
	EffectiveTaxAmount   *decimal.Decimal    `json:"effectiveTaxAmount,omitempty"`
	UpdateInvoiceOrg     string              `json:"updateInvoiceOrg,omitempty"`
	BussinSysUserID      string              `json:"bussinSysUserId,omitempty"`
	UserName             string              `json:"userName,omitempty"`
	UpdateAttachRelation string              `json:"updateAttachRelation,omitempty"`
	AttachData           []BillInvoiceAttach `json:"attachData,omitempty"`
}

// BillInvoiceAttach is an attachment line of billSave (public page).
type BillInvoiceAttach struct {
	AttachName string `json:"attachName,omitempty"`
	AttachNo   string `json:"attachNo,omitempty"`
	AttachURL  string `json:"attachUrl,omitempty"`
	AttachType string `json:"attachType,omitempty"`
	Remark     string `json:"remark,omitempty"`
	SerialNo   string `json:"serialNo,omitempty"`
}

// BillSaveRequest is billSave's data: bind invoices to a bill and set their status.
type BillSaveRequest struct {
	BillID      string        `json:"billId"`
	Resource    string        `json:"resource"`
	BillNo      string        `json:"billNo"`
	BillType    string        `json:"billType"`
	BillTaxNo   string        `json:"billTaxNo"`
	OrgNumber   string        `json:"orgNumber,omitempty"`
	Status      string        `json:"status"` // StatusUnused | StatusInUse | StatusUsed
	CoverData   *CoverData    `json:"coverData,omitempty"`
	InvoiceData []BillInvoice `json:"invoiceData"`
}

// VoucherSaveRequest is voucherSave's data; dates are yyyy-MM-dd.
type VoucherSaveRequest struct {
	VouchID        string   `json:"vouchId"`
	VouchNo        string   `json:"vouchNo"`
	AccountDate    string   `json:"accountDate"`
	AccountTime    string   `json:"accountTime"`
	BusinessDate   string   `json:"businessDate"`
	Resource       string   `json:"resource"`
	SerialNoArray  []string `json:"serialNoArray"`
	ExpenseIDArray []string `json:"expenseIdArray"`
}

// VoucherReverseRequest is the [assumed] voucher reversal (反记账): the voucher voucherSave booked
// comes off the bills it names; their invoices stay bound at 60 (used), so a new voucher can be
// booked. The vendor's texts name no such call: its name and shape are configurable (ultimate:
// MessageTypes.VoucherReverse, data as below; standard: Paths.VoucherReverse).
type VoucherReverseRequest struct {
	VouchID        string   `json:"vouchId"`
	VouchNo        string   `json:"vouchNo"`
	Resource       string   `json:"resource"`
	SerialNoArray  []string `json:"serialNoArray"`
	ExpenseIDArray []string `json:"expenseIdArray"`
}

// UnbindRequest is the [assumed] billDelete data: release every invoice of the bill.
type UnbindRequest struct {
	BillID   string `json:"billId"`
	Resource string `json:"resource"`
	BillType string `json:"billType"`
}

// DeductionInvoice is one invoice of a deduction selection (勾选).
type DeductionInvoice struct {
	InvoiceType        string           `json:"invoiceType"`
	InvoiceCode        string           `json:"invoiceCode,omitempty"`
	InvoiceNo          string           `json:"invoiceNo"`
	EtaxInvoiceNo      string           `json:"etaxInvoiceNo,omitempty"`
	InvoiceDate        string           `json:"invoiceDate"`
	InvoiceAmount      decimal.Decimal  `json:"invoiceAmount"`
	EffectiveTaxAmount *decimal.Decimal `json:"effectiveTaxAmount,omitempty"`
	TotalTaxAmount     decimal.Decimal  `json:"totalTaxAmount"`
	NotDeductibleType  string           `json:"notDeductibleType,omitempty"`
	SalerName          string           `json:"salerName,omitempty"`
	SalerTaxNo         string           `json:"salerTaxNo,omitempty"`
}

// DeductionRequest is the data of interfaceCode invoiceSelect.
type DeductionRequest struct {
	AuthenticateFlag string             `json:"authenticateFlag"` // 1 select, 0 undo
	TaxNo            string             `json:"taxNo"`
	DeductionPurpose string             `json:"deductionPurpose"` // 1|2|3
	BillType         string             `json:"billType"`         // 0|1
	AsyncFlag        string             `json:"asyncFlag,omitempty"`
	Invoices         []DeductionInvoice `json:"invoices"`
}

// DeductionResult is the deduction API's data.
type DeductionResult struct {
	AsyncFlag string            `json:"asyncFlag,omitempty"`
	TaskNo    string            `json:"taskNo,omitempty"`
	Success   []json.RawMessage `json:"success,omitempty"`
}

// Invoice is the structured invoice the cloud delivers by socket or poll.
// Every documented field is decoded; unknown fields are kept in Raw and never fail decoding.
type Invoice struct {
	SerialNo           string           `json:"serialNo"`
	InvoiceType        string           `json:"invoiceType"` // code table: 4 增值税专用发票, 27 数电专票, ...
	InvoiceCode        string           `json:"invoiceCode,omitempty"`
	InvoiceNo          string           `json:"invoiceNo,omitempty"`
	EtaxInvoiceNo      string           `json:"etaxInvoiceNo,omitempty"`
	InvoiceDate        string           `json:"invoiceDate,omitempty"`
	InvoiceAmount      *decimal.Decimal `json:"invoiceAmount,omitempty"` // excluding tax
	TotalTaxAmount     *decimal.Decimal `json:"totalTaxAmount,omitempty"`
	TotalAmount        *decimal.Decimal `json:"totalAmount,omitempty"` // including tax
	EffectiveTaxAmount *decimal.Decimal `json:"effectiveTaxAmount,omitempty"`
	SalerName          string           `json:"salerName,omitempty"`
	SalerTaxNo         string           `json:"salerTaxNo,omitempty"`
	BuyerName          string           `json:"buyerName,omitempty"`
	BuyerTaxNo         string           `json:"buyerTaxNo,omitempty"`
	CheckCode          string           `json:"checkCode,omitempty"`
	TaxRate            string           `json:"taxRate,omitempty"`
	InvoiceStatus      string           `json:"invoiceStatus,omitempty"` // 0 正常, 1 失控, 2 作废, 3 红冲, ...
	Items              []InvoiceItem    `json:"items,omitempty"`
	// Raw is the record exactly as received, unknown fields included.
	Raw json.RawMessage `json:"-"`
}

// InvoiceItem is one goods/service line of an invoice.
type InvoiceItem struct {
	GoodsName string           `json:"goodsName,omitempty"`
	Specs     string           `json:"specModel,omitempty"`
	Unit      string           `json:"unit,omitempty"`
	Num       *decimal.Decimal `json:"num,omitempty"`
	UnitPrice *decimal.Decimal `json:"unitPrice,omitempty"`
	Amount    *decimal.Decimal `json:"detailAmount,omitempty"`
	TaxRate   string           `json:"taxRate,omitempty"`
	TaxAmount *decimal.Decimal `json:"taxAmount,omitempty"`
	Raw       json.RawMessage  `json:"-"`
}

// Attach is an attachment delivered with the invoices.
type Attach struct {
	AttachURL  string `json:"attachUrl,omitempty"`
	AttachType string `json:"attachType,omitempty"`
	AttachNo   string `json:"attachNo,omitempty"`
	AttachName string `json:"attachName,omitempty"`
}

// Message is one delivery of collected invoices, the socket's shape
// ({"invoiceData":[...],"attachData":[...]}); the poll payload is normalised to it.
type Message struct {
	InvoiceData []Invoice `json:"invoiceData"`
	AttachData  []Attach  `json:"attachData,omitempty"`
	// MsgID is the poll message id (needed for the receipt); empty for socket messages.
	MsgID string `json:"msgId,omitempty"`
	// Via says how it arrived: "socket" or "poll" (or "signal" upstream).
	Via string `json:"via,omitempty"`
}

// Digest identifies the message's content: the SHA-256 of its invoices' raw records (serial
// numbers where a record has no raw form), so the same message delivered twice is recognised.
func (m Message) Digest() string {
	h := sha256.New()
	for _, inv := range m.InvoiceData {
		if len(inv.Raw) > 0 {
			h.Write(inv.Raw)
		} else {
			h.Write([]byte(inv.SerialNo))
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
