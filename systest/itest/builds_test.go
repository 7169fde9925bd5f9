package itest

import (
	"log/slog"
	"testing"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/workflows"
)

// TestBuildsFollowARoll: a bill shows the build that started it and the one running it, in its
// state and as search attributes; after the worker is replaced by another build, the next event
// the new build handles shows it, and the whole history still replays.
func TestBuildsFollowARoll(t *testing.T) {
	s := newStackWith(t, 21, lenient, func(s *stack) { s.buildID = "roll-old" })
	run := s.start(input("BR-1", workflows.Options{Approvals: []string{"supervisor"}}))
	id := run.GetID()
	s.collect(s.collectURL(id).EventCode, 1)
	st := waitStage(t, id, workflows.StageAwaitingSupervisor)
	wantBuilds(t, id, st, "roll-old", "roll-old")

	s.stopWorker()
	s.buildID = "roll-new"
	s.startWorker()
	mustUpdate(t, id, workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
	st = waitStage(t, id, workflows.StageAwaitingVoucher)
	wantBuilds(t, id, st, "roll-old", "roll-new")
	mustUpdate(t, id, workflows.UpdateVoucher, voucher())
	if err := run.Get(ctxT(t), nil); err != nil {
		t.Fatal(err)
	}

	// The history two builds wrote replays on a third (the recorded builds, not the replayer's).
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.BillWorkflow, workflow.RegisterOptions{Name: workflows.BillWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.DeductionBatchWorkflow, workflow.RegisterOptions{Name: calls.DeductionWorkflowName})
	if err := r.ReplayWorkflowExecution(ctxT(t), tc.WorkflowService(), sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		server.GetDefaultNamespace(), workflow.Execution{ID: id, RunID: run.GetRunID()}); err != nil {
		t.Fatalf("replay: %v", err)
	}
	record(t, id, "build_roll")
}

// wantBuilds checks the state's and the search attributes' builds.
func wantBuilds(t *testing.T, id string, st workflows.BillState, started, running string) {
	t.Helper()
	if st.StartedBuildID != started || st.RunningBuildID != running {
		t.Errorf("state builds: started %q running %q, want %q %q", st.StartedBuildID, st.RunningBuildID, started, running)
	}
	desc, err := tc.DescribeWorkflow(ctxT(t), id, "")
	if err != nil {
		t.Fatal(err)
	}
	sa := desc.TypedSearchAttributes
	gotStarted, _ := sa.GetKeyword(workflows.SAStartedBuildID)
	gotRunning, _ := sa.GetKeyword(workflows.SARunningBuildID)
	if gotStarted != started || gotRunning != running {
		t.Errorf("search attributes: StartedBuildId %q RunningBuildId %q, want %q %q", gotStarted, gotRunning, started, running)
	}
}
