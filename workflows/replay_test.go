package workflows_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/internal/tracing"
	"rimflow/workflows"
)

// releasesDir holds one directory per released version, each with the histories that version's
// code recorded and a MANIFEST (docs/releases.md). They are never re-recorded or deleted while a
// bill of that version can still be running: they are what those bills' histories look like.
const releasesDir = "testdata/releases"

// releaseDirs lists the kept releases; an empty set fails, as does a release without histories.
func releaseDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(releasesDir)
	if err != nil {
		t.Fatalf("kept release histories: %v", err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(releasesDir, e.Name()))
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("no release directory under %s", releasesDir)
	}
	return dirs
}

// releaseHistories lists one release's recorded histories and checks it has its manifest.
func releaseHistories(t *testing.T, dir string) []string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Errorf("release %s has no MANIFEST (release, commit, date, how recorded): %v", dir, err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("release %s holds no recorded history", dir)
	}
	return files
}

// TestReplayRecordedHistories replays every kept release's histories (recorded from real runs:
// systest/itest with RIMFLOW_RECORD=1) against the current code. A change that breaks
// determinism for a bill any kept release may still be running fails here: put it behind
// workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	for _, dir := range releaseDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			for _, f := range releaseHistories(t, dir) {
				t.Run(filepath.Base(f), func(t *testing.T) {
					replay(t, f, worker.NewWorkflowReplayer())
					// With tracing on, the worker has the SDK's OpenTelemetry interceptor: it must
					// not change a command either.
					r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{Interceptors: tracingInterceptors(t)})
					if err != nil {
						t.Fatal(err)
					}
					replay(t, f, r)
				})
			}
		})
	}
}

// tracingInterceptors are the worker interceptors of a worker with tracing on.
func tracingInterceptors(t *testing.T) []interceptor.WorkerInterceptor {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
	tracing.Use(tp)
	t.Cleanup(tracing.Off)
	ics, err := tracing.TemporalInterceptors()
	if err != nil {
		t.Fatal(err)
	}
	var out []interceptor.WorkerInterceptor
	for _, i := range ics {
		if w, ok := i.(interceptor.WorkerInterceptor); ok {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		t.Fatal("tracing has no worker interceptor")
	}
	return out
}

func replay(t *testing.T, f string, r worker.WorkflowReplayer) {
	t.Helper()
	r.RegisterWorkflowWithOptions(workflows.BillWorkflow, workflow.RegisterOptions{Name: workflows.BillWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.DeductionBatchWorkflow, workflow.RegisterOptions{Name: calls.DeductionWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.VoucherClaimWorkflow, workflow.RegisterOptions{Name: workflows.VoucherClaimWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.VoucherSetWorkflow, workflow.RegisterOptions{Name: workflows.VoucherSetWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.PushRelayWorkflow, workflow.RegisterOptions{Name: calls.PushRelayWorkflowName})
	logger := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	if err := r.ReplayWorkflowHistoryFromJSONFile(logger, f); err != nil {
		t.Fatalf("replay %s: %v", f, err)
	}
}
