package workflows_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// The default route: collect (autoSubmit) → supervisor → finance → used → voucher → completed.
func TestBillHappyPath(t *testing.T) {
	h := newHarness(t)
	var afterCollect, afterSupervisor workflows.BillState
	var supervisorAnswer, voucherAnswer *updateResult
	var url *updateResult
	h.script(
		func() { url = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: "mobile"}) },
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "100.00", "13.00", true), inv("S2", "002", "50.10", "0.50", false)))
		},
		func() {
			afterCollect = h.state()
			supervisorAnswer = h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
		},
		func() {
			afterSupervisor = h.state()
			h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove))
		},
		func() { voucherAnswer = h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{}))
	s, err := h.result()
	if err != nil {
		t.Fatalf("workflow error: %v", err)
	}

	if url.err != nil || url.rejected != nil {
		t.Fatalf("collectUrl: %v %v", url.err, url.rejected)
	}
	cu := url.value.(workflows.CollectURLResult)
	if !strings.Contains(cu.URL, "mobile.html") || cu.EventCode != "EC1" {
		t.Errorf("collect url = %+v", cu)
	}
	eq(t, "stage after collecting", afterCollect.Stage, workflows.StageAwaitingSupervisor)
	eq(t, "awaiting role", afterCollect.AwaitingRole, "supervisor")
	eq(t, "invoice count", afterCollect.InvoiceCount, 2)
	eq(t, "total", afterCollect.TotalAmount, "163.60")
	eq(t, "stage after supervisor", afterSupervisor.Stage, workflows.StageAwaitingFinance)
	if supervisorAnswer.err != nil || voucherAnswer.err != nil {
		t.Errorf("update errors: %v %v", supervisorAnswer.err, voucherAnswer.err)
	}

	eq(t, "final stage", s.Stage, workflows.StageCompleted)
	if s.Voucher == nil || s.Voucher.SavedAt == nil || s.Voucher.VouchNo != "记-0001" {
		t.Errorf("voucher = %+v", s.Voucher)
	}
	eq(t, "approvals", len(s.Approvals), 2)
	eq(t, "invoice status", s.Invoices[0].Status, invoicecloud.StatusUsed)
	eq(t, "deductible flag", s.Invoices[0].DeductionFlag, "1")
	eq(t, "non-deductible", s.Invoices[1].Deductible, false)

	want := []string{"BindInvoices", "MarkUsed", "SaveVoucher"}
	if got := withoutWatch(h.names()); !slices.Equal(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	bind := h.callsOf("BindInvoices")[0].(calls.BillSaveInput)
	eq(t, "bind status", bind.Request.Status, invoicecloud.StatusInUse)
	eq(t, "bind deductionFlag", bind.Request.InvoiceData[0].DeductionFlag, "1")
	eq(t, "bind tax no", bind.Request.BillTaxNo, "91310000MA1FL0001R")
	used := h.callsOf("MarkUsed")[0].(calls.BillSaveInput)
	eq(t, "used status", used.Request.Status, invoicecloud.StatusUsed)
	eq(t, "used count", len(used.Request.InvoiceData), 2)
	if used.MessageID == bind.MessageID || len(used.MessageID) > 64 {
		t.Errorf("message ids: bind %q used %q", bind.MessageID, used.MessageID)
	}
	v := h.callsOf("SaveVoucher")[0].(calls.VoucherInput)
	if !slices.Equal(v.Request.SerialNoArray, []string{"S1", "S2"}) || !slices.Equal(v.Request.ExpenseIDArray, []string{"B-1"}) || v.TaxNo == "" {
		t.Errorf("voucherSave = %+v", v.Request)
	}
	ec := h.callsOf("GetEventCode")[0].(calls.EventCodeInput)
	if len(ec.Request.LinkKey) != 32 || ec.Request.PushType != workflows.PushSocket || ec.Request.BillID != "B-1" {
		t.Errorf("getEventCode request = %+v", ec.Request)
	}
}

func withoutWatch(names []string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool {
		return n == "WatchInvoices"
	})
}

// Invoices from the watcher: a redelivery of the same message does not bind again; manual submit
// (autoSubmit off) with no approvals.
func TestBillWatcherDedupAndManualSubmit(t *testing.T) {
	h := newHarness(t)
	s1 := inv("S1", "001", "10", "1", false)
	var beforeSubmit workflows.BillState
	var emptySubmit *updateResult
	h.at(30*time.Second, func() { h.deliver(workflows.ViaPoll, s1) })
	h.at(40*time.Second, func() { h.deliver(workflows.ViaPoll, s1) })
	h.script(
		func() {
			beforeSubmit = h.state()
			h.update(workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{AutoSubmit: falsePtr(), Approvals: []string{}}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "stage before submit", beforeSubmit.Stage, workflows.StageCollecting)
	eq(t, "bound before submit", beforeSubmit.InvoiceCount, 1)
	eq(t, "binds", h.count("BindInvoices"), 1)
	eq(t, "deliveries recorded", len(beforeSubmit.Deliveries), 2)
	eq(t, "first delivery", beforeSubmit.Deliveries[0].Outcome, "bound")
	eq(t, "redelivery", beforeSubmit.Deliveries[1].Outcome, "duplicate")
	eq(t, "final", s.Stage, workflows.StageCompleted)

	h2 := newHarness(t)
	h2.script(
		func() { emptySubmit = h2.update(workflows.UpdateSubmit, workflows.SubmitRequest{}) },
		func() { h2.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) },
	)
	h2.run(bill(workflows.Options{AutoSubmit: falsePtr()}))
	if emptySubmit.rejected == nil || !strings.Contains(emptySubmit.rejected.Error(), "no invoice") {
		t.Errorf("submit with no invoices: rejected=%v", emptySubmit.rejected)
	}
	s2, err := h2.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "cancelled with nothing bound", s2.Stage, workflows.StageCancelled)
	eq(t, "no unbind when nothing was bound", h2.count("Unbind"), 0)
}

// Validators refuse wrong stage, unknown role, bad payloads and duplicate decisions before
// anything is written.
func TestBillValidators(t *testing.T) {
	h := newHarness(t)
	r := map[string]*updateResult{}
	var mid, afterVoucher workflows.BillState
	h.script(
		func() {
			r["approve-too-early"] = h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
			r["voucher-too-early"] = h.update(workflows.UpdateVoucher, voucher())
			r["retry-not-failed"] = h.update(workflows.UpdateRetry, workflows.RetryRequest{})
			r["bad-client"] = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: "tv"})
			// A special VAT invoice, so the bill has a deduction to make after the voucher.
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", true)))
		},
		func() {
			r["unknown-role"] = h.update(workflows.UpdateApprove, approve("ceo", workflows.DecisionApprove))
			r["bad-decision"] = h.update(workflows.UpdateApprove, workflows.ApproveRequest{Role: "supervisor", Decision: "maybe", Approver: "a"})
			r["no-approver"] = h.update(workflows.UpdateApprove, workflows.ApproveRequest{Role: "supervisor", Decision: "approve"})
			r["wrong-role-stage"] = h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove))
			r["submit-not-collecting"] = h.update(workflows.UpdateSubmit, workflows.SubmitRequest{})
			r["cancel-no-reason"] = h.update(workflows.UpdateCancel, workflows.CancelRequest{})
			r["first"] = h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
			r["duplicate"] = h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionReject))
			// A bad signal is ignored and noted, not applied.
			h.env.SignalWorkflow(workflows.SignalApprove, approve("finance", "perhaps"))
		},
		func() {
			mid = h.state()
			// The same decision again (the ERP retried without an Idempotency-Key): the state, not 409.
			r["same-again"] = h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
			r["bad-dates"] = h.update(workflows.UpdateVoucher, voucher())
			h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove))
		},
		func() {
			bad := voucher()
			bad.AccountDate = "31/05/2024"
			bad.VouchNo = ""
			r["bad-voucher"] = h.update(workflows.UpdateVoucher, bad)
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
		// The deduction fails after the voucher, so the bill is still running (failed) when the
		// cancel comes: the validator must refuse it, and the retry then completes the bill.
		func() {
			afterVoucher = h.state()
			r["cancel-after-voucher"] = h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "too late"})
		},
		func() { h.update(workflows.UpdateRetry, workflows.RetryRequest{By: "ops"}) },
	)
	h.failNext("SelectDeduction", nonRetryable("503", "deduction service unavailable"))
	h.run(bill(workflows.Options{Deduction: workflows.DeductionImmediate}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	rejected := map[string]string{
		"approve-too-early":    "stage collecting",
		"voucher-too-early":    "not awaiting the voucher",
		"retry-not-failed":     "nothing to retry",
		"bad-client":           "client",
		"unknown-role":         `unknown role "ceo"`,
		"bad-decision":         "decision",
		"no-approver":          "approver: required",
		"wrong-role-stage":     "not awaiting finance",
		"cancel-no-reason":     "reason: required",
		"duplicate":            "already",
		"bad-dates":            "not awaiting the voucher",
		"bad-voucher":          "accountDate: must be a date",
		"cancel-after-voucher": "voucher",
	}
	for name, want := range rejected {
		res := r[name]
		if res == nil || res.rejected == nil {
			t.Errorf("%s: not rejected (%+v)", name, res)
			continue
		}
		if !strings.Contains(res.rejected.Error(), want) {
			t.Errorf("%s: rejection %q does not mention %q", name, res.rejected, want)
		}
	}
	// Repeats of what was applied are answered with the state: a submit after autoSubmit did, the
	// supervisor's approval sent twice.
	for _, name := range []string{"submit-not-collecting", "same-again"} {
		res := r[name]
		if res == nil || !res.done || res.rejected != nil || res.err != nil {
			t.Errorf("%s: a repeat was not answered with the state: %+v", name, res)
		}
	}
	if got := r["same-again"].value.(workflows.BillState).Stage; got != workflows.StageAwaitingFinance {
		t.Errorf("repeated approval answered stage %s, want awaiting_finance", got)
	}
	if !strings.Contains(r["bad-voucher"].rejected.Error(), "vouchNo: required") {
		t.Errorf("bad voucher should name every field: %v", r["bad-voucher"].rejected)
	}
	eq(t, "stage when the late cancel came", afterVoucher.Stage, workflows.StageFailed)
	if afterVoucher.Voucher == nil {
		t.Errorf("the late cancel came before the voucher was saved: %+v", afterVoucher)
	}
	if r["first"].err != nil || r["first"].rejected != nil {
		t.Errorf("first decision: %+v", r["first"])
	}
	eq(t, "stage after one approval", mid.Stage, workflows.StageAwaitingFinance)
	if !hasNote(mid, "ignored") {
		t.Errorf("bad signal not noted: %+v", mid.History)
	}
	eq(t, "approvals recorded", len(s.Approvals), 2)
	eq(t, "final", s.Stage, workflows.StageCompleted)
}

// A voucher saved: cancel is refused, even by signal (noted in history).
func TestBillCancelAfterVoucherRefused(t *testing.T) {
	h := newHarness(t)
	var refused *updateResult
	var st workflows.BillState
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", true)))
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
		// deduction batch is slow to finish: the enqueue fails once and waits for retry.
		func() {
			st = h.state()
			refused = h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "oops"})
			h.env.SignalWorkflow(workflows.SignalCancel, workflows.CancelRequest{Reason: "oops"})
		},
		func() { h.update(workflows.UpdateRetry, workflows.RetryRequest{By: "ops"}) },
	)
	h.failNext("EnqueueDeduction", nonRetryable("503", "temporal unavailable"))
	h.run(bill(workflows.Options{Approvals: []string{}, Deduction: workflows.DeductionBatch}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "failed while enqueueing", st.Stage, workflows.StageFailed)
	if refused.rejected == nil || !strings.Contains(refused.rejected.Error(), "voucher") {
		t.Errorf("cancel after voucher: %+v", refused)
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
	eq(t, "no compensation", h.count("Unbind")+h.count("ReleaseInvoices"), 0)
	if s.Deduction == nil || s.Deduction.BatchWorkflowID != "deduction:91310000MA1FL0001R:2024-05" {
		t.Errorf("deduction = %+v", s.Deduction)
	}
	if !hasNote(s, "ignored") {
		t.Errorf("cancel signal after voucher not noted")
	}
}

// return → collecting; the invoices stay bound and the next import adds to them; the approvals
// start again.
func TestBillReturnThenRecollect(t *testing.T) {
	h := newHarness(t)
	var afterReturn workflows.BillState
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false), inv("S2", "002", "20", "2", false)))
		},
		func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionReturn)) },
		func() {
			afterReturn = h.state()
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S2", "002", "20", "2", false), inv("S3", "003", "30", "3", false)))
		},
		func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "after return", afterReturn.Stage, workflows.StageCollecting)
	eq(t, "invoices stay bound", afterReturn.InvoiceCount, 2)
	binds := h.callsOf("BindInvoices")
	eq(t, "binds", len(binds), 2)
	second := binds[1].(calls.BillSaveInput)
	var got []string
	for _, line := range second.Request.InvoiceData {
		got = append(got, line.SerialNo)
	}
	if !slices.Equal(got, []string{"S1", "S2", "S3"}) {
		t.Errorf("re-collected set = %v, want [S1 S2 S3]", got)
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
	eq(t, "approval records", len(s.Approvals), 4)
	eq(t, "second round", s.Approvals[3].Round, 2)
	eq(t, "total", s.TotalAmount, "66.00")
}

// reject → saga: unbind (billDelete) → rejected.
func TestBillRejectRunsSaga(t *testing.T) {
	h := newHarness(t)
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
		},
		func() { h.env.SignalWorkflow(workflows.SignalApprove, approve("supervisor", workflows.DecisionReject)) },
	)
	h.run(bill(workflows.Options{}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "final", s.Stage, workflows.StageRejected)
	if got := withoutWatch(h.names()); !slices.Equal(got, []string{"BindInvoices", "Unbind"}) {
		t.Errorf("calls = %v", got)
	}
	u := h.callsOf("Unbind")[0].(calls.UnbindInput)
	if u.Request.BillID != "B-1" || u.Request.Resource != "OA" || u.MessageID == "" || u.TaxNo == "" {
		t.Errorf("unbind = %+v", u)
	}
	eq(t, "invoice status after release", s.Invoices[0].Status, invoicecloud.StatusUnused)
}

// cancel in awaiting_voucher: compensations run in reverse — release (undo "used") then unbind.
func TestBillCancelCompensatesInReverse(t *testing.T) {
	h := newHarness(t)
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
		},
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "duplicate bill", By: "u1"}) },
	)
	h.run(bill(workflows.Options{Approvals: []string{}}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "final", s.Stage, workflows.StageCancelled)
	want := []string{"BindInvoices", "MarkUsed", "ReleaseInvoices", "Unbind"}
	if got := withoutWatch(h.names()); !slices.Equal(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	rel := h.callsOf("ReleaseInvoices")[0].(calls.BillSaveInput)
	eq(t, "release status", rel.Request.Status, invoicecloud.StatusUnused)
	if s.Cancel == nil || s.Cancel.Reason != "duplicate bill" {
		t.Errorf("cancel = %+v", s.Cancel)
	}
}

// Cancelling the workflow itself still runs the compensations (disconnected context).
func TestBillWorkflowCancellationCompensates(t *testing.T) {
	h := newHarness(t)
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
		},
		func() { h.env.CancelWorkflow() },
	)
	h.run(bill(workflows.Options{}))
	_, err := h.result()
	if !temporal.IsCanceledError(err) {
		t.Fatalf("want a cancelled workflow, got %v", err)
	}
	if got := withoutWatch(h.names()); !slices.Equal(got, []string{"BindInvoices", "Unbind"}) {
		t.Errorf("calls = %v", got)
	}
}

// A non-retryable failure → failed (reason, code); other actions refused; retry re-runs the step.
func TestBillFailedThenRetry(t *testing.T) {
	h := newHarness(t)
	h.failNext("BindInvoices", nonRetryable("1301", "serialNo S1 is bound to another bill"))
	var failed workflows.BillState
	var refused, retry *updateResult
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
		},
		func() {
			failed = h.state()
			refused = h.update(workflows.UpdateSubmit, workflows.SubmitRequest{})
			retry = h.update(workflows.UpdateRetry, workflows.RetryRequest{By: "ops"})
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(bill(workflows.Options{Approvals: []string{}}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "failed stage", failed.Stage, workflows.StageFailed)
	if failed.Error == nil || failed.Error.Step != "bindInvoices" || failed.Error.Code != "InvoiceCloud.1301" || !strings.Contains(failed.Error.Reason, "another bill") {
		t.Errorf("error = %+v", failed.Error)
	}
	if refused.rejected == nil || !strings.Contains(refused.rejected.Error(), "failed") {
		t.Errorf("submit while failed: %+v", refused)
	}
	if retry.err != nil || retry.rejected != nil {
		t.Errorf("retry: %+v", retry)
	}
	eq(t, "binds", h.count("BindInvoices"), 2)
	b1 := h.callsOf("BindInvoices")[0].(calls.BillSaveInput)
	b2 := h.callsOf("BindInvoices")[1].(calls.BillSaveInput)
	if b1.MessageID == b2.MessageID {
		t.Errorf("a retry after failure must use a new messageId")
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
	if s.Error != nil {
		t.Errorf("error not cleared: %+v", s.Error)
	}
}

// The cloud refusing the voucher answers the voucher update with the cloud's error type.
func TestBillVoucherFailureAnswersUpdate(t *testing.T) {
	h := newHarness(t)
	h.failNext("SaveVoucher", nonRetryable("0401", "vouchNo already used"))
	var v *updateResult
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
		},
		func() { v = h.update(workflows.UpdateVoucher, voucher()) },
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "give up"}) },
	)
	h.run(bill(workflows.Options{Approvals: []string{}}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	var app *temporal.ApplicationError
	if v.err == nil || !errorsAs(v.err, &app) || app.Type() != "InvoiceCloud.0401" {
		t.Errorf("voucher update error = %v", v.err)
	}
	eq(t, "cancel from failed", s.Stage, workflows.StageCancelled)
}
