package workflows_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// SLAs on the test clock: past the soft SLA the bill is Overdue; past the hard deadline "remind"
// notes a reminder and keeps waiting.
func TestBillSLARemind(t *testing.T) {
	h := newHarness(t)
	var before, overdue, reminded workflows.BillState
	h.at(time.Minute, func() {
		h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
	})
	h.at(50*time.Minute, func() { before = h.state() })
	h.at(2*time.Hour, func() { overdue = h.state() })
	h.at(5*time.Hour, func() {
		reminded = h.state()
		h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
	})
	h.at(6*time.Hour, func() { h.update(workflows.UpdateVoucher, voucher()) })
	h.run(bill(workflows.Options{Approvals: []string{"supervisor"},
		SLA: workflows.SLAs{Approval: workflows.Duration(time.Hour), Hard: workflows.Duration(4 * time.Hour)}}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "not yet overdue", before.Overdue, false)
	eq(t, "overdue after 1h", overdue.Overdue, true)
	eq(t, "still awaiting", reminded.Stage, workflows.StageAwaitingSupervisor)
	if !hasNote(reminded, "reminder") || !hasNote(overdue, "overdue") {
		t.Errorf("history lacks overdue/reminder: %+v", reminded.History)
	}
	eq(t, "completed", s.Stage, workflows.StageCompleted)
	eq(t, "overdue reset in the next stage", s.Overdue, false)
}

// Hard deadline with onDeadline=cancel runs the saga and ends cancelled.
func TestBillSLACancel(t *testing.T) {
	h := newHarness(t)
	h.at(time.Minute, func() {
		h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
	})
	h.run(bill(workflows.Options{OnDeadline: workflows.DeadlineCancel, SLA: workflows.SLAs{Hard: workflows.Duration(48 * time.Hour)}}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "final", s.Stage, workflows.StageCancelled)
	if s.Cancel == nil || !strings.Contains(s.Cancel.Reason, "hard deadline") {
		t.Errorf("cancel = %+v", s.Cancel)
	}
	eq(t, "unbound", h.count("Unbind"), 1)
	eq(t, "overdue", s.Overdue, false) // cancelled is a new stage
}

// Collect SLA while nothing arrives: overdue in collecting.
func TestBillCollectSLA(t *testing.T) {
	h := newHarness(t)
	var st workflows.BillState
	h.at(3*time.Hour, func() {
		st = h.state()
		h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "abandoned"})
	})
	h.run(bill(workflows.Options{SLA: workflows.SLAs{Collect: workflows.Duration(2 * time.Hour)}}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "overdue while collecting", st.Overdue, true)
	eq(t, "stage", st.Stage, workflows.StageCollecting)
	eq(t, "final", s.Stage, workflows.StageCancelled)
}

// collectUrl re-issues the eventCode once it is about to expire and restarts the watcher.
func TestBillCollectURLReissue(t *testing.T) {
	h := newHarness(t)
	var first, fresh, reissued *updateResult
	h.at(time.Minute, func() { first = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{}) })
	h.at(3*time.Minute, func() { fresh = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: "pc"}) })
	h.at(9*time.Minute, func() { reissued = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: "pc"}) })
	h.at(10*time.Minute, func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "done"}) })
	h.run(bill(workflows.Options{}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	code := func(r *updateResult) string { return r.value.(workflows.CollectURLResult).EventCode }
	eq(t, "first", code(first), "EC1")
	eq(t, "still fresh", code(fresh), "EC1")
	eq(t, "re-issued", code(reissued), "EC2")
	ecs := h.callsOf("GetEventCode")
	a, b := ecs[0].(calls.EventCodeInput), ecs[1].(calls.EventCodeInput)
	if a.Request.LinkKey == b.Request.LinkKey || a.MessageID == b.MessageID {
		t.Errorf("a re-issue needs a new linkKey and messageId")
	}
	watchKeys := map[string]bool{}
	for _, c := range h.callsOf("WatchInvoices") {
		watchKeys[c.(calls.WatchInput).LinkKey] = true
	}
	if !watchKeys[b.Request.LinkKey] {
		t.Errorf("no watcher for the new linkKey")
	}
}

// The server's reissue margin (Options.ReissueMargin) decides when an eventCode is replaced: with
// 1 minute, the code issued at the start (10 minutes' life) is kept with 90 seconds left, where the
// default margin (2 minutes) would replace it, and replaced with 30 seconds left.
func TestBillCollectURLReissueMargin(t *testing.T) {
	h := newHarness(t)
	var first, kept, reissued *updateResult
	h.at(time.Minute, func() { first = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{}) })
	h.at(8*time.Minute+30*time.Second, func() {
		kept = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: "pc"})
	})
	h.at(9*time.Minute+30*time.Second, func() {
		reissued = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: "pc"})
	})
	h.at(10*time.Minute, func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "done"}) })
	h.run(bill(workflows.Options{ReissueMargin: workflows.Duration(time.Minute)}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	code := func(r *updateResult) string { return r.value.(workflows.CollectURLResult).EventCode }
	eq(t, "first", code(first), "EC1")
	eq(t, "90 seconds left, 1 minute margin", code(kept), "EC1")
	eq(t, "30 seconds left", code(reissued), "EC2")
}

// Image modes: basic waits for the scan before finance; submitter and none skip image review.
func TestBillImageBasicAndSkip(t *testing.T) {
	for _, mode := range []string{workflows.ImageBasic, workflows.ImageSubmitter, workflows.ImageNone} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t)
			var afterSupervisor workflows.BillState
			var early *updateResult
			steps := []func(){
				func() {
					h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
				},
				func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove)) },
				func() {
					afterSupervisor = h.state()
					early = h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove))
				},
			}
			if mode == workflows.ImageBasic {
				steps = append(steps,
					func() {
						h.update(workflows.UpdateImages, workflows.ImagesRequest{ScanBillNo: "SCAN-1", Files: []string{"a.jpg"}})
					},
					func() { h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove)) })
			}
			steps = append(steps, func() { h.update(workflows.UpdateVoucher, voucher()) })
			h.script(steps...)
			h.run(bill(workflows.Options{ImageMode: mode}))
			s, err := h.result()
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "final", s.Stage, workflows.StageCompleted)
			if mode == workflows.ImageBasic {
				eq(t, "after supervisor", afterSupervisor.Stage, workflows.StageImageReview)
				if early.rejected == nil {
					t.Errorf("finance before the scan should be refused")
				}
				if s.Images == nil || s.Images.ScanBillNo != "SCAN-1" {
					t.Errorf("images = %+v", s.Images)
				}
			} else {
				eq(t, "after supervisor", afterSupervisor.Stage, workflows.StageAwaitingFinance)
			}
		})
	}
}

// Match mode: a mismatch (missing invoice, wrong amount) goes back to collecting with the
// difference in history; a matching scan continues.
func TestBillImageMatch(t *testing.T) {
	h := newHarness(t)
	var mismatch workflows.BillState
	var badAmount *updateResult
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "100", "13", false), inv("S2", "002", "50", "3", false)))
		},
		func() {
			badAmount = h.update(workflows.UpdateImages, workflows.ImagesRequest{ScanBillNo: "SC", InvoiceNos: []string{"001"}, Amounts: map[string]string{"001": "abc"}})
			h.update(workflows.UpdateImages, workflows.ImagesRequest{ScanBillNo: "SC", InvoiceNos: []string{"001", "009"}, Amounts: map[string]string{"001": "112.99"}})
		},
		func() {
			mismatch = h.state()
			// The invoices stay bound; the submitter fixes the paper and submits again.
			h.update(workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
		},
		func() {
			h.update(workflows.UpdateImages, workflows.ImagesRequest{ScanBillNo: "SC2", InvoiceNos: []string{"002", "001"}, Amounts: map[string]string{"001": "113.00"}})
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{Approvals: []string{}, ImageMode: workflows.ImageMatch}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	if badAmount.rejected == nil || !strings.Contains(badAmount.rejected.Error(), "amounts.001") {
		t.Errorf("bad amount not refused: %+v", badAmount)
	}
	eq(t, "after mismatch", mismatch.Stage, workflows.StageCollecting)
	for _, want := range []string{"not scanned: 002", "amount of 001: scanned 112.99, bound 113.00", "not on the bill: 009"} {
		if !hasNote(mismatch, want) {
			t.Errorf("history lacks %q: %+v", want, mismatch.History)
		}
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
	// Re-importing the same set binds nothing new.
	eq(t, "binds", h.count("BindInvoices"), 1)
}

// Deduction immediate: only the special-VAT invoices are selected, with the bill's tax number.
func TestBillDeductionImmediate(t *testing.T) {
	h := newHarness(t)
	special27 := inv("S3", "", "200", "26", false)
	special27.InvoiceType = "27"
	special27.EtaxInvoiceNo = "24310000000000000001"
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "100", "13", true), inv("S2", "002", "50", "3", false), special27))
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{Approvals: []string{}, Deduction: workflows.DeductionImmediate}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	d := h.callsOf("SelectDeduction")[0].(calls.DeductionInput)
	eq(t, "selected", len(d.Request.Invoices), 2)
	eq(t, "flag", d.Request.AuthenticateFlag, "1")
	eq(t, "tax no", d.Request.TaxNo, "91310000MA1FL0001R")
	eq(t, "purpose", d.Request.DeductionPurpose, "1")
	eq(t, "amount", d.Request.Invoices[0].InvoiceAmount.StringFixed(2), "100.00")
	eq(t, "etax no", d.Request.Invoices[1].EtaxInvoiceNo, "24310000000000000001")
	if s.Deduction == nil || s.Deduction.TaskNo != "T1" || !slices.Equal(s.Deduction.SerialNos, []string{"S1", "S3"}) {
		t.Errorf("deduction = %+v", s.Deduction)
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
}

// Deduction none, or no deductible invoice: the deducting stage is skipped.
func TestBillDeductionSkipped(t *testing.T) {
	h := newHarness(t)
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S2", "002", "50", "3", false)))
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{Approvals: []string{}, Deduction: workflows.DeductionBatch}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "enqueue", h.count("EnqueueDeduction"), 0)
	eq(t, "final", s.Stage, workflows.StageCompleted)
	if !hasNote(s, "no deductible") {
		t.Errorf("no skip note")
	}
}

// The batch workflow submits full batches at once, a partial batch after Interval, ignores a
// bill sent twice, and ends once its period is over (draining what is pending).
func TestDeductionBatchWorkflow(t *testing.T) {
	env := newBatchEnv()
	var batches [][]string
	env.OnActivity("SelectDeduction", mock.Anything).Return(func(in calls.DeductionInput) (invoicecloud.DeductionResult, error) {
		var nos []string
		for _, i := range in.Request.Invoices {
			nos = append(nos, i.InvoiceNo)
		}
		batches = append(batches, nos)
		return invoicecloud.DeductionResult{TaskNo: in.RequestID}, nil
	})
	add := func(bill string, nos ...string) calls.DeductionAdd {
		a := calls.DeductionAdd{BillWorkflowID: bill}
		for _, n := range nos {
			a.Invoices = append(a.Invoices, invoicecloud.DeductionInvoice{InvoiceType: "4", InvoiceNo: n})
		}
		return a
	}
	var mid workflows.DeductionBatchState
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(calls.SignalDeductionAdd, add("b1", "1", "2")) }, time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(calls.SignalDeductionAdd, add("b1", "1", "2")) }, 2*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(calls.SignalDeductionAdd, add("b2", "3", "4")) }, 3*time.Minute)
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryState)
		if err == nil {
			err = v.Get(&mid)
		}
		if err != nil {
			t.Errorf("batch state at 4 min: %v", err)
		}
		env.SignalWorkflow(calls.SignalDeductionAdd, add("b3", "5"))
	}, 4*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(calls.SignalDeductionAdd, add("b4", "6")) }, 3*time.Hour)
	// Period 2024-05 closes 2024-06-01 + 1 day grace; the test clock starts before that.
	env.SetStartTime(time.Date(2024, 5, 31, 12, 0, 0, 0, time.UTC))
	env.ExecuteWorkflow(calls.DeductionWorkflowName, calls.DeductionBatchInput{
		TaxNo: "TAX", Period: "2024-05", BatchSize: 3, Interval: workflows.Duration(time.Hour), Grace: workflows.Duration(24 * time.Hour),
	})
	if !env.IsWorkflowCompleted() {
		t.Fatal("not completed")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"1", "2", "3"}, {"4", "5"}, {"6"}}
	if len(batches) != len(want) {
		t.Fatalf("batches = %v, want %v", batches, want)
	}
	for i := range want {
		if !slices.Equal(batches[i], want[i]) {
			t.Errorf("batch %d = %v, want %v", i, batches[i], want[i])
		}
	}
	eq(t, "pending after first batch", mid.PendingInvoices, 1)
	eq(t, "batches at 4 min", len(mid.Batches), 1)
}

// Bad input is refused by the workflow itself with a non-retryable ValidationError naming fields.
func TestBillRejectsBadInput(t *testing.T) {
	h := newHarness(t)
	in := bill(workflows.Options{ImageMode: "scan"})
	in.BillID = ""
	h.run(in)
	_, err := h.result()
	if err == nil || !strings.Contains(err.Error(), "billId: required") || !strings.Contains(err.Error(), "options.imageMode") {
		t.Fatalf("err = %v", err)
	}
}

// Under a steady trickle (an add every 20 minutes) the batch still flushes an interval after its
// oldest pending add; a refused batch is kept and flagged, and the retry signal resubmits it under
// a new request id.
func TestDeductionBatchTrickleAndRefusal(t *testing.T) {
	env := newBatchEnv()
	type sent struct {
		at  time.Time
		id  string
		nos int
	}
	var calls_ []sent
	env.OnActivity("SelectDeduction", mock.Anything).Return(func(in calls.DeductionInput) (invoicecloud.DeductionResult, error) {
		calls_ = append(calls_, sent{env.Now(), in.RequestID, len(in.Request.Invoices)})
		if len(calls_) == 1 {
			return invoicecloud.DeductionResult{}, nonRetryable("2101", "the tax bureau refused the batch")
		}
		return invoicecloud.DeductionResult{TaskNo: "T"}, nil
	})
	start := time.Date(2024, 5, 20, 0, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	for i := 0; i < 6; i++ {
		bill := fmt.Sprintf("b%d", i)
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(calls.SignalDeductionAdd, calls.DeductionAdd{BillWorkflowID: bill,
				Invoices: []invoicecloud.DeductionInvoice{{InvoiceType: "4", InvoiceNo: bill}}})
		}, time.Minute+time.Duration(i)*20*time.Minute)
	}
	var refused, retried workflows.DeductionBatchState
	query := func(into *workflows.DeductionBatchState) {
		if v, err := env.QueryWorkflow(workflows.QueryState); err != nil || v.Get(into) != nil {
			t.Errorf("query: %v", err)
		}
	}
	env.RegisterDelayedCallback(func() { query(&refused); env.SignalWorkflow(workflows.SignalDeductionRetry, nil) }, 3*time.Hour)
	env.RegisterDelayedCallback(func() { query(&retried) }, 3*time.Hour+time.Minute)
	env.ExecuteWorkflow(calls.DeductionWorkflowName, calls.DeductionBatchInput{
		TaxNo: "TAX", Period: "2024-05", BatchSize: 100, Interval: workflows.Duration(time.Hour), Grace: workflows.Duration(24 * time.Hour),
	})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(calls_) < 2 {
		t.Fatalf("selections = %+v", calls_)
	}
	// The oldest add came at 0:01: the first flush is due at 1:01, whatever came after it.
	if got := calls_[0].at.Sub(start); got != time.Hour+time.Minute {
		t.Errorf("first flush after %s, want 1h1m (an interval after the oldest pending add)", got)
	}
	eq(t, "first batch (adds at 0:01, 0:21, 0:41)", calls_[0].nos, 3)
	eq(t, "refused kept", len(refused.Refused), 1)
	eq(t, "refused after retry", len(retried.Refused), 0)
	ids := map[string]bool{}
	for _, c := range calls_ {
		if ids[c.id] {
			t.Errorf("request id %s sent twice", c.id)
		}
		ids[c.id] = true
	}
}

// A bill handed to the batch is named in its state at every moment: pending, then submitting while
// the selection call is in flight (neither pending nor a batch yet), then in a batch. Ops, and the
// ledger oracle, read where its invoices are from it.
func TestDeductionBatchNamesTheBillWhileItsCallIsInFlight(t *testing.T) {
	env := newBatchEnv()
	// The cloud takes ten minutes to answer the selection.
	env.OnActivity("SelectDeduction", mock.Anything).After(10*time.Minute).Return(invoicecloud.DeductionResult{TaskNo: "T-1"}, nil)
	states := map[string]workflows.DeductionBatchState{}
	at := func(name string, d time.Duration) {
		env.RegisterDelayedCallback(func() {
			var st workflows.DeductionBatchState
			if v, err := env.QueryWorkflow(workflows.QueryState); err != nil || v.Get(&st) != nil {
				t.Errorf("query at %s: %v", name, err)
			}
			states[name] = st
		}, d)
	}
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(calls.SignalDeductionAdd, calls.DeductionAdd{BillWorkflowID: "b1",
			Invoices: []invoicecloud.DeductionInvoice{{InvoiceType: "4", InvoiceNo: "1"}}})
	}, time.Minute)
	at("pending", 30*time.Minute)   // the add came at 0:01; the flush is due at 1:01
	at("in flight", 65*time.Minute) // the call runs from 1:01 to 1:11
	at("submitted", 80*time.Minute) // answered
	env.SetStartTime(time.Date(2024, 5, 20, 0, 0, 0, 0, time.UTC))
	env.ExecuteWorkflow(calls.DeductionWorkflowName, calls.DeductionBatchInput{
		TaxNo: "TAX", Period: "2024-05", BatchSize: 100, Interval: workflows.Duration(time.Hour), Grace: workflows.Duration(24 * time.Hour),
	})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if st := states["pending"]; !slices.Equal(st.PendingBills, []string{"b1"}) || len(st.Submitting) != 0 || len(st.Batches) != 0 {
		t.Errorf("before the flush: %+v", st)
	}
	if st := states["in flight"]; len(st.PendingBills) != 0 || !slices.Equal(st.Submitting, []string{"b1"}) || len(st.Batches) != 0 {
		t.Errorf("while the selection call is in flight: %+v, want b1 submitting", st)
	}
	if st := states["submitted"]; len(st.Submitting) != 0 || len(st.Batches) != 1 || st.Batches[0].TaskNo != "T-1" || !slices.Equal(st.Batches[0].Bills, []string{"b1"}) {
		t.Errorf("after the answer: %+v", st)
	}
}

// newBatchEnv is a test environment with the deduction batch workflow and its SelectDeduction
// activity registered (each test mocks the activity's answers).
func newBatchEnv() *testsuite.TestWorkflowEnvironment {
	s := &testsuite.WorkflowTestSuite{}
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.DeductionBatchWorkflow, workflow.RegisterOptions{Name: calls.DeductionWorkflowName})
	env.RegisterActivityWithOptions(func(in calls.DeductionInput) (invoicecloud.DeductionResult, error) {
		return invoicecloud.DeductionResult{}, nil
	}, activityName("SelectDeduction"))
	return env
}
