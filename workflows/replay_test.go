package workflows_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/workflows"
)

// TestReplayRecordedHistories replays histories recorded from real runs (systest/itest with
// RIMFLOW_RECORD=1 writes testdata/*.json). A change that breaks determinism for bills already
// running fails here.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/: run RIMFLOW_RECORD=1 go test ./systest/itest/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.BillWorkflow, workflow.RegisterOptions{Name: workflows.BillWorkflowName})
			r.RegisterWorkflowWithOptions(workflows.DeductionBatchWorkflow, workflow.RegisterOptions{Name: calls.DeductionWorkflowName})
			logger := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
			if err := r.ReplayWorkflowHistoryFromJSONFile(logger, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
