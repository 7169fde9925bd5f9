// Command workerprog is ./worker for the bench: the same program (app.RunWorker, nothing else
// linked in), which also takes the eventCode life from RIMFLOW_BENCH_EVENTCODE_TTL
// (kit.EnvEventCodeTTL), as the bench's own worker process does. ./worker reports the vendor's
// 10 minutes, so beside a simulator whose eventCodes live longer its watchers would end after 10
// minutes. The watchers comparison drives two builds of it (bench/README.md, run I):
//
//	go build -o /tmp/after-worker ./bench/workerprog
//	go run ./bench -watchers-before /tmp/before-worker -worker-binary /tmp/after-worker -collecting 5000
//
// It copies into an older tree as is, to build that tree's worker the same way.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"rimflow/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var opts app.RunOptions
	if s := os.Getenv("RIMFLOW_BENCH_EVENTCODE_TTL"); s != "" {
		ttl, err := time.ParseDuration(s)
		if err != nil || ttl <= 0 {
			fmt.Fprintf(os.Stderr, "RIMFLOW_BENCH_EVENTCODE_TTL: want a positive duration, got %q\n", s)
			os.Exit(2)
		}
		opts.EventCodeTTL = ttl
	}
	if err := app.RunWorker(ctx, os.Getenv, os.Stderr, opts); err != nil {
		fmt.Fprintln(os.Stderr, "worker stopped:", err)
		os.Exit(1)
	}
}
