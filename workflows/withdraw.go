package workflows

import (
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// Withdraw (撤回): the submitter takes a bill that waits for an approval back to collecting, to
// fix it and submit it again (重提). Nothing is final while a role has yet to approve (the
// invoices are marked used only after the last approval), so the invoices stay bound, the
// round's approvals are void — as after a return — and the bill key stays the same.

// changeWithdraw marks the histories that hold a withdrawal: the path exists only for bills
// that receive the withdraw update, which no earlier release served.
const changeWithdraw = "withdraw-to-collecting"

// validateWithdraw: only while the bill waits for an approval, with who and why.
func (b *bill) validateWithdraw(req WithdrawRequest) error {
	f := map[string]string{}
	if strings.TrimSpace(req.By) == "" && (req.Actor == nil || req.Actor.User == "") {
		f["by"] = "required: who withdraws the bill (the submitter)"
	}
	if strings.TrimSpace(req.Reason) == "" {
		f["reason"] = "required: a withdrawal is audited (why the bill goes back)"
	}
	if err := fieldErr(f); err != nil {
		return err
	}
	if !strings.HasPrefix(string(b.View.Stage), "awaiting_") || b.View.Stage == StageAwaitingVoucher || b.MarkedUsed {
		return b.stageErr("not awaiting an approval: a bill is withdrawn only while it waits for one (nothing is final yet)")
	}
	return nil
}

// waitForAny is waitFor for several kinds.
func (b *bill) waitForAny(ctx workflow.Context, kinds ...eventKind) (ev *event, next Stage, done bool, err error) {
	for {
		ev, err := b.wait(ctx)
		if err != nil || slices.Contains(kinds, ev.kind) {
			return ev, "", false, err
		}
		if next, done, err := b.common(ctx, ev); done || err != nil {
			return nil, next, done, err
		}
	}
}

// withdraw takes the bill back to collecting, noting who and why.
func (b *bill) withdraw(ctx workflow.Context, ev *event) Stage {
	workflow.GetVersion(ctx, changeWithdraw, workflow.DefaultVersion, 1)
	req := *ev.withdraw
	by := strings.TrimSpace(req.By)
	if req.Actor != nil && req.Actor.User != "" {
		by = req.Actor.User
	}
	b.reply(ev, nil)
	return b.backToCollecting(fmt.Sprintf("withdrawn by %s from %s: %s", by, b.View.Stage, req.Reason))
}
