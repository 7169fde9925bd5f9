package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/internal/enterprises"
	"rimflow/internal/policy"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// Bills is the ERP's operations on bill workflows. The HTTP handlers and the starter CLI both
// use it, so a bill behaves the same whichever way it is driven.
type Bills struct {
	Client    client.Client
	Namespace string
	TaskQueue string
	// Notifies reports whether a resource's events go to webhooks; a bill started for it sends
	// them (Options.Notify). nil: no bill notifies.
	Notifies func(resource string) bool
	// Enterprises is the enterprise registry: a bill whose billTaxNo is not in it is refused at
	// start, and a bill with an image mode takes its enterprise's scanning point. nil: every tax
	// number is accepted (the worker's one enterprise decides).
	Enterprises Enterprises
	// Policy decides a starting bill's options, duties and ops path (nil: policy.Default()).
	Policy *policy.Policy
	// DataConverter is Client's (with its payload codec), to read the memo a start wrote; nil is
	// Temporal's default.
	DataConverter converter.DataConverter
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
	if strings.TrimSpace(r.Resource) == "" {
		fields["resource"] = "required"
	}
	if strings.TrimSpace(r.BillID) == "" {
		fields["billId"] = "required"
	} else if n := len(r.WorkflowID()); n > MaxIDLen {
		fields["billId"] = idTooLong(n)
	}
	if len(fields) > 0 {
		return ValidationFailed(fields)
	}
	return nil
}

// StartResponse answers POST /v1/bills: where the user collects invoices for the bill.
type StartResponse struct {
	ID         string          `json:"id"`
	WorkflowID string          `json:"workflowId"`
	Stage      workflows.Stage `json:"stage"`
	Collect    workflows.URLs  `json:"collect"`
	View       workflows.URLs  `json:"view"`
}

// memoStartRequest marks the run with the start request that created it: with the USE_EXISTING
// conflict policy a start that joins leaves the memo as it was, so comparing it tells a new bill
// (201) from a running one (200) without racing a describe-before-start.
const memoStartRequest = "rimflowStartRequest"

// Start starts the bill's workflow, or joins the running one, and answers once its eventCode is
// issued (update-with-start of collectUrl{pc}). created reports whether this call started it.
// A bill whose workflow already ended normally is refused (409): a bill key lives once. Only a
// run that failed or was terminated by ops may be started again.
//
// The server's policy decides the bill's options (a caller's option the matching rule does not
// let it choose is a 400 naming it), its segregation of duties and what Temporal Web may send it;
// all of it is frozen into the bill's input. in.Policy must be empty: only the server sets it.
func (b *Bills) Start(ctx context.Context, in workflows.BillInput) (resp StartResponse, created bool, err error) {
	in, e := b.underPolicy(in)
	if e != nil {
		return StartResponse{}, false, e
	}
	if b.Notifies != nil && b.Notifies(in.Resource) {
		in.Options.Notify = true
	}
	if b.Enterprises != nil {
		e, err := b.Enterprises.Lookup(in.BillTaxNo)
		if err != nil {
			return StartResponse{}, false, ValidationFailed(map[string]string{
				"billTaxNo": "not an enterprise of the registry (GET /v1/enterprises lists them)"})
		}
		if in.Options.ScanPoint == "" && in.Options.ImageMode != workflows.ImageNone && in.Options.ImageMode != "" {
			in.Options.ScanPoint = e.ScanPoint // the enterprise scans in the vendor's image system
		}
	}
	ref := BillRef{Resource: in.Resource, BillID: in.BillID}
	requestID := IdempotencyKey(ctx) // a retried start with the same key answers 201 again
	if requestID == "" {
		requestID = newRequestID()
	}
	startOp := b.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       ref.WorkflowID(),
		TaskQueue:                b.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		Memo:                     map[string]any{memoStartRequest: requestID},
		// Set at start so a new bill is findable before its first workflow task runs.
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SABillStage.ValueSet(string(workflows.StageCollecting)),
			workflows.SABillNo.ValueSet(in.BillNo),
			workflows.SABillResource.ValueSet(in.Resource),
			workflows.SABillTaxNo.ValueSet(in.BillTaxNo),
		),
		StaticSummary: fmt.Sprintf("bill %s (%s)", ref.ID(), in.BillNo),
	}, workflows.BillWorkflowName, in)

	handle, err := b.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: startOp,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   workflows.UpdateCollectURL,
			Args:         []any{workflows.CollectURLRequest{Client: "pc"}},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return StartResponse{}, false, startError(ref, err)
	}
	run, err := startOp.Get(ctx)
	if err != nil {
		return StartResponse{}, false, err
	}
	var url workflows.CollectURLResponse
	updateErr := handle.Get(ctx, &url)

	created, err = b.startedBy(ctx, ref, run.GetRunID(), requestID)
	if err != nil {
		return StartResponse{}, false, err
	}
	// A joined bill may be past collecting, where collectUrl is refused: it still answers 200
	// with its current view. A new bill must have its eventCode.
	if updateErr != nil && (created || ErrorFrom(updateErr).Status != http.StatusConflict) {
		return StartResponse{}, created, b.firstStepError(ctx, ref, updateErr)
	}
	state, err := b.queryState(ctx, ref)
	if err != nil {
		return StartResponse{}, created, err
	}
	resp = StartResponse{ID: ref.ID(), WorkflowID: ref.WorkflowID(), Stage: state.Stage,
		Collect: state.Collect, View: state.View}
	if resp.Collect.PC == "" && url.URL != "" {
		expires := url.ExpiresAt
		resp.Collect.PC, resp.Collect.ExpiresAt = url.URL, &expires
	}
	return resp, created, nil
}

// underPolicy resolves the policy for the bill: the effective options (the caller's where the rule
// allows them; historyLimit, scanPoint and scanPollEvery are not policy matters and stay the
// caller's), the rule's duties and ops path; then the workflow's own normalisation and checks.
func (b *Bills) underPolicy(in workflows.BillInput) (workflows.BillInput, *Error) {
	if in.Policy != nil {
		return workflows.BillInput{}, ValidationFailed(map[string]string{"policy": serverSets("policy")})
	}
	d, err := b.policy().Resolve(in.BillType, in.Resource, in.Options)
	if err != nil {
		return workflows.BillInput{}, ErrorFrom(err)
	}
	d.Options.HistoryLimit = in.Options.HistoryLimit
	d.Options.ScanPoint, d.Options.ScanPollEvery = in.Options.ScanPoint, in.Options.ScanPollEvery
	in.Options = d.Options
	in.Policy = &workflows.BillPolicy{Rule: d.Rule, Duties: d.Duties, WebSignals: d.WebSignals}
	if e := checkBill(&in); e != nil {
		return workflows.BillInput{}, e
	}
	return in, nil
}

// firstStepError explains a start whose eventCode could not be issued: when the cloud refused
// the first step the bill waits in `failed` (retry or cancel it) and the caller gets a 502 with
// the cloud's reason instead of the collectUrl validator's "the bill is failed".
func (b *Bills) firstStepError(ctx context.Context, ref BillRef, updateErr error) error {
	st, err := b.queryState(ctx, ref)
	if err != nil || st.Stage != workflows.StageFailed || st.Error == nil ||
		!strings.HasPrefix(st.Error.Code, appErrCloudPrefix) {
		return updateErr
	}
	return newError(http.StatusBadGateway, CodeCloudRefused,
		"Invoice Cloud refused %s: %s (bill %s waits in stage failed: fix the cause, then retry or cancel it)",
		st.Error.Step, st.Error.Reason, ref.ID())
}

// startError turns the update-with-start failure into the API's answer; a closed bill is 409.
func startError(ref BillRef, err error) error {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return newError(http.StatusConflict, CodeAlreadyFinished,
			"bill %s has already finished; a bill key (resource + billId) lives once", ref.ID())
	}
	return err
}

// startedBy reports whether the run carries this request's start marker.
func (b *Bills) startedBy(ctx context.Context, ref BillRef, runID, requestID string) (bool, error) {
	desc, err := b.Client.DescribeWorkflow(ctx, ref.WorkflowID(), runID)
	if err != nil {
		return false, err
	}
	payload := desc.Memo.GetFields()[memoStartRequest]
	if payload == nil {
		return false, nil
	}
	var marker string
	if err := b.dataConverter().FromPayload(payload, &marker); err != nil {
		return false, nil
	}
	return marker == requestID, nil
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
	v, err := b.Client.QueryWorkflow(ctx, ref.WorkflowID(), "", workflows.QueryState)
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

// CollectURL asks the bill for a collect URL valid now (it re-issues the eventCode when needed).
func (b *Bills) CollectURL(ctx context.Context, ref BillRef, clientKind string) (workflows.CollectURLResponse, error) {
	var resp workflows.CollectURLResponse
	if err := ref.check(); err != nil {
		return resp, err
	}
	if clientKind == "" {
		clientKind = "pc"
	}
	if clientKind != "pc" && clientKind != "mobile" {
		return resp, ValidationFailed(map[string]string{"client": "must be pc or mobile"})
	}
	err := b.updateResult(ctx, ref, workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: clientKind}, &resp)
	return resp, err
}

// Invoices forwards a socket payload the ERP received in its browser to the bill (a signal:
// the workflow deduplicates by serialNo, so forwarding twice is harmless). The payload is checked
// as the cloud checks it (checkForwarded), first alone, then against the bill, and bounded per
// message and per bill; nothing is sent unless it all passes. The bill is read from Temporal
// itself (its description and its run's input), not queried, so forwarding needs no worker: it is
// the way in that must work while workers are down.
func (b *Bills) Invoices(ctx context.Context, ref BillRef, msg workflows.InvoicesSignal) error {
	if err := ref.check(); err != nil {
		return err
	}
	if err := checkForwarded(msg, nil); err != nil {
		return err
	}
	target, err := b.forwardTarget(ctx, ref)
	if err != nil {
		return err
	}
	if err := checkForwarded(msg, target); err != nil {
		return err
	}
	err = b.Client.SignalWorkflow(ctx, ref.WorkflowID(), target.runID, workflows.SignalInvoices, msg)
	if err != nil {
		return b.endedOrMissing(ctx, ref, err)
	}
	return nil
}

// Push records a push from the cloud (AWS收票推送) in its bill: once the signals are accepted the
// invoices are durable, and only then does the cloud get its success answer.
func (b *Bills) Push(ctx context.Context, p invoicecloud.Push) error {
	ref := BillRef{Resource: p.Resource, BillID: p.BillID}
	if err := ref.check(); err != nil {
		return err
	}
	if len(p.Message.InvoiceData) == 0 {
		return nil // nothing to record
	}
	for _, d := range calls.DeliveriesOf(p.Message, "") {
		if err := b.Client.SignalWorkflow(ctx, ref.WorkflowID(), "", workflows.SignalDelivery, d); err != nil {
			return b.endedOrMissing(ctx, ref, err)
		}
	}
	return nil
}

// forwardTarget reads what checkForwarded needs of a running bill: how many invoices it holds or
// keeps pending (search attributes) and its input (the companies), the first event of its run.
func (b *Bills) forwardTarget(ctx context.Context, ref BillRef) (*forwardTarget, error) {
	desc, err := b.Client.DescribeWorkflow(ctx, ref.WorkflowID(), "")
	if err != nil {
		return nil, b.notFound(ref, err)
	}
	if desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return nil, newError(http.StatusConflict, CodeAlreadyFinished, "bill %s has ended (workflow %s)",
			ref.ID(), strings.ToLower(desc.Status.String()))
	}
	t := &forwardTarget{workflowID: ref.WorkflowID(), runID: desc.WorkflowExecution.RunID}
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

// Submit ends collecting.
func (b *Bills) Submit(ctx context.Context, ref BillRef, req workflows.SubmitRequest) (workflows.BillState, error) {
	return b.update(ctx, ref, workflows.UpdateSubmit, req)
}

// Approve records an approval decision (approve, reject or return) for the awaiting role.
func (b *Bills) Approve(ctx context.Context, ref BillRef, req workflows.ApproveRequest) (workflows.BillState, error) {
	return b.update(ctx, ref, workflows.UpdateApprove, req)
}

// Images delivers the scanning station's "scanned" message.
func (b *Bills) Images(ctx context.Context, ref BillRef, req workflows.ImagesRequest) (workflows.BillState, error) {
	return b.update(ctx, ref, workflows.UpdateImages, req)
}

// Voucher writes the accounting voucher back.
func (b *Bills) Voucher(ctx context.Context, ref BillRef, req workflows.VoucherRequest) (workflows.BillState, error) {
	return b.update(ctx, ref, workflows.UpdateVoucher, req)
}

// Cancel cancels the bill (refused after the voucher is saved). Cancelling a bill that has
// already ended cancelled for the same reason answers its final state (a retried call).
func (b *Bills) Cancel(ctx context.Context, ref BillRef, req workflows.CancelRequest) (workflows.BillState, error) {
	st, err := b.update(ctx, ref, workflows.UpdateCancel, req)
	if e := ErrorFrom(err); e != nil && e.Code == CodeAlreadyFinished {
		if final, ferr := b.State(ctx, ref); ferr == nil && final.Stage == workflows.StageCancelled &&
			final.Cancel != nil && final.Cancel.Reason == strings.TrimSpace(req.Reason) {
			return final, nil
		}
	}
	return st, err
}

// Resolve closes a failed compensation by hand (audited in the bill's resolutions).
func (b *Bills) Resolve(ctx context.Context, ref BillRef, req workflows.ResolveRequest) (workflows.BillState, error) {
	return b.update(ctx, ref, workflows.UpdateResolve, req)
}

// Retry re-runs the step a failed bill stopped at.
func (b *Bills) Retry(ctx context.Context, ref BillRef, req workflows.RetryRequest) (workflows.BillState, error) {
	return b.update(ctx, ref, workflows.UpdateRetry, req)
}

// update runs an update and answers the bill's state after it.
func (b *Bills) update(ctx context.Context, ref BillRef, name string, arg any) (workflows.BillState, error) {
	if err := ref.check(); err != nil {
		return workflows.BillState{}, err
	}
	if err := b.updateResult(ctx, ref, name, arg, nil); err != nil {
		return workflows.BillState{}, err
	}
	return b.State(ctx, ref)
}

func (b *Bills) updateResult(ctx context.Context, ref BillRef, name string, arg, result any) error {
	handle, err := b.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		// The caller's idempotency key: a retry of the same call gets the first call's outcome.
		UpdateID:     IdempotencyKey(ctx),
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
		status := strings.ToLower(desc.Status.String())
		return newError(http.StatusConflict, CodeAlreadyFinished, "bill %s has ended (workflow %s)", ref.ID(), status)
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
