package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/internal/voice"
	"rimflow/invoicecloud"
)

// One voucher for many bills: voucherSave takes the bills it books (expenseIdArray, the ERP's
// bill ids) with their invoices (serialNoArray), so an ERP that books several bills on one
// voucher sends one call. The set is a workflow of its own (VoucherSetWorkflow): its ID is the
// vouchId's claim (VoucherClaimID), so the vouchId is booked on this set and nothing else, and it
// owns the whole exchange, whoever crashes:
//  1. it holds each bill (update voucherHold): the bill must await its voucher; held, it refuses
//     another voucher and a cancel, and waits for the set's outcome (carried across continue-as-new);
//  2. any bill refusing ends the set: the bills held so far are told "not saved" (they await
//     their voucher again), the vouchId is free, nothing was saved;
//  3. one voucherSave for all the bills' invoices (same messageId on every retry);
//  4. each bill is told the outcome (update voucherOutcome; a set of an earlier release signals
//     voucherSetOutcome): saved, it completes as after its own voucherSave (nothing is undone
//     after a voucher: the saga is closed); refused by the cloud, it awaits its voucher again.
// The hold and the outcome go through the worker's UpdateBill, which signs them as the API signs
// its updates (internal/voice): the same update or signal sent from Temporal Web is the ops path,
// held to the bill's policy, so where the policy closes it nobody can hold a bill or tell it a
// voucher was saved that the cloud never booked.
// After a save the set keeps running, as a claim does, holding the vouchId (signal release ends it).

// VoucherSetWorkflowName is the set's workflow type; the API waits for its outcome with the
// update UpdateVoucherSetOutcome.
const (
	VoucherSetWorkflowName  = "VoucherSet"
	UpdateVoucherSetOutcome = "outcome"
	// UpdateVoucherHold, UpdateVoucherOutcome and SignalVoucherSetOutcome are the bill's side.
	UpdateVoucherHold       = "voucherHold"
	UpdateVoucherOutcome    = "voucherOutcome"
	SignalVoucherSetOutcome = "voucherSetOutcome"
	// VoucherClaimMemoBills lists every bill (workflow ID) of a set's claim.
	VoucherClaimMemoBills = "bills"
	// MaxVoucherSetBills bounds one voucher's bills (one request, one cloud call).
	MaxVoucherSetBills = 100
	// ErrTypeVoucherSetRefused types the set's answer when one of its bills refused: its details
	// are a VoucherSetRefusal.
	ErrTypeVoucherSetRefused = "VoucherSetRefused"
)

// BillKey names a bill by its business key.
type BillKey struct {
	Resource string `json:"resource"`
	BillID   string `json:"billId"`
}

// VoucherSetInput is the set's start: the voucher and the bills it books, in the ERP's order.
type VoucherSetInput struct {
	Voucher VoucherRequest `json:"voucher"`
	Bills   []BillKey      `json:"bills"`
}

// VoucherSetResult is the set's outcome once saved: each bill's ID and the invoices booked.
type VoucherSetResult struct {
	Saved     bool     `json:"saved"`
	Bills     []string `json:"bills"`
	SerialNos []string `json:"serialNos"`
}

// VoucherSetRefusal names the bill that refused (index in the request's bills) and why.
type VoucherSetRefusal struct {
	Index  int    `json:"index"`
	Bill   string `json:"bill"`
	Reason string `json:"reason"`
}

// VoucherHoldRequest is the set's hold on a bill: the set's ID and its voucher.
type VoucherHoldRequest struct {
	Set     string         `json:"set"`
	Voucher VoucherRequest `json:"voucher"`
}

// VoucherSetOutcome tells a held bill what became of the set's voucherSave.
type VoucherSetOutcome struct {
	Set    string `json:"set"`
	Saved  bool   `json:"saved"`
	Reason string `json:"reason,omitempty"` // not saved: why
}

// voucherSetChange marks the bill's new path (held by a set) in its history.
const voucherSetChange = "voucher-set-hold"

// Versions of the signed outcome: a set tells its bills by the signed update (the set's side),
// and a bill holds the outcome signal, which anyone with Temporal access can send, to its policy
// for the ops path (the bill's side). Both keep what earlier releases recorded: a set that
// signalled, a bill that took a signal.
const (
	setTellsByUpdate     = "voucher-set-tells-by-update"
	outcomeSignalOpsPath = "voucher-outcome-signal-ops-path"
)

// VoucherSetWorkflow is one voucher for many bills (see above).
func VoucherSetWorkflow(ctx workflow.Context, in VoucherSetInput) error {
	var (
		result *VoucherSetResult
		failed error
	)
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateVoucherSetOutcome,
		func(ctx workflow.Context) (VoucherSetResult, error) {
			if err := workflow.Await(ctx, func() bool { return result != nil || failed != nil }); err != nil {
				return VoucherSetResult{}, err
			}
			if failed != nil {
				return VoucherSetResult{}, failed
			}
			return *result, nil
		}, workflow.UpdateHandlerOptions{Description: "Answer the set's outcome once known: saved (the bills and invoices booked), a bill's refusal, or the cloud's."}); err != nil {
		return err
	}
	info := workflow.GetInfo(ctx)
	setID := info.WorkflowExecution.ID
	var held []string // workflow IDs of the bills held, in order
	tell := func(o VoucherSetOutcome) {
		if workflow.GetVersion(ctx, setTellsByUpdate, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			for _, id := range held {
				// The bill runs until told (held, it cannot end): the signal reaches its current run.
				if err := workflow.SignalExternalWorkflow(ctx, id, "", SignalVoucherSetOutcome, o).Get(ctx, nil); err != nil {
					workflow.GetLogger(ctx).Warn("voucher set: a held bill was not told the outcome", "bill", id, "error", err)
				}
			}
			return
		}
		arg, _ := json.Marshal(o) //workflowcheck:ignore encoding/json only caches type info
		told := make([]workflow.Future, len(held))
		for i, id := range held {
			told[i] = workflow.ExecuteActivity(cloudCallOptions(ctx), acts.UpdateBill, calls.BillUpdateInput{
				WorkflowID: id, Update: UpdateVoucherOutcome, UpdateID: setID + "/" + info.WorkflowExecution.RunID + "/outcome", Arg: arg,
			})
		}
		for i, f := range told {
			if err := f.Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Warn("voucher set: a held bill was not told the outcome", "bill", held[i], "error", err)
			}
		}
	}
	end := func(err error) error {
		failed = err
		// The API's wait is answered before the set ends and frees the vouchId.
		_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return nil
	}

	hold, _ := json.Marshal(VoucherHoldRequest{Set: setID, Voucher: in.Voucher}) //workflowcheck:ignore encoding/json only caches type info
	var (
		taxNo   string
		ids     []string
		serials []string
	)
	for i, key := range in.Bills {
		id := BillWorkflowID(key.Resource, key.BillID) //workflowcheck:ignore fmt formats bytes only
		var raw json.RawMessage
		err := workflow.ExecuteActivity(cloudCallOptions(ctx), acts.UpdateBill, calls.BillUpdateInput{
			WorkflowID: id, Update: UpdateVoucherHold, UpdateID: setID + "/" + info.WorkflowExecution.RunID + "/hold", Arg: hold,
		}).Get(ctx, &raw)
		var st BillState
		if err == nil {
			err = json.Unmarshal(raw, &st) //workflowcheck:ignore encoding/json only caches type info
		}
		if err == nil {
			held = append(held, id)
			if taxNo == "" {
				taxNo = st.Bill.BillTaxNo
			} else if st.Bill.BillTaxNo != taxNo {
				err = fmt.Errorf("bill %s/%s is of enterprise %s, the voucher's first bill of %s: one voucherSave goes to one enterprise",
					key.Resource, key.BillID, st.Bill.BillTaxNo, taxNo)
			}
		}
		if err != nil {
			reason := err.Error()
			var app *temporal.ApplicationError
			if errors.As(err, &app) {
				reason = app.Message()
			}
			if !slices.Contains(held, id) && (app == nil || app.Type() != calls.ErrTypeBillRefused) {
				held = append(held, id) // the hold may have been taken before the call gave up: release it too
			}
			tell(VoucherSetOutcome{Set: setID, Reason: "bill " + key.Resource + "/" + key.BillID + " refused the voucher: " + reason})
			return end(temporal.NewApplicationError(fmt.Sprintf("bill %s/%s refused the voucher: %s", key.Resource, key.BillID, reason),
				ErrTypeVoucherSetRefused, VoucherSetRefusal{Index: i, Bill: key.Resource + "/" + key.BillID, Reason: reason}))
		}
		ids = append(ids, key.BillID)
		for _, inv := range st.Invoices {
			serials = append(serials, inv.SerialNo)
		}
	}

	v := in.Voucher
	err := callNoResult(cloudCallOptions(ctx), acts.SaveVoucher, calls.VoucherInput{
		MessageID: messageID(setID, info.WorkflowExecution.RunID, "saveVoucher", 1), TaxNo: taxNo,
		Request: invoicecloud.VoucherSaveRequest{
			VouchID: v.VouchID, VouchNo: v.VouchNo, AccountDate: v.AccountDate, AccountTime: v.AccountTime,
			BusinessDate: v.BusinessDate, Resource: v.Resource, SerialNoArray: serials, ExpenseIDArray: ids,
		}})
	if err != nil {
		tell(VoucherSetOutcome{Set: setID, Reason: "voucherSave failed: " + err.Error()})
		return end(err)
	}
	tell(VoucherSetOutcome{Set: setID, Saved: true})
	result = &VoucherSetResult{Saved: true, Bills: held, SerialNos: serials}
	// Saved: the set holds the vouchId as a claim does, until released.
	workflow.GetSignalChannel(ctx, SignalReleaseVoucher).Receive(ctx, nil)
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// ---- the bill's side ----

// heldBySet is the set holding the bill's voucher, "" when none (or once saved).
func (b *bill) heldBySet() string {
	if v := b.View.Voucher; v != nil && v.SavedAt == nil {
		return v.Set
	}
	return ""
}

// setupVoucherSet registers the hold (an update only the set sends) and the outcome signal.
func (b *bill) setupVoucherSet(ctx workflow.Context) error {
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateVoucherHold,
		func(ctx workflow.Context, req VoucherHoldRequest) (BillState, error) {
			if b.repeatsHold(req) {
				return b.snapshot(), nil
			}
			ev := &event{kind: evVoucherHold, hold: &req, actor: &req.Voucher.Actor, vouched: voice.Vouched(ctx)}
			b.markQueued(ev)
			err := b.await(ctx, ev)
			return b.snapshot(), err
		},
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, req VoucherHoldRequest) error {
				if err := b.opsPathPermits(ctx, UpdateVoucherHold, ""); err != nil {
					return err
				}
				if b.repeatsHold(req) {
					return nil
				}
				if strings.TrimSpace(req.Set) == "" {
					return fieldErr(map[string]string{"set": "required"})
				}
				return b.validateVoucher(req.Voucher)
			},
			Description: "A voucher set holds the bill for its one voucherSave (sent by the VoucherSet workflow, not by people): the bill must await its voucher.",
		}); err != nil {
		return err
	}
	told := func(o VoucherSetOutcome) error {
		if o.Set == "" || o.Set != b.heldBySet() {
			return fmt.Errorf("the bill is not held by voucher set %q", o.Set)
		}
		return nil
	}
	tell := func(o VoucherSetOutcome) {
		// Nobody waits for the bill to act on it: problems are noted in its history.
		b.inbox.push(&event{kind: evVoucherOutcome, outcome: &o, fromSignal: true})
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateVoucherOutcome,
		func(ctx workflow.Context, o VoucherSetOutcome) (BillState, error) {
			tell(o)
			return b.snapshot(), nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, o VoucherSetOutcome) error {
				if err := b.opsPathPermits(ctx, UpdateVoucherOutcome, ""); err != nil {
					return err
				}
				return told(o)
			},
			Description: "The voucher set's outcome for a bill it holds: {set, saved, reason} (sent by the VoucherSet workflow, signed, not by people).",
		}); err != nil {
		return err
	}
	// An earlier release's set signals instead. A signal carries no signature: once a signed hold
	// says the set tells by update, the signal is the ops path, held to the policy's webSignals like
	// any other signal from Temporal Web. A hold of an earlier release (unsigned) still takes it.
	b.inbox.listen(ctx, SignalVoucherSetOutcome, "The voucher set's outcome for a bill it holds: {set, saved, reason} (sent by a VoucherSet workflow of an earlier release).",
		handled(func(o VoucherSetOutcome) error {
			if b.HoldSigned {
				if err := b.in.Policy.WebSignals.Permits(SignalVoucherSetOutcome, ""); err != nil {
					return err
				}
			}
			return told(o)
		}, tell))
	return nil
}

// repeatsHold: the set holds the bill already (a retried hold), or saved its voucher.
func (b *bill) repeatsHold(req VoucherHoldRequest) bool {
	v := b.View.Voucher
	return req.Set != "" && v != nil && v.Set == req.Set
}

// takeHold records the set's hold (run, in awaiting_voucher).
func (b *bill) takeHold(ctx workflow.Context, ev *event) {
	_ = workflow.GetVersion(ctx, voucherSetChange, workflow.DefaultVersion, 1)
	b.View.Voucher = &VoucherView{VoucherRequest: ev.hold.Voucher, Set: ev.hold.Set}
	b.HoldSigned = ev.vouched
	b.note(b.View.Stage, fmt.Sprintf("voucher %s held for voucher set %s (one voucherSave for its bills)", ev.hold.Voucher.VouchNo, ev.hold.Set))
	b.publish()
	b.reply(ev, nil)
}

// awaitSetOutcome waits, held, for the set's outcome. A cancel from Temporal does not cut the wait
// (the set may have saved the voucher): saved, the bill goes on; not saved, the cancel stands
// (cancelled reports it). What else comes is handled as the stage does, but the SLA's deadline
// does not cancel a held bill.
func (b *bill) awaitSetOutcome(ctx workflow.Context) (saved, cancelled bool, next Stage, done bool, err error) {
	wctx, _ := workflow.NewDisconnectedContext(ctx)
	set := b.heldBySet()
	for {
		ev, err := b.wait(wctx)
		if err != nil {
			return false, false, "", false, err
		}
		switch {
		case ev.kind == evVoucherOutcome && ev.outcome.Set == set:
			if ev.outcome.Saved {
				return true, ctx.Err() != nil, "", false, nil
			}
			b.View.Voucher = nil
			b.note(b.View.Stage, fmt.Sprintf("voucher set %s did not save the voucher: %s", set, ev.outcome.Reason))
			b.publish()
			return false, ctx.Err() != nil, "", false, nil
		case ev.kind == evSLASoft || ev.kind == evSLAHard:
			continue // the set decides; its outcome comes within its own retries
		}
		if next, done, err := b.common(wctx, ev); done || err != nil {
			return false, false, next, done, err
		}
	}
}
