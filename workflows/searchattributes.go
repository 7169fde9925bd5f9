package workflows

import (
	"sort"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Typed search attributes upserted as the bill moves, so ops can filter in Temporal Web.
// SQL visibility has a fixed number of slots per type (SQLite/PostgreSQL: 10 Keyword, 3 Bool,
// 3 Int, 3 Double, 3 KeywordList…); this set uses 8 Keyword, 1 KeywordList (BillTags, tags.go),
// 2 Bool, 2 Int, 1 Double, 1 Datetime.
var (
	SABillStage    = temporal.NewSearchAttributeKeyKeyword("BillStage")
	SABillNo       = temporal.NewSearchAttributeKeyKeyword("BillNo")
	SABillResource = temporal.NewSearchAttributeKeyKeyword("BillResource")
	SABillTaxNo    = temporal.NewSearchAttributeKeyKeyword("BillTaxNo")
	SAAwaitingRole = temporal.NewSearchAttributeKeyKeyword("AwaitingRole")
	SAOverdue      = temporal.NewSearchAttributeKeyBool("Overdue")
	// NeedsAttention: ops must act — a bill waits in failed (FailedStep says which step), or a
	// deduction batch was refused.
	SANeedsAttention = temporal.NewSearchAttributeKeyBool("NeedsAttention")
	// FailedStep is the step a failed bill stopped at (getEventCode, bindInvoices, markUsed,
	// saveVoucher, compensate:unbind, compensate:release, …).
	SAFailedStep   = temporal.NewSearchAttributeKeyKeyword("FailedStep")
	SAInvoiceCount = temporal.NewSearchAttributeKeyInt64("InvoiceCount")
	// PendingInvoices counts delivered invoices waiting for the bill's next collecting (not bound yet).
	SAPendingInvoices = temporal.NewSearchAttributeKeyInt64("PendingInvoices")
	// BillUpdatedAt is when the bill last changed what ops and the ERP filter on (the list's updatedSince).
	SABillUpdatedAt = temporal.NewSearchAttributeKeyTime("BillUpdatedAt")
	// TotalAmount is a Double for filtering only; the exact amount is the decimal string in `state`.
	SATotalAmount = temporal.NewSearchAttributeKeyFloat64("TotalAmount")
	// StartedBuildId is the build (release version) of the worker that ran the bill's first
	// workflow task; RunningBuildId the one that ran its latest change (builds.go). Ops list
	// the bills each version holds with them (docs/releases.md).
	SAStartedBuildID = temporal.NewSearchAttributeKeyKeyword("StartedBuildId")
	SARunningBuildID = temporal.NewSearchAttributeKeyKeyword("RunningBuildId")
)

// SearchAttributes is the one list every registration uses: devstack, tests and docker-compose
// (a test checks the compose file against it).
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SABillStage.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SABillNo.GetName():          enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SABillResource.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SABillTaxNo.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAAwaitingRole.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAOverdue.GetName():         enumspb.INDEXED_VALUE_TYPE_BOOL,
		SANeedsAttention.GetName():  enumspb.INDEXED_VALUE_TYPE_BOOL,
		SAFailedStep.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAInvoiceCount.GetName():    enumspb.INDEXED_VALUE_TYPE_INT,
		SAPendingInvoices.GetName(): enumspb.INDEXED_VALUE_TYPE_INT,
		SATotalAmount.GetName():     enumspb.INDEXED_VALUE_TYPE_DOUBLE,
		SABillUpdatedAt.GetName():   enumspb.INDEXED_VALUE_TYPE_DATETIME,
		SAStartedBuildID.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SARunningBuildID.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SABillTags.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
	}
}

// SearchAttributeNames returns the names sorted, for stable output.
func SearchAttributeNames() []string {
	m := SearchAttributes()
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	//workflowcheck:ignore sorted below
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
