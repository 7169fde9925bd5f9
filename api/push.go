package api

import (
	"context"
	"fmt"
	"net/http"

	"rimflow/invoicecloud"
)

// checkPush holds an authentic push (its enterprise's key opened it) to what a forwarded payload
// is held to, before anything reaches the bill it names: the bill must be one of that
// enterprise's (one enterprise's key never feeds another's bills), and every invoice's buyer one
// of the bill's companies (buyerProblem, as for POST …/invoices). A bill of another enterprise
// and a bill that does not exist get the same refusal, so a push cannot probe for bills.
func (b *Bills) checkPush(ctx context.Context, ref BillRef, p invoicecloud.Push) error {
	notOurs := invoicecloud.RefusePush("bxd_key", invoicecloud.PushCodeWrongEnterprise,
		fmt.Sprintf("%s: no bill of enterprise %s", ref.ID(), p.TaxNo))
	t, err := b.billTarget(ctx, ref)
	if e, ok := err.(*Error); ok && e.Status == http.StatusNotFound {
		return notOurs
	}
	if err != nil {
		return err
	}
	if !b.billOfEnterprise(t, p.TaxNo) {
		return notOurs
	}
	if err := t.endedError(ref); err != nil {
		return err
	}
	for i, inv := range p.Message.InvoiceData {
		if why := buyerProblem(inv, t.bill); why != "" {
			return invoicecloud.RefusePush(fmt.Sprintf("data.data[%d].buyerTaxNo", i), "", why)
		}
	}
	return nil
}

// billOfEnterprise reports whether the registry routes the bill to the enterprise taxNo.
func (b *Bills) billOfEnterprise(t *forwardTarget, taxNo string) bool {
	if b.Enterprises == nil {
		return false
	}
	e, err := b.Enterprises.Lookup(t.bill.BillTaxNo)
	return err == nil && invoicecloud.NormalizeTaxNo(e.TaxNo) == invoicecloud.NormalizeTaxNo(taxNo)
}
