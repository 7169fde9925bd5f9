package activities

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// GetEventCode issues an eventCode for a fresh linkKey and returns the pages it opens and its expiry.
func (a *Activities) GetEventCode(ctx context.Context, in calls.EventCodeInput) (calls.EventCodeResult, error) {
	// The TTL runs from the cloud's answer, so count from before the call to stay on the safe side.
	asked := time.Now()
	e, err := a.enterprise(in)
	if err != nil {
		return calls.EventCodeResult{}, err
	}
	req := in.Request
	if req.OrgNumber == "" {
		req.OrgNumber = e.OrgNumber // the enterprise's accounting organisation in its tenant
	}
	res, err := e.Cloud.GetEventCode(ctx, in.MessageID, req)
	if err != nil {
		return calls.EventCodeResult{}, classify(ctx, e, err)
	}
	return calls.EventCodeResult{
		EventCode: res.EventCode,
		Pages:     res.Pages,
		ExpiresAt: asked.Add(cmp.Or(a.EventCodeTTL, DefaultEventCodeTTL)).UTC(),
	}, nil
}

// BindInvoices binds the bill's whole current invoice set (billSave status 30); the cloud releases
// invoices of the bill that are no longer in the set.
func (a *Activities) BindInvoices(ctx context.Context, in calls.BillSaveInput) error {
	return a.billSave(ctx, in, invoicecloud.StatusInUse)
}

// MarkUsed sets the bill's invoices to used (billSave status 60) after the last approval.
func (a *Activities) MarkUsed(ctx context.Context, in calls.BillSaveInput) error {
	return a.billSave(ctx, in, invoicecloud.StatusUsed)
}

// ReleaseInvoices sets the bill's invoices back to unused (billSave status 1): the compensation of MarkUsed.
func (a *Activities) ReleaseInvoices(ctx context.Context, in calls.BillSaveInput) error {
	return a.billSave(ctx, in, invoicecloud.StatusUnused)
}

func (a *Activities) billSave(ctx context.Context, in calls.BillSaveInput, status string) error {
	if in.Request.Status != status {
		// A programming error in the workflow, not a cloud problem: never retry it.
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("billSave status %q sent to the activity for status %q", in.Request.Status, status), "InvalidRequest", nil)
	}
	e, err := a.enterprise(in)
	if err != nil {
		return err
	}
	req := in.Request
	if req.OrgNumber == "" {
		req.OrgNumber = e.OrgNumber
	}
	return classify(ctx, e, e.Cloud.BillSave(ctx, in.MessageID, req))
}

// RemoveInvoices takes invoices off a bound bill in one call, so the invoices that stay are
// never free at the cloud: none stays, billDelete releases the bill's set; the cloud reads
// billSave as replacing the set, billSave 30 of those that stay; it reads billSave as adding
// and updating only (invoicecloud.SetReading), billSave 1 of the removed ones alone.
func (a *Activities) RemoveInvoices(ctx context.Context, in calls.RemoveInput) error {
	if len(in.Keep.Request.InvoiceData) == 0 {
		return a.Unbind(ctx, in.Unbind)
	}
	e, err := a.enterprise(in)
	if err != nil {
		return err
	}
	if r, ok := e.Cloud.(invoicecloud.SetReading); ok && r.BillSaveKeepsOmitted() {
		return a.billSave(ctx, in.Release, invoicecloud.StatusUnused)
	}
	return a.billSave(ctx, in.Keep, invoicecloud.StatusInUse)
}

// SaveVoucher writes the voucher back (voucherSave).
func (a *Activities) SaveVoucher(ctx context.Context, in calls.VoucherInput) error {
	e, err := a.enterprise(in)
	if err != nil {
		return err
	}
	return classify(ctx, e, e.Cloud.VoucherSave(ctx, in.MessageID, in.Request))
}

// ReverseVoucher takes the bill's voucher off at the cloud (反记账, the [assumed] voucherDelete):
// the invoices stay bound and used (60).
func (a *Activities) ReverseVoucher(ctx context.Context, in calls.VoucherReverseInput) error {
	e, err := a.enterprise(in)
	if err != nil {
		return err
	}
	return classify(ctx, e, e.Cloud.VoucherReverse(ctx, in.MessageID, in.Request))
}

// Unbind releases every invoice of the bill ([assumed] billDelete): the compensation of binding.
func (a *Activities) Unbind(ctx context.Context, in calls.UnbindInput) error {
	e, err := a.enterprise(in)
	if err != nil {
		return err
	}
	return classify(ctx, e, e.Cloud.Unbind(ctx, in.MessageID, in.Request))
}

// SelectDeduction selects invoices for input-VAT deduction (invoiceSelect).
func (a *Activities) SelectDeduction(ctx context.Context, in calls.DeductionInput) (invoicecloud.DeductionResult, error) {
	e, err := a.enterprise(in)
	if err != nil {
		return invoicecloud.DeductionResult{}, err
	}
	res, err := e.Cloud.Deduction(ctx, in.RequestID, in.Request)
	return res, classify(ctx, e, err)
}
