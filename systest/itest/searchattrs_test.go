package itest

import (
	"bytes"
	"context"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"rimflow/workflows"
)

// TestSearchAttributesOncePerTask: a bill started as the API starts it (its stage, number,
// resource and tax number set at start) upserts its search attributes at most once per workflow
// task, never a value the run already holds (the start's, or one set and set back within a
// task), and never shows PendingInvoices for invoices it binds at once. The SDK's own upserts of
// TemporalChangeVersion (one per version marker) are counted apart.
func TestSearchAttributesOncePerTask(t *testing.T) {
	for _, c := range []struct {
		name string
		opts workflows.Options
		path func(t *testing.T, s *stack, id string)
	}{
		{"happy", workflows.Options{}, func(t *testing.T, s *stack, id string) {
			waitStage(t, id, workflows.StageAwaitingSupervisor)
			mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
			mustUpdate(t, id, workflows.UpdateApprove, approve("finance", workflows.DecisionApprove))
			waitStage(t, id, workflows.StageAwaitingVoucher)
			mustUpdate(t, id, workflows.UpdateVoucher, voucher())
		}},
		{"return_then_cancel", workflows.Options{Approvals: []string{"supervisor"}}, func(t *testing.T, s *stack, id string) {
			waitStage(t, id, workflows.StageAwaitingSupervisor)
			mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionReturn))
			waitStage(t, id, workflows.StageCollecting)
			s.collect(s.collectURL(id).EventCode, 1)
			waitStage(t, id, workflows.StageAwaitingSupervisor)
			mustUpdate(t, id, workflows.UpdateCancel, workflows.CancelRequest{Reason: "test"})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t, 23, lenient)
			in := input("SA-"+c.name, c.opts)
			run := s.startLikeAPI(in)
			id := run.GetID()
			s.collect(s.collectURL(id).EventCode, 2)
			c.path(t, s, id)
			if err := run.Get(ctxT(t), nil); err != nil {
				t.Fatalf("result: %v", err)
			}
			events, upserts, versions := checkUpserts(t, history(t, id))
			t.Logf("%s: %d history events, %d search-attribute upserts of the bill's own and %d of TemporalChangeVersion",
				c.name, events, upserts, versions)
		})
	}
}

// startLikeAPI starts the bill with the search attributes the API sets at start.
func (s *stack) startLikeAPI(in workflows.BillInput) client.WorkflowRun {
	s.t.Helper()
	run, err := tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID:        workflows.BillWorkflowID(in.Resource, in.BillID),
		TaskQueue: s.queue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SABillStage.ValueSet(string(workflows.StageCollecting)),
			workflows.SABillNo.ValueSet(in.BillNo),
			workflows.SABillResource.ValueSet(in.Resource),
			workflows.SABillTaxNo.ValueSet(in.BillTaxNo),
		),
	}, workflows.BillWorkflowName, in)
	if err != nil {
		s.t.Fatalf("start: %v", err)
	}
	return run
}

func history(t *testing.T, wfID string) []*historypb.HistoryEvent {
	t.Helper()
	iter := tc.GetWorkflowHistory(ctxT(t), wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []*historypb.HistoryEvent
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		out = append(out, ev)
	}
	return out
}

// checkUpserts walks a run's history: the search attributes it holds (the start's, then each
// upsert's), and the upserts of each workflow task (the commands after its completion).
func checkUpserts(t *testing.T, events []*historypb.HistoryEvent) (n, upserts, versions int) {
	t.Helper()
	held := map[string][]byte{}
	for k, p := range events[0].GetWorkflowExecutionStartedEventAttributes().GetSearchAttributes().GetIndexedFields() {
		held[k] = p.GetData()
	}
	inTask := 0
	for _, ev := range events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			inTask = 0
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			fields := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
			if _, ok := fields["TemporalChangeVersion"]; ok && len(fields) == 1 {
				versions++
				continue
			}
			upserts++
			if inTask++; inTask > 1 {
				t.Errorf("event %d: a second upsert in one workflow task: %v", ev.GetEventId(), keys(fields))
			}
			for k, p := range fields {
				if old, ok := held[k]; ok && bytes.Equal(old, p.GetData()) {
					t.Errorf("event %d: %s upserted to %s, the value the run already holds", ev.GetEventId(), k, p.GetData())
				}
				if k == workflows.SAPendingInvoices.GetName() && string(p.GetData()) != "0" {
					t.Errorf("event %d: PendingInvoices %s: nothing waits for a next collecting in this path", ev.GetEventId(), p.GetData())
				}
				held[k] = p.GetData()
			}
		}
	}
	return len(events), upserts, versions
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
