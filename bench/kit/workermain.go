package kit

import (
	"context"
	"fmt"
	"io"
	"time"

	"go.temporal.io/sdk/worker"

	"rimflow/internal/config"
	"rimflow/internal/workerapp"
)

// RunWorker is the body of the bench's worker process: the bills' worker built exactly as
// ./worker builds it (configuration from the environment, workerapp), plus, with baseline, a
// worker of BaselineTaskQueue in the same process so both are measured in the same RSS and CPU.
// It returns when ctx ends.
func RunWorker(ctx context.Context, getenv func(string) string, stderr io.Writer, baseline bool) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := workerapp.NewLogger(stderr, cfg.LogLevel)
	cloud, err := workerapp.CloudClient(cfg, logger, nil)
	if err != nil {
		return fmt.Errorf("invoice cloud client: %w", err)
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	tc, err := workerapp.Dial(dialCtx, cfg, logger, nil)
	cancel()
	if err != nil {
		return err
	}
	defer tc.Close()

	bills, err := workerapp.New(tc, cloud, workerapp.Options{TaskQueue: cfg.Temporal.TaskQueue, CacheSize: cfg.WorkflowCacheSize})
	if err != nil {
		return err
	}
	workers := []worker.Worker{bills}
	if baseline {
		bw := worker.New(tc, BaselineTaskQueue, worker.Options{})
		RegisterBaseline(bw)
		workers = append(workers, bw)
	}
	for _, w := range workers {
		if err := w.Start(); err != nil {
			return err
		}
		defer w.Stop()
	}
	<-ctx.Done()
	return nil
}
