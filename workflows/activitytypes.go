package workflows

import (
	"time"

	"rimflow/invoicecloud"
)

// Activity names: the methods of activities.Activities (registered as a struct, so name = method name).
// The workflows call activities by these names so this package needs only the client's types.
const (
	ActivityGetEventCode     = "GetEventCode"
	ActivityWatchInvoices    = "WatchInvoices"
	ActivityPollReceipt      = "PollReceipt"
	ActivityBindInvoices     = "BindInvoices"
	ActivityMarkUsed         = "MarkUsed"
	ActivityReleaseInvoices  = "ReleaseInvoices"
	ActivitySaveVoucher      = "SaveVoucher"
	ActivityUnbind           = "Unbind"
	ActivitySelectDeduction  = "SelectDeduction"
	ActivityEnqueueDeduction = "EnqueueDeduction"
)

// EventCodeInput asks for an eventCode; MessageID is the deterministic request id.
type EventCodeInput struct {
	MessageID string                        `json:"messageId"`
	Request   invoicecloud.EventCodeRequest `json:"request"`
}

// EventCodeResult is the eventCode with the pages it opens and when it dies.
type EventCodeResult struct {
	EventCode string             `json:"eventCode"`
	Pages     invoicecloud.Pages `json:"pages"`
	ExpiresAt time.Time          `json:"expiresAt"`
}

// WatchInput starts a watcher for a linkKey.
type WatchInput struct {
	LinkKey  string `json:"linkKey"`
	PushType string `json:"pushType"`
}

// WatchResult is the first message the watcher received; Message is nil when the watch span ended
// without one (the workflow then starts a new watcher, keeping each activity short).
type WatchResult struct {
	LinkKey string                `json:"linkKey"`
	Message *invoicecloud.Message `json:"message,omitempty"`
}

// ReceiptInput acknowledges a polled message once its invoices are bound.
type ReceiptInput struct {
	LinkKey string `json:"linkKey"`
	MsgID   string `json:"msgId"`
}

// BillSaveInput is one billSave call (bind 30, used 60, release 1).
type BillSaveInput struct {
	MessageID string                       `json:"messageId"`
	Request   invoicecloud.BillSaveRequest `json:"request"`
}

// VoucherInput is one voucherSave call.
type VoucherInput struct {
	MessageID string                          `json:"messageId"`
	Request   invoicecloud.VoucherSaveRequest `json:"request"`
}

// UnbindInput is one unbind (billDelete) call.
type UnbindInput struct {
	MessageID string                     `json:"messageId"`
	Request   invoicecloud.UnbindRequest `json:"request"`
}

// DeductionInput is one deduction selection call.
type DeductionInput struct {
	RequestID string                        `json:"requestId"`
	Request   invoicecloud.DeductionRequest `json:"request"`
}

// EnqueueInput hands a bill's deductible invoices to the batch workflow of its tax number and period.
type EnqueueInput struct {
	TaxNo  string       `json:"taxNo"`
	Period string       `json:"period"` // yyyy-MM
	Add    DeductionAdd `json:"add"`
}
