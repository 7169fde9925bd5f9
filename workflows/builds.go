package workflows

import (
	"sync"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/internal/version"
)

// Which builds a bill has met, shown in its state and as search attributes so ops can list the
// bills each release holds (docs/releases.md). The running build is a mutable side effect: the
// worker's own build ID, recorded in the history only when it differs from the last one recorded,
// so a replay reads what the original worker saw. (The SDK's GetCurrentBuildID is not used: on a
// worker that replays the whole history, the task it runs live reports the previous task's build.)
// They are shown from the release that added them: a run that began before it keeps its commands
// (changeShowBuilds), and shows them after its next continue-as-new.

// changeShowBuilds: the bill's upserts carry StartedBuildId and RunningBuildId, and the first
// event a new build handles upserts RunningBuildId.
const changeShowBuilds = "show-build-ids"

// changeContinueOnCurrentVersion: a bill continues as new with InitialVersioningBehavior
// AutoUpgrade, so under Worker Versioning its next run starts on the deployment's current version.
const changeContinueOnCurrentVersion = "continue-on-current-version"

// runningBuildMarker names the mutable side effect that records the worker's build.
const runningBuildMarker = "running-build-id"

// workerBuildID is this process's build ID (internal/version), for a worker that did not say its
// own (BuildInterceptor).
var workerBuildID = sync.OnceValue(version.BuildID)

type buildKey struct{}

// BuildInterceptor tells the workflows of a worker the build ID the worker declares, so a bill
// records the build that really runs it (two builds may share a process in a test).
func BuildInterceptor(buildID string) interceptor.WorkerInterceptor {
	return &buildInterceptor{id: buildID}
}

type buildInterceptor struct {
	interceptor.WorkerInterceptorBase
	id string
}

func (b *buildInterceptor) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	i := &buildInbound{id: b.id}
	i.Next = next
	return i
}

type buildInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	id string
}

func (i *buildInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	return i.Next.ExecuteWorkflow(workflow.WithValue(ctx, buildKey{}, i.id), in)
}

// buildOf is the build ID of the worker running ctx's workflow.
func buildOf(ctx workflow.Context) string {
	if id, ok := ctx.Value(buildKey{}).(string); ok && id != "" {
		return id
	}
	return workerBuildID()
}

// builds is the publisher's part that follows the builds.
type builds struct {
	asked, on bool
	firstRun  bool // the bill's first run: the build of its first publish started the bill
}

// buildsShown reports whether this run shows the builds, asking the version once, at the run's
// first publish (a run an older release began answers DefaultVersion for all of its life).
func (p *publisher) buildsShown() bool {
	if !p.builds.asked {
		p.builds.asked = true
		p.builds.on = workflow.GetVersion(p.ctx, changeShowBuilds, workflow.DefaultVersion, 1) >= 1
	}
	return p.builds.on
}

// runningBuild is the build of the worker running the bill now, as recorded in the history.
func (p *publisher) runningBuild() string {
	var id string
	if err := workflow.MutableSideEffect(p.ctx, runningBuildMarker, func(ctx workflow.Context) any { return buildOf(ctx) },
		func(a, b any) bool { return a == b }).Get(&id); err != nil {
		workflow.GetLogger(p.ctx).Warn("running build", "error", err)
		return ""
	}
	return id
}

// buildEntries sets the state's build fields and returns their search attribute entries.
func (p *publisher) buildEntries(v *BillState) []shownValue {
	if !p.buildsShown() {
		return nil
	}
	v.RunningBuildID = p.runningBuild()
	if v.StartedBuildID == "" && p.builds.firstRun {
		v.StartedBuildID = v.RunningBuildID
	}
	var out []shownValue
	for _, e := range []struct {
		key   temporal.SearchAttributeKeyKeyword
		value string
	}{{SAStartedBuildID, v.StartedBuildID}, {SARunningBuildID, v.RunningBuildID}} {
		if e.value == "" { // a bill started before the change: nothing to show
			continue
		}
		out = append(out, shownValue{key: e.key.GetName(), value: keyword(e.value), quiet: true,
			upd: func() temporal.SearchAttributeUpdate { return e.key.ValueSet(keyword(e.value)) }})
	}
	return out
}

// buildMoved: a build other than the one shown runs the bill now (the worker fleet was rolled),
// so a publish is due. Only once this run shows the builds.
func (p *publisher) buildMoved(v *BillState) bool {
	return p.builds.asked && p.builds.on && p.runningBuild() != v.RunningBuildID
}
