package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

	"rimflow/bench/kit"
)

// workerProfileEnv names a file the worker process writes its CPU profile to (whole life).
const workerProfileEnv = "RIMFLOW_BENCH_WORKER_CPUPROFILE"

func runWorker(ctx context.Context) error {
	if path := os.Getenv(workerProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("%s: %w", workerProfileEnv, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	return kit.RunWorker(ctx, os.Getenv, os.Stderr, true)
}
