package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"rimflow/bench/kit"
)

// workerProfileEnv names a file the worker process writes its CPU profile to (whole life).
const workerProfileEnv = "RIMFLOW_BENCH_WORKER_CPUPROFILE"

// workerMemProfileEnv names a file the worker process writes a heap profile to on SIGUSR1
// (the bench sends it at the end of the quiet window with the collecting bills live).
const workerMemProfileEnv = "RIMFLOW_BENCH_WORKER_MEMPROFILE"

// Values of workerModeEnv: the bills' worker with the baseline beside it, or the baseline alone
// (beside a bills' worker that is another program, -worker-binary).
const (
	workerModeBills    = "1"
	workerModeBaseline = "baseline"
)

func runWorker(ctx context.Context, mode string) error {
	if path := os.Getenv(workerProfileEnv); path != "" && mode == workerModeBills {
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
	if path := os.Getenv(workerMemProfileEnv); path != "" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		defer signal.Stop(usr1)
		go func() {
			for range usr1 {
				writeHeapProfile(path)
			}
		}()
	}
	if mode == workerModeBaseline {
		return kit.RunBaselineWorker(ctx, os.Getenv, os.Stderr)
	}
	return kit.RunWorker(ctx, os.Getenv, os.Stderr, true)
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// writeHeapProfile writes the heap profile (after a GC, so it shows what is live) and says on
// stderr how many goroutines there were and where the memory is (stacks, heap).
func writeHeapProfile(path string) {
	runtime.GC()
	f, err := os.Create(path + ".tmp")
	if err == nil {
		err = pprof.WriteHeapProfile(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(path+".tmp", path)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench worker: heap profile: %v\n", err)
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "bench worker: heap profile written: %d goroutines, stacks %.1f MB, heap in use %.1f MB (live %.1f MB), from the OS %.1f MB\n",
		runtime.NumGoroutine(), mb(ms.StackInuse), mb(ms.HeapInuse), mb(ms.HeapAlloc), mb(ms.Sys))
}
