package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"rimflow/activities/calls"
	"rimflow/internal/callheader"
	"rimflow/internal/enterprises"
	"rimflow/internal/policy"
	"rimflow/internal/query"
	"rimflow/internal/voice"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// Bills is the ERP's operations on bill workflows. The HTTP handlers and the starter CLI both
// use it, so a bill behaves the same whichever way it is driven.
type Bills struct {
	// StartWait bounds how long a start waits for the bill's eventCode before it answers 202 with
	// what is known (default DefaultStartWait).
	StartWait time.Duration
	Client    client.Client
	Namespace string
	TaskQueue string
	// Notifies reports whether a resource's events go to webhooks; a bill started for it sends
	// them (Options.Notify). nil: no bill notifies.
	Notifies func(resource string) bool
	// ReissueMargin is stamped on every bill started (Options.ReissueMargin): an eventCode
	// expiring within it is replaced when a URL is asked for. 0: the workflow's default.
	ReissueMargin time.Duration
	// Enterprises is the enterprise registry: a bill whose billTaxNo is not in it is refused at
	// start, and a bill with an image mode takes its enterprise's scanning point. nil: every tax
	// number is accepted (the worker's one enterprise decides).
	Enterprises Enterprises
	// Policy decides a starting bill's options, duties and ops path (nil: policy.Default()).
	Policy *policy.Policy
	// DataConverter is Client's (with its payload codec), to read the memo a start wrote; nil is
	// Temporal's default.
	DataConverter converter.DataConverter
	// Voice signs every update sent, so the bill believes the actor it carries (internal/voice;
	// codec.Codec.Voice). Nil: updates go unsigned and the bill takes them as the ops path.
	// Client must carry the codec's interceptor (codec.Apply), which puts the signature in the header.
	Voice *voice.Keys
}

// Enterprises is what the API needs of the enterprise registry (enterprises.Registry).
type Enterprises interface {
	Lookup(taxNo string) (*enterprises.Enterprise, error)
	List() []enterprises.Info
	Pushes() *invoicecloud.PushReceiver
}

func (b *Bills) policy() *policy.Policy {
	if b.Policy == nil {
		return policy.Default()
	}
	return b.Policy
}

func (b *Bills) dataConverter() converter.DataConverter {
	if b.DataConverter == nil {
		return converter.GetDefaultDataConverter()
	}
	return b.DataConverter
}

// DefaultStartWait is Bills.StartWait when it is zero: long enough for a cloud that answers at
// the second attempt, short enough that an ERP is never left hanging on a failing cloud.
const DefaultStartWait = 10 * time.Second

// NewBills returns the service; an empty task queue means workflows.DefaultTaskQueue, an empty
// namespace the client's own.
func NewBills(c client.Client, namespace, taskQueue string) *Bills {
	if taskQueue == "" {
		taskQueue = workflows.DefaultTaskQueue
	}
	return &Bills{Client: c, Namespace: namespace, TaskQueue: taskQueue}
}

// BillRef names a bill: {resource}/{billId}.
type BillRef struct {
	Resource string
	BillID   string
}

// ParseBillRef reads "R/B" (the CLI's short form; the billId may itself contain slashes).
func ParseBillRef(s string) (BillRef, *Error) {
	resource, billID, ok := strings.Cut(s, "/")
	ref := BillRef{Resource: resource, BillID: billID}
	if !ok {
		ref = BillRef{Resource: s}
	}
	if err := ref.check(); err != nil {
		return BillRef{}, err
	}
	return ref, nil
}

// ID is the API's short name "resource/billId".
func (r BillRef) ID() string { return r.Resource + "/" + r.BillID }

// WorkflowID is the bill workflow's ID.
func (r BillRef) WorkflowID() string { return workflows.BillWorkflowID(r.Resource, r.BillID) }

// MaxIDLen is the longest workflow ID (and keyword search attribute value) PostgreSQL visibility
// stores: bill:<resource>:<billId> must fit.
const MaxIDLen = workflows.MaxKeyword

func (r BillRef) check() *Error {
	fields := map[string]string{}
	for name, v := range map[string]string{"resource": r.Resource, "billId": r.BillID} {
		if strings.TrimSpace(v) == "" {
			fields[name] = "required"
		} else if p := workflows.Unprintable(v); p != "" {
			fields[name] = p
		}
	}
	if _, bad := fields["billId"]; !bad && r.Resource != "" {
		if n := len(r.WorkflowID()); n > MaxIDLen {
			fields["billId"] = idTooLong(n)
		}
	}
	if len(fields) > 0 {
		return ValidationFailed(fields)
	}
	return nil
}

// State is the bill's `state` view. Running bills answer the query; a completed bill answers
// from its result (no worker needed); a bill that failed or was terminated is queried, which
// the worker answers by replaying its history.
func (b *Bills) State(ctx context.Context, ref BillRef) (workflows.BillState, error) {
	if err := ref.check(); err != nil {
		return workflows.BillState{}, err
	}
	desc, err := b.Client.DescribeWorkflow(ctx, ref.WorkflowID(), "")
	if err != nil {
		return workflows.BillState{}, b.notFound(ref, err)
	}
	if desc.Status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		var state workflows.BillState
		run := b.Client.GetWorkflow(ctx, ref.WorkflowID(), desc.WorkflowExecution.RunID)
		if err := run.Get(ctx, &state); err == nil && state.WorkflowID != "" {
			return state, nil
		}
	}
	return b.queryState(ctx, ref)
}

func (b *Bills) queryState(ctx context.Context, ref BillRef) (workflows.BillState, error) {
	var state workflows.BillState
	v, err := query.Workflow(ctx, b.Client, ref.WorkflowID(), workflows.QueryState)
	if err != nil {
		return state, b.notFound(ref, err)
	}
	if err := v.Get(&state); err != nil {
		return state, fmt.Errorf("decode state of %s: %w", ref.ID(), err)
	}
	return state, nil
}

// notFound names the bill in a 404.
func (b *Bills) notFound(ref BillRef, err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return newError(http.StatusNotFound, CodeNotFound, "no bill %s", ref.ID())
	}
	return err
}

// pageClient is the page kind a URL route asks for: pc (the default) or mobile.
func pageClient(kind string) (string, *Error) {
	switch kind {
	case "":
		return "pc", nil
	case "pc", "mobile":
		return kind, nil
	}
	return "", ValidationFailed(map[string]string{"client": "must be pc or mobile"})
}

// CollectURL asks the bill for a collect URL valid now (it re-issues the eventCode when needed).
func (b *Bills) CollectURL(ctx context.Context, ref BillRef, clientKind string) (workflows.CollectURLResponse, error) {
	var resp workflows.CollectURLResponse
	err := b.pageURL(ctx, ref, clientKind, workflows.UpdateCollectURL,
		func(kind string) any { return workflows.CollectURLRequest{Client: kind} }, &resp)
	return resp, err
}

// pageURL runs a URL update (collect or view page) for the page kind asked, into resp.
func (b *Bills) pageURL(ctx context.Context, ref BillRef, clientKind, update string, request func(kind string) any, resp any) error {
	if err := ref.check(); err != nil {
		return err
	}
	kind, e := pageClient(clientKind)
	if e != nil {
		return e
	}
	return b.updateResult(ctx, ref, update, request(kind), resp)
}

// InvoicesAccepted answers POST …/invoices: the payload was handed to the bill.
type InvoicesAccepted struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflowId"`
	Invoices   int    `json:"invoices"`
	// Stage is the bill's stage when the payload was handed over, and Outcome what the bill does
	// with it: "binding" (collecting: the new invoices are bound now) or "pending" (kept, and bound
	// when the bill next collects: after a return, a retry or an image mismatch). Invoices the
	// bill already holds are dropped by serialNo either way; state.deliveries shows each outcome.
	Stage   workflows.Stage `json:"stage"`
	Outcome string          `json:"outcome"`
}

// Outcomes of a forwarded payload.
const (
	ForwardBinding = "binding"
	ForwardPending = "pending"
)

// Invoices forwards a socket payload the ERP received in its browser to the bill (the invoices
// signal: the workflow deduplicates by serialNo, so forwarding twice is harmless). The payload is
// checked as the cloud checks it (checkForwarded), first alone, then against the bill, and bounded
// per message and per bill; nothing is sent unless it all passes. The bill is read from Temporal
// itself (its description and its run's input), not queried, so forwarding needs no worker: it is
// the way in that must work while workers are down. A bill that has ended takes nothing (409
// finished); any other keeps what it gets.
func (b *Bills) Invoices(ctx context.Context, ref BillRef, msg workflows.InvoicesSignal) (InvoicesAccepted, error) {
	if err := ref.check(); err != nil {
		return InvoicesAccepted{}, err
	}
	if err := checkForwarded(msg, nil); err != nil {
		return InvoicesAccepted{}, err
	}
	target, err := b.forwardTarget(ctx, ref)
	if err != nil {
		return InvoicesAccepted{}, err
	}
	if err := checkForwarded(msg, target); err != nil {
		return InvoicesAccepted{}, err
	}
	stage := target.stage
	if stage.Final() {
		return InvoicesAccepted{}, conflict(SubFinished, fmt.Sprintf("bill %s has ended (%s): it takes no invoices", ref.ID(), stage))
	}
	if err := b.Client.SignalWorkflow(ctx, ref.WorkflowID(), "", workflows.SignalInvoices, msg); err != nil {
		return InvoicesAccepted{}, b.endedOrMissing(ctx, ref, err)
	}
	out := InvoicesAccepted{ID: ref.ID(), WorkflowID: ref.WorkflowID(), Invoices: len(msg.InvoiceData), Stage: stage,
		Outcome: ForwardPending}
	if stage == workflows.StageCollecting {
		out.Outcome = ForwardBinding
	}
	return out, nil
}

// Push records a push from the cloud (AWS收票推送) in its bill: once the signals are accepted the
// invoices are durable, and only then does the cloud get its success answer. When the enterprise's
// image system is fed by rimflow (imageSystem.push: relay), the push is also handed to the bill's
// relay (relayPush) before that answer: a push answered success is recorded and queued for the
// image system, and one that is not is pushed again by the cloud (the bill drops the repeat, the
// relay queues a msgId once).
func (b *Bills) Push(ctx context.Context, p invoicecloud.Push) error {
	ref := BillRef{Resource: p.Resource, BillID: p.BillID}
	if err := ref.check(); err != nil {
		return err
	}
	if len(p.Message.InvoiceData) == 0 {
		return nil // nothing to record
	}
	if err := b.checkPush(ctx, ref, p); err != nil {
		return err
	}
	for _, d := range calls.DeliveriesOf(p.Message, "") {
		if err := b.Client.SignalWorkflow(ctx, ref.WorkflowID(), "", workflows.SignalDelivery, d); err != nil {
			return b.endedOrMissing(ctx, ref, err)
		}
	}
	return b.relay(ctx, ref, p)
}

// relay hands a recorded push to the bill's push relay (calls.PushRelayWorkflowName), starting it
// when it is not running, if the enterprise's image system gets its pushes through rimflow.
func (b *Bills) relay(ctx context.Context, ref BillRef, p invoicecloud.Push) error {
	if b.Enterprises == nil {
		return nil
	}
	e, err := b.Enterprises.Lookup(p.TaxNo)
	if err != nil || e.Spec.Image == nil || e.Spec.Image.Push != enterprises.PushRelay {
		return nil
	}
	id := calls.PushRelayWorkflowID(ref.WorkflowID())
	_, err = b.Client.SignalWithStartWorkflow(ctx, id, calls.SignalRelayPush,
		calls.RelayPush{TaxNo: p.TaxNo, MsgID: p.MsgID, Push: p.Plain},
		client.StartWorkflowOptions{ID: id, TaskQueue: b.TaskQueue}, calls.PushRelayWorkflowName, calls.PushRelayInput{})
	return err
}

// forwardTarget reads what checkForwarded needs of a running bill: how many invoices it holds or
// keeps pending (search attributes) and its input (the companies), the first event of its run.
func (b *Bills) forwardTarget(ctx context.Context, ref BillRef) (*forwardTarget, error) {
	t, err := b.billTarget(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := t.endedError(ref); err != nil {
		return nil, err
	}
	return t, nil
}

// billTarget is forwardTarget for a bill in any state (forwardTarget.status says which).
func (b *Bills) billTarget(ctx context.Context, ref BillRef) (*forwardTarget, error) {
	desc, err := b.Client.DescribeWorkflow(ctx, ref.WorkflowID(), "")
	if err != nil {
		return nil, b.notFound(ref, err)
	}
	t := &forwardTarget{workflowID: ref.WorkflowID(), runID: desc.WorkflowExecution.RunID, stage: workflows.StageCollecting,
		status: desc.Status}
	if s, ok := desc.TypedSearchAttributes.GetKeyword(workflows.SABillStage); ok && s != "" {
		t.stage = workflows.Stage(s)
	}
	count, _ := desc.TypedSearchAttributes.GetInt64(workflows.SAInvoiceCount)
	pending, _ := desc.TypedSearchAttributes.GetInt64(workflows.SAPendingInvoices)
	t.held = int(count + pending)
	hist, err := b.Client.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace:       b.Namespace,
		Execution:       &commonpb.WorkflowExecution{WorkflowId: t.workflowID, RunId: t.runID},
		MaximumPageSize: 1,
	})
	if err != nil {
		return nil, b.notFound(ref, err)
	}
	events := hist.GetHistory().GetEvents()
	if len(events) == 0 || events[0].GetWorkflowExecutionStartedEventAttributes() == nil {
		return nil, fmt.Errorf("bill %s: its run has no start event", ref.ID())
	}
	if err := b.dataConverter().FromPayloads(events[0].GetWorkflowExecutionStartedEventAttributes().GetInput(), &t.bill); err != nil {
		return nil, fmt.Errorf("bill %s: read its input: %w", ref.ID(), err)
	}
	return t, nil
}

// Withdraw takes a bill that waits for an approval back to collecting (撤回).
func (b *Bills) Withdraw(ctx context.Context, ref BillRef, req workflows.WithdrawRequest) (workflows.Decision, error) {
	return b.update(ctx, ref, workflows.UpdateWithdraw, req)
}

// Amend corrects the header of a bill that failed before anything was bound (then Retry runs the
// failed step again), or the ERP's line fields and cover alone while it collects. The amend is checked against the bill's input with a new bill's rules first
// (workflows.BillInput.Amend), so a bad value is a 400 naming the field and nothing is sent.
func (b *Bills) Amend(ctx context.Context, ref BillRef, req workflows.AmendRequest) (workflows.Decision, error) {
	if err := ref.check(); err != nil {
		return workflows.Decision{}, err
	}
	st, err := b.State(ctx, ref)
	if err != nil {
		return workflows.Decision{}, err
	}
	amended, verr := st.Bill.Amend(req)
	if verr != nil {
		return workflows.Decision{}, ValidationFailed(verr.Fields)
	}
	if req.UserID != nil && !workflows.SamePerson(*req.UserID, st.Bill.UserID) {
		// The userId is the bill's submitter to segregation of duties (the bill refuses it too).
		return workflows.Decision{}, ValidationFailed(map[string]string{"userId": "the bill's submitter cannot be amended " +
			"(segregation of duties): cancel the bill and start it again for another user"})
	}
	digits := map[string]string{}
	checkDigits(amended, digits)
	if req.BillTaxNo == nil {
		delete(digits, "billTaxNo") // a header the amend leaves alone is not the amend's fault
	}
	for name := range digits {
		if req.CompanyInfo == nil && strings.HasPrefix(name, "companyInfo") {
			delete(digits, name)
		}
	}
	if len(digits) > 0 {
		return workflows.Decision{}, ValidationFailed(digits)
	}
	if req.BillTaxNo != nil && b.Enterprises != nil {
		if _, err := b.Enterprises.Lookup(amended.BillTaxNo); err != nil {
			return workflows.Decision{}, ValidationFailed(map[string]string{
				"billTaxNo": "not an enterprise of the registry (GET /v1/enterprises lists them)"})
		}
	}
	// Send the normalised values (upper-cased tax numbers, trimmed text) of the fields given.
	norm := func(given *string, v string) *string {
		if given == nil {
			return nil
		}
		return &v
	}
	req.BillNo, req.BillType, req.BillTaxNo = norm(req.BillNo, amended.BillNo), norm(req.BillType, amended.BillType), norm(req.BillTaxNo, amended.BillTaxNo)
	req.OrgNumber, req.UserID = norm(req.OrgNumber, amended.OrgNumber), norm(req.UserID, amended.UserID)
	if req.CompanyInfo != nil {
		req.CompanyInfo = &amended.CompanyInfo
	}
	req.Reason = strings.TrimSpace(req.Reason)
	return b.update(ctx, ref, workflows.UpdateAmend, req)
}

// RemoveInvoice takes one invoice off a collecting or failed bill: a pending one is dropped, a
// bound one released at the cloud.
func (b *Bills) RemoveInvoice(ctx context.Context, ref BillRef, req workflows.RemoveInvoiceRequest) (workflows.Decision, error) {
	f := map[string]string{}
	if strings.TrimSpace(req.SerialNo) == "" {
		f["serialNo"] = "required"
	} else if p := workflows.Unprintable(req.SerialNo); p != "" {
		f["serialNo"] = p
	}
	if strings.TrimSpace(req.Reason) == "" {
		f["reason"] = "required: a removal is audited (why the invoice leaves the bill)"
	} else if p := workflows.Unprintable(req.Reason); p != "" {
		f["reason"] = p
	}
	if len(f) > 0 {
		return workflows.Decision{}, ValidationFailed(f)
	}
	req.SerialNo, req.Reason = strings.TrimSpace(req.SerialNo), strings.TrimSpace(req.Reason)
	return b.update(ctx, ref, workflows.UpdateRemove, req)
}

// ViewURL asks a running bill for a view page URL valid now, in any stage (for approvers). A bill
// that has ended cannot issue the eventCode a page needs (409 finished).
func (b *Bills) ViewURL(ctx context.Context, ref BillRef, clientKind string) (workflows.ViewURLResponse, error) {
	var resp workflows.ViewURLResponse
	err := b.pageURL(ctx, ref, clientKind, workflows.UpdateViewURL,
		func(kind string) any { return workflows.ViewURLRequest{Client: kind} }, &resp)
	if e := ErrorFrom(err); e != nil && e.SubCode == SubFinished {
		out := *e
		out.Message = fmt.Sprintf("bill %s has ended: a view page needs a fresh eventCode, which only a running bill can "+
			"issue; its invoices are listed in GET /v1/bills/{resource}/{billId}", ref.ID())
		return resp, &out
	}
	return resp, err
}

// Submit ends collecting.
func (b *Bills) Submit(ctx context.Context, ref BillRef, req workflows.SubmitRequest) (workflows.Decision, error) {
	return b.update(ctx, ref, workflows.UpdateSubmit, req)
}

// Approve records an approval decision (approve, reject or return) for the awaiting role.
func (b *Bills) Approve(ctx context.Context, ref BillRef, req workflows.ApproveRequest) (workflows.Decision, error) {
	st, err := b.update(ctx, ref, workflows.UpdateApprove, req)
	return b.repeatOfTheEnd(ctx, ref, st, err, func(final workflows.BillState) bool {
		if final.Stage != workflows.StageRejected || len(final.Approvals) == 0 {
			return false
		}
		last := final.Approvals[len(final.Approvals)-1]
		return last.Role == strings.ToLower(strings.TrimSpace(req.Role)) && last.Decision == strings.ToLower(strings.TrimSpace(req.Decision)) &&
			strings.EqualFold(last.Approver, strings.TrimSpace(req.Approver))
	})
}

// repeatOfTheEnd answers a decision that reached an ended bill (409 bill_finished) with the
// bill's final decision when that decision is the one that ended it (same, judged on the final
// state): a retried call gets the answer the first got, one rule for every decision that can end
// a bill (reject, voucher, cancel).
func (b *Bills) repeatOfTheEnd(ctx context.Context, ref BillRef, d workflows.Decision, err error,
	same func(final workflows.BillState) bool) (workflows.Decision, error) {
	if e := ErrorFrom(err); e != nil && e.Code == CodeAlreadyFinished {
		if final, ferr := b.State(ctx, ref); ferr == nil && same(final) {
			return final.Decision(), nil
		}
	}
	return d, err
}

// Images delivers the scanning station's "scanned" message.
func (b *Bills) Images(ctx context.Context, ref BillRef, req workflows.ImagesRequest) (workflows.Decision, error) {
	// The submitter's images are checked here first at the ceiling: above it they would not fit a
	// Temporal payload either, so the bill could not say so itself. The bill checks its own limit
	// (its enterprise's uploadBytes); above either the answer is 413 naming uploads.
	ceiling := invoicecloud.CeilingLimits
	if n := workflows.UploadBytes(req.Uploads); n > ceiling.UploadBytes {
		return workflows.Decision{}, uploadsTooLarge(map[string]string{"uploads": workflows.UploadTooLarge(n, ceiling.UploadBytes)})
	}
	if f := map[string]string{}; len(req.Uploads) > 0 {
		if workflows.CheckUploads(f, req.Uploads, &ceiling); len(f) > 0 {
			return workflows.Decision{}, ValidationFailed(f)
		}
	}
	st, err := b.update(ctx, ref, workflows.UpdateImages, req)
	if e := ErrorFrom(err); e != nil && e.Code == CodeValidation && workflows.IsUploadTooLarge(e.Fields) {
		return st, uploadsTooLarge(e.Fields)
	}
	return st, err
}

// uploadsTooLarge is the 413 of the submitter's images above the bill's limit.
func uploadsTooLarge(fields map[string]string) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
		Message: "the submitter's images are too large: " + fields["uploads"], Fields: fields}
}

// Voucher writes the accounting voucher back.
// A vouchId is booked on one bill only: it is claimed (claimVoucher) before the bill is sent its
// voucher, and a vouchId another bill holds is refused (409 voucher_in_use naming that bill).
func (b *Bills) Voucher(ctx context.Context, ref BillRef, req workflows.VoucherRequest) (workflows.Decision, error) {
	if err := ref.check(); err != nil {
		return workflows.Decision{}, err
	}
	release, err := b.claimVoucher(ctx, ref, req)
	if err != nil {
		return workflows.Decision{}, err
	}
	st, err := b.update(ctx, ref, workflows.UpdateVoucher, req)
	st, err = b.repeatOfTheEnd(ctx, ref, st, err, func(final workflows.BillState) bool {
		if final.Stage != workflows.StageCompleted || final.Voucher == nil {
			return false
		}
		saved, asked := final.Voucher.VoucherRequest, req
		saved.Actor, asked.Actor = nil, nil
		return saved == asked
	})
	if err != nil && release != nil && ErrorFrom(err).Status < 500 {
		// The bill refused the voucher: the vouchId this call claimed is free again. After a 5xx
		// the voucher may still be saved, so the claim stays.
		release()
	}
	return st, err
}

// claimVoucher reserves req's vouchId for ref's bill: it starts the vouchId's claim workflow
// (workflows.VoucherClaimID), which Temporal refuses to start twice while it runs, whichever API
// process asks. A claim the bill already holds is fine (a repeat); one another bill holds is a
// 409 naming it. release, when not nil, frees a claim this call made.
func (b *Bills) claimVoucher(ctx context.Context, ref BillRef, req workflows.VoucherRequest) (release func(), err error) {
	if strings.TrimSpace(req.VouchID) == "" || strings.TrimSpace(req.Resource) == "" {
		return nil, nil // the bill names what is missing (400)
	}
	id := workflows.VoucherClaimID(strings.TrimSpace(req.Resource), strings.TrimSpace(req.VouchID))
	run, err := b.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                b.TaskQueue,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo:                                     map[string]any{workflows.VoucherClaimMemoBill: ref.WorkflowID()},
	}, workflows.VoucherClaimWorkflowName)
	if err == nil {
		return func() {
			// Terminated, not signalled: the vouchId is free when this returns. Best effort: a claim
			// left behind only refuses this vouchId until ops release it (signal release).
			_ = b.Client.TerminateWorkflow(context.WithoutCancel(ctx), id, run.GetRunID(), "the bill did not take the voucher: its vouchId is free")
		}, nil
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &started) {
		return nil, err
	}
	desc, err := b.Client.DescribeWorkflow(ctx, id, "")
	if err != nil {
		return nil, err
	}
	var holder string
	if err := desc.GetMemoValue(workflows.VoucherClaimMemoBill, &holder); err != nil {
		return nil, fmt.Errorf("read the claim of vouchId %q: %w", req.VouchID, err)
	}
	if holder == ref.WorkflowID() {
		return nil, nil
	}
	var set []string // a voucher set's claim: the bill is one of its bills
	if desc.GetMemoValue(workflows.VoucherClaimMemoBills, &set) == nil && slices.Contains(set, ref.WorkflowID()) {
		return nil, nil
	}
	name := holder
	if resource, billID, ok := workflows.ParseBillWorkflowID(holder); ok {
		name = resource + "/" + billID
	}
	e := conflict(SubVoucherInUse, fmt.Sprintf("vouchId %q (resource %s) is booked on bill %s: a voucher's id belongs to one bill",
		req.VouchID, req.Resource, name))
	e.Fields = map[string]string{"vouchId": "held by bill " + name}
	return nil, e
}

// Cancel cancels the bill (refused after the voucher is saved). Cancelling a bill that has
// already ended cancelled for the same reason answers its final state (a retried call).
func (b *Bills) Cancel(ctx context.Context, ref BillRef, req workflows.CancelRequest) (workflows.Decision, error) {
	st, err := b.update(ctx, ref, workflows.UpdateCancel, req)
	return b.repeatOfTheEnd(ctx, ref, st, err, func(final workflows.BillState) bool {
		return final.Stage == workflows.StageCancelled && final.Cancel != nil && final.Cancel.Reason == strings.TrimSpace(req.Reason)
	})
}

// Resolve closes a failed compensation by hand (audited in the bill's resolutions).
func (b *Bills) Resolve(ctx context.Context, ref BillRef, req workflows.ResolveRequest) (workflows.Decision, error) {
	return b.update(ctx, ref, workflows.UpdateResolve, req)
}

// Retry re-runs the step a failed bill stopped at.
func (b *Bills) Retry(ctx context.Context, ref BillRef, req workflows.RetryRequest) (workflows.Decision, error) {
	return b.update(ctx, ref, workflows.UpdateRetry, req)
}

// update runs an update and answers the bill's Decision after it: the update's own answer (the
// bill answers a decision once applied, in brief when asked in the header), so a decision is one
// call to Temporal, and its answer a few hundred bytes, not the whole state.
func (b *Bills) update(ctx context.Context, ref BillRef, name string, arg any) (workflows.Decision, error) {
	if err := ref.check(); err != nil {
		return workflows.Decision{}, err
	}
	var d workflows.Decision
	if err := b.updateResult(callheader.With(ctx, workflows.AnswerHeader, answerCompact), ref, name, arg, &d); err != nil {
		return workflows.Decision{}, b.withFailure(ctx, ref, err)
	}
	return d, nil
}

// answerCompact is the AnswerHeader's value that asks a bill for its Decision.
var answerCompact, _ = converter.GetDefaultDataConverter().ToPayload(workflows.AnswerCompact)

// withFailure completes a cloud refusal (502) with the step and the field the bill recorded in
// its state.error (the update's own error carries the cloud's code, not always its field).
func (b *Bills) withFailure(ctx context.Context, ref BillRef, err error) error {
	e := ErrorFrom(err)
	if e.Status != http.StatusBadGateway || e.Field != "" && e.Step != "" {
		return err
	}
	st, qerr := b.queryState(ctx, ref)
	if qerr != nil || st.Error == nil || st.Error.Code != appErrCloudPrefix+e.CloudCode {
		return err
	}
	out := *e
	out.Step = st.Error.Step
	if out.Field == "" {
		out.Field = st.Error.Field
	}
	return &out
}

// vouch signs the update name(arg) with id for the bill (internal/voice), so the worker knows the
// API sent it: the context carries the signature to the client's interceptor. Without keys it
// signs nothing. The signature covers the id, so an empty one is drawn here rather than by the SDK.
func (b *Bills) vouch(ctx context.Context, ref BillRef, name, id string, arg any) (context.Context, string, error) {
	if b.Voice == nil {
		return ctx, id, nil
	}
	if id == "" {
		buf := make([]byte, 16)
		_, _ = rand.Read(buf)
		id = hex.EncodeToString(buf)
	}
	sig, err := b.Voice.Sign(ref.WorkflowID(), name, id, arg)
	if err != nil {
		return ctx, "", err
	}
	return voice.WithSignature(ctx, sig), id, nil
}

func (b *Bills) updateResult(ctx context.Context, ref BillRef, name string, arg, result any) error {
	// The caller's idempotency key with its request's fingerprint: a retry of the same call gets
	// the first call's outcome, the key with another request is refused (422).
	ctx, id, err := b.vouch(ctx, ref, name, updateID(ctx), arg)
	if err != nil {
		return err
	}
	handle, err := b.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		UpdateID:     id,
		WorkflowID:   ref.WorkflowID(),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return b.endedOrMissing(ctx, ref, err)
	}
	if err := handle.Get(ctx, result); err != nil {
		return b.endedOrMissing(ctx, ref, err)
	}
	return nil
}

// endedOrMissing tells "no such bill" (404) from "the bill has ended" (409): Temporal answers
// NotFound for both when a message is sent.
func (b *Bills) endedOrMissing(ctx context.Context, ref BillRef, err error) error {
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		return err
	}
	desc, derr := b.Client.DescribeWorkflow(ctx, ref.WorkflowID(), "")
	if derr != nil {
		return b.notFound(ref, derr)
	}
	if desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		status := strings.ToLower(strings.TrimPrefix(desc.Status.String(), "WORKFLOW_EXECUTION_STATUS_"))
		return conflict(SubFinished, fmt.Sprintf("bill %s has ended (workflow %s)", ref.ID(), status))
	}
	return b.notFound(ref, err)
}

// Health checks Temporal with a cheap call.
func (b *Bills) Health(ctx context.Context) error {
	_, err := b.Client.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

type idempotencyKey struct{}

// WithIdempotencyKey carries the caller's Idempotency-Key with a call: it becomes the update's id
// (and a start's marker), so the same call sent again gets the first call's answer.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, key)
}

// IdempotencyKey is the key WithIdempotencyKey attached ("" = none).
func IdempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(idempotencyKey{}).(string)
	return k
}

func newRequestID() string {
	var buf [16]byte
	_, _ = rand.Read(buf[:])
	return hex.EncodeToString(buf[:])
}
