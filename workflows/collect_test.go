package workflows_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// A delivery that comes while the bill is failed is kept, not dropped, and bound by the retry
// together with the one that failed.
func TestDeliveryWhileFailedIsBoundAfterRetry(t *testing.T) {
	h := newHarness(t)
	h.failNext("BindInvoices", nonRetryable("1301", "serialNo S1 is bound to another bill"))
	var whileFailed workflows.BillState
	h.at(30*time.Second, func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) })
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S2", "002", "20", "2", false)) },
		func() {
			whileFailed = h.state()
			h.update(workflows.UpdateRetry, workflows.RetryRequest{By: "ops"})
		},
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) },
	)
	h.run(bill(workflows.Options{}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	eq(t, "stage while failed", whileFailed.Stage, workflows.StageFailed)
	eq(t, "pending while failed", len(whileFailed.PendingInvoices), 2)
	binds := h.callsOf("BindInvoices")
	eq(t, "binds", len(binds), 2)
	retried := binds[1].(calls.BillSaveInput)
	eq(t, "retry binds both", len(retried.Request.InvoiceData), 2)
	if binds[0].(calls.BillSaveInput).MessageID == retried.MessageID {
		t.Errorf("an ops retry must draw a new messageId")
	}
}

// A delivery after the bill was submitted waits in pendingInvoices; a return binds it at once,
// without submitting again for the user.
func TestDeliveryAfterSubmitWaitsForTheNextCollect(t *testing.T) {
	h := newHarness(t)
	var pending, afterReturn workflows.BillState
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() { h.deliver(workflows.ViaPoll, inv("S9", "009", "5", "0", false)) },
		func() {
			pending = h.state()
			h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionReturn))
		},
		func() {
			afterReturn = h.state()
			h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"})
		},
	)
	h.run(bill(workflows.Options{}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	eq(t, "stage with a late delivery", pending.Stage, workflows.StageAwaitingSupervisor)
	eq(t, "pending", len(pending.PendingInvoices), 1)
	eq(t, "late delivery outcome", pending.Deliveries[len(pending.Deliveries)-1].Outcome, "pending")
	eq(t, "after return", afterReturn.Stage, workflows.StageCollecting)
	eq(t, "bound after return", afterReturn.InvoiceCount, 2)
	eq(t, "nothing pending after return", len(afterReturn.PendingInvoices), 0)
	eq(t, "late delivery bound", afterReturn.Deliveries[len(afterReturn.Deliveries)-1].Outcome, "bound")
}

// After a delivery on a linkKey, the next collect URL comes with a fresh eventCode and linkKey (a
// strict cloud consumes a linkKey once); the old page's watcher keeps listening while it lives.
func TestCollectURLAfterDeliveryIsFresh(t *testing.T) {
	h := newHarness(t)
	var second *updateResult
	var watching workflows.BillState
	h.script(
		func() { h.deliverOn("", workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() {
			second = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{})
		},
		func() {
			watching = h.state()
			h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"})
		},
	)
	h.run(bill(workflows.Options{AutoSubmit: falsePtr()}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	eq(t, "second URL's eventCode", second.value.(workflows.CollectURLResult).EventCode, "EC2")
	var keys []string
	for _, c := range h.callsOf("WatchInvoices") {
		keys = append(keys, c.(calls.WatchInput).LinkKey)
	}
	ecs := h.callsOf("GetEventCode")
	want := []string{ecs[0].(calls.EventCodeInput).Request.LinkKey, ecs[1].(calls.EventCodeInput).Request.LinkKey}
	if !slices.Equal(keys, want) {
		t.Errorf("watched linkKeys = %v, want both eventCodes' %v", keys, want)
	}
	if watching.WatchingUntil == nil {
		t.Errorf("state does not say the bill is watching")
	}
}

// The ERP's forward spends the eventCode its invoices came from, as a watcher's delivery does: a
// worker that died holding the socket message left the linkKey consumed at a strict cloud, and
// the ERP forwarded its copy. The next collect URL is a fresh eventCode, watched at once.
func TestCollectURLAfterForwardIsFresh(t *testing.T) {
	h := newHarness(t)
	var second *updateResult
	h.script(
		func() {
			h.env.SignalWorkflow(workflows.SignalInvoices, invoicesSignal(inv("S1", "001", "10", "1", false)))
		},
		func() {
			second = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{})
		},
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) },
	)
	h.run(bill(workflows.Options{AutoSubmit: falsePtr()}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	eq(t, "the URL's eventCode after a forward", second.value.(workflows.CollectURLResult).EventCode, "EC2")
	if n := len(h.callsOf("WatchInvoices")); n != 2 {
		t.Errorf("%d watchers, want one per eventCode (2)", n)
	}
}

// A watcher refused for good parks the bill; retry watches the live linkKey again.
func TestWatcherFailureParksAndRetryWatchesAgain(t *testing.T) {
	h := newHarness(t)
	h.failNext("WatchInvoices", nonRetryable("config", "appSecuret: wrong"))
	var failed, retried workflows.BillState
	h.script(
		func() {
			failed = h.state()
			h.update(workflows.UpdateRetry, workflows.RetryRequest{By: "ops"})
		},
		func() {
			retried = h.state()
			h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"})
		},
	)
	h.run(bill(workflows.Options{}))
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	eq(t, "after the watcher's refusal", failed.Stage, workflows.StageFailed)
	eq(t, "failed step", failed.Error.Step, "watchInvoices")
	eq(t, "after retry", retried.Stage, workflows.StageCollecting)
	eq(t, "watchers started", h.count("WatchInvoices"), 2)
	if retried.WatchingUntil == nil {
		t.Errorf("not watching after retry")
	}
}

// A long bill continues as new at a quiet point, carrying everything; the next run goes on where
// the first stopped, with request ids that neither repeat nor change for the same step.
func TestBillContinuesAsNew(t *testing.T) {
	h := newHarness(t)
	in := bill(workflows.Options{SLA: workflows.SLAs{Approval: workflows.Duration(90 * time.Second)}})
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionReturn)) },
		func() { h.deliver(workflows.ViaSocket, inv("S2", "002", "20", "2", false)) },
		func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove)) },
		func() {}, // finance's SLA passes: the bill is overdue
		// The server suggests continuing (a long history); the bill does so at its next quiet point.
		func() { h.env.SetContinueAsNewSuggested(true) },
	)
	h.run(in)
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
	var nextIn workflows.BillInput
	var progress workflows.Progress
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &nextIn, &progress); err != nil {
		t.Fatal(err)
	}
	eq(t, "carried stage", progress.View.Stage, workflows.StageAwaitingFinance)
	eq(t, "carried invoices", len(progress.Invoices), 2)
	eq(t, "carried approvals", len(progress.View.Approvals), 2)
	eq(t, "carried overdue", progress.View.Overdue, true)
	eq(t, "carried SLA state", progress.SLAFired.Soft, true)

	h2 := newHarness(t)
	var resumed workflows.BillState
	h2.script(
		func() {
			resumed = h2.state()
			h2.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove))
		},
		func() { h2.update(workflows.UpdateVoucher, voucher()) },
	)
	h2.env.ExecuteWorkflow(workflows.BillWorkflowName, nextIn, &progress)
	s, err := h2.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "resumed stage", resumed.Stage, workflows.StageAwaitingFinance)
	eq(t, "no new eventCode", h2.count("GetEventCode"), 0)
	eq(t, "final", s.Stage, workflows.StageCompleted)
	eq(t, "invoices used", s.Invoices[1].Status, invoicecloud.StatusUsed)
	if !hasNote(s, "bill started") {
		t.Errorf("the first run's history was not carried")
	}
	overdue := 0
	for _, e := range s.History {
		if strings.HasPrefix(e.Note, "overdue") {
			overdue++
		}
	}
	eq(t, "overdue notes across both runs", overdue, 1)
	var ids []string
	for _, c := range h.callsOf("BindInvoices") {
		ids = append(ids, c.(calls.BillSaveInput).MessageID)
	}
	ids = append(ids, h2.callsOf("MarkUsed")[0].(calls.BillSaveInput).MessageID)
	if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(ids) {
		t.Errorf("request ids repeat across runs: %v", ids)
	}
}

// A compensation the cloud refuses for good parks the bill with the reason; cancel is refused
// (it is already being undone); ops resolve it by hand with an audited decision and the saga
// goes on to the end.
func TestFailedCompensationResolvedByHand(t *testing.T) {
	h := newHarness(t)
	h.failNext("Unbind", nonRetryable("2008", "billDelete: the bill has a voucher"))
	var parked workflows.BillState
	var cancelAgain, incomplete, resolved *updateResult
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "duplicate bill"}) },
		func() {
			parked = h.state()
			cancelAgain = h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "again"})
			incomplete = h.update(workflows.UpdateResolve, workflows.ResolveRequest{By: "ops-li"})
			resolved = h.update(workflows.UpdateResolve, workflows.ResolveRequest{By: "ops-li", Reason: "the ERP posted a voucher by mistake",
				Done: "voucher reversed and invoices released in the vendor console (ticket 4711)"})
		},
	)
	h.run(bill(workflows.Options{}))
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "parked stage", parked.Stage, workflows.StageFailed)
	eq(t, "parked step", parked.Error.Step, "compensate:unbind")
	if cancelAgain.rejected == nil {
		t.Errorf("a second cancel during the saga was accepted")
	}
	if incomplete.rejected == nil || !strings.Contains(incomplete.rejected.Error(), "done: required") {
		t.Errorf("a resolve without reason and what was done was accepted: %+v", incomplete)
	}
	if resolved.err != nil || resolved.rejected != nil {
		t.Fatalf("resolve: %v %v", resolved.err, resolved.rejected)
	}
	eq(t, "final", s.Stage, workflows.StageCancelled)
	if len(s.Resolutions) != 1 || s.Resolutions[0].By != "ops-li" || s.Resolutions[0].Step != "compensate:unbind" || !strings.Contains(s.Resolutions[0].Done, "4711") {
		t.Errorf("resolutions = %+v", s.Resolutions)
	}
	eq(t, "unbind attempts", h.count("Unbind"), 1)
}

// Marking used registers its compensation before the call: a cancel of the workflow while the
// call is in flight still releases (and unbinds) the invoices.
func TestCancelDuringMarkUsedReleases(t *testing.T) {
	h := newHarness(t)
	h.env.OnActivity("MarkUsed", mock.Anything, mock.Anything).After(time.Hour).Return(nil)
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() { h.update(workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove)) },
		func() { h.update(workflows.UpdateApprove, approve("finance", workflows.DecisionApprove)) },
		func() { h.env.CancelWorkflow() },
	)
	h.run(bill(workflows.Options{}))
	if err := h.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("want cancelled, got %v", err)
	}
	got := h.names()
	if i := slices.Index(got, "ReleaseInvoices"); i < 0 || slices.Index(got, "Unbind") < i {
		t.Errorf("calls = %v: want release, then unbind", got)
	}
}

// A new bill's watcher runs with WatchHeartbeatTimeout (idle watchers heartbeat less often); a
// bill whose history predates the change keeps the 2 minutes it was recorded with.
func TestWatcherHeartbeatTimeout(t *testing.T) {
	for _, c := range []struct {
		name    string
		version workflow.Version
		want    time.Duration
	}{
		{"new bill", 1, workflows.WatchHeartbeatTimeout},
		{"bill started before", workflow.DefaultVersion, 2 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.env.OnGetVersion(workflows.WatchHeartbeatLonger, workflow.DefaultVersion, 1).Return(c.version)
			h.script(func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "test over"}) })
			h.run(bill(workflows.Options{}))
			if _, err := h.result(); err != nil {
				t.Fatal(err)
			}
			if len(h.watchHeartbeats) == 0 {
				t.Fatal("no watcher started")
			}
			for i, got := range h.watchHeartbeats {
				eq(t, fmt.Sprintf("watcher %d's heartbeat timeout", i), got, c.want)
			}
		})
	}
}
