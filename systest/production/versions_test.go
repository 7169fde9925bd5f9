package production

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"rimflow/bench/kit"
	"rimflow/devstack/harness"
	"rimflow/internal/config"
	"rimflow/internal/query"
	"rimflow/workflows"
)

// deploymentName is the worker deployment of the versions test.
const deploymentName = "rimflow"

// buildRelease links the worker program as release v (only the link differs from the package's
// build, so it takes seconds).
func buildRelease(t *testing.T, v string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "worker-"+v)
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", out,
		"-ldflags", "-X rimflow/internal/version.Release="+v, "rimflow/worker")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build the worker as %s: %v: %s", v, err, stderr.String())
	}
	return out
}

// TestTwoWorkerVersionsSideBySide runs two releases of the worker at once under Worker
// Versioning (RIMFLOW_DEPLOYMENT_NAME) on the compose server: a bill started while the first is
// current stays on it; once the second is made current a new bill starts on the second, and the
// first bill moves to the second at its next quiet point (continue-as-new), so the first
// version drains; a bill that waits quietly moves once a view URL is asked for it. Every bill
// completes, the ledger agrees, and the counts per version come from visibility as
// docs/releases.md shows them.
func TestTwoWorkerVersionsSideBySide(t *testing.T) {
	t.Parallel() // its own cluster, server and processes: two shapes at a time (go test -parallel)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s := newShape(t, ctx, shapeOptions{})
	env, err := kit.StartEnv(ctx, kit.EnvOptions{TemporalAddr: s.Frontend, Seed: 20, Codec: s.Codec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	s.CloudURL = env.CloudURL
	oldBin, newBin := buildRelease(t, "vtest-1"), buildRelease(t, "vtest-2")
	deployments := s.Client.WorkerDeploymentClient().GetHandle(deploymentName)

	// start runs a release's worker and makes it the deployment's current version.
	start := func(bin, build string) *harness.Worker {
		t.Helper()
		ready := func(w *harness.Worker) error {
			return waitFor(ctx, func() bool {
				d, err := deployments.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
				if err != nil {
					return false
				}
				for _, v := range d.Info.VersionSummaries {
					if v.Version.BuildID == build {
						return true
					}
				}
				return false
			})
		}
		log := &harness.LogBuffer{}
		w, _ := s.StartWorkerBinary(bin, map[string]string{config.EnvDeploymentName: deploymentName}, log, ready)
		if err := retryFor(ctx, time.Minute, func() error {
			_, err := deployments.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: build})
			return err
		}); err != nil {
			t.Fatalf("set the current version to %s: %v\n%s", build, err, tailOf(log.String(), 2000))
		}
		return w
	}
	d := &kit.Driver{Env: env, Resource: "VERSIONS", Invoices: 1, StepTimeout: 2 * time.Minute}

	oldWorker := start(oldBin, "vtest-1")
	for _, id := range []string{"A", "C"} {
		if err := d.Park(ctx, id); err != nil {
			t.Fatal(err)
		}
		wantOn(t, ctx, s.Client, d, id, "vtest-1", "vtest-1")
	}

	start(newBin, "vtest-2")
	if err := d.Park(ctx, "B"); err != nil {
		t.Fatal(err)
	}
	wantOn(t, ctx, s.Client, d, "B", "vtest-2", "vtest-2")
	wantOn(t, ctx, s.Client, d, "A", "vtest-1", "vtest-1") // pinned: still on the first version

	// A's next event is handled by the first version, which sees the new target and continues
	// the bill as new onto the second.
	if err := d.Approve(ctx, "A", "supervisor"); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, func() bool { return runningBuild(ctx, s.Client, d, "A") == "vtest-2" }); err != nil {
		t.Fatalf("bill A did not move to vtest-2 (running %q)", runningBuild(ctx, s.Client, d, "A"))
	}
	wantOn(t, ctx, s.Client, d, "A", "vtest-1", "vtest-2")
	// C waits quietly: a view URL asked for it (an event that changes nothing) moves it too.
	if _, err := env.Bills.ViewURL(ctx, d.Ref("C"), "pc"); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, func() bool { return runningBuild(ctx, s.Client, d, "C") == "vtest-2" }); err != nil {
		t.Fatalf("bill C did not move to vtest-2 after a view URL (running %q)", runningBuild(ctx, s.Client, d, "C"))
	}
	wantOn(t, ctx, s.Client, d, "C", "vtest-1", "vtest-2")
	if err := d.Approve(ctx, "A", "finance"); err != nil {
		t.Fatal(err)
	}
	if err := d.Voucher(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"B", "C"} {
		if err := d.Drain(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	rep := checkFleet(t, ctx, env, d, []string{"A", "B", "C"}, nil)

	// The first version holds no open bill now: the count ops read, then its workers may go.
	for _, build := range []string{"vtest-1", "vtest-2"} {
		n, err := countOpen(ctx, s.Client, fmt.Sprintf("RunningBuildId = '%s'", build))
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d open bills still on %s after both completed", n, build)
		}
	}
	if err := oldWorker.Stop(30 * time.Second); err != nil {
		t.Errorf("stop the first version's worker: %v", err)
	}
	t.Logf("two versions side by side: A and C started on vtest-1 and moved to vtest-2 at their continue-as-new (after an approval, after a view URL), B started on vtest-2; ledger: %d bills, %d invoices each bound once", rep.Bills, rep.Invoices)
}

// wantOn checks where a bill is: its state's and search attributes' builds, and the server's
// versioning info of its current run.
func wantOn(t *testing.T, ctx context.Context, c client.Client, d *kit.Driver, id, started, running string) {
	t.Helper()
	wfID := d.Ref(id).WorkflowID()
	var st workflows.BillState
	v, err := query.Workflow(ctx, c, wfID, workflows.QueryState)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		t.Fatalf("state of %s: %v", id, err)
	}
	if st.StartedBuildID != started || st.RunningBuildID != running {
		t.Errorf("bill %s: state builds started %q running %q, want %q %q", id, st.StartedBuildID, st.RunningBuildID, started, running)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		t.Fatal(err)
	}
	vi := desc.GetWorkflowExecutionInfo().GetVersioningInfo()
	if got := vi.GetDeploymentVersion().GetBuildId(); got != running {
		t.Errorf("bill %s: the server runs it on version %q (%s), want %q", id, got, vi.GetBehavior(), running)
	}
	if vi.GetBehavior() != enumspb.VERSIONING_BEHAVIOR_PINNED {
		t.Errorf("bill %s: versioning behavior %s, want pinned", id, vi.GetBehavior())
	}
	if got := runningBuild(ctx, c, d, id); got != running {
		t.Errorf("bill %s: RunningBuildId %q, want %q", id, got, running)
	}
}

// runningBuild is the bill's RunningBuildId search attribute ("" when unset or unreadable).
func runningBuild(ctx context.Context, c client.Client, d *kit.Driver, id string) string {
	desc, err := c.DescribeWorkflow(ctx, d.Ref(id).WorkflowID(), "")
	if err != nil {
		return ""
	}
	b, _ := desc.TypedSearchAttributes.GetKeyword(workflows.SARunningBuildID)
	return b
}

// countOpen counts the open bills that match query.
func countOpen(ctx context.Context, c client.Client, query string) (int64, error) {
	resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: "WorkflowType = '" + workflows.BillWorkflowName + "' AND ExecutionStatus = 'Running' AND " + query})
	if err != nil {
		return 0, err
	}
	return resp.GetCount(), nil
}

// retryFor retries op until it succeeds or within passes.
func retryFor(ctx context.Context, within time.Duration, op func() error) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		err := op()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
