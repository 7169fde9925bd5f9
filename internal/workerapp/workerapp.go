// Package workerapp builds rimflow's worker: a worker with the bill and deduction workflows and
// the activities registered (New, Register), and the worker process around it (Run: config,
// logger, clients, metrics). worker/main.go, the bench's worker process and devstack use it, so
// the same code runs embedded, measured and in production.
package workerapp

import (
	"errors"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities"
	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// Options configure New. Zero values take the defaults.
type Options struct {
	TaskQueue string // default workflows.DefaultTaskQueue
	// Worker is passed to worker.New as is (concurrency limits, graceful stop timeout…).
	Worker worker.Options
	// Activities tunes the activities (eventCode TTL, watcher span and heartbeat, batch sizes).
	// Its Cloud and Temporal fields are set by New.
	Activities activities.Activities
	// CacheSize bounds the workflows kept in memory (default DefaultCacheSize). Bills wait for days,
	// so without a bound every parked bill would stay resident.
	CacheSize int
}

// DefaultCacheSize is the worker's workflow cache when Options.CacheSize is 0. Measured: a cached
// bill costs about 0.2 MB, so 1,000 keeps a worker well under 512 MB however many bills wait.
const DefaultCacheSize = 1000

var cacheOnce sync.Once

// setCacheSize sets the SDK's process-wide workflow cache once. The SDK refuses (panics) when a
// worker in this process already created its cache; the size set first then stays.
func setCacheSize(n int) {
	cacheOnce.Do(func() {
		defer func() { _ = recover() }()
		worker.SetStickyWorkflowCacheSize(n)
	})
}

// DefaultGracefulStop is how long Stop waits for running activities when Options.Worker leaves it 0.
const DefaultGracefulStop = 10 * time.Second

// New returns a worker (not started) for the bill workflows on the task queue.
func New(c client.Client, cloud *invoicecloud.Client, opts Options) (worker.Worker, error) {
	if c == nil {
		return nil, errors.New("workerapp: a Temporal client is required")
	}
	if cloud == nil {
		return nil, errors.New("workerapp: an Invoice Cloud client is required")
	}
	tq := opts.TaskQueue
	if tq == "" {
		tq = workflows.DefaultTaskQueue
	}
	wo := opts.Worker
	if wo.WorkerStopTimeout == 0 {
		wo.WorkerStopTimeout = DefaultGracefulStop
	}
	size := opts.CacheSize
	if size <= 0 {
		size = DefaultCacheSize
	}
	setCacheSize(size)
	w := worker.New(c, tq, wo)
	Register(w, c, cloud, opts.Activities)
	return w, nil
}

// Register puts rimflow's workflows and activities on any registry (a worker, or a test environment).
func Register(r worker.Registry, c client.Client, cloud *invoicecloud.Client, settings activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.BillWorkflow, workflow.RegisterOptions{Name: workflows.BillWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.DeductionBatchWorkflow, workflow.RegisterOptions{Name: calls.DeductionWorkflowName})
	acts := settings
	acts.Cloud = cloud
	acts.Temporal = c
	r.RegisterActivity(&acts)
}
