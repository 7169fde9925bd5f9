package workflows_test

import (
	"strings"
	"testing"

	"rimflow/workflows"
)

// Each invoice is marked verified or not; with duties.acknowledgeUnverified the role's approval
// is refused (naming the field) until it acknowledges the unverified ones, and the record keeps them.
func TestUnverifiedInvoicesAcknowledged(t *testing.T) {
	h := newHarness(t)
	in := bill(workflows.Options{})
	p := workflows.DefaultBillPolicy()
	p.Duties.AcknowledgeUnverified = "finance"
	in.Policy = &p
	train := inv("S2", "002", "50.00", "0", false)
	train.InvoiceType = "9" // 火车票: recognized, not verified
	var collected workflows.BillState
	var sup, refused, acked *updateResult
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "100.00", "13.00", true), train))
		},
		func() {
			collected = h.state()
			sup = h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
		},
		func() { refused = h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove)) },
		func() {
			req := approve("finance", workflows.DecisionApprove)
			req.AcknowledgeUnverified = true
			acked = h.update(workflows.UpdateApprove, req)
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(in)
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "S1 verified", collected.Invoices[0].Verified, true)
	eq(t, "S2 verified", collected.Invoices[1].Verified, false)
	if sup.rejected != nil || sup.err != nil {
		t.Fatalf("the supervisor need not acknowledge: %v %v", sup.rejected, sup.err)
	}
	if refused.rejected == nil || !strings.Contains(refused.rejected.Error(), "acknowledgeUnverified") || !strings.Contains(refused.rejected.Error(), "S2") {
		t.Fatalf("finance without acknowledging: %v", refused.rejected)
	}
	if acked.rejected != nil || acked.err != nil {
		t.Fatalf("finance acknowledging: %v %v", acked.rejected, acked.err)
	}
	eq(t, "stage", s.Stage, workflows.StageCompleted)
	last := s.Approvals[len(s.Approvals)-1]
	eq(t, "acknowledged", strings.Join(last.Acknowledged, ","), "S2")
}

// Without the duty, nothing is asked.
func TestUnverifiedNeedNoAcknowledgementByDefault(t *testing.T) {
	h := newHarness(t)
	train := inv("S2", "002", "50.00", "0", false)
	train.InvoiceType = "9"
	var fin *updateResult
	h.script(
		func() { h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(train)) },
		func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove)) },
		func() { fin = h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	if fin.rejected != nil {
		t.Errorf("finance refused without the duty: %v", fin.rejected)
	}
}

// The policy's duties.verifiedTypes replaces the default list, frozen with the bill: here only
// 增值税专用发票 (4) counts as verified, so an invoice of a kind the default list verifies is
// unverified in this bill, and the acknowledging role must acknowledge it.
func TestPolicyVerifiedTypesReplaceTheDefault(t *testing.T) {
	h := newHarness(t)
	in := bill(workflows.Options{Approvals: []string{"finance"}})
	p := workflows.DefaultBillPolicy()
	p.Duties.AcknowledgeUnverified = "finance"
	p.Duties.VerifiedTypes = []string{"4"}
	in.Policy = &p
	special := inv("S1", "001", "100.00", "13.00", true)
	special.InvoiceType = "4"
	plain := inv("S2", "002", "50.00", "1.50", false)
	plain.InvoiceType = "26" // 数电普票: verified by the default list
	var collected workflows.BillState
	var refused *updateResult
	h.script(
		func() { h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(special, plain)) },
		func() {
			collected = h.state()
			refused = h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove))
		},
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) },
	)
	h.run(in)
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	if !workflows.Verified("26") {
		t.Fatal("the default list no longer verifies 26: the test proves nothing")
	}
	eq(t, "S1 (4) verified", collected.Invoices[0].Verified, true)
	eq(t, "S2 (26) verified", collected.Invoices[1].Verified, false)
	if refused.rejected == nil || !strings.Contains(refused.rejected.Error(), "S2") || strings.Contains(refused.rejected.Error(), "S1") {
		t.Fatalf("finance without acknowledging: %v; want S2 (and only S2) named", refused.rejected)
	}
}
