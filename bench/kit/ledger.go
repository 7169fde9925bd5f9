package kit

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"rimflow/cloudsim/simulator"
	"rimflow/workflows"
)

// LedgerReport is what the simulator's ledger says about a set of bills.
type LedgerReport struct {
	Bills     int // bills checked
	Invoices  int // invoices bound to them
	Completed int // bills with a voucher and every invoice accounted
}

// CheckLedger reads the simulator's ledger (every invoice's binding history and every bill) and
// checks, for the bills named resource/billID in want: each invoice was bound exactly once, to
// one bill only, and no serialNo anywhere in the pool was ever bound to two bills. With
// completed set, each wanted bill must also have its voucher and every invoice accounted (60).
// All problems are reported together.
func CheckLedger(sim *simulator.Sim, want []string, completed bool) (LedgerReport, error) {
	wanted := map[string]bool{}
	for _, k := range want {
		wanted[k] = true
	}
	var problems []string
	var rep LedgerReport
	for _, inv := range sim.Invoices() {
		binds, _ := bindings(inv)
		if len(binds) > 1 {
			problems = append(problems, fmt.Sprintf("serialNo %s was bound to %d bills: %v", inv.SerialNo, len(binds), keys(binds)))
		}
		for bill, n := range binds {
			if wanted[bill] && n != 1 {
				problems = append(problems, fmt.Sprintf("serialNo %s was bound %d times to bill %s", inv.SerialNo, n, bill))
			}
		}
	}
	seen := map[string]bool{}
	for _, b := range sim.Bills() {
		key := b.Resource + "/" + b.BillID
		if !wanted[key] {
			continue
		}
		seen[key] = true
		rep.Bills++
		rep.Invoices += len(b.Invoices)
		if len(b.Invoices) == 0 {
			problems = append(problems, fmt.Sprintf("bill %s has no invoice bound", key))
			continue
		}
		if !completed {
			continue
		}
		if accounted(key, b, &problems) {
			rep.Completed++
		}
	}
	for _, k := range want {
		if !seen[k] {
			problems = append(problems, fmt.Sprintf("bill %s is unknown to the cloud", k))
		}
	}
	return rep, joinProblems(problems)
}

// accounted tells whether a completed bill is done at the cloud: a voucher, and every invoice
// used (60) and accounted; it adds a problem for each that is not.
func accounted(key string, b simulator.BillView, problems *[]string) bool {
	done := b.Voucher != nil
	for _, inv := range b.Invoices {
		if inv.Status != simulator.StatusUsed || !inv.Accounted {
			done = false
			*problems = append(*problems, fmt.Sprintf("bill %s: invoice %s has status %s (accounted %v), want 60 accounted",
				key, inv.SerialNo, inv.Status, inv.Accounted))
		}
	}
	if b.Voucher == nil {
		*problems = append(*problems, fmt.Sprintf("bill %s has no voucher", key))
	}
	return done
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Applied is how many calls of each kind must have changed one bill's state in the cloud:
// billSave 30 (Bind), 60 (MarkUsed) and 1 (Release), voucherSave, the unbind (billDelete) and
// the deduction selection.
type Applied struct {
	Bind, MarkUsed, Release, Voucher, Unbind, Deduction int
}

// BillExpectation is what one bill's life must have left in the cloud.
type BillExpectation struct {
	Resource, BillID string
	// Serials are the invoices the bill's user imported (or the ERP forwarded): each must have
	// been bound to this bill exactly once.
	Serials []string
	// End is the bill's last stage: completed leaves exactly Serials bound, used (60), accounted
	// and a voucher; rejected and cancelled leave the bill unbound and each of Serials free again.
	End workflows.Stage
	// Applied calls as the bill's options require. A call accepted with nothing to change
	// ("unchanged": the same step sent again under a new messageId) counts as a duplicate and
	// fails the check; answers replayed from the idempotency store (a retry of the same
	// messageId) are allowed.
	Applied Applied
	// BindsRefused is how many billSave 30 the cloud must have refused (a business error).
	BindsRefused int
	// UnchangedBinds is how many billSave 30 the cloud must have accepted with nothing to change
	// because the bill's edition makes them by design: 0 on the ultimate edition; on the standard
	// edition each billSave is entry/save then status/update, so a bind's status/update 30 and
	// marking used's entry/save each count one.
	UnchangedBinds int
}

// CheckBills checks each expected bill against the simulator's own records: its per-bill call
// counters, its bound set and every imported invoice's binding history (bound once to this bill,
// never while another bill held it). All problems are reported together.
func CheckBills(sim *simulator.Sim, want []BillExpectation) (LedgerReport, error) {
	var problems []string
	var rep LedgerReport
	for _, w := range want {
		key := w.Resource + "/" + w.BillID
		b, ok := sim.Bill(w.Resource, w.BillID)
		if !ok {
			problems = append(problems, fmt.Sprintf("bill %s is unknown to the cloud", key))
			continue
		}
		rep.Bills++
		for _, p := range checkCalls(b.Calls, w) {
			problems = append(problems, fmt.Sprintf("bill %s: %s", key, p))
		}
		if len(w.Serials) == 0 {
			problems = append(problems, fmt.Sprintf("bill %s: its user imported nothing", key))
		}
		for _, sn := range w.Serials {
			inv, ok := sim.Invoice(sn)
			if !ok {
				problems = append(problems, fmt.Sprintf("bill %s: imported serialNo %s is not in the pool", key, sn))
				continue
			}
			binds, overlaps := bindings(inv)
			if n := binds[key]; n != 1 {
				problems = append(problems, fmt.Sprintf("bill %s: serialNo %s was bound to it %d times, want 1", key, sn, n))
			}
			problems = append(problems, overlaps...)
		}
		bound := map[string]simulator.BillInvoiceView{}
		for _, inv := range b.Invoices {
			bound[inv.SerialNo] = inv
		}
		switch w.End {
		case workflows.StageCompleted:
			rep.Invoices += len(b.Invoices)
			if !sameSet(keysOfInvoices(bound), w.Serials) {
				problems = append(problems, fmt.Sprintf("bill %s: bound set %v, its user imported %v", key, sortedKeys(bound), sorted(w.Serials)))
			}
			if accounted(key, b, &problems) {
				rep.Completed++
			}
		case workflows.StageRejected, workflows.StageCancelled:
			if len(b.Invoices) != 0 || !b.Unbound {
				problems = append(problems, fmt.Sprintf("bill %s (%s) still holds %v (unbound %v)", key, w.End, sortedKeys(bound), b.Unbound))
			}
			for _, sn := range w.Serials {
				if inv, ok := sim.Invoice(sn); ok && !releasedBy(inv, key) {
					problems = append(problems, fmt.Sprintf("bill %s (%s): invoice %s was not released by it (now status %s in bill %q)",
						key, w.End, sn, inv.Status, inv.BillID))
				}
			}
		default:
			problems = append(problems, fmt.Sprintf("bill %s: no expectation for end stage %q", key, w.End))
		}
	}
	return rep, joinProblems(problems)
}

// checkCalls compares the bill's call counters with what its life requires.
func checkCalls(c simulator.BillCalls, w BillExpectation) []string {
	var out []string
	check := func(name string, got simulator.CallCounts, applied, unchanged, refused int) {
		if got.Applied != applied || got.Unchanged != unchanged || got.Refused != refused {
			out = append(out, fmt.Sprintf("%s: applied %d, unchanged (sent again under a new messageId) %d, refused %d; want %d, %d, %d (replayed %d)",
				name, got.Applied, got.Unchanged, got.Refused, applied, unchanged, refused, got.Replayed))
		}
	}
	check("billSave 30", c.BillSave.InUse, w.Applied.Bind, w.UnchangedBinds, w.BindsRefused)
	check("billSave 60", c.BillSave.Used, w.Applied.MarkUsed, 0, 0)
	check("billSave 1", c.BillSave.Unused, w.Applied.Release, 0, 0)
	check("billSave with another status", c.BillSave.Other, 0, 0, 0)
	check("voucherSave", c.VoucherSave, w.Applied.Voucher, 0, 0)
	check("billDelete (unbind)", c.BillDelete, w.Applied.Unbind, 0, 0)
	check("deduction", c.Deduction, w.Applied.Deduction, 0, 0)
	return out
}

// bindings counts an invoice's binds per bill and reports any bind made while another bill
// still held it.
func bindings(inv simulator.InvoiceView) (map[string]int, []string) {
	binds := map[string]int{}
	var overlaps []string
	holder := ""
	for _, h := range inv.History {
		bill := h.Resource + "/" + h.BillID
		switch h.Event {
		case "bind":
			if holder != "" && holder != bill {
				overlaps = append(overlaps, fmt.Sprintf("serialNo %s was bound to %s while %s held it", inv.SerialNo, bill, holder))
			}
			binds[bill]++
			holder = bill
		case "release":
			holder = ""
		}
	}
	return binds, overlaps
}

// releasedBy: the bill released the invoice after its last bind to it (another bill may have
// taken it since).
func releasedBy(inv simulator.InvoiceView, bill string) bool {
	released := false
	for _, h := range inv.History {
		if h.Resource+"/"+h.BillID != bill {
			continue
		}
		released = h.Event == "release"
	}
	return released
}

func joinProblems(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	if len(problems) > 20 {
		problems = append(problems[:20], fmt.Sprintf("… and %d more", len(problems)-20))
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = errors.New(p)
	}
	return errors.Join(errs...)
}

func keysOfInvoices(m map[string]simulator.BillInvoiceView) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sortedKeys(m map[string]simulator.BillInvoiceView) []string { return sorted(keysOfInvoices(m)) }

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Compact(sorted(a)), slices.Compact(sorted(b)))
}
