package workflows_test

import (
	"encoding/json"
	"slices"
	"testing"

	"go.temporal.io/sdk/workflow"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// A bill continued as new by the recorded release (its saga carried as 32 empty entries) resumes
// on this release and is cancelled: its run rebuilds the saga, unbinds the invoices once and ends
// cancelled (before, the saga failed on an unknown compensation and the invoices stayed bound).
func TestRecordedContinuedBillCancelUndoes(t *testing.T) {
	hist := recordedHistory(t, "continued_final_run.json")
	start := hist.Events[0].GetWorkflowExecutionStartedEventAttributes()
	if start == nil || len(start.GetInput().GetPayloads()) != 2 {
		t.Fatal("the recorded run does not start from carried state")
	}
	var in workflows.BillInput
	var carried workflows.Progress
	if err := json.Unmarshal(start.Input.Payloads[0].GetData(), &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(start.Input.Payloads[1].GetData(), &carried); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.script(func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "duplicate bill", By: "u1"}) })
	h.env.ExecuteWorkflow(workflows.BillWorkflowName, in, &carried)
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "final", s.Stage, workflows.StageCancelled)
	if got := withoutWatch(h.names()); !slices.Equal(got, []string{"Unbind"}) {
		t.Errorf("calls = %v, want [Unbind]", got)
	}
	for _, v := range s.Invoices {
		if v.Status != invoicecloud.StatusUnused {
			t.Fatalf("invoice %s status %s after cancel, want 1", v.SerialNo, v.Status)
		}
	}
}

// A run begun by release a654ef2 from the carried state of a bill it had continued (its saga's
// entries lost their step) and cancelled in that same run after the upgrade: restoreSaga's
// GetVersion answers the default there (the run's history has no marker), so the saga is rebuilt
// when it runs and the invoices are released, instead of failing at an unknown compensation.
func TestRecordedContinuedRunCancelledInRunUndoes(t *testing.T) {
	hist := recordedHistory(t, "continued_final_run.json")
	start := hist.Events[0].GetWorkflowExecutionStartedEventAttributes()
	var in workflows.BillInput
	var carried workflows.Progress
	if err := json.Unmarshal(start.Input.Payloads[0].GetData(), &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(start.Input.Payloads[1].GetData(), &carried); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	// The run began before restoreSaga's release: its GetVersion answers the default.
	h.env.OnGetVersion(workflows.SagaStepsRebuilt, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.script(func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "duplicate bill", By: "u1"}) })
	h.env.ExecuteWorkflow(workflows.BillWorkflowName, in, &carried)
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "final", s.Stage, workflows.StageCancelled)
	if got := withoutWatch(h.names()); !slices.Equal(got, []string{"Unbind"}) {
		t.Errorf("calls = %v, want [Unbind]", got)
	}
}
