package workflows

// The names in this file are contracts: the ERP's HTTP API, the starter CLI, Temporal Web users
// and ops queries rely on them. Change nothing here without changing docs/api.md ("The workflow
// contract").

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// The deduction batch workflow's names (DeductionBatchWorkflow, its ID and its "add" signal) are in
// package calls: an activity starts it.
const (
	BillWorkflowName = "BillWorkflow"
	DefaultTaskQueue = "rimflow-bills"
)

// BillWorkflowID is the business key "bill:<resource>:<billId>" (billId+resource is unique in
// Invoice Cloud too). Temporal carries workflow IDs in a gRPC header, which takes printable ASCII
// only: a key's printable ASCII stays as it is, anything else (Chinese, accents) and '%' itself
// are percent-encoded (UTF-8). So every key has one readable, reversible ID (ParseBillWorkflowID),
// and the ID of an ASCII key without '%' is the key itself.
func BillWorkflowID(resource, billID string) string {
	return "bill:" + escapeKey(resource) + ":" + escapeKey(billID)
}

// ParseBillWorkflowID is BillWorkflowID's inverse (a resource never holds ':').
func ParseBillWorkflowID(id string) (resource, billID string, ok bool) {
	rest, ok := strings.CutPrefix(id, "bill:")
	if !ok {
		return "", "", false
	}
	r, b, ok := strings.Cut(rest, ":")
	if !ok {
		return "", "", false
	}
	resource, err1 := url.PathUnescape(r)
	billID, err2 := url.PathUnescape(b)
	return resource, billID, err1 == nil && err2 == nil
}

func escapeKey(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '%' {
			sb.WriteByte(c)
			continue
		}
		fmt.Fprintf(&sb, "%%%02X", c)
	}
	return sb.String()
}

// Message names: queries, updates and signals (updates and signals share names and payloads).
const (
	QueryState = "state"

	UpdateCollectURL = "collectUrl"
	UpdateSubmit     = "submit"
	UpdateApprove    = "approve"
	UpdateImages     = "images"
	UpdateVoucher    = "voucher"
	UpdateCancel     = "cancel"
	UpdateRetry      = "retry"
	UpdateResolve    = "resolve"
	UpdateAmend      = "amend"         // fix a failed bill's header before anything was bound
	UpdateRemove     = "removeInvoice" // take an invoice off a collecting or failed bill
	UpdateViewURL    = "viewUrl"       // a view page URL valid now, in any stage
	UpdateWithdraw   = "withdraw"      // the submitter takes a bill awaiting an approval back to collecting (撤回)
	// UpdateReverseVoucher takes a booked voucher back (反记账) within the bill's reversal window:
	// the bill awaits its voucher again (reversal.go).
	UpdateReverseVoucher = "reverseVoucher"

	SignalInvoices = "invoices"
	// SignalDelivery carries what a watcher received from the cloud (calls.Delivery).
	SignalDelivery   = calls.SignalDelivery
	SignalSubmit     = UpdateSubmit
	SignalApprove    = UpdateApprove
	SignalImages     = UpdateImages
	SignalVoucher    = UpdateVoucher
	SignalCancel     = UpdateCancel
	SignalRetry      = UpdateRetry
	SignalResolve    = UpdateResolve
	SignalAmend      = UpdateAmend
	SignalRemove     = UpdateRemove
	SignalCollectURL = UpdateCollectURL
	// SignalReverseVoucher is the reversal for Temporal Web users (the ops path, under the policy).
	SignalReverseVoucher = UpdateReverseVoucher
)

// Stage is where a bill is; also the BillStage search attribute and the API's "stage".
type Stage string

const (
	StageCollecting         Stage = "collecting"
	StageAwaitingSupervisor Stage = "awaiting_supervisor"
	StageImageReview        Stage = "image_review"
	StageAwaitingFinance    Stage = "awaiting_finance"
	StageAwaitingVoucher    Stage = "awaiting_voucher"
	StageDeducting          Stage = "deducting"
	StageCompleted          Stage = "completed"
	StageRejected           Stage = "rejected"
	StageCancelled          Stage = "cancelled"
	StageFailed             Stage = "failed"
)

// AwaitingStage is the stage of an approval by role: awaiting_supervisor, awaiting_finance, awaiting_<role>.
func AwaitingStage(role string) Stage { return Stage("awaiting_" + role) }

// Final reports whether the workflow has ended in this stage.
func (s Stage) Final() bool {
	return s == StageCompleted || s == StageRejected || s == StageCancelled
}

// Image review modes of the 星空 image system.
const (
	ImageNone      = "none"
	ImageBasic     = "basic"
	ImageMatch     = "match"
	ImageSubmitter = "submitter"
)

// Deduction modes.
const (
	DeductionNone      = "none"
	DeductionImmediate = "immediate"
	DeductionBatch     = "batch"
)

// What a hard deadline does.
const (
	DeadlineRemind = "remind"
	DeadlineCancel = "cancel"
)

// Approval decisions.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
	DecisionReturn  = "return"
)

// Where a delivery came from (calls.Delivery.Via, DeliveryView.Via).
const (
	ViaSocket = "socket" // the cloud's WebSocket, read by a watcher
	ViaPoll   = "poll"   // the long poll, read by a watcher (receipted once recorded)
	ViaERP    = "erp"    // forwarded by the ERP (the invoices signal, POST …/invoices)
	ViaPush   = "push"   // pushed by the cloud to POST /v1/push/{taxNo} (AWS收票推送)
)

// Push types of getEventCode.
const (
	PushSocket = "socket"
	PushPoll   = "poll"
)

// Duration is a time.Duration that travels in JSON as a Go duration string ("48h", "30m"); it is
// shared with the deduction batch's input, hence defined in calls.
type Duration = calls.Duration

// SLAs are soft limits per stage (past them the bill is marked Overdue) and an optional hard deadline.
type SLAs struct {
	Collect  Duration            `json:"collect,omitempty"`  // collecting
	Approval Duration            `json:"approval,omitempty"` // each approval stage, unless ByRole says otherwise
	ByRole   map[string]Duration `json:"byRole,omitempty"`   // per-role approval SLA
	Voucher  Duration            `json:"voucher,omitempty"`  // awaiting_voucher
	// Hard is how long after entering a waiting stage the OnDeadline policy applies (0 = never).
	Hard Duration `json:"hard,omitempty"`
}

// Options tune one bill's life; zero values take the documented defaults (Normalize).
type Options struct {
	AutoSubmit *bool    `json:"autoSubmit,omitempty"` // default true: the first import submits
	Approvals  []string `json:"approvals"`            // ordered roles; nil = ["supervisor","finance"], [] = none
	ImageMode  string   `json:"imageMode,omitempty"`  // none|basic|match|submitter
	Deduction  string   `json:"deduction,omitempty"`  // none|immediate|batch
	SLA        SLAs     `json:"sla"`
	OnDeadline string   `json:"onDeadline,omitempty"` // remind|cancel (default remind)
	// HistoryLimit is how many events one run of the bill may hold before it continues as new at a
	// quiet point (default 2000 events).
	HistoryLimit int `json:"historyLimit,omitempty"`
	// Notify sends the bill's events to the ERP's webhooks for its resource (set by the server at
	// start when webhooks are configured for the resource).
	Notify bool `json:"notify,omitempty"`
	// ScanPoint is the image system's scanning point (影像扫描点). When set, the bill uses the
	// vendor's image system: in basic and match mode it creates the scan task there at the image
	// node and waits for the result; in submitter mode it sends the submitter's uploads with the
	// task at submit. Empty: the ERP reports the scan (the images update). The server sets it at
	// start from the bill's enterprise unless the ERP gives one.
	ScanPoint string `json:"scanPoint,omitempty"`
	// ScanPollEvery is the longest a finished scan waits to be noticed (default DefaultScanPollEvery).
	ScanPollEvery Duration `json:"scanPollEvery,omitempty"`
	// ReissueMargin: an eventCode expiring within this is replaced when a URL is asked for
	// (default ReissueMargin). Set by the server at start (RIMFLOW_REISSUE_MARGIN), whatever the
	// body says: it must stay well below the cloud's eventCode lifetime.
	ReissueMargin Duration `json:"reissueMargin,omitempty"`
	// ReversalWindow is how long after its voucher is saved a completed bill stays open for a
	// voucher reversal (反记账, reversal.go): within it, reverseVoucher takes the voucher back and
	// the bill awaits a new one; after it the bill ends. 0 (the default): the bill ends at once, as
	// before, and takes no reversal. At most MaxReversalWindow.
	ReversalWindow Duration `json:"reversalWindow,omitempty"`
}

// reissueMargin is Options.ReissueMargin or its default; a bill started without it (every bill of
// an earlier release) keeps the default, so its replay is unchanged.
func (o Options) reissueMargin() time.Duration {
	if o.ReissueMargin > 0 {
		return time.Duration(o.ReissueMargin)
	}
	return ReissueMargin
}

// DefaultScanPollEvery is Options.ScanPollEvery's default.
const DefaultScanPollEvery = Duration(time.Minute)

// MinScanPollEvery is the shortest Options.ScanPollEvery a bill may ask for.
const MinScanPollEvery = Duration(time.Second)

// BillInput starts a BillWorkflow: the getEventCode fields plus options.
type BillInput struct {
	BillID      string                 `json:"billId"`
	BillNo      string                 `json:"billNo"`
	BillType    string                 `json:"billType"`
	Resource    string                 `json:"resource"`
	BillTaxNo   string                 `json:"billTaxNo"`
	OrgNumber   string                 `json:"orgNumber,omitempty"`
	UserID      string                 `json:"userId"`
	PushType    string                 `json:"pushType,omitempty"` // socket (default) | poll
	CompanyInfo []invoicecloud.Company `json:"companyInfo,omitempty"`
	Options     Options                `json:"options"`
	// Lines are the ERP's line fields per invoice (serialNo) and CoverData the bill's cover, sent
	// on every billSave (lines.go); also given with a forwarded payload or by an amend.
	Lines     []InvoiceLine           `json:"lines,omitempty"`
	CoverData *invoicecloud.CoverData `json:"coverData,omitempty"`
	// AttachData are the bill's attachments, each with its invoice's serialNo: what deliveries
	// brought (attachments.go) and what the start gave; sent with their invoices on every billSave.
	AttachData []invoicecloud.BillInvoiceAttach `json:"attachData,omitempty"`
	// Policy is set by the server at start from the policy file (segregation of duties, the ops
	// path); absent, DefaultBillPolicy. Frozen with the options.
	Policy *BillPolicy `json:"policy,omitempty"`
	// Limits are set by the server at start from the bill's enterprise (its limits block [assumed]
	// bounds); absent, invoicecloud.DefaultLimits. Frozen with the options.
	Limits *invoicecloud.Limits `json:"limits,omitempty"`
}

// Payloads of updates and signals.

type CollectURLRequest struct {
	Client string `json:"client"` // pc | mobile
	// Start is set by the API's start (update-with-start): the answer then carries the start's
	// view (CollectURLResult.Start), and a running bill with other values refuses it.
	Start *StartCheck `json:"start,omitempty"`
}

type CollectURLResponse struct {
	URL       string    `json:"url"`
	EventCode string    `json:"eventCode"`
	ExpiresAt time.Time `json:"expiresAt"`
}

type SubmitRequest struct {
	By string `json:"by,omitempty"`
	// Actor is set by the API (the authenticated client, the acting user); absent for a signal.
	Actor *Actor `json:"actor,omitempty"`
}

type ApproveRequest struct {
	Role     string `json:"role"`
	Decision string `json:"decision"` // approve|reject|return
	Approver string `json:"approver"`
	Comment  string `json:"comment,omitempty"`
	// AcknowledgeUnverified: the approver has seen the invoices the cloud does not verify
	// (required of the policy's duties.acknowledgeUnverified role when the bill holds any; verified.go).
	AcknowledgeUnverified bool `json:"acknowledgeUnverified,omitempty"`
	// Actor is set by the API (the authenticated client, the acting user); absent for a signal.
	Actor *Actor `json:"actor,omitempty"`
}

// WithdrawRequest takes a bill that waits for an approval back to collecting (撤回), to be fixed
// and submitted again.
type WithdrawRequest struct {
	By     string `json:"by"`     // who withdraws (the X-Acting-User header may name them)
	Reason string `json:"reason"` // why (audited)
	// Actor is set by the API (the authenticated client, the acting user); absent for a signal.
	Actor *Actor `json:"actor,omitempty"`
}

// ImagesRequest is the scanning station's (or submitter's) "scanned" message.
type ImagesRequest struct {
	ScanBillNo string            `json:"scanBillNo"`
	InvoiceNos []string          `json:"invoiceNos,omitempty"`
	Amounts    map[string]string `json:"amounts,omitempty"` // invoiceNo -> total amount incl. tax, decimal string (match mode)
	Files      []string          `json:"files,omitempty"`
	// Uploads are the images themselves, in submitter mode with the image system (sent with the
	// scan task at submit; at most the bill's Limits.UploadBytes of files in all, as Base64).
	Uploads []invoicecloud.ImageFile `json:"uploads,omitempty"`
	// Actor is set by the API (the authenticated client, the acting user); absent for a signal.
	Actor *Actor `json:"actor,omitempty"`
}

type VoucherRequest struct {
	VouchID      string `json:"vouchId"`
	VouchNo      string `json:"vouchNo"`
	AccountDate  string `json:"accountDate"`
	AccountTime  string `json:"accountTime"`
	BusinessDate string `json:"businessDate"`
	Resource     string `json:"resource"`
	// Actor is set by the API (the authenticated client, the acting user); absent for a signal.
	Actor *Actor `json:"actor,omitempty"`
}

// VoucherReversalRequest takes the bill's booked voucher back (反记账): vouchId names the voucher
// reversed (a stale retry never reverses the next one), by and reason are audited.
type VoucherReversalRequest struct {
	VouchID string `json:"vouchId"`
	By      string `json:"by"`
	Reason  string `json:"reason"`
	// Actor is set by the API (the authenticated client, the acting user); absent for a signal.
	Actor *Actor `json:"actor,omitempty"`
}

// ReversalRecord is one voucher reversal: the voucher taken back, who, why and when.
type ReversalRecord struct {
	VouchID     string     `json:"vouchId"`
	VouchNo     string     `json:"vouchNo"`
	Resource    string     `json:"resource"` // the voucher's source system
	AccountDate string     `json:"accountDate"`
	SavedAt     *time.Time `json:"savedAt,omitempty"` // when the voucher had been saved
	By          string     `json:"by"`
	Reason      string     `json:"reason"`
	Client      string     `json:"client,omitempty"` // the API client, or OpsPath
	User        string     `json:"user,omitempty"`
	At          time.Time  `json:"at"`
}

type CancelRequest struct {
	Reason string `json:"reason"`
	By     string `json:"by,omitempty"`
	// Actor is set by the API (the authenticated client, the acting user); absent for a signal.
	Actor *Actor `json:"actor,omitempty"`
}

// AmendRequest corrects the header of a bill that failed before anything was bound (a typo in a
// tax number, a company name): only the fields given change; then `retry` runs the step again.
type AmendRequest struct {
	BillNo      *string                 `json:"billNo,omitempty"`
	BillType    *string                 `json:"billType,omitempty"`
	BillTaxNo   *string                 `json:"billTaxNo,omitempty"`
	OrgNumber   *string                 `json:"orgNumber,omitempty"`
	UserID      *string                 `json:"userId,omitempty"`
	CompanyInfo *[]invoicecloud.Company `json:"companyInfo,omitempty"`
	// Lines (merged by serialNo) and CoverData (replaced) may also be amended while collecting.
	Lines     []InvoiceLine           `json:"lines,omitempty"`
	CoverData *invoicecloud.CoverData `json:"coverData,omitempty"`
	Reason    string                  `json:"reason"`
	Actor     *Actor                  `json:"actor,omitempty"`
}

// RemoveInvoiceRequest takes one invoice off a collecting or failed bill: a pending one is
// dropped, a bound one released at the cloud (billSave 1).
type RemoveInvoiceRequest struct {
	SerialNo string `json:"serialNo"`
	Reason   string `json:"reason"`
	Actor    *Actor `json:"actor,omitempty"`
}

// ViewURLRequest asks for the view page (client pc|mobile).
type ViewURLRequest struct {
	Client string `json:"client"`
}

// ViewURLResponse is a view page URL and when its eventCode dies.
type ViewURLResponse struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// ResolveRequest closes a failed compensation by hand: ops did at the cloud what the step could
// not (e.g. released the invoices in the vendor's console) and say who, why and what.
type ResolveRequest struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
	Done   string `json:"done"` // what was done by hand
	// Actor is set by the API (the authenticated client, the acting user); absent for a signal.
	Actor *Actor `json:"actor,omitempty"`
}

// ResolutionRecord is an audited "resolved by hand" decision.
type ResolutionRecord struct {
	Step   string    `json:"step"`
	Client string    `json:"client,omitempty"` // the API client, or OpsPath
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	Done   string    `json:"done"`
	At     time.Time `json:"at"`
}

type RetryRequest struct {
	By string `json:"by,omitempty"`
	// Actor is set by the API (the authenticated client, the acting user); absent for a signal.
	Actor *Actor `json:"actor,omitempty"`
}

// InvoicesSignal is a payload the ERP forwards from its browser socket or a push.
type InvoicesSignal struct {
	InvoiceData []invoicecloud.Invoice `json:"invoiceData"`
	AttachData  []invoicecloud.Attach  `json:"attachData,omitempty"`
	// Lines are the ERP's line fields for these invoices (lines.go), kept with the bill.
	Lines []InvoiceLine `json:"lines,omitempty"`
}

// The `state` query's answer: the whole bill view.

type InvoiceView struct {
	SerialNo    string `json:"serialNo"`
	InvoiceType string `json:"invoiceType"`
	InvoiceCode string `json:"invoiceCode,omitempty"`
	InvoiceNo   string `json:"invoiceNo,omitempty"`
	InvoiceDate string `json:"invoiceDate,omitempty"`
	SalerName   string `json:"salerName,omitempty"`
	BuyerTaxNo  string `json:"buyerTaxNo,omitempty"`
	Amount      string `json:"amount"`      // excluding tax, decimal string
	TaxAmount   string `json:"taxAmount"`   // decimal string
	TotalAmount string `json:"totalAmount"` // including tax, decimal string
	Status      string `json:"status"`      // cloud status: 1, 30, 60
	Deductible  bool   `json:"deductible"`
	// Verified: a kind the cloud verifies (真伪核验); absent, one it only recognizes. Derived when
	// the state is answered (verified.go), never carried: the carried state keeps its shape.
	Verified      bool   `json:"verified,omitempty"`
	DeductionFlag string `json:"deductionFlag,omitempty"`
}

// DeliveryView is one delivery as the bill recorded it.
type DeliveryView struct {
	At       time.Time `json:"at"`
	Via      string    `json:"via"`      // socket | poll | erp
	Invoices int       `json:"invoices"` // in the message
	New      int       `json:"new"`      // not bound or pending before
	Outcome  string    `json:"outcome"`  // bound | pending | duplicate
}

type ApprovalRecord struct {
	Round    int       `json:"round"` // 1 for the first submission, +1 after each return to collecting
	Role     string    `json:"role"`
	Decision string    `json:"decision"`
	Approver string    `json:"approver"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
	// Client is the API client that sent the decision (OpsPath for a signal from Temporal Web or
	// the CLI); User the person it vouched for.
	Client string `json:"client,omitempty"`
	User   string `json:"user,omitempty"`
	// Acknowledged are the unverified invoices (serialNos) the approver acknowledged (verified.go).
	Acknowledged []string `json:"acknowledged,omitempty"`
}

type URLs struct {
	PC        string     `json:"pc"`
	Mobile    string     `json:"mobile"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

type HistoryEntry struct {
	At    time.Time `json:"at"`
	Stage Stage     `json:"stage"`
	Note  string    `json:"note,omitempty"`
}

type VoucherView struct {
	VoucherRequest
	SavedAt *time.Time `json:"savedAt,omitempty"`
	// Set is the voucher set (its workflow ID) that books this voucher for several bills with
	// one voucherSave; empty for a voucher of the bill alone.
	Set string `json:"set,omitempty"`
	// ReversibleUntil: the bill takes a reversal (反记账) until then (Options.ReversalWindow).
	ReversibleUntil *time.Time `json:"reversibleUntil,omitempty"`
}

type DeductionView struct {
	Mode            string   `json:"mode"`
	SerialNos       []string `json:"serialNos,omitempty"`
	TaskNo          string   `json:"taskNo,omitempty"`
	BatchWorkflowID string   `json:"batchWorkflowId,omitempty"`
}

type FailureView struct {
	Step   string    `json:"step"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	Code   string    `json:"code,omitempty"`  // the error type, e.g. InvoiceCloud.2003
	Field  string    `json:"field,omitempty"` // the field the cloud named, when it named one
}

type BillState struct {
	WorkflowID   string        `json:"workflowId"`
	ID           string        `json:"id"` // resource/billId, the API's short name
	Stage        Stage         `json:"stage"`
	UpdatedAt    time.Time     `json:"updatedAt"` // the last change of stage, invoices or decisions
	AwaitingRole string        `json:"awaitingRole,omitempty"`
	Bill         BillInput     `json:"bill"`
	EventCode    string        `json:"eventCode,omitempty"`
	Collect      URLs          `json:"collect"`
	View         URLs          `json:"view"`
	Invoices     []InvoiceView `json:"invoices"`
	InvoiceCount int           `json:"invoiceCount"`
	// PendingInvoices were delivered but are not bound yet: the bill was failed or past collecting
	// when they came. They are bound when the bill next collects.
	PendingInvoices []InvoiceView    `json:"pendingInvoices,omitempty"`
	Deliveries      []DeliveryView   `json:"deliveries,omitempty"`    // the most recent, newest last
	WatchingUntil   *time.Time       `json:"watchingUntil,omitempty"` // a watcher listens for imports until then
	TotalAmount     string           `json:"totalAmount"`             // incl. tax, decimal string
	Submitted       bool             `json:"submitted"`
	Approvals       []ApprovalRecord `json:"approvals"`
	Images          *ImagesRequest   `json:"images,omitempty"` // the last scan reported (uploads named, not carried)
	Scan            *ScanView        `json:"scan,omitempty"`   // the image system's task, when the bill uses one
	Voucher         *VoucherView     `json:"voucher,omitempty"`
	// Reversals are the vouchers taken back (反记账), oldest first.
	Reversals []ReversalRecord `json:"reversals,omitempty"`
	Deduction *DeductionView   `json:"deduction,omitempty"`
	Overdue   bool             `json:"overdue"`
	Error     *FailureView     `json:"error,omitempty"`
	Cancel    *CancelRequest   `json:"cancel,omitempty"`
	// Resolutions are the failed compensations ops closed by hand, with who, why and what.
	Resolutions []ResolutionRecord `json:"resolutions,omitempty"`
	History     []HistoryEntry     `json:"history"`
	// StartedBuildID is the build (release version) whose worker ran the bill's first workflow
	// task; RunningBuildID the one that ran its latest change. Empty for a bill, or a run, that
	// began before a release that shows them (builds.go).
	StartedBuildID string `json:"startedBuildId,omitempty"`
	RunningBuildID string `json:"runningBuildId,omitempty"`
}

// Decision is what a decision's update answers the API (every update but the URL ones): the bill
// after the decision, in brief; GET …/{billId} answers the rest (the state query). Its fields are
// BillState's under the same names, so a whole state, which a worker of an earlier release
// answers, decodes into it as well.
type Decision struct {
	WorkflowID   string           `json:"workflowId"`
	ID           string           `json:"id"`
	Stage        Stage            `json:"stage"`
	UpdatedAt    time.Time        `json:"updatedAt"`
	AwaitingRole string           `json:"awaitingRole,omitempty"`
	InvoiceCount int              `json:"invoiceCount"`
	TotalAmount  string           `json:"totalAmount"` // incl. tax, decimal string
	Submitted    bool             `json:"submitted"`
	Overdue      bool             `json:"overdue"`
	Scan         *ScanView        `json:"scan,omitempty"`
	Voucher      *VoucherView     `json:"voucher,omitempty"`
	Reversals    []ReversalRecord `json:"reversals,omitempty"`
	Deduction    *DeductionView   `json:"deduction,omitempty"`
	Error        *FailureView     `json:"error,omitempty"`
	Cancel       *CancelRequest   `json:"cancel,omitempty"`
}

// Decision is the state's brief, as a decision answers it.
func (s BillState) Decision() Decision {
	return Decision{WorkflowID: s.WorkflowID, ID: s.ID, Stage: s.Stage, UpdatedAt: s.UpdatedAt, AwaitingRole: s.AwaitingRole,
		InvoiceCount: s.InvoiceCount, TotalAmount: s.TotalAmount, Submitted: s.Submitted, Overdue: s.Overdue, Scan: s.Scan,
		Voucher: s.Voucher, Reversals: s.Reversals, Deduction: s.Deduction, Error: s.Error, Cancel: s.Cancel}
}

// AnswerHeader is the update header in which a caller asks a decision's answer of a bill:
// AnswerCompact for the Decision (the API asks it on every decision). An update without it
// (Temporal Web, the temporal CLI, an API of an earlier release) is answered the whole state.
// A header, not an argument: a worker of an earlier release ignores it, and refuses unknown fields.
const AnswerHeader = "rimflow-answer"

// AnswerCompact asks for the Decision.
const AnswerCompact = "compact"

// ScanView is the bill's scan task in the image system.
type ScanView struct {
	TaskNo    string     `json:"taskNo"`
	Round     int        `json:"round"` // the collecting round it scans (a return starts a new one)
	Mode      string     `json:"imageMode"`
	ScanPoint string     `json:"scanPoint,omitempty"`
	Status    string     `json:"status"` // pending | stored | matched | mismatch
	Images    int        `json:"images"`
	Problems  []string   `json:"problems,omitempty"` // match mode: one line per difference
	CreatedAt time.Time  `json:"createdAt"`
	DoneAt    *time.Time `json:"doneAt,omitempty"`
}

// ValidationError names every bad field; the API answers it as 400 with error.fields.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, k := range sortedKeys(e.Fields) {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}
