// Package calls holds what crosses between the workflows and their activities: each activity's
// input and result, and the deduction batch workflow's start input and signal (an activity
// starts that workflow). Both sides import it; it imports no other rimflow package but the
// Invoice Cloud client's types, so activities never depend on workflows.
package calls

import (
	"encoding/json"
	"fmt"
	"time"

	"rimflow/invoicecloud"
)

// Routed is the input of an activity that calls a bill's enterprise: the activity finds the
// enterprise by the tax number RoutingTaxNo names. Each input keeps its JSON shape (running bills'
// scheduled activities and recorded histories carry them), so where the tax number stands differs;
// this method is the one place that says where.
type Routed interface {
	RoutingTaxNo() string
}

var (
	_ Routed = EventCodeInput{}
	_ Routed = WatchInput{}
	_ Routed = BillSaveInput{}
	_ Routed = VoucherInput{}
	_ Routed = UnbindInput{}
	_ Routed = VoucherReverseInput{}
	_ Routed = RemoveInput{}
	_ Routed = ScanTaskInput{}
	_ Routed = ScanQueryInput{}
	_ Routed = DeductionInput{}
)

// RoutingTaxNo is the bill's billTaxNo.
func (in EventCodeInput) RoutingTaxNo() string { return in.Request.BillTaxNo }

// RoutingTaxNo is the bill's billTaxNo.
func (in WatchInput) RoutingTaxNo() string { return in.TaxNo }

// RoutingTaxNo is the bill's billTaxNo.
func (in BillSaveInput) RoutingTaxNo() string { return in.Request.BillTaxNo }

// RoutingTaxNo is the bill's billTaxNo.
func (in VoucherInput) RoutingTaxNo() string { return in.TaxNo }

// RoutingTaxNo is the bill's billTaxNo.
func (in UnbindInput) RoutingTaxNo() string { return in.TaxNo }

// RoutingTaxNo is the bill's billTaxNo.
func (in VoucherReverseInput) RoutingTaxNo() string { return in.TaxNo }

// RoutingTaxNo is the bill's billTaxNo.
func (in RemoveInput) RoutingTaxNo() string { return in.Keep.Request.BillTaxNo }

// RoutingTaxNo is the bill's billTaxNo.
func (in ScanTaskInput) RoutingTaxNo() string { return in.Request.BillTaxNo }

// RoutingTaxNo is the bill's billTaxNo.
func (in ScanQueryInput) RoutingTaxNo() string { return in.Query.BillTaxNo }

// RoutingTaxNo is the enterprise whose invoices are selected.
func (in DeductionInput) RoutingTaxNo() string { return in.Request.TaxNo }

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

// WatchInput starts a watcher for a linkKey. It listens until Until (when the eventCode's pages
// die) plus the worker's grace, signalling each message to the bill that started it.
type WatchInput struct {
	TaxNo    string    `json:"taxNo,omitempty"` // the bill's billTaxNo: whose cloud to listen to
	LinkKey  string    `json:"linkKey"`
	PushType string    `json:"pushType"` // socket: socket, then long poll after silence; poll: long poll only
	Until    time.Time `json:"until"`
	// FirstRunID is the bill's first run: the watcher signals only a run of that bill, never one
	// started again under the same key after it ended ("" from bills before: any run).
	FirstRunID string `json:"firstRunId,omitempty"`
}

// SignalDelivery is the bill's signal a watcher sends each message with.
const SignalDelivery = "delivery"

// MaxDeliveryInvoices bounds one delivery signal: a larger message is sent as several, so no
// payload nears Temporal's limit (an invoice record is a few KB at most).
const MaxDeliveryInvoices = 100

// Delivery is one message from the cloud, as a watcher signals it to its bill (the bill's
// "delivery" signal): it is durable once the signal is accepted, before the next one is read.
type Delivery struct {
	Via     string `json:"via"` // socket | poll | erp
	LinkKey string `json:"linkKey,omitempty"`
	MsgID   string `json:"msgId,omitempty"` // a polled message's id (receipted after the signal)
	// Digest identifies the message's content, so a redelivery of it is dropped.
	Digest      string                 `json:"digest,omitempty"`
	InvoiceData []invoicecloud.Invoice `json:"invoiceData"`
	AttachData  []invoicecloud.Attach  `json:"attachData,omitempty"`
}

// DeliveriesOf splits a message received on linkKey ("" for a push) into the delivery signals
// that carry it, each of at most MaxDeliveryInvoices invoices with its own digest (a redelivery of
// the message gives the same ones, dropped by the bill); the attachments go with the first.
func DeliveriesOf(m invoicecloud.Message, linkKey string) []Delivery {
	var out []Delivery
	for len(out) == 0 || len(m.InvoiceData) > 0 {
		part := invoicecloud.Message{InvoiceData: m.InvoiceData[:min(len(m.InvoiceData), MaxDeliveryInvoices)], Via: m.Via, MsgID: m.MsgID}
		m.InvoiceData = m.InvoiceData[len(part.InvoiceData):]
		d := Delivery{Via: m.Via, LinkKey: linkKey, MsgID: m.MsgID, Digest: part.Digest(), InvoiceData: part.InvoiceData}
		if len(out) == 0 {
			d.AttachData = m.AttachData
		}
		out = append(out, d)
	}
	return out
}

// BillSaveInput is one billSave call (bind 30, used 60, release 1).
type BillSaveInput struct {
	MessageID string                       `json:"messageId"`
	Request   invoicecloud.BillSaveRequest `json:"request"`
}

// VoucherInput is one voucherSave call; TaxNo (the bill's billTaxNo) routes it to its enterprise.
type VoucherInput struct {
	MessageID string                          `json:"messageId"`
	TaxNo     string                          `json:"taxNo,omitempty"`
	Request   invoicecloud.VoucherSaveRequest `json:"request"`
}

// VoucherReverseInput is one voucher reversal (反记账, the [assumed] voucherDelete); TaxNo routes it.
type VoucherReverseInput struct {
	MessageID string                             `json:"messageId"`
	TaxNo     string                             `json:"taxNo"`
	Request   invoicecloud.VoucherReverseRequest `json:"request"`
}

// UnbindInput is one unbind (billDelete) call; TaxNo routes it to its enterprise.
type UnbindInput struct {
	MessageID string                     `json:"messageId"`
	TaxNo     string                     `json:"taxNo,omitempty"`
	Request   invoicecloud.UnbindRequest `json:"request"`
}

// RemoveInput takes invoices off a bound bill, in three shapes of which the activity sends the
// one that leaves the cloud holding exactly Keep: Keep is the billSave 30 of the invoices that
// stay (possibly none), Release the billSave 1 of those taken off, Unbind the release of the
// whole bill (when none stays).
type RemoveInput struct {
	Keep    BillSaveInput `json:"keep"`
	Release BillSaveInput `json:"release"`
	Unbind  UnbindInput   `json:"unbind"`
}

// ScanTaskInput creates the bill's scan task in its enterprise's image system (erpBillPush).
type ScanTaskInput struct {
	RequestID string                       `json:"requestId"`
	Request   invoicecloud.ScanTaskRequest `json:"request"`
}

// ScanQueryInput asks how the bill's scan task stands (queryBillStatus); the activity answers only
// once the scan has an outcome (it is retried while the task is pending).
type ScanQueryInput struct {
	RequestID string                 `json:"requestId"`
	Query     invoicecloud.ScanQuery `json:"query"`
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

// The per-enterprise deduction batch workflow, as EnqueueDeduction starts and signals it.
const (
	DeductionWorkflowName = "DeductionBatchWorkflow"
	// SignalDeductionAdd hands deductible invoices to the batch workflow.
	SignalDeductionAdd = "add"
)

// DeductionWorkflowID names the per-enterprise batch: one per tax number and tax period (yyyy-MM).
func DeductionWorkflowID(taxNo, period string) string { return "deduction:" + taxNo + ":" + period }

// DeductionAdd is the SignalDeductionAdd payload.
type DeductionAdd struct {
	BillWorkflowID string                          `json:"billWorkflowId"`
	Invoices       []invoicecloud.DeductionInvoice `json:"invoices"`
}

// DeductionBatchInput starts the per-enterprise batch workflow. Zero settings take the batch
// workflow's defaults (workflows.DefaultDeduction*).
type DeductionBatchInput struct {
	TaxNo     string   `json:"taxNo"`
	Period    string   `json:"period"`              // yyyy-MM
	BatchSize int      `json:"batchSize,omitempty"` // invoices per batch
	Interval  Duration `json:"interval,omitempty"`  // how often a partial batch is flushed
	// Grace is how long after the period's last day the workflow keeps accepting (default: the usual
	// VAT declaration window); then it submits what is left and ends.
	Grace Duration `json:"grace,omitempty"`
	// ContinueAfter is how many adds and batches one run takes before it continues as new
	// (default: the batch workflow's).
	ContinueAfter int `json:"continueAfter,omitempty"`
	// Carried across continue-as-new:
	Pending      []DeductionAdd `json:"pending,omitempty"`
	PendingSince time.Time      `json:"pendingSince,omitempty"` // when the oldest pending add came: the flush timer runs from it
	Seq          int            `json:"seq,omitempty"`          // batches submitted so far (request ids)
	Done         []string       `json:"done,omitempty"`         // bills already submitted (dedup of re-sent adds), most recent last
	Refused      []RefusedBatch `json:"refused,omitempty"`      // batches the cloud refused, kept for a retry
}

// RefusedBatch is a batch the cloud refused: its invoices stay selectable by a retry (the batch
// workflow's "retry" signal) or by hand.
type RefusedBatch struct {
	Seq      int                             `json:"seq"`
	Bills    []string                        `json:"bills"`
	Invoices []invoicecloud.DeductionInvoice `json:"invoices"`
	Error    string                          `json:"error"`
	At       time.Time                       `json:"at"`
}

// Duration is a time.Duration that travels in JSON as a Go duration string ("48h", "30m").
// It also accepts a number of seconds.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s == "" {
			*d = 0
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("not a duration like \"48h\" or \"30m\": %q", s)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("not a duration: %s", string(b))
	}
	*d = Duration(time.Duration(secs * float64(time.Second)))
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Event is one notice to the ERP's webhooks: what happened to a bill, delivered at least once and
// in order per bill (Seq) by the DeliverEvent activity. Receivers drop a repeat by ID.
type Event struct {
	ID       string          `json:"id"`  // "<first run ID>-<seq>": a redelivery keeps it
	Seq      int             `json:"seq"` // per bill, from 1, without gaps
	Type     string          `json:"type"`
	At       time.Time       `json:"at"`
	Resource string          `json:"resource"`
	BillID   string          `json:"billId"`
	BillNo   string          `json:"billNo"`
	Stage    string          `json:"stage"`
	Data     json.RawMessage `json:"data,omitempty"`
}

// EventInput is one DeliverEvent call.
type EventInput struct {
	Event Event `json:"event"`
}

// Event types.
const (
	EventStarted         = "bill.started"
	EventInvoicesBound   = "invoices.bound" // data: {invoices: [...], totalAmount}
	EventStageChanged    = "stage.changed"  // data: {from, to, awaitingRole}
	EventOverdue         = "bill.overdue"   // data: {sla}
	EventFailed          = "bill.failed"    // data: {step, reason, code, field}
	EventCancelledBySLA  = "bill.cancelled_by_sla"
	EventCompleted       = "bill.completed"
	EventVoucherReversed = "voucher.reversed" // data: {vouchId, vouchNo, by, reason}
)

// BillUpdateInput is one update to a bill that another workflow needs answered (a voucher set
// holds each of its bills): the activity sends it with UpdateID, so a retried attempt is the same
// update, and answers the bill's state as JSON.
type BillUpdateInput struct {
	WorkflowID string          `json:"workflowId"`
	Update     string          `json:"update"`
	UpdateID   string          `json:"updateId"`
	Arg        json.RawMessage `json:"arg"`
}

// ErrTypeBillRefused types the non-retryable error of a bill that refused (or does not run).
const ErrTypeBillRefused = "BillRefused"
