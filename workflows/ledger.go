package workflows

import (
	"slices"

	"rimflow/invoicecloud"
)

// ledger is what the bill holds at the cloud: the bound set and its status, the delivered
// invoices waiting to be bound, and the digests that drop a redelivery. It changes with every
// delivery, bind, removal, mark and release; the bill's stages decide when (bill_collect.go).
type ledger struct {
	Invoices []invoicecloud.Invoice `json:"invoices"` // the bound set, full records (View.Invoices is their view)
	Status   string                 `json:"status"`   // cloud status of the bound set: 30, 60 (1 after release)
	// Pending are delivered invoices not bound yet (the bill was failed or past collecting when
	// they came); they are bound when the bill next collects.
	Pending []invoicecloud.Invoice `json:"pending,omitempty"`
	Digests []string               `json:"digests,omitempty"` // recent deliveries, to drop a redelivery
}

// holds is the set of serial numbers on the bill, bound or pending.
func (l *ledger) holds() map[string]bool { return serialSet(l.Invoices, l.Pending) }

// take keeps a delivery's new invoices in Pending: fresh is false for a redelivery (its digest
// was seen), added counts the invoices the bill did not hold, and full reports that
// MaxInvoicesPerBill cut the rest.
func (l *ledger) take(digest string, invs []invoicecloud.Invoice) (fresh bool, added int, full bool) {
	if slices.Contains(l.Digests, digest) {
		return false, 0, false
	}
	l.Digests = append(l.Digests, digest)
	if over := len(l.Digests) - digestCap; over > 0 {
		l.Digests = slices.Clone(l.Digests[over:])
	}
	known := l.holds()
	for _, inv := range invs {
		if len(known) >= MaxInvoicesPerBill {
			return true, added, true
		}
		if inv.SerialNo != "" && !known[inv.SerialNo] {
			known[inv.SerialNo] = true
			l.Pending = append(l.Pending, inv)
			added++
		}
	}
	return true, added, false
}

// toBind is the set billSave 30 binds: the bound invoices and the pending ones.
func (l *ledger) toBind() []invoicecloud.Invoice { return mergeInvoices(l.Invoices, l.Pending) }

// bound records that set is bound (billSave 30): nothing waits any more. It returns how many
// invoices the set added.
func (l *ledger) bound(set []invoicecloud.Invoice) (added int) {
	added = len(set) - len(l.Invoices)
	l.Invoices = set
	l.Pending = nil
	l.Status = invoicecloud.StatusInUse
	return added
}

// dropPending forgets a pending invoice; false when none has that serial number.
func (l *ledger) dropPending(serialNo string) bool {
	i := slices.IndexFunc(l.Pending, func(inv invoicecloud.Invoice) bool { return inv.SerialNo == serialNo })
	if i < 0 {
		return false
	}
	l.Pending = slices.Delete(l.Pending, i, i+1)
	return true
}

// boundAt is the index of a bound invoice (-1 when none has that serial number).
func (l *ledger) boundAt(serialNo string) int {
	return slices.IndexFunc(l.Invoices, func(inv invoicecloud.Invoice) bool { return inv.SerialNo == serialNo })
}

// unbound forgets the bound invoice at i (released at the cloud).
func (l *ledger) unbound(i int) { l.Invoices = slices.Delete(slices.Clone(l.Invoices), i, i+1) }

// show puts the invoices, their count and total, and the pending ones in the state.
func (l *ledger) show(v *BillState) {
	v.Invoices = invoiceViews(l.Invoices, l.Status)
	v.InvoiceCount = len(l.Invoices)
	v.TotalAmount = totalOfAll(l.Invoices).StringFixed(2)
	v.PendingInvoices = invoiceViews(l.Pending, invoicecloud.StatusUnused)
}
