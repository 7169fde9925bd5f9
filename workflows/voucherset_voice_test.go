package workflows_test

import (
	"strings"
	"testing"

	"rimflow/workflows"
)

// Under a policy that closes the ops path, nobody but a voucher set can hold a bill or tell it a
// voucher was saved: an unsigned hold and an unsigned outcome update are refused, and an outcome
// signal (which carries no signature) is ignored once the set's signed hold says it tells by
// update. The set's own, signed, outcome completes the bill without a voucherSave of its own.
func TestVoucherSetOutcomeCannotBeForged(t *testing.T) {
	h := newHarness(t)
	in := bill(workflows.Options{Approvals: []string{}})
	in.Policy = &workflows.BillPolicy{Rule: "closed", WebSignals: workflows.WebSignals{Allow: false}}
	hold := workflows.VoucherHoldRequest{Set: "voucher:SAP:V-9", Voucher: voucher()}
	var forgedHold, held, forgedOutcome *updateResult
	var afterSignal workflows.BillState
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
		},
		func() { forgedHold = h.updateAs(forgedPrefix, workflows.UpdateVoucherHold, hold) },
		func() { held = h.update(workflows.UpdateVoucherHold, hold) },
		func() {
			h.env.SignalWorkflow(workflows.SignalVoucherSetOutcome, workflows.VoucherSetOutcome{Set: hold.Set, Saved: true})
		},
		func() {
			afterSignal = h.state()
			forgedOutcome = h.updateAs(forgedPrefix, workflows.UpdateVoucherOutcome, workflows.VoucherSetOutcome{Set: hold.Set, Saved: true})
		},
		func() {
			h.update(workflows.UpdateVoucherOutcome, workflows.VoucherSetOutcome{Set: hold.Set, Saved: true})
		},
	)
	h.run(in)
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*updateResult{"unsigned hold": forgedHold, "unsigned outcome": forgedOutcome} {
		if r == nil || r.rejected == nil || !strings.Contains(r.rejected.Error(), "refused by policy") {
			t.Errorf("%s: want refused by policy, got %+v", name, r)
		}
	}
	if held.err != nil || held.rejected != nil {
		t.Fatalf("the set's signed hold: %v %v", held.err, held.rejected)
	}
	eq(t, "stage after the forged signal", afterSignal.Stage, workflows.StageAwaitingVoucher)
	if afterSignal.Voucher == nil || afterSignal.Voucher.Set != hold.Set || afterSignal.Voucher.SavedAt != nil {
		t.Errorf("after the forged signal the bill is not held, unsaved: %+v", afterSignal.Voucher)
	}
	if !hasNote(afterSignal, "refused by policy") {
		t.Errorf("the ignored signal is not noted: %+v", afterSignal.History)
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
	if s.Voucher == nil || s.Voucher.SavedAt == nil || s.Voucher.Set != hold.Set {
		t.Errorf("voucher = %+v", s.Voucher)
	}
	eq(t, "no voucherSave of its own", h.count("SaveVoucher"), 0)
}
