package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"rimflow/activities"
	"rimflow/internal/config"
	"rimflow/internal/enterprises"
	"rimflow/internal/jsonlog"
	"rimflow/internal/metrics"
	"rimflow/internal/temporalclient"
	"rimflow/internal/tracing"
	"rimflow/internal/version"
	"rimflow/internal/webhooks"
)

// RunOptions adapt RunWorker to the process it is the body of; the zero value is ./worker.
type RunOptions struct {
	// AddWorkers, when set, returns more workers on the same Temporal client (the bench's
	// baseline). They start before the bills' worker and stop after it.
	AddWorkers func(client.Client) ([]worker.Worker, error)
	// EventCodeTTL is the eventCode life the activities report (0 = the cloud's documented 10 min).
	// Only the bench sets it, to match a simulator whose eventCodes die sooner.
	EventCodeTTL time.Duration
}

// RunWorker is the body of a worker process: configuration from getenv (config.ForWorker), the JSON
// logger on stderr (also slog's default), /metrics when RIMFLOW_METRICS_ADDR is set, the Invoice
// Cloud client, the Temporal client and the bills' worker. It returns when ctx ends (after a
// graceful stop) or when the worker fails.
func RunWorker(ctx context.Context, getenv func(string) string, stderr io.Writer, opts RunOptions) error {
	cfg, err := Load(getenv, config.ForWorker)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := slog.New(tracing.LogHandler(jsonlog.New(stderr, cfg.LogLevel).Handler()))
	slog.SetDefault(logger)
	stopTracing, err := tracing.Setup(ctx, getenv, "rimflow-worker")
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() { // flush the last spans
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stopTracing(sctx)
	}()
	logger.Info("starting worker", "buildId", version.BuildID(), "config", cfg)

	reg := metrics.NewRegistry()
	var sdkMetrics client.MetricsHandler
	var workerMetrics *metrics.Worker
	entOpts := enterprises.Options{Logger: logger, PushMaxAge: cfg.PushMaxAge}
	if cfg.Worker.MetricsAddr != "" {
		sdkMetrics = metrics.NewSDKHandler(reg)
		entOpts.Observe = metrics.NewCloud(reg).Observe
		workerMetrics = metrics.NewWorker(reg, cmp.Or(max(cfg.Worker.MaxWatchers, 0), DefaultMaxWatchers))
	}
	ents, err := watchedEnterprises(ctx, cfg, getenv, entOpts)
	if err != nil {
		return fmt.Errorf("invoice cloud clients: %w", err)
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	tc, err := temporalclient.Dial(dialCtx, cfg.Temporal, logger, sdkMetrics)
	cancel()
	if err != nil {
		return err
	}
	defer tc.Close()

	bills, err := NewWorker(tc, ents, WorkerOptions{
		TaskQueue:   cfg.Temporal.TaskQueue,
		CacheSize:   cfg.Worker.WorkflowCacheSize,
		MaxWatchers: cfg.Worker.MaxWatchers,
		Worker:      worker.Options{WorkerStopTimeout: cfg.Worker.StopTimeout},
		Activities: activities.Activities{WatchGrace: cfg.Worker.WatchGrace, EnterpriseGrace: cfg.Worker.EnterpriseGrace, Webhooks: cfg.Webhooks,
			Registered: &webhooks.Store{Client: tc, Settings: cfg.WebhookStore}, EventCodeTTL: opts.EventCodeTTL, Metrics: workerMetrics,
			DeductionBatchSize: cfg.Worker.DeductionBatchSize, DeductionInterval: cfg.Worker.DeductionInterval},

		// The default (the workflow's own) leaves the commands a bill sends untouched.
		WatchHeartbeatTimeout: cfg.Worker.WatchHeartbeatTimeout,
		DeploymentName:        cfg.Worker.DeploymentName,
		Voice:                 cfg.Temporal.Codec.Voice(),
	})
	if err != nil {
		return err
	}
	if opts.AddWorkers != nil {
		more, err := opts.AddWorkers(tc)
		if err != nil {
			return err
		}
		for _, w := range more {
			if err := w.Start(); err != nil {
				return err
			}
			defer w.Stop()
		}
	}

	if cfg.Worker.MetricsAddr != "" {
		stop := serveMetrics(cfg.Worker.MetricsAddr, metrics.Handler(reg), logger)
		defer stop()
	}

	logger.Info("worker running", "taskQueue", cfg.Temporal.TaskQueue, "namespace", cfg.Temporal.Namespace, "buildId", version.BuildID(),
		"deployment", cfg.Worker.DeploymentName)
	// It returns when ctx ends; Stop inside waits up to the graceful stop timeout for running
	// activities, and workflow tasks are simply picked up by the next worker.
	err = bills.Run(interruptCh(ctx))
	logger.Info("worker stopped")
	return err
}

// serveMetrics serves /metrics on addr until the returned stop is called.
func serveMetrics(addr string, h http.Handler, logger *slog.Logger) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server", "error", err.Error())
		}
	}()
	logger.Info("metrics listening", "addr", addr)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
	}
}

// interruptCh adapts a context to the channel worker.Run waits on.
func interruptCh(ctx context.Context) <-chan any {
	ch := make(chan any, 1)
	go func() {
		<-ctx.Done()
		ch <- struct{}{}
	}()
	return ch
}
