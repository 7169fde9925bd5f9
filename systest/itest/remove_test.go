package itest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// eachReading runs body under both readings of billSave (the list replaces the bill's set, or
// only adds and updates), each on the lenient and the strict simulator.
func eachReading(t *testing.T, seed int64, body func(t *testing.T, s *stack)) {
	for _, replaces := range []bool{true, false} {
		for _, strictMode := range []bool{false, true} {
			name := fmt.Sprintf("replaces=%t/strict=%t", replaces, strictMode)
			t.Run(name, func(t *testing.T) {
				o := cloudMode(strictMode).options(seed)
				o.Assume.DisableBillSaveReplacesSet = !replaces
				body(t, newStackOn(t, o, nil))
			})
		}
	}
}

// TestRemoveInvoiceKeepsTheRestBound: taking one invoice off a bill of three leaves the cloud
// holding exactly the other two at status 30, and they are never free on the way (their history
// at the cloud has no release); the removed one is free. Then the bill completes with the two.
func TestRemoveInvoiceKeepsTheRestBound(t *testing.T) {
	eachReading(t, 91, func(t *testing.T, s *stack) {
		manual := false
		run := s.start(input("RM-1", workflows.Options{Approvals: []string{"supervisor", "finance"}, AutoSubmit: &manual}))
		id := run.GetID()
		serials := s.collect(s.collectURL(id).EventCode, 3)
		waitFor(t, "three invoices bound", func() bool { return state(t, id).InvoiceCount == 3 })

		st := mustUpdate(t, id, workflows.UpdateRemove, workflows.RemoveInvoiceRequest{SerialNo: serials[0], Reason: "not this trip"})
		if st.InvoiceCount != 2 {
			t.Fatalf("%d invoices on the bill after the removal, want 2", st.InvoiceCount)
		}
		s.cloudHolds(t, "RM-1", serials[1:], invoicecloud.StatusInUse)
		if v := s.invoice(serials[0]); v.Status != invoicecloud.StatusUnused || (v.BillID == "RM-1" && v.Status != invoicecloud.StatusUnused) {
			t.Errorf("the removed invoice at the cloud: status %s in bill %q", v.Status, v.BillID)
		}
		for _, sn := range serials[1:] {
			for _, h := range s.invoice(sn).History {
				if h.Event == "release" {
					t.Errorf("invoice %s was free at the cloud for a moment: %+v", sn, s.invoice(sn).History)
				}
			}
		}

		mustUpdate(t, id, workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
		s.cloudHolds(t, "RM-1", serials[1:], invoicecloud.StatusInUse)
		mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
		mustUpdate(t, id, workflows.UpdateApprove, approve("finance", workflows.DecisionApprove))
		waitStage(t, id, workflows.StageAwaitingVoucher)
		s.cloudHolds(t, "RM-1", serials[1:], invoicecloud.StatusUsed)
		mustUpdate(t, id, workflows.UpdateVoucher, voucher())
		var final workflows.BillState
		if err := run.Get(ctxT(t), &final); err != nil {
			t.Fatal(err)
		}
		if final.Stage != workflows.StageCompleted || final.InvoiceCount != 2 {
			t.Fatalf("final %s with %d invoices, want completed with 2", final.Stage, final.InvoiceCount)
		}
		s.cloudHolds(t, "RM-1", serials[1:], invoicecloud.StatusUsed)
		if t.Name() == "TestRemoveInvoiceKeepsTheRestBound/replaces=true/strict=false" {
			record(t, id, "remove_next_set")
		}
	})
}

// TestRemoveOnlyInvoiceThenRetryCollects: a bad forward (a serialNo the pool does not have)
// fails the bill at binding; the ERP removes it, the only invoice, and retries: the bill collects
// again (no billSave without invoices), the cloud holds nothing for it, and the next import binds.
// Taking off the only bound invoice releases it the same way.
func TestRemoveOnlyInvoiceThenRetryCollects(t *testing.T) {
	eachReading(t, 92, func(t *testing.T, s *stack) {
		run := s.start(input("RM-2", workflows.Options{Approvals: []string{"supervisor"}}))
		id := run.GetID()
		code := s.collectURL(id).EventCode
		ghost := workflows.InvoicesSignal{InvoiceData: []invoicecloud.Invoice{{SerialNo: "GHOST-0001", InvoiceType: "26"}}}
		if err := tc.SignalWorkflow(context.Background(), id, "", workflows.SignalInvoices, ghost); err != nil {
			t.Fatal(err)
		}
		st := waitStage(t, id, workflows.StageFailed)
		if st.Error == nil || st.Error.Step != "bindInvoices" {
			t.Fatalf("failure = %+v", st.Error)
		}
		mustUpdate(t, id, workflows.UpdateRemove, workflows.RemoveInvoiceRequest{SerialNo: "GHOST-0001", Reason: "not in the pool"})
		st = mustUpdate(t, id, workflows.UpdateRetry, workflows.RetryRequest{By: "ops"})
		if st.Stage != workflows.StageCollecting || st.Error != nil || st.InvoiceCount != 0 {
			t.Fatalf("after the retry: %s, error %+v, %d invoices", st.Stage, st.Error, st.InvoiceCount)
		}
		s.cloudHolds(t, "RM-2", nil, "")

		// Collecting again: an import binds (and, autoSubmit, submits); taking it off again while
		// the bill is returned leaves the cloud holding nothing.
		serials := s.collect(code, 1)
		waitStage(t, id, workflows.StageAwaitingSupervisor)
		s.cloudHolds(t, "RM-2", serials, invoicecloud.StatusInUse)
		mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionReturn))
		waitStage(t, id, workflows.StageCollecting)
		st = mustUpdate(t, id, workflows.UpdateRemove, workflows.RemoveInvoiceRequest{SerialNo: serials[0], Reason: "wrong trip"})
		if st.Stage != workflows.StageCollecting || st.InvoiceCount != 0 {
			t.Fatalf("after removing the only bound invoice: %s with %d invoices", st.Stage, st.InvoiceCount)
		}
		s.cloudHolds(t, "RM-2", nil, "")
		if v := s.invoice(serials[0]); v.BillID != "" || v.Status != invoicecloud.StatusUnused {
			t.Errorf("the removed invoice at the cloud: status %s in bill %q", v.Status, v.BillID)
		}
		mustUpdate(t, id, workflows.UpdateCancel, workflows.CancelRequest{Reason: "done testing"})
		if err := run.Get(ctxT(t), nil); err != nil {
			t.Fatal(err)
		}
		if t.Name() == "TestRemoveOnlyInvoiceThenRetryCollects/replaces=true/strict=false" {
			record(t, id, "remove_only_then_retry")
		}
	})
}

// cloudHolds checks the cloud holds exactly serials (at status) for the bill, and nothing else at
// 30 or 60.
func (s *stack) cloudHolds(t *testing.T, billID string, serials []string, status string) {
	t.Helper()
	var held []string
	if b, ok := s.sim.Bill("OA", billID); ok {
		for _, iv := range b.Invoices {
			if iv.Status == invoicecloud.StatusUnused {
				continue // status 1 in a bill is free: another bill may take it
			}
			held = append(held, iv.SerialNo)
			if iv.Status != status {
				t.Errorf("the cloud holds %s at status %s, want %s", iv.SerialNo, iv.Status, status)
			}
		}
	}
	slices.Sort(held)
	want := slices.Sorted(slices.Values(serials))
	if !slices.Equal(held, want) {
		t.Errorf("the cloud holds %v for %s, want %v", held, billID, want)
	}
}

func (s *stack) invoice(serial string) simulator.InvoiceView {
	v, ok := s.sim.Invoice(serial)
	if !ok {
		s.t.Fatalf("invoice %s not in the pool", serial)
	}
	return v
}
