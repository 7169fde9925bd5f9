package itest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/internal/webhooks"
	"rimflow/workflows"
)

// TestWorkflowCancelStillSendsTheFinalEvents: ops cancel a notifying bill's workflow from Temporal
// (Web, the CLI) while the ERP is down. The bill undoes its steps and ends cancelled, and the ERP
// still hears of it once it is back: the outbox outlives the cancel (before, its deliveries stopped
// with the workflow's context and the ERP never learnt the bill had ended).
func TestWorkflowCancelStillSendsTheFinalEvents(t *testing.T) {
	erp := newERPReceiver(t)
	reg, err := webhooks.Parse([]byte(fmt.Sprintf("resources:\n  OA:\n    urls: [%q]\n    secret: env:ERP_SECRET\n", erp.srv.URL)),
		func(k string) string {
			if k == "ERP_SECRET" {
				return webhookSecret
			}
			return ""
		}, nil)
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	s := newStackWith(t, 211, lenient, func(s *stack) { s.webhooks = reg })
	billID := "EV-WFCANCEL"
	run := s.start(input(billID, workflows.Options{Notify: true}))
	id := run.GetID()
	s.collect(s.collectURL(id).EventCode, 2)
	waitStage(t, id, workflows.StageAwaitingSupervisor)
	erp.waitFor(billID, "stage.changed→awaiting_supervisor", stageChangedTo(workflows.StageAwaitingSupervisor), time.Minute)

	// The ERP goes down: the cancel's events wait in the outbox while the workflow is cancelled,
	// so a delivery is in flight (retrying) when the cancel comes.
	erp.setDown(true)
	if err := tcCancel(t, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a refused delivery", func() bool { refused, _, _ := erp.counts(); return refused > 0 })
	erp.setDown(false)
	evs := erp.waitFor(billID, "stage.changed→cancelled", stageChangedTo(workflows.StageCancelled), 90*time.Second)
	err = run.Get(ctxT(t), nil)
	var canceled *temporal.CanceledError
	if !errors.As(err, &canceled) {
		t.Fatalf("result %v, want the workflow cancelled", err)
	}
	if st := state(t, id); st.Stage != workflows.StageCancelled || st.Cancel == nil || st.Cancel.By != "temporal" {
		t.Fatalf("stage %s, cancel %+v: want cancelled by temporal", st.Stage, st.Cancel)
	}
	s.cloudHolds(t, billID, nil, "")
	last := evs[len(evs)-1]
	if last.Type != calls.EventStageChanged || changedTo(last) != string(workflows.StageCancelled) {
		t.Fatalf("events %v: want the cancel last", eventTypes(evs))
	}
	record(t, id, "webhook_events_workflow_cancelled")
}

// TestWatcherIsToldItsBill: the real bill tells each watcher its first run, so a watcher that
// outlives its bill never delivers into a bill started again under the same key (the watcher's
// side: activities.TestWatchDeliversOnlyToItsOwnBill).
func TestWatcherIsToldItsBill(t *testing.T) {
	s := newStack(t, 212, lenient)
	run := s.start(input("WATCH-OWNER", workflows.Options{}))
	id := run.GetID()
	s.collectURL(id)
	waitFor(t, "a watcher", func() bool { return s.pendingActivity(id, "WatchInvoices") })
	iter := tc.GetWorkflowHistory(ctxT(t), id, run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	watchers := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		a := ev.GetActivityTaskScheduledEventAttributes()
		if a.GetActivityType().GetName() != "WatchInvoices" {
			continue
		}
		var in calls.WatchInput
		if err := converter.GetDefaultDataConverter().FromPayloads(a.GetInput(), &in); err != nil {
			t.Fatal(err)
		}
		watchers++
		if in.FirstRunID != run.GetRunID() {
			t.Errorf("watcher of %s told first run %q, want the bill's %q", in.LinkKey, in.FirstRunID, run.GetRunID())
		}
	}
	if watchers == 0 {
		t.Fatal("no watcher scheduled")
	}
	if err := tc.CancelWorkflow(ctxT(t), id, ""); err != nil {
		t.Fatal(err)
	}
}
