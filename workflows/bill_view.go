package workflows

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
)

// What the bill shows: stage transitions with their history notes, the state query's answer, the
// search attributes ops filter on and the Markdown details Temporal Web shows.

// enter moves the bill to a stage: new SLA timers, history, search attributes, details.
func (b *bill) enter(ctx workflow.Context, stage Stage, note string) {
	if b.stageCancel != nil {
		b.stageCancel()
		b.stageCancel = nil
	}
	b.epoch++
	prev := b.View.Stage
	if resumedHere := b.resumed && stage == prev; !resumedHere {
		b.Entered = workflow.Now(ctx).UTC()
		b.SLAFired = slaFired{}
	}
	b.resumed = false
	b.View.Stage = stage
	b.View.AwaitingRole = ""
	if slices.Contains(b.route, stage) && stage != StageImageReview {
		b.View.AwaitingRole = b.roleOf(stage)
	}
	if stage != StageFailed {
		b.View.Overdue = false
	}
	if prev != stage || note != "" {
		if note == "" {
			note = fmt.Sprintf("%s → %s", prev, stage)
		}
		b.note(stage, note)
	}
	if prev != stage {
		b.emit(calls.EventStageChanged, map[string]string{"from": string(prev), "to": string(stage), "awaitingRole": b.View.AwaitingRole})
	}
	b.startSLATimers(ctx, stage)
	b.publish()
}

// note appends to the bounded history.
func (b *bill) note(stage Stage, text string) {
	b.View.History = append(b.View.History, HistoryEntry{At: workflow.Now(b.ctx).UTC(), Stage: stage, Note: text})
	if over := len(b.View.History) - HistoryCap; over > 0 {
		b.View.History = append([]HistoryEntry(nil), b.View.History[over:]...)
	}
	workflow.GetLogger(b.ctx).Info("bill", "stage", string(stage), "note", text)
}

// snapshot is the `state` query's answer; slices are copied so callers cannot alias the state.
func (b *bill) snapshot() BillState {
	s := b.View
	s.Invoices = slices.Clone(b.View.Invoices)
	s.Approvals = slices.Clone(b.View.Approvals)
	s.History = slices.Clone(b.View.History)
	s.PendingInvoices = slices.Clone(b.View.PendingInvoices)
	s.Deliveries = slices.Clone(b.View.Deliveries)
	return s
}

// publish upserts the search attributes that changed and refreshes the Markdown details.
func (b *bill) publish() {
	total, _ := decimal.NewFromString(b.View.TotalAmount)
	totalF, _ := total.Float64() // the exact amount is the decimal string in state; this is for filtering
	want := []struct {
		key   string
		value any
		upd   func() temporal.SearchAttributeUpdate
	}{
		{SABillStage.GetName(), string(b.View.Stage), func() temporal.SearchAttributeUpdate { return SABillStage.ValueSet(string(b.View.Stage)) }},
		{SABillNo.GetName(), keyword(b.in.BillNo), func() temporal.SearchAttributeUpdate { return SABillNo.ValueSet(keyword(b.in.BillNo)) }},
		{SABillResource.GetName(), keyword(b.in.Resource), func() temporal.SearchAttributeUpdate { return SABillResource.ValueSet(keyword(b.in.Resource)) }},
		{SABillTaxNo.GetName(), keyword(b.in.BillTaxNo), func() temporal.SearchAttributeUpdate { return SABillTaxNo.ValueSet(keyword(b.in.BillTaxNo)) }},
		{SAAwaitingRole.GetName(), b.View.AwaitingRole, func() temporal.SearchAttributeUpdate {
			if b.View.AwaitingRole == "" {
				return SAAwaitingRole.ValueUnset()
			}
			return SAAwaitingRole.ValueSet(b.View.AwaitingRole)
		}},
		{SAOverdue.GetName(), b.View.Overdue, func() temporal.SearchAttributeUpdate { return SAOverdue.ValueSet(b.View.Overdue) }},
		{SANeedsAttention.GetName(), b.View.Error != nil, func() temporal.SearchAttributeUpdate { return SANeedsAttention.ValueSet(b.View.Error != nil) }},
		{SAFailedStep.GetName(), failedStep(b.View.Error), func() temporal.SearchAttributeUpdate {
			if b.View.Error == nil {
				return SAFailedStep.ValueUnset()
			}
			return SAFailedStep.ValueSet(b.View.Error.Step)
		}},
		{SAInvoiceCount.GetName(), int64(b.View.InvoiceCount), func() temporal.SearchAttributeUpdate { return SAInvoiceCount.ValueSet(int64(b.View.InvoiceCount)) }},
		{SAPendingInvoices.GetName(), int64(len(b.Pending)), func() temporal.SearchAttributeUpdate { return SAPendingInvoices.ValueSet(int64(len(b.Pending))) }},
		{SATotalAmount.GetName(), totalF, func() temporal.SearchAttributeUpdate { return SATotalAmount.ValueSet(totalF) }},
	}
	var updates []temporal.SearchAttributeUpdate
	for _, w := range want {
		if old, ok := b.published[w.key]; ok && old == w.value {
			continue
		}
		b.published[w.key] = w.value
		updates = append(updates, w.upd())
	}
	if len(updates) > 0 {
		// Something ops or the ERP filter on changed: the bill is updated (updatedSince).
		b.View.UpdatedAt = workflow.Now(b.ctx).UTC()
		updates = append(updates, SABillUpdatedAt.ValueSet(b.View.UpdatedAt))
	}
	if len(updates) > 0 {
		if err := workflow.UpsertTypedSearchAttributes(b.ctx, updates...); err != nil {
			workflow.GetLogger(b.ctx).Warn("upsert search attributes", "error", err)
		}
	}
	workflow.SetCurrentDetails(b.ctx, b.details())
}

// MaxKeyword is the longest keyword search attribute value PostgreSQL visibility stores.
const MaxKeyword = 255

// keyword caps a caller's string to what visibility stores (at a rune boundary).
func keyword(s string) string {
	if len(s) <= MaxKeyword {
		return s
	}
	cut := MaxKeyword
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func failedStep(e *FailureView) string {
	if e == nil {
		return ""
	}
	return e.Step
}

// details is the short Markdown summary Temporal Web shows for the bill.
func (b *bill) details() string {
	var sb strings.Builder
	// Caller strings are escaped: Temporal Web renders this as Markdown.
	sb.WriteString(fmt.Sprintf("**Bill %s** (%s/%s) · stage **%s**\n\n", md(b.in.BillNo), md(b.in.Resource), md(b.in.BillID), b.View.Stage))
	sb.WriteString(fmt.Sprintf("- Invoices: %d, total %s (incl. tax)\n", b.View.InvoiceCount, b.View.TotalAmount))
	if b.View.AwaitingRole != "" {
		sb.WriteString(fmt.Sprintf("- Awaiting: %s\n", b.View.AwaitingRole))
	}
	if b.View.Overdue {
		sb.WriteString("- **Overdue**\n")
	}
	if b.View.Voucher != nil && b.View.Voucher.SavedAt != nil {
		sb.WriteString(fmt.Sprintf("- Voucher: %s (%s)\n", md(b.View.Voucher.VouchNo), b.View.Voucher.AccountDate))
	}
	if n := len(b.Pending); n > 0 {
		sb.WriteString(fmt.Sprintf("- **%d invoice(s) delivered, not bound yet**: bound when the bill next collects\n", n))
	}
	if b.View.WatchingUntil != nil {
		sb.WriteString(fmt.Sprintf("- Watching for imports until %s\n", b.View.WatchingUntil.UTC().Format("15:04:05Z")))
	}
	if e := b.View.Error; e != nil {
		sb.WriteString(fmt.Sprintf("- **Error** in %s: %s", e.Step, md(e.Reason)))
		if e.Code != "" {
			sb.WriteString(fmt.Sprintf(" (%s)", md(e.Code)))
		}
		if strings.HasPrefix(e.Step, compensatePrefix) {
			sb.WriteString(" — send `retry` once fixed, or `resolve` {by, reason, done} if it was done by hand\n")
		} else {
			sb.WriteString(" — send `retry` once fixed, or `cancel`\n")
		}
	}
	if n := len(b.View.History); n > 0 {
		sb.WriteString(fmt.Sprintf("- Last: %s\n", md(b.View.History[n-1].Note)))
	}
	return sb.String()
}

// mdEscaper escapes what Markdown (and the HTML it may carry) would interpret in a caller's string.
var mdEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"(", `\(`, ")", `\)`, "#", `\#`, "<", "&lt;", ">", "&gt;", "|", `\|`, "!", `\!`, "\n", " ", "\r", " ")

// md makes a caller's string inert in the Markdown details.
func md(s string) string { return mdEscaper.Replace(s) }
