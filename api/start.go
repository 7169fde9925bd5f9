package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"rimflow/workflows"
)

// StartResponse answers POST /v1/bills: where the user collects invoices for the bill.
type StartResponse struct {
	ID         string          `json:"id"`
	WorkflowID string          `json:"workflowId"`
	Stage      workflows.Stage `json:"stage"`
	Collect    workflows.URLs  `json:"collect"`
	View       workflows.URLs  `json:"view"`
	// Pending is set on a 202: the bill runs but its eventCode is not issued yet (the cloud is
	// slow or failing, or no worker has taken the bill yet). Ask GET …/collect-url later.
	Pending *StartPending `json:"pending,omitempty"`
}

// StartPending is what is known of a start that has not issued its eventCode in time.
type StartPending struct {
	Reason string `json:"reason"`
	// Activity is the step the bill is retrying (GetEventCode), Attempt its attempt number and
	// LastError the last failure, with the cloud's code when the cloud answered one.
	Activity  string `json:"activity,omitempty"`
	Attempt   int32  `json:"attempt,omitempty"`
	LastError string `json:"lastError,omitempty"`
	CloudCode string `json:"cloudCode,omitempty"`
}

// memoStartRequest marks the run with the start request that created it: with the USE_EXISTING
// conflict policy a start that joins leaves the memo as it was, so comparing it tells a new bill
// (201) from a running one (200) without racing a describe-before-start.
const memoStartRequest = workflows.MemoStartRequest

// Start starts the bill's workflow, or joins the running one, and answers once its eventCode is
// issued (update-with-start of collectUrl{pc}), or after StartWait with what is known (Pending).
// created reports whether this call started it.
//
// A bill key lives once: a bill that ended normally is refused (409 finished), except one
// cancelled before anything was bound (a failed start given up), which may start again. A run
// that failed or was terminated by ops may start again too. A start for a running bill must carry
// the running bill's values: a different body is 409 different_body naming the fields.
func (b *Bills) Start(ctx context.Context, in workflows.BillInput) (resp StartResponse, created bool, err error) {
	in, e := b.underPolicy(in)
	if e != nil {
		return StartResponse{}, false, e
	}
	// The server decides whether a bill notifies, whatever the body says.
	in.Options.Notify = b.Notifies != nil && b.Notifies(in.Resource)
	in.Options.ReissueMargin = workflows.Duration(b.ReissueMargin)
	if e := b.toEnterprise(&in); e != nil {
		return StartResponse{}, false, e
	}
	ref := BillRef{Resource: in.Resource, BillID: in.BillID}
	requestID := updateID(ctx) // a retried start with the same key answers 201 again
	if requestID == "" {
		requestID = newRequestID()
	}
	waitCtx, cancel := context.WithTimeout(ctx, b.startWait())
	defer cancel()

	// One call in the common case: update-with-start, with the reuse policy that starts a new bill
	// or a new life after a failed run, and joins a running bill (which compares the body itself,
	// StartCheck). Only a key whose last run ended normally is looked at first (startPolicy): it is
	// refused, or starts again when it was cancelled before anything was bound.
	resp, created, err = b.startWith(ctx, waitCtx, ref, in, requestID, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY)
	var closed *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &closed) {
		return resp, created, err
	}
	reuse, err := b.startPolicy(waitCtx, ref, in, requestID)
	if err != nil {
		if waitedTooLong(ctx, waitCtx, err) {
			return b.startPending(ctx, ref, requestID, "the running bill did not answer in time, so the body was not compared with it")
		}
		return StartResponse{}, false, err
	}
	resp, created, err = b.startWith(ctx, waitCtx, ref, in, requestID, reuse)
	if errors.As(err, &closed) {
		return StartResponse{}, false, startError(ref, err)
	}
	return resp, created, err
}

// startWith runs the update-with-start under reuse. A WorkflowExecutionAlreadyStarted error is
// returned as is: the key's last run is closed and reuse refused a new one.
func (b *Bills) startWith(ctx, waitCtx context.Context, ref BillRef, in workflows.BillInput, requestID string,
	reuse enumspb.WorkflowIdReusePolicy) (StartResponse, bool, error) {
	startOp := b.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       ref.WorkflowID(),
		TaskQueue:                b.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    reuse,
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

	// The bill answers the start's view with the URL, after comparing the body with its own.
	check := workflows.CollectURLRequest{Client: "pc", Start: &workflows.StartCheck{Body: workflows.BodyDigest(in)}}
	signedCtx, checkID, err := b.vouch(waitCtx, ref, workflows.UpdateCollectURL, "", check)
	if err != nil {
		return StartResponse{}, false, err
	}
	handle, err := b.Client.UpdateWithStartWorkflow(signedCtx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: startOp,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: workflows.UpdateCollectURL, UpdateID: checkID,
			Args: []any{check}, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	var url workflows.CollectURLResult
	var updateErr error
	if err == nil {
		updateErr = handle.Get(waitCtx, &url)
	}
	if waitedTooLong(ctx, waitCtx, cmp.Or(err, updateErr)) {
		return b.startPending(ctx, ref, requestID, "the eventCode was not issued in time")
	}
	var closed *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &closed) {
		return StartResponse{}, false, err
	}
	if err != nil {
		return StartResponse{}, false, startError(ref, err)
	}
	if isDifferentBody(updateErr) {
		// A key used before with another request says so first (422), as the look before a start did.
		if e := b.keyReusedByRun(ctx, ref, requestID); e != nil {
			return StartResponse{}, false, e
		}
		return StartResponse{}, false, b.differentBody(ctx, ref, in, updateErr)
	}
	run, err := startOp.Get(ctx)
	if err != nil {
		return StartResponse{}, false, err
	}
	if v := url.Start; updateErr == nil && v != nil {
		// The bill's own answer: no other call.
		resp := StartResponse{ID: ref.ID(), WorkflowID: ref.WorkflowID(), Stage: v.Stage, Collect: v.Collect, View: v.View}
		withURL(&resp, url.CollectURLResponse)
		marker := b.markerOf(markerPayload(v.Marker))
		if startReused(marker, requestID) {
			return StartResponse{}, false, startKeyReused(ref)
		}
		return resp, sameStart(marker, requestID), nil
	}
	// No start view: the bill refused the URL (it joined past collecting, or its first step
	// failed), or a worker of an earlier release answered; the run and the state tell.
	created, err := b.startedBy(ctx, ref, run.GetRunID(), requestID)
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
	if diff := billDiff(state.Bill, in); !created && len(diff) > 0 {
		return StartResponse{}, false, differentBodyError(ref, diff) // an earlier release's worker did not compare
	}
	resp := StartResponse{ID: ref.ID(), WorkflowID: ref.WorkflowID(), Stage: state.Stage,
		Collect: state.Collect, View: state.View}
	withURL(&resp, url.CollectURLResponse)
	return resp, created, nil
}

// withURL fills the pc collect URL from the update's answer when the view has none yet.
func withURL(resp *StartResponse, url workflows.CollectURLResponse) {
	if resp.Collect.PC == "" && url.URL != "" {
		expires := url.ExpiresAt
		resp.Collect.PC, resp.Collect.ExpiresAt = url.URL, &expires
	}
}

// markerPayload reads the start marker a bill answered (a serialized payload); nil if none.
func markerPayload(raw []byte) *commonpb.Payload {
	if len(raw) == 0 {
		return nil
	}
	var p commonpb.Payload
	if proto.Unmarshal(raw, &p) != nil {
		return nil
	}
	return &p
}

// isDifferentBody: the running bill refused the start's body (StartCheck).
func isDifferentBody(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == workflows.ErrTypeDifferentBody
}

// differentBody names the fields of a start body the running bill refused (409 different_body).
// startKeyReused is the 422 for a start whose Idempotency-Key started the bill with another request.
func startKeyReused(ref BillRef) *Error {
	return keyReused(fmt.Sprintf("bill %s was started with this Idempotency-Key and another request: "+
		"a new request needs a new key", ref.ID()))
}

// keyReusedByRun is the 422 for a start whose Idempotency-Key started the running bill with another
// request (nil otherwise, or when the run cannot be described).
func (b *Bills) keyReusedByRun(ctx context.Context, ref BillRef, requestID string) *Error {
	desc, err := b.Client.DescribeWorkflow(ctx, ref.WorkflowID(), "")
	if err != nil || !startReused(b.markerOf(desc.Memo.GetFields()[memoStartRequest]), requestID) {
		return nil
	}
	return startKeyReused(ref)
}

func (b *Bills) differentBody(ctx context.Context, ref BillRef, in workflows.BillInput, refusal error) error {
	st, err := b.queryState(ctx, ref)
	if err != nil {
		return refusal
	}
	diff := billDiff(st.Bill, in)
	if len(diff) == 0 {
		return refusal
	}
	return differentBodyError(ref, diff)
}

func differentBodyError(ref BillRef, diff map[string]string) *Error {
	e := conflict(SubDifferentBody, fmt.Sprintf("bill %s is running with other values (%s): send the running bill's "+
		"values, or amend a failed bill (PATCH), or cancel it and start again", ref.ID(), strings.Join(slices.Sorted(maps.Keys(diff)), ", ")))
	e.Fields = diff
	return e
}

// underPolicy resolves the policy for the bill: the effective options (the caller's where the rule
// allows them, historyLimit, scanPoint and scanPollEvery included, within bounds), the rule's
// duties and ops path; then the workflow's own normalisation and a new bill's checks (checkBill).
func (b *Bills) underPolicy(in workflows.BillInput) (workflows.BillInput, *Error) {
	if in.Policy != nil {
		return workflows.BillInput{}, ValidationFailed(map[string]string{"policy": serverSets("policy")})
	}
	if in.Limits != nil {
		return workflows.BillInput{}, ValidationFailed(map[string]string{"limits": serverSets("limits")})
	}
	// The enterprise's limits are frozen into the bill and checked with the rest (an unknown
	// billTaxNo is refused by toEnterprise; Lookup normalises the tax number).
	if b.Enterprises != nil {
		if e, err := b.Enterprises.Lookup(in.BillTaxNo); err == nil && e.Limits != nil {
			l := e.Limits.Or()
			in.Limits = &l
		}
	}
	d, err := b.policy().Resolve(in.BillType, in.Resource, in.Options)
	if err != nil {
		return workflows.BillInput{}, ErrorFrom(err)
	}
	in.Options = d.Options
	in.Policy = &workflows.BillPolicy{Rule: d.Rule, Duties: d.Duties, WebSignals: d.WebSignals}
	if e := checkBill(&in); e != nil {
		return workflows.BillInput{}, e
	}
	return in, nil
}

// toEnterprise routes the bill to its enterprise in the registry: an unknown billTaxNo is refused
// (400), and a bill with an image mode takes its enterprise's scanning point unless it names one.
func (b *Bills) toEnterprise(in *workflows.BillInput) *Error {
	if b.Enterprises == nil {
		return nil
	}
	e, err := b.Enterprises.Lookup(in.BillTaxNo)
	if err != nil {
		return ValidationFailed(map[string]string{"billTaxNo": "not an enterprise of the registry (GET /v1/enterprises lists them)"})
	}
	mode := in.Options.ImageMode
	if mode == "" || mode == workflows.ImageNone {
		return nil
	}
	// An image system not set up for the mode (imageSystem.modes) would leave the bill waiting at
	// its image review for a match or a sync that never comes: refused before anything starts.
	if e.Image != nil && !e.Image.SetUpFor(mode) {
		return ValidationFailed(map[string]string{"options.imageMode": fmt.Sprintf("%s: the image system of %s is set up for %s only "+
			"(imageSystem.modes in the enterprises file)", mode, e.Label(), strings.Join(e.Image.Modes, ", "))})
	}
	if in.Options.ScanPoint == "" {
		in.Options.ScanPoint = e.ScanPoint // the enterprise scans in the vendor's image system
	}
	return nil
}

func (b *Bills) startWait() time.Duration {
	if b.StartWait > 0 {
		return b.StartWait
	}
	return DefaultStartWait
}

// waitedTooLong: the start's own wait ran out while the caller's request still has time. The SDK
// ends an update's long poll a little before the context's deadline (its own timeout error), so
// a timeout answered inside the wait counts as the wait running out too.
func waitedTooLong(ctx, waitCtx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var updateTimeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
	return errors.Is(waitCtx.Err(), context.DeadlineExceeded) ||
		errors.As(err, &updateTimeout) || errors.Is(err, context.DeadlineExceeded)
}

// startPolicy decides, from the bill key's last run, whether this start may go ahead and with
// which ID reuse policy: no run or a running one (compared with the body), a run that failed or
// was terminated (FAILED_ONLY lets it start again), a normal end (refused), and a bill cancelled
// before anything was bound (ALLOW_DUPLICATE: the key starts again). The policy is exact for the
// run seen: if a running bill ends between this look and the start, FAILED_ONLY still refuses it.
func (b *Bills) startPolicy(ctx context.Context, ref BillRef, in workflows.BillInput, requestID string) (enumspb.WorkflowIdReusePolicy, error) {
	failedOnly := enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
	desc, err := b.Client.DescribeWorkflow(ctx, ref.WorkflowID(), "")
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return failedOnly, nil
	case err != nil:
		return 0, err
	}
	switch desc.Status {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		if marker := b.markerOf(desc.Memo.GetFields()[memoStartRequest]); startReused(marker, requestID) {
			return 0, startKeyReused(ref)
		}
		st, err := b.queryState(ctx, ref)
		if err != nil {
			return 0, err
		}
		if diff := billDiff(st.Bill, in); len(diff) > 0 {
			return 0, differentBodyError(ref, diff)
		}
		return failedOnly, nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		var st workflows.BillState
		if err := b.Client.GetWorkflow(ctx, ref.WorkflowID(), desc.WorkflowExecution.RunID).Get(ctx, &st); err != nil {
			return 0, err
		}
		if st.Stage == workflows.StageCancelled && st.InvoiceCount == 0 && len(st.Invoices) == 0 {
			return enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, nil
		}
		return 0, conflict(SubFinished, fmt.Sprintf("bill %s has finished (stage %s); a bill key (resource + billId) lives once: "+
			"only a bill cancelled before any invoice was bound can be started again", ref.ID(), st.Stage))
	}
	return failedOnly, nil // failed, terminated, timed out or cancelled by Temporal: a new life
}

// billDiff names the fields of a start body that differ from the running bill's input (both
// normalised; the server-set policy, notify and reissueMargin are not the caller's). The values compared are
// the JSON the API takes, field by field down to the options' own fields.
func billDiff(running, posted workflows.BillInput) map[string]string {
	running.Normalize()
	a, b := jsonFields(running), jsonFields(posted)
	out := map[string]string{}
	for k := range a {
		if _, ok := b[k]; !ok {
			b[k] = nil
		}
	}
	for k, v := range b {
		if !reflect.DeepEqual(a[k], v) {
			out[k] = "differs from the running bill's: " + shortJSON(a[k])
		}
	}
	return out
}

// jsonFields is the start fields compared (workflows.StartFields: the bill compares the same).
func jsonFields(in workflows.BillInput) map[string]any { return workflows.StartFields(in) }

func shortJSON(v any) string {
	if v == nil {
		return "(not set)"
	}
	raw, _ := json.Marshal(v)
	if len(raw) > 120 {
		return string(raw[:117]) + "…"
	}
	return string(raw)
}

// startPending answers a start whose eventCode did not come within StartWait: 202 with the bill's
// stage and what it is waiting on (the step being retried and its last error), when the bill runs.
func (b *Bills) startPending(ctx context.Context, ref BillRef, requestID, reason string) (StartResponse, bool, error) {
	resp, err := b.Client.DescribeWorkflowExecution(ctx, ref.WorkflowID(), "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return StartResponse{}, false, newError(http.StatusGatewayTimeout, CodeTimeout,
			"bill %s was not started in time: Temporal did not take the start; send it again", ref.ID())
	}
	if err != nil {
		return StartResponse{}, false, err
	}
	info := resp.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return StartResponse{}, false, conflict(SubFinished, fmt.Sprintf("bill %s has ended (workflow %s)",
			ref.ID(), strings.ToLower(info.GetStatus().String())))
	}
	created := sameStart(b.markerOf(info.GetMemo().GetFields()[memoStartRequest]), requestID)
	out := StartResponse{ID: ref.ID(), WorkflowID: ref.WorkflowID(), Stage: stageOf(resp),
		Pending: &StartPending{Reason: reason + "; the bill is running: ask GET …/collect-url later"}}
	if acts := resp.GetPendingActivities(); len(acts) > 0 {
		a := acts[0]
		out.Pending.Activity, out.Pending.Attempt = a.GetActivityType().GetName(), a.GetAttempt()
		if f := a.GetLastFailure(); f != nil {
			out.Pending.LastError = f.GetMessage()
			if t := f.GetApplicationFailureInfo().GetType(); strings.HasPrefix(t, appErrCloudPrefix) {
				out.Pending.CloudCode = strings.TrimPrefix(t, appErrCloudPrefix)
			}
		}
	} else if info.GetHistoryLength() <= 2 {
		out.Pending.Reason = reason + "; no worker has taken the bill yet (is a worker running on task queue " +
			info.GetTaskQueue() + "?)"
	}
	return out, created, nil
}

// stageOf reads the bill's stage from its BillStage search attribute (no worker needed).
func stageOf(resp *workflowservice.DescribeWorkflowExecutionResponse) workflows.Stage {
	p := resp.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[workflows.SABillStage.GetName()]
	var s string
	if p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	}
	if s == "" {
		return workflows.StageCollecting
	}
	return workflows.Stage(s)
}

// firstStepError explains a start whose eventCode could not be issued: when the cloud refused
// the first step the bill waits in `failed` (amend and retry, or cancel it) and the caller gets a
// 502 with the cloud's code and field instead of the collectUrl validator's "the bill is failed".
func (b *Bills) firstStepError(ctx context.Context, ref BillRef, updateErr error) error {
	st, err := b.queryState(ctx, ref)
	if err != nil || st.Stage != workflows.StageFailed || st.Error == nil ||
		!strings.HasPrefix(st.Error.Code, appErrCloudPrefix) {
		return updateErr
	}
	e := newError(http.StatusBadGateway, CodeCloudRefused,
		"Invoice Cloud refused %s: %s (bill %s waits in stage failed: amend it (PATCH) and retry it, or cancel it and start again)",
		st.Error.Step, st.Error.Reason, ref.ID())
	e.CloudCode, e.Field, e.Step = strings.TrimPrefix(st.Error.Code, appErrCloudPrefix), st.Error.Field, st.Error.Step
	return e
}

// startError turns the update-with-start failure into the API's answer; a closed bill is 409.
func startError(ref BillRef, err error) error {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return conflict(SubFinished, fmt.Sprintf("bill %s has already finished; a bill key (resource + billId) lives once", ref.ID()))
	}
	return err
}

// startedBy reports whether the run carries this request's start marker.
func (b *Bills) startedBy(ctx context.Context, ref BillRef, runID, requestID string) (bool, error) {
	desc, err := b.Client.DescribeWorkflow(ctx, ref.WorkflowID(), runID)
	if err != nil {
		return false, err
	}
	return sameStart(b.markerOf(desc.Memo.GetFields()[memoStartRequest]), requestID), nil
}

// markerOf reads a start marker from the memo (sealed like every payload when the codec is on).
func (b *Bills) markerOf(p *commonpb.Payload) string {
	var marker string
	if p == nil || b.dataConverter().FromPayload(p, &marker) != nil {
		return ""
	}
	return marker
}
