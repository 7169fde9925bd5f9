package kit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"rimflow/internal/app"
	"rimflow/internal/config"
	"rimflow/internal/temporalclient"
)

// EnvEventCodeTTL tells a worker process of the kit the eventCode life its activities report, to
// match a simulator started with a short Options.EventCodeTTL (a Go duration; empty = the default).
const EnvEventCodeTTL = "RIMFLOW_BENCH_EVENTCODE_TTL"

// RunWorker is the body of the bench's worker process: the bills' worker built exactly as
// ./worker builds it (app.Run), plus, with baseline, a worker of BaselineTaskQueue in the
// same process so both are measured in the same RSS and CPU. It returns when ctx ends.
func RunWorker(ctx context.Context, getenv func(string) string, stderr io.Writer, baseline bool) error {
	var opts app.RunOptions
	if s := getenv(EnvEventCodeTTL); s != "" {
		ttl, err := time.ParseDuration(s)
		if err != nil || ttl <= 0 {
			return fmt.Errorf("%s: want a positive duration, got %q", EnvEventCodeTTL, s)
		}
		opts.EventCodeTTL = ttl
	}
	if baseline {
		opts.AddWorkers = func(c client.Client) ([]worker.Worker, error) {
			bw := worker.New(c, BaselineTaskQueue, worker.Options{})
			RegisterBaseline(bw)
			return []worker.Worker{bw}, nil
		}
	}
	return app.RunWorker(ctx, getenv, stderr, opts)
}

// RunBaselineWorker is the body of a process that serves only the baseline (BaselineTaskQueue):
// beside a bills' worker that is another program (an older build), which cannot host it.
func RunBaselineWorker(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.Load(getenv, config.PartTemporal|config.PartLog)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := temporalclient.Dial(dialCtx, cfg.Temporal, logger, nil)
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	w := worker.New(c, BaselineTaskQueue, worker.Options{})
	RegisterBaseline(w)
	done := make(chan any, 1)
	go func() {
		<-ctx.Done()
		done <- struct{}{}
	}()
	return w.Run(done)
}
