package app

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities"
	"rimflow/activities/calls"
	"rimflow/internal/version"
	"rimflow/internal/voice"
	"rimflow/internal/webhooks"
	"rimflow/workflows"
)

// WorkerOptions configure NewWorker. Zero values take the defaults.
type WorkerOptions struct {
	TaskQueue string // default workflows.DefaultTaskQueue; the watchers' is workflows.WatchTaskQueue of it
	// Worker is passed to worker.New as is for the bills' worker (concurrency limits, graceful stop…).
	Worker worker.Options
	// MaxWatchers bounds the watchers run at once (default DefaultMaxWatchers).
	MaxWatchers int
	// Activities tunes the activities (eventCode TTL, watcher span and heartbeat, batch sizes).
	// Its Cloud and Temporal fields are set by New.
	Activities activities.Activities
	// CacheSize bounds the workflows kept in memory (default DefaultCacheSize). Bills wait for days,
	// so without a bound every parked bill would stay resident.
	CacheSize int
	// WatchHeartbeatTimeout is the heartbeat timeout of the watchers the bills schedule (0: the
	// workflow's workflows.WatchHeartbeatTimeout): how soon a dead worker's watchers move on. The
	// watchers' heartbeats follow it (Activities.HeartbeatEvery at most a quarter of it).
	WatchHeartbeatTimeout time.Duration
	// BuildID is the build the worker declares and the bills it runs record (default
	// version.BuildID(): the release version; docs/releases.md).
	BuildID string
	// DeploymentName opts into Worker Versioning: both workers poll as version
	// <DeploymentName>:<BuildID>; a bill is pinned to the version it started on and moves to the
	// deployment's current version when it continues as new (docs/releases.md). Empty: unversioned.
	DeploymentName string
	// Voice checks the API's signature on each update (codec.Codec.Voice: keys derived from the
	// payload keys). Nil: no update is vouched for, so every update is the ops path.
	Voice *voice.Keys
}

// DefaultCacheSize is the worker's workflow cache when WorkerOptions.CacheSize is 0. A cached bill
// costs its workflow's goroutines and state (bench/README.md: the watcher runs), and a bill between
// events is cheap to replay from its short history; a worker's active bills (those with an event
// every few seconds) are far fewer than this, so the collecting and waiting bills, thousands, are
// what a larger cache would hold.
const DefaultCacheSize = 256

var cacheOnce sync.Once

// setCacheSize sets the SDK's process-wide workflow cache once. The SDK refuses (panics) when a
// worker in this process already created its cache; the size set first then stays.
func setCacheSize(n int) {
	cacheOnce.Do(func() {
		defer func() { _ = recover() }()
		worker.SetStickyWorkflowCacheSize(n)
	})
}

// DefaultGracefulStop is how long Stop waits for running activities when WorkerOptions.Worker leaves it
// 0: longer than the cloud client's timeout, so a call in flight ends by itself.
const DefaultGracefulStop = 20 * time.Second

// watcherSlots is the watchers' worker's activity slots: each holds a watcher only while it hands
// its link to the hub (or waits for room in a full one).
const watcherSlots = 64

// DefaultMaxWatchers is how many watchers a worker runs at once when WorkerOptions.MaxWatchers is 0.
const DefaultMaxWatchers = 10000

// Worker is one rimflow worker: the bills' worker (workflows and cloud calls) and the watchers'
// worker (only WatchInvoices, on its own task queue with its own limit), started and stopped
// together, so thousands of sockets never queue a cloud call or an approval behind them.
type Worker struct {
	Bills    worker.Worker
	Watchers worker.Worker
	// Hub holds the watchers' links once their activities have handed them over (activities.Hub).
	Hub         *activities.Hub
	stopTimeout time.Duration
}

// Start starts both workers.
func (w *Worker) Start() error {
	if err := w.Watchers.Start(); err != nil {
		return err
	}
	if err := w.Bills.Start(); err != nil {
		w.stopWatchers()
		return err
	}
	return nil
}

// Stop hands every watcher back at once, then stops both workers, each waiting up to its
// graceful stop timeout for running activities.
func (w *Worker) Stop() {
	w.Hub.Stop(w.stopTimeout)
	w.Bills.Stop()
	w.stopWatchers()
}

func (w *Worker) stopWatchers() {
	w.Hub.Stop(w.stopTimeout)
	w.Watchers.Stop()
}

// Run starts both and blocks until interrupt, or until the bills' worker fails.
func (w *Worker) Run(interrupt <-chan any) error {
	if err := w.Watchers.Start(); err != nil {
		return err
	}
	defer w.stopWatchers()
	// The hub hands its links back before the bills' worker waits for its running activities.
	stop := make(chan any, 1)
	go func() {
		v := <-interrupt
		w.Hub.Stop(w.stopTimeout)
		stop <- v
	}()
	return w.Bills.Run(stop)
}

// NewWorker returns the worker (not started) for the bill workflows on the task queue and their
// watchers on the watchers' task queue.
func NewWorker(c client.Client, ents activities.Enterprises, opts WorkerOptions) (*Worker, error) {
	if c == nil {
		return nil, errors.New("app: a Temporal client is required")
	}
	if ents == nil {
		return nil, errors.New("app: the enterprise registry is required")
	}
	tq := cmp.Or(opts.TaskQueue, workflows.DefaultTaskQueue)
	wo := opts.Worker
	if wo.WorkerStopTimeout == 0 {
		wo.WorkerStopTimeout = DefaultGracefulStop
	}
	size := opts.CacheSize
	if size <= 0 {
		size = DefaultCacheSize
	}
	setCacheSize(size)
	// The worker declares its build: the SDK stamps it on every workflow task it completes, and the
	// bills show it (workflows/builds.go).
	build := cmp.Or(opts.BuildID, version.BuildID())
	var deployment worker.DeploymentOptions
	switch {
	case opts.DeploymentName != "":
		deployment = worker.DeploymentOptions{
			UseVersioning: true,
			Version:       worker.WorkerDeploymentVersion{DeploymentName: opts.DeploymentName, BuildID: build},
			// A bill stays on the build it started on: no other build replays it mid-run. It moves
			// at continue-as-new (workflows.BillWorkflow asks for AutoUpgrade then).
			DefaultVersioningBehavior: workflow.VersioningBehaviorPinned,
		}
		wo.DeploymentOptions = deployment
	case wo.DeploymentOptions.Version.BuildID != "":
		build = wo.DeploymentOptions.Version.BuildID
	default:
		wo.BuildID = build //nolint:staticcheck // without Worker Versioning the build ID is only declared
	}
	wo.Interceptors = append(slices.Clip(wo.Interceptors), workflows.BuildInterceptor(build), voice.WorkerInterceptor(opts.Voice))
	heartbeat := workflows.WatchHeartbeatTimeout
	if opts.WatchHeartbeatTimeout > 0 && opts.WatchHeartbeatTimeout != heartbeat {
		heartbeat = opts.WatchHeartbeatTimeout
		wo.Interceptors = append(slices.Clip(wo.Interceptors), &watchHeartbeat{timeout: heartbeat})
	}
	settings := opts.Activities
	if settings.Voice == nil {
		settings.Voice = opts.Voice // the worker vouches for the updates it sends bills as the API does
	}
	if settings.HeartbeatEvery == 0 && heartbeat/4 < activities.DefaultHeartbeatEvery {
		settings.HeartbeatEvery = heartbeat / 4
	}
	bills := worker.New(c, tq, wo)
	register(bills, c, ents, settings, wo.DeploymentOptions.UseVersioning)
	maxWatchers := cmp.Or(max(opts.MaxWatchers, 0), DefaultMaxWatchers)
	hub := activities.NewHub(c, activities.HubOptions{MaxWatchers: maxWatchers})
	watchers := worker.New(c, workflows.WatchTaskQueue(tq), worker.Options{
		// The watchers belong to the same version: a pinned bill's watchers run beside it, and
		// the old version's workers drain together.
		DeploymentOptions: deployment,
		// A watcher's activity only hands its link to the hub and returns pending, so a few slots
		// take them all; the hub bounds the links (MaxWatchers), and a full hub holds these slots,
		// which stops this worker taking more.
		MaxConcurrentActivityExecutionSize: min(maxWatchers, watcherSlots),
		WorkerStopTimeout:                  wo.WorkerStopTimeout,
		// Let the SDK space a waiting watcher's heartbeats as far as its timeout allows (its
		// default caps them at one a minute): each is a server write.
		MaxHeartbeatThrottleInterval: heartbeat * 8 / 10,
	})
	watchActs := activitiesFor(c, ents, settings)
	watchActs.Hub = hub
	watchers.RegisterActivity(watchActs)
	return &Worker{Bills: bills, Watchers: watchers, Hub: hub, stopTimeout: wo.WorkerStopTimeout}, nil
}

// Register puts rimflow's workflows and activities on any registry (a worker, or a test environment).
func Register(r worker.Registry, c client.Client, ents activities.Enterprises, settings activities.Activities) {
	register(r, c, ents, settings, false)
}

func register(r worker.Registry, c client.Client, ents activities.Enterprises, settings activities.Activities, versioned bool) {
	r.RegisterWorkflowWithOptions(workflows.BillWorkflow, workflow.RegisterOptions{Name: workflows.BillWorkflowName})
	batch := workflow.RegisterOptions{Name: calls.DeductionWorkflowName}
	if versioned {
		// An enterprise's deduction batch lives as long as the enterprise: it follows the current
		// version at its next workflow task (the replay gate keeps every build able to run it).
		batch.VersioningBehavior = workflow.VersioningBehaviorAutoUpgrade
	}
	r.RegisterWorkflowWithOptions(workflows.DeductionBatchWorkflow, batch)
	claim := workflow.RegisterOptions{Name: workflows.VoucherClaimWorkflowName}
	if versioned {
		// A voucher's claim only waits: it follows the current version like the batch.
		claim.VersioningBehavior = workflow.VersioningBehaviorAutoUpgrade
	}
	r.RegisterWorkflowWithOptions(workflows.VoucherClaimWorkflow, claim)
	set := workflow.RegisterOptions{Name: workflows.VoucherSetWorkflowName}
	if versioned {
		// A saved set holds its vouchId as a claim does, only waiting: it follows the current version.
		set.VersioningBehavior = workflow.VersioningBehaviorAutoUpgrade
	}
	r.RegisterWorkflowWithOptions(workflows.VoucherSetWorkflow, set)
	relay := workflow.RegisterOptions{Name: calls.PushRelayWorkflowName}
	if versioned {
		// A bill's push relay only sends and waits: it follows the current version like the batch.
		relay.VersioningBehavior = workflow.VersioningBehaviorAutoUpgrade
	}
	r.RegisterWorkflowWithOptions(workflows.PushRelayWorkflow, relay)
	hooks := workflow.RegisterOptions{Name: webhooks.RegistryWorkflowName}
	if versioned {
		// The webhook registry lives as long as the namespace and only answers updates: it
		// follows the current version like the batch.
		hooks.VersioningBehavior = workflow.VersioningBehaviorAutoUpgrade
	}
	r.RegisterWorkflowWithOptions(workflows.WebhookRegistryWorkflow, hooks)
	r.RegisterActivity(activitiesFor(c, ents, settings))
}

func activitiesFor(c client.Client, ents activities.Enterprises, settings activities.Activities) *activities.Activities {
	acts := settings
	acts.Enterprises = ents
	acts.Temporal = c
	// The webhooks registered through the API live in Temporal: every worker reaches them.
	switch {
	case acts.Registered == nil:
		acts.Registered = &webhooks.Store{Client: c}
	case acts.Registered.Client == nil:
		acts.Registered = &webhooks.Store{Client: c, Settings: acts.Registered.Settings}
	}
	return &acts
}
