package kit

import (
	"errors"
	"fmt"
	"sort"

	"rimflow/cloudsim/simulator"
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
		binds := map[string]int{}
		for _, h := range inv.History {
			if h.Event == "bind" {
				binds[h.Resource+"/"+h.BillID]++
			}
		}
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
		done := b.Voucher != nil
		for _, inv := range b.Invoices {
			if inv.Status != "60" || !inv.Accounted {
				done = false
				problems = append(problems, fmt.Sprintf("bill %s: invoice %s has status %s (accounted %v), want 60 accounted",
					key, inv.SerialNo, inv.Status, inv.Accounted))
			}
		}
		if b.Voucher == nil {
			problems = append(problems, fmt.Sprintf("bill %s has no voucher", key))
		}
		if done {
			rep.Completed++
		}
	}
	for _, k := range want {
		if !seen[k] {
			problems = append(problems, fmt.Sprintf("bill %s is unknown to the cloud", k))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("… and %d more", len(problems)-20))
		}
		errs := make([]error, len(problems))
		for i, p := range problems {
			errs[i] = errors.New(p)
		}
		return rep, errors.Join(errs...)
	}
	return rep, nil
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
