// Command worker runs rimflow's bill workflows and activities against a Temporal cluster and
// Invoice Cloud, configured from the environment (see internal/config.Vars).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"rimflow/internal/config"
	"rimflow/internal/metrics"
	"rimflow/internal/workerapp"
)

func main() {
	if err := run(); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("worker stopped", "error", err.Error())
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := workerapp.NewLogger(os.Stderr, cfg.LogLevel)
	slog.SetDefault(logger)
	logger.Info("starting worker", "config", cfg)
	if missing := cfg.MissingCloudCredentials(); len(missing) > 0 {
		logger.Warn("Invoice Cloud credentials not set; calls will fail unless the cloud accepts empty ones", "missing", missing)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	reg := metrics.NewRegistry()
	var sdkMetrics client.MetricsHandler
	var observe func(string, string, time.Duration)
	if cfg.MetricsAddr != "" {
		sdkMetrics = metrics.NewSDKHandler(reg)
		observe = metrics.NewCloud(reg).Observe
	}

	cloud, err := workerapp.CloudClient(cfg, logger, observe)
	if err != nil {
		return fmt.Errorf("invoice cloud client: %w", err)
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	tc, err := workerapp.Dial(dialCtx, cfg, logger, sdkMetrics)
	cancel()
	if err != nil {
		return err
	}
	defer tc.Close()

	w, err := workerapp.New(tc, cloud, workerapp.Options{TaskQueue: cfg.Temporal.TaskQueue, CacheSize: cfg.WorkflowCacheSize})
	if err != nil {
		return err
	}

	var metricsSrv *http.Server
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler(reg))
		metricsSrv = &http.Server{Addr: cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := metricsSrv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics server", "error", err.Error())
			}
		}()
		logger.Info("metrics listening", "addr", cfg.MetricsAddr)
	}

	logger.Info("worker running", "taskQueue", cfg.Temporal.TaskQueue, "namespace", cfg.Temporal.Namespace)
	// Run returns when ctx's signal arrives; Stop inside waits up to the graceful stop timeout for
	// running activities, and workflow tasks are simply picked up by the next worker.
	err = w.Run(interruptCh(ctx))
	if metricsSrv != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = metricsSrv.Shutdown(shutdownCtx)
		cancel()
	}
	logger.Info("worker stopped")
	return err
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
