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
