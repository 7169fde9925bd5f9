// Command worker runs rimflow's bill workflows and activities against a Temporal cluster and
// Invoice Cloud, configured from the environment (see internal/config.Vars).
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"rimflow/internal/app"
	"rimflow/internal/jsonlog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.RunWorker(ctx, os.Getenv, os.Stderr, app.RunOptions{})
	stop()
	if err != nil {
		jsonlog.New(os.Stderr, slog.LevelInfo).Error("worker stopped", "error", err.Error())
		os.Exit(1)
	}
}
