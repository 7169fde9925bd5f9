package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"rimflow/internal/access"
	"rimflow/workflows"
)

// VoucherSetRequest is one voucher for many bills (POST /v1/vouchers): the voucher's fields as
// on a bill's voucher, and the bills it books (voucherSave's expenseIdArray), in the ERP's order.
type VoucherSetRequest struct {
	workflows.VoucherRequest
	Bills []workflows.BillKey `json:"bills"`
}

// VoucherSetResponse answers a saved voucher set: the set (its workflow ID, which holds the
// vouchId), each bill with its stage after the voucher, and the invoices booked.
type VoucherSetResponse struct {
	VouchID   string           `json:"vouchId"`
	Set       string           `json:"set"`
	Bills     []VoucherSetBill `json:"bills"`
	SerialNos []string         `json:"serialNos"`
}

// VoucherSetBill is one bill of a saved set.
type VoucherSetBill struct {
	ID    string          `json:"id"` // resource/billId
	Stage workflows.Stage `json:"stage"`
}

// checkVoucherSet names every bad field of a set: the voucher's (as a bill checks them) and the
// bills' (at least one, at most workflows.MaxVoucherSetBills, each once).
func checkVoucherSet(req VoucherSetRequest) *Error {
	f := map[string]string{}
	for name, v := range map[string]string{"vouchId": req.VouchID, "vouchNo": req.VouchNo, "resource": req.Resource} {
		if strings.TrimSpace(v) == "" {
			f[name] = "required"
		}
	}
	for name, v := range map[string]string{"accountDate": req.AccountDate, "accountTime": req.AccountTime, "businessDate": req.BusinessDate} {
		if v == "" {
			f[name] = "required (yyyy-MM-dd)"
		} else if _, err := time.Parse(time.DateOnly, v); err != nil {
			f[name] = fmt.Sprintf("must be a date yyyy-MM-dd, got %q", v)
		}
	}
	switch n := len(req.Bills); {
	case n == 0:
		f["bills"] = "required: the bills the voucher books (at least one)"
	case n > workflows.MaxVoucherSetBills:
		f["bills"] = fmt.Sprintf("at most %d bills on one voucher, got %d", workflows.MaxVoucherSetBills, n)
	}
	seen := map[string]int{}
	for i, k := range req.Bills {
		ref := BillRef{Resource: strings.TrimSpace(k.Resource), BillID: strings.TrimSpace(k.BillID)}
		if e := ref.check(); e != nil {
			for name, why := range e.Fields {
				f[fmt.Sprintf("bills[%d].%s", i, name)] = why
			}
			continue
		}
		if j, dup := seen[ref.WorkflowID()]; dup {
			f[fmt.Sprintf("bills[%d]", i)] = fmt.Sprintf("repeats bills[%d]", j)
		}
		seen[ref.WorkflowID()] = i
	}
	if len(f) > 0 {
		return ValidationFailed(f)
	}
	return nil
}

func (s *server) saveVoucherSet(r *http.Request) (int, any, error) {
	var req VoucherSetRequest
	if e := decodeBody(r, &req, true); e != nil {
		return 0, nil, e
	}
	c := callerFrom(r.Context())
	for _, k := range req.Bills {
		if res := strings.TrimSpace(k.Resource); res != "" {
			if e := authorize(c.client, access.OpVoucher, res); e != nil {
				return 0, nil, e
			}
		}
	}
	if e := Stamp(workflows.Actor{Client: clientName(c.client), User: c.user}, &req.VoucherRequest); e != nil {
		return 0, nil, e
	}
	resp, err := s.bills.VoucherSet(r.Context(), req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, resp, nil
}

// VoucherSet books one voucher on many bills with one voucherSave (workflows.VoucherSetWorkflow):
// every bill must await its voucher, or nothing is saved and the answer is 409 naming the first
// that does not. The vouchId is claimed for the set (the set's workflow is its claim): another
// bill's or another set's claim is 409 voucher_in_use; the same set sent again joins it.
func (b *Bills) VoucherSet(ctx context.Context, req VoucherSetRequest) (VoucherSetResponse, error) {
	if e := checkVoucherSet(req); e != nil {
		return VoucherSetResponse{}, e
	}
	in := workflows.VoucherSetInput{Voucher: req.VoucherRequest}
	var ids []string
	for _, k := range req.Bills {
		key := workflows.BillKey{Resource: strings.TrimSpace(k.Resource), BillID: strings.TrimSpace(k.BillID)}
		in.Bills = append(in.Bills, key)
		ids = append(ids, workflows.BillWorkflowID(key.Resource, key.BillID))
	}
	id := workflows.VoucherClaimID(strings.TrimSpace(req.Resource), strings.TrimSpace(req.VouchID))
	if err := b.setClaimFree(ctx, id, req.VoucherRequest, ids); err != nil {
		return VoucherSetResponse{}, err
	}
	startOp := b.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                b.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		Memo:                     map[string]any{workflows.VoucherClaimMemoBill: ids[0], workflows.VoucherClaimMemoBills: ids},
		StaticSummary:            fmt.Sprintf("voucher %s on %d bill(s)", req.VouchNo, len(ids)),
	}, workflows.VoucherSetWorkflowName, in)
	handle, err := b.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: startOp,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID: updateID(ctx), UpdateName: workflows.UpdateVoucherSetOutcome, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	var res workflows.VoucherSetResult
	if err == nil {
		err = handle.Get(ctx, &res)
	}
	if err != nil {
		return VoucherSetResponse{}, setError(id, req, err)
	}
	out := VoucherSetResponse{VouchID: req.VouchID, Set: id, SerialNos: res.SerialNos}
	// Each bill was told by signal: it records the voucher a moment after the set answers.
	for _, k := range in.Bills {
		ref := BillRef{Resource: k.Resource, BillID: k.BillID}
		st, err := b.waitVoucherSaved(ctx, ref)
		if err != nil {
			return VoucherSetResponse{}, err
		}
		out.Bills = append(out.Bills, VoucherSetBill{ID: ref.ID(), Stage: st.Stage})
	}
	return out, nil
}

// setClaimFree refuses a vouchId claimed by a bill or by another set (409 voucher_in_use naming
// it); the same set (the same bills, in any order) may be joined.
func (b *Bills) setClaimFree(ctx context.Context, id string, v workflows.VoucherRequest, ids []string) error {
	desc, err := b.Client.DescribeWorkflow(ctx, id, "")
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return nil
	case err != nil:
		return err
	case desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return nil
	}
	var holder string
	var set []string
	_ = desc.GetMemoValue(workflows.VoucherClaimMemoBill, &holder)
	if desc.WorkflowType.Name == workflows.VoucherSetWorkflowName {
		_ = desc.GetMemoValue(workflows.VoucherClaimMemoBills, &set)
		if slices.Equal(slices.Sorted(slices.Values(set)), slices.Sorted(slices.Values(ids))) {
			return nil
		}
	} else {
		set = []string{holder}
	}
	var names []string
	for _, h := range set {
		if resource, billID, ok := workflows.ParseBillWorkflowID(h); ok {
			h = resource + "/" + billID
		}
		names = append(names, h)
	}
	e := conflict(SubVoucherInUse, fmt.Sprintf("vouchId %q (resource %s) is booked on bill(s) %s: a voucher's id belongs to one bill or one set of bills",
		v.VouchID, v.Resource, strings.Join(names, ", ")))
	e.Fields = map[string]string{"vouchId": "held by bill(s) " + strings.Join(names, ", ")}
	return e
}

// setError maps the set's failure: a bill's refusal is 409 naming it (bills[i]); the cloud's
// refusal of voucherSave is 502 as on a bill; a claim taken by a bill meanwhile is voucher_in_use.
func setError(id string, req VoucherSetRequest, err error) error {
	if app := findApplicationError(err, func(a *temporal.ApplicationError) bool { return a.Type() == workflows.ErrTypeVoucherSetRefused }); app != nil {
		var r workflows.VoucherSetRefusal
		if app.HasDetails() && app.Details(&r) == nil {
			e := conflict(subCodeOf(temporal.NewApplicationError(r.Reason, "").(*temporal.ApplicationError)), app.Message()+": nothing was saved")
			e.Fields = map[string]string{fmt.Sprintf("bills[%d]", r.Index): r.Reason}
			return e
		}
		return conflict(SubRefused, app.Message())
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) || strings.Contains(err.Error(), "unknown update") {
		e := conflict(SubVoucherInUse, fmt.Sprintf("vouchId %q (resource %s) was claimed by a bill meanwhile (%s)", req.VouchID, req.Resource, id))
		e.Fields = map[string]string{"vouchId": "held by another bill"}
		return e
	}
	return err
}

// waitVoucherSaved waits (within the call's time) until the bill shows the set's voucher saved.
func (b *Bills) waitVoucherSaved(ctx context.Context, ref BillRef) (workflows.BillState, error) {
	for {
		st, err := b.State(ctx, ref)
		if err != nil {
			return st, err
		}
		if st.Voucher != nil && st.Voucher.SavedAt != nil {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReverseVoucher takes the bill's booked voucher back (反记账) within its reversal window
// (workflows/reversal.go): the bill awaits a new voucher. A voucher of several bills is refused
// naming them (409 voucher_shared); once reversed, the vouchId's claim is released, so the ERP may
// book it again on any bill.
func (b *Bills) ReverseVoucher(ctx context.Context, ref BillRef, req workflows.VoucherReversalRequest) (workflows.Decision, error) {
	req.VouchID, req.Reason, req.By = strings.TrimSpace(req.VouchID), strings.TrimSpace(req.Reason), strings.TrimSpace(req.By)
	st, err := b.update(ctx, ref, workflows.UpdateReverseVoucher, req)
	st, err = b.repeatOfTheEnd(ctx, ref, st, err, func(final workflows.BillState) bool {
		n := len(final.Reversals)
		return n > 0 && final.Reversals[n-1].VouchID == req.VouchID && (final.Voucher == nil || final.Voucher.VouchID != req.VouchID)
	})
	if e := ErrorFrom(err); e != nil {
		switch {
		case e.SubCode == SubVoucherShared:
			return st, b.sharedWith(ctx, ref, e)
		case e.Code == CodeAlreadyFinished:
			out := *e
			out.Message = fmt.Sprintf("bill %s has ended: a voucher is reversed only while the bill waits in its reversal window "+
				"(options.reversalWindow at start; state.voucher.reversibleUntil)", ref.ID())
			return st, &out
		}
		return st, err
	}
	if n := len(st.Reversals); n > 0 {
		b.releaseClaim(ctx, ref, st.Reversals[n-1])
	}
	return st, nil
}

// sharedWith names the other bills of the voucher set that booked the bill's voucher.
func (b *Bills) sharedWith(ctx context.Context, ref BillRef, e *Error) error {
	out := *e
	st, err := b.State(ctx, ref)
	if err != nil || st.Voucher == nil || st.Voucher.Set == "" {
		return &out
	}
	var others []string
	if desc, derr := b.Client.DescribeWorkflow(ctx, st.Voucher.Set, ""); derr == nil {
		var set []string
		_ = desc.GetMemoValue(workflows.VoucherClaimMemoBills, &set)
		for _, id := range set {
			if id == ref.WorkflowID() {
				continue
			}
			if resource, billID, ok := workflows.ParseBillWorkflowID(id); ok {
				id = resource + "/" + billID
			}
			others = append(others, id)
		}
	}
	if len(others) > 0 {
		out.Message = fmt.Sprintf("voucher %s of bill %s is shared with bill(s) %s (one voucherSave booked them together): a reversal of one bill is refused",
			st.Voucher.VouchNo, ref.ID(), strings.Join(others, ", "))
		out.Fields = map[string]string{"vouchId": "shared with bill(s) " + strings.Join(others, ", ")}
	} else {
		out.Fields = map[string]string{"vouchId": "shared through voucher set " + st.Voucher.Set}
	}
	return &out
}

// releaseClaim frees the reversed vouchId's claim when this bill holds it (best effort: a claim
// left behind refuses the vouchId for other bills only, until ops signal it release).
func (b *Bills) releaseClaim(ctx context.Context, ref BillRef, rec workflows.ReversalRecord) {
	id := workflows.VoucherClaimID(strings.TrimSpace(rec.Resource), strings.TrimSpace(rec.VouchID))
	desc, err := b.Client.DescribeWorkflow(ctx, id, "")
	if err != nil || desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || desc.WorkflowType.Name != workflows.VoucherClaimWorkflowName {
		return
	}
	var holder string
	if desc.GetMemoValue(workflows.VoucherClaimMemoBill, &holder) != nil || holder != ref.WorkflowID() {
		return
	}
	_ = b.Client.SignalWorkflow(context.WithoutCancel(ctx), id, "", workflows.SignalReleaseVoucher, nil)
}
