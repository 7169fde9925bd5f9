package simulator

import "strings"

// Per-bill accounting of the state-changing business calls, so a product test can assert how
// often each step really reached the cloud: applied (changed state), unchanged (accepted, nothing
// to change: "already done"), replayed (answered from the idempotency store) or refused (business
// error). Injected faults before applying and token refusals are none of these.

// CallCounts counts one kind of call.
type CallCounts struct {
	Applied   int `json:"applied"`
	Unchanged int `json:"unchanged"`
	Replayed  int `json:"replayed"`
	Refused   int `json:"refused"`
}

// BillSaveCounts counts billSave calls by the status they sent.
type BillSaveCounts struct {
	Unused CallCounts `json:"1"`
	InUse  CallCounts `json:"30"`
	Used   CallCounts `json:"60"`
	// Other: refused calls whose status was missing or not 1, 30 or 60.
	Other CallCounts `json:"other"`
}

// BillCalls counts the calls about one bill (BillView.Calls) or about all bills (Stats.Calls,
// where a call is counted once even when it names several bills, and also when it names none
// the simulator knows).
type BillCalls struct {
	BillSave    BillSaveCounts `json:"billSave"`
	VoucherSave CallCounts     `json:"voucherSave"`
	BillDelete  CallCounts     `json:"billDelete"`
	// VoucherDelete counts the [assumed] voucher reversals (反记账, reversal.go).
	VoucherDelete CallCounts `json:"voucherDelete"`
	Deduction     CallCounts `json:"deduction"`
}

// Counter names a callNote uses.
const (
	counterBillSave      = "billSave:"
	counterVoucherSave   = "voucherSave"
	counterBillDelete    = "billDelete"
	counterVoucherDelete = "voucherDelete"
	counterDeduction     = "deduction"
)

// callNote is what an operation tells the accounting about itself while it runs.
type callNote struct {
	counter string    // "billSave:<status>", "voucherSave", "billDelete", "deduction"; "" = not counted
	bills   []billKey // the bills the call is about
	changed bool      // it changed state
}

// about adds a bill the call concerns (once).
func (n *callNote) about(k billKey) {
	for _, have := range n.bills {
		if have == k {
			return
		}
	}
	n.bills = append(n.bills, k)
}

type callOutcome int

const (
	outcomeApplied callOutcome = iota
	outcomeUnchanged
	outcomeReplayed
	outcomeRefused
)

func (c *CallCounts) add(o callOutcome) {
	switch o {
	case outcomeApplied:
		c.Applied++
	case outcomeUnchanged:
		c.Unchanged++
	case outcomeReplayed:
		c.Replayed++
	case outcomeRefused:
		c.Refused++
	}
}

// counts finds the counter a note names (nil for "").
func (c *BillCalls) counts(counter string) *CallCounts {
	switch counter {
	case counterBillSave + StatusUnused:
		return &c.BillSave.Unused
	case counterBillSave + StatusInUse:
		return &c.BillSave.InUse
	case counterBillSave + StatusUsed:
		return &c.BillSave.Used
	case counterVoucherSave:
		return &c.VoucherSave
	case counterBillDelete:
		return &c.BillDelete
	case counterVoucherDelete:
		return &c.VoucherDelete
	case counterDeduction:
		return &c.Deduction
	}
	if strings.HasPrefix(counter, counterBillSave) {
		return &c.BillSave.Other
	}
	return nil
}

// countCall records one call's outcome in the totals and on each bill it names. Caller holds s.mu.
func (s *Sim) countCall(n callNote, o callOutcome) {
	total := s.stats.Calls.counts(n.counter)
	if total == nil {
		return
	}
	total.add(o)
	for _, k := range n.bills {
		if b := s.bills[k]; b != nil {
			b.calls.counts(n.counter).add(o)
		}
	}
}
