package workflows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// snapshot is the `state` query's answer; slices are copied so callers cannot alias the state.
func (b *bill) snapshot() BillState {
	s := b.s
	s.Invoices = slices.Clone(b.s.Invoices)
	s.Approvals = slices.Clone(b.s.Approvals)
	s.History = slices.Clone(b.s.History)
	return s
}

// publish upserts the search attributes that changed and refreshes the Markdown details.
func (b *bill) publish() {
	total, _ := decimal.NewFromString(b.s.TotalAmount)
	totalF, _ := total.Float64() // the exact amount is the decimal string in state; this is for filtering
	want := []struct {
		key   string
		value any
		upd   func() temporal.SearchAttributeUpdate
	}{
		{SABillStage.GetName(), string(b.s.Stage), func() temporal.SearchAttributeUpdate { return SABillStage.ValueSet(string(b.s.Stage)) }},
		{SABillNo.GetName(), b.in.BillNo, func() temporal.SearchAttributeUpdate { return SABillNo.ValueSet(b.in.BillNo) }},
		{SABillResource.GetName(), b.in.Resource, func() temporal.SearchAttributeUpdate { return SABillResource.ValueSet(b.in.Resource) }},
		{SABillTaxNo.GetName(), b.in.BillTaxNo, func() temporal.SearchAttributeUpdate { return SABillTaxNo.ValueSet(b.in.BillTaxNo) }},
		{SAAwaitingRole.GetName(), b.s.AwaitingRole, func() temporal.SearchAttributeUpdate {
			if b.s.AwaitingRole == "" {
				return SAAwaitingRole.ValueUnset()
			}
			return SAAwaitingRole.ValueSet(b.s.AwaitingRole)
		}},
		{SAOverdue.GetName(), b.s.Overdue, func() temporal.SearchAttributeUpdate { return SAOverdue.ValueSet(b.s.Overdue) }},
		{SAInvoiceCount.GetName(), int64(b.s.InvoiceCount), func() temporal.SearchAttributeUpdate { return SAInvoiceCount.ValueSet(int64(b.s.InvoiceCount)) }},
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
		if err := workflow.UpsertTypedSearchAttributes(b.ctx, updates...); err != nil {
			workflow.GetLogger(b.ctx).Warn("upsert search attributes", "error", err)
		}
	}
	workflow.SetCurrentDetails(b.ctx, b.details())
}

// details is the short Markdown summary Temporal Web shows for the bill.
func (b *bill) details() string {
	var sb strings.Builder
	sb.WriteString(fmt.Sprintf("**Bill %s** (%s/%s) · stage **%s**\n\n", b.in.BillNo, b.in.Resource, b.in.BillID, b.s.Stage))
	sb.WriteString(fmt.Sprintf("- Invoices: %d, total %s (incl. tax)\n", b.s.InvoiceCount, b.s.TotalAmount))
	if b.s.AwaitingRole != "" {
		sb.WriteString(fmt.Sprintf("- Awaiting: %s\n", b.s.AwaitingRole))
	}
	if b.s.Overdue {
		sb.WriteString("- **Overdue**\n")
	}
	if b.s.Voucher != nil && b.s.Voucher.SavedAt != nil {
		sb.WriteString(fmt.Sprintf("- Voucher: %s (%s)\n", b.s.Voucher.VouchNo, b.s.Voucher.AccountDate))
	}
	if e := b.s.Error; e != nil {
		sb.WriteString(fmt.Sprintf("- **Error** in %s: %s", e.Step, e.Reason))
		if e.Code != "" {
			sb.WriteString(fmt.Sprintf(" (`%s`)", e.Code))
		}
		sb.WriteString(" — send `retry` once fixed, or `cancel`\n")
	}
	if n := len(b.s.History); n > 0 {
		sb.WriteString(fmt.Sprintf("- Last: %s\n", b.s.History[n-1].Note))
	}
	return sb.String()
}
