package workflows

import (
	"cmp"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// publisher shows the bill to ops: the search attributes they filter on (upserted only when a
// value changed) and the Markdown details Temporal Web shows.
type publisher struct {
	ctx       workflow.Context // the workflow's root context (upserts also come from handlers)
	published map[string]any   // search attribute values last upserted
	builds    builds           // the builds that started and run the bill (builds.go)
	once      oncePerTask      // upserts gathered into one per workflow task (publisher_once.go)
	// tagsAsked, tagsOn: whether this run upserts BillTags (tags.go), asked once per run.
	tagsAsked, tagsOn bool
}

// shownValue is one search attribute the publisher keeps up to date. A quiet one (the builds)
// does not move BillUpdatedAt: a roll of the workers is no change of the bill for the ERP.
type shownValue struct {
	key   string
	value any
	quiet bool
	upd   func() temporal.SearchAttributeUpdate
}

// publish upserts the search attributes that changed and refreshes the Markdown details.
func (p *publisher) publish(v *BillState, in BillInput, pending int) {
	if p.oncePerTask() {
		p.stage(v, in, pending)
		return
	}
	want := p.wanted(v, in, pending)
	var updates []temporal.SearchAttributeUpdate
	changed := false
	for _, w := range want {
		if old, ok := p.published[w.key]; ok && old == w.value {
			continue
		}
		p.published[w.key] = w.value
		updates = append(updates, w.upd())
		changed = changed || !w.quiet
	}
	if changed {
		// Something ops or the ERP filter on changed: the bill is updated (updatedSince).
		v.UpdatedAt = workflow.Now(p.ctx).UTC()
		updates = append(updates, SABillUpdatedAt.ValueSet(v.UpdatedAt))
	}
	if len(updates) > 0 {
		if err := workflow.UpsertTypedSearchAttributes(p.ctx, updates...); err != nil {
			workflow.GetLogger(p.ctx).Warn("upsert search attributes", "error", err)
		}
	}
	workflow.SetCurrentDetails(p.ctx, details(*v, in, pending))
}

// wanted is every search attribute the bill shows, with its value now.
func (p *publisher) wanted(v *BillState, in BillInput, pending int) []shownValue {
	total, _ := decimal.NewFromString(v.TotalAmount)
	totalF, _ := total.Float64() // the exact amount is the decimal string in state; this is for filtering
	want := []shownValue{
		{SABillStage.GetName(), string(v.Stage), false, func() temporal.SearchAttributeUpdate { return SABillStage.ValueSet(string(v.Stage)) }},
		{SABillNo.GetName(), keyword(in.BillNo), false, func() temporal.SearchAttributeUpdate { return SABillNo.ValueSet(keyword(in.BillNo)) }},
		{SABillResource.GetName(), keyword(in.Resource), false, func() temporal.SearchAttributeUpdate { return SABillResource.ValueSet(keyword(in.Resource)) }},
		{SABillTaxNo.GetName(), keyword(in.BillTaxNo), false, func() temporal.SearchAttributeUpdate { return SABillTaxNo.ValueSet(keyword(in.BillTaxNo)) }},
		{SAAwaitingRole.GetName(), v.AwaitingRole, false, func() temporal.SearchAttributeUpdate {
			if v.AwaitingRole == "" {
				return SAAwaitingRole.ValueUnset()
			}
			return SAAwaitingRole.ValueSet(v.AwaitingRole)
		}},
		{SAOverdue.GetName(), v.Overdue, false, func() temporal.SearchAttributeUpdate { return SAOverdue.ValueSet(v.Overdue) }},
		{SANeedsAttention.GetName(), v.Error != nil, false, func() temporal.SearchAttributeUpdate { return SANeedsAttention.ValueSet(v.Error != nil) }},
		{SAFailedStep.GetName(), failedStep(v.Error), false, func() temporal.SearchAttributeUpdate {
			if v.Error == nil {
				return SAFailedStep.ValueUnset()
			}
			return SAFailedStep.ValueSet(v.Error.Step)
		}},
		{SAInvoiceCount.GetName(), int64(v.InvoiceCount), false, func() temporal.SearchAttributeUpdate { return SAInvoiceCount.ValueSet(int64(v.InvoiceCount)) }},
		{SAPendingInvoices.GetName(), int64(pending), false, func() temporal.SearchAttributeUpdate { return SAPendingInvoices.ValueSet(int64(pending)) }},
		{SATotalAmount.GetName(), totalF, false, func() temporal.SearchAttributeUpdate { return SATotalAmount.ValueSet(totalF) }},
	}
	want = append(want, p.buildEntries(v)...)
	return append(want, p.tagEntries(in)...)
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
func details(v BillState, in BillInput, pending int) string {
	var sb strings.Builder
	// Caller strings are escaped: Temporal Web renders this as Markdown.
	sb.WriteString(fmt.Sprintf("**Bill %s** (%s/%s) · stage **%s**\n\n", md(in.BillNo), md(in.Resource), md(in.BillID), v.Stage))
	sb.WriteString(fmt.Sprintf("- Invoices: %d, total %s (incl. tax)\n", v.InvoiceCount, v.TotalAmount))
	if n := len(in.AttachData); n > 0 {
		sb.WriteString(fmt.Sprintf("- Attachments: %d (%s)\n", n, md(in.AttachData[0].AttachName)+listMore(n)))
	}
	if v.AwaitingRole != "" {
		sb.WriteString(fmt.Sprintf("- Awaiting: %s\n", v.AwaitingRole))
	}
	if v.Overdue {
		sb.WriteString("- **Overdue**\n")
	}
	if v.Voucher != nil && v.Voucher.SavedAt != nil {
		sb.WriteString(fmt.Sprintf("- Voucher: %s (%s)\n", md(v.Voucher.VouchNo), v.Voucher.AccountDate))
	}
	if n := pending; n > 0 {
		sb.WriteString(fmt.Sprintf("- **%d invoice(s) delivered, not bound yet**: bound when the bill next collects\n", n))
	}
	if v.WatchingUntil != nil {
		sb.WriteString(fmt.Sprintf("- Watching for imports until %s\n", v.WatchingUntil.UTC().Format("15:04:05Z")))
	}
	if e := v.Error; e != nil {
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
	if n := len(v.History); n > 0 {
		sb.WriteString(fmt.Sprintf("- Last: %s\n", md(v.History[n-1].Note)))
	}
	if v.RunningBuildID != "" {
		sb.WriteString(fmt.Sprintf("- Build: running %s, started by %s\n", md(v.RunningBuildID), md(cmp.Or(v.StartedBuildID, "an earlier release"))))
	}
	return sb.String()
}

// mdEscaper escapes what Markdown (and the HTML it may carry) would interpret in a caller's string.
var mdEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"(", `\(`, ")", `\)`, "#", `\#`, "<", "&lt;", ">", "&gt;", "|", `\|`, "!", `\!`, "\n", " ", "\r", " ")

// md makes a caller's string inert in the Markdown details.
func md(s string) string { return mdEscaper.Replace(s) }

// listMore says how many more a list shows than its first.
func listMore(n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf(" and %d more", n-1)
}
