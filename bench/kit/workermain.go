package kit

import (
	"context"
	"io"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"rimflow/internal/workerapp"
)

// RunWorker is the body of the bench's worker process: the bills' worker built exactly as
// ./worker builds it (workerapp.Run), plus, with baseline, a worker of BaselineTaskQueue in the
// same process so both are measured in the same RSS and CPU. It returns when ctx ends.
func RunWorker(ctx context.Context, getenv func(string) string, stderr io.Writer, baseline bool) error {
	var opts workerapp.RunOptions
	if baseline {
		opts.AddWorkers = func(c client.Client) ([]worker.Worker, error) {
			bw := worker.New(c, BaselineTaskQueue, worker.Options{})
			RegisterBaseline(bw)
			return []worker.Worker{bw}, nil
		}
	}
	return workerapp.Run(ctx, getenv, stderr, opts)
}
