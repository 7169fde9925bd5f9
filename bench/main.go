// Command bench measures rimflow on one embedded Temporal server (SQLite WAL, the one devstack
// uses) with the Invoice Cloud simulator in this process and the worker as a separate process:
//
//	go run ./bench                                  # 500 bills, 16 clients, 5,000 waiting bills
//	go run ./bench -bills 100 -waiting 0            # a quick run
//	go run ./bench -postgres postgres://u:pw@host/bench  # the same on PostgreSQL-backed Temporal
//
// It prints the result as JSON on stdout (keys are a contract, see Result) and a table on stderr.
// Scenarios: a baseline (a no-op workflow of a bill's shape, driven the same way), N bills
// through their whole life, and M bills parked in awaiting_supervisor (RSS at rest, drain time).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// workerModeEnv makes this binary the bench's worker process (it re-executes itself).
const workerModeEnv = "RIMFLOW_BENCH_WORKER"

func main() {
	if mode := os.Getenv(workerModeEnv); mode != "" {
		os.Exit(workerMain(mode))
	}
	cfg := defaultConfig()
	flag.IntVar(&cfg.Bills, "bills", cfg.Bills, "bills through the whole life (also the number of baseline workflows)")
	flag.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "concurrent ERP clients")
	flag.IntVar(&cfg.Waiting, "waiting", cfg.Waiting, "bills parked in awaiting_supervisor for the waiting scenario (0 skips it)")
	flag.IntVar(&cfg.Invoices, "invoices", cfg.Invoices, "invoices collected per bill")
	flag.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "bills and baseline workflows run first and not measured")
	flag.StringVar(&cfg.DataDir, "data", "", "data dir of the embedded server (default: a temporary dir, removed after)")
	flag.StringVar(&cfg.Postgres, "postgres", "", "run the embedded server on this PostgreSQL instead of SQLite (postgres://user:password@host:port/database; use an empty database: the bench counts bills by search attribute)")
	flag.StringVar(&cfg.WorkerProfile, "worker-cpuprofile", "", "write the worker process's CPU profile (bills scenario) to this file")
	flag.StringVar(&cfg.WorkerMemProfile, "worker-memprofile", "", "write the worker's heap profile to this file at the end of the quiet window with the collecting bills live")
	flag.StringVar(&cfg.Profile, "cpuprofile", "", "write this process's CPU profile (server, simulator, clients; bills scenario) to this file")
	flag.IntVar(&cfg.Collecting, "collecting", cfg.Collecting, "bills left in collecting with live collect URLs during the bills scenario (0 skips the collecting scenario)")
	flag.DurationVar(&cfg.EventCodeTTL, "eventcode-ttl", 0, "eventCode life in the simulator and the worker (default: long enough for the collecting bills to outlive the bills scenario)")
	flag.DurationVar(&cfg.ReissueMargin, "reissue-margin", 0, "the bills' reissue margin, RIMFLOW_REISSUE_MARGIN (default: the product's, 2m); -eventcode-ttl must exceed it")
	flag.DurationVar(&cfg.WatchGrace, "watch-grace", cfg.WatchGrace, "the worker's RIMFLOW_WATCH_GRACE")
	flag.DurationVar(&cfg.IdleWindow, "idle-window", cfg.IdleWindow, "length of each quiet window (default: one heartbeat interval, 0.8 x the watchers' heartbeat timeout)")
	flag.DurationVar(&cfg.Settle, "settle", cfg.Settle, "wait after starting the collecting bills before counting and measuring (past the socket's 60 s silence)")
	flag.IntVar(&cfg.Probes, "probes", cfg.Probes, "bills started through POST /v1/bills with the collecting bills live")
	flag.StringVar(&cfg.WorkerBinary, "worker-binary", "", "drive this worker program (another build) instead of this build's worker")
	flag.StringVar(&cfg.WorkerMemLimit, "worker-memlimit", "", "the worker's GOMEMLIMIT (e.g. 400MiB): the Go runtime's soft memory limit, for the worker process only")
	flag.StringVar(&cfg.WatchersBefore, "watchers-before", "", "run only the watchers comparison: this worker program (e.g. the previous main's ./worker) against this build's (its ./worker program when -worker-binary names it)")
	flag.IntVar(&cfg.WatchersSmall, "watchers-small", 0, "the comparison's smaller number of collecting bills (default -collecting / 5)")
	flag.BoolVar(&cfg.Verbose, "v", false, "progress and the worker's warnings on stderr")
	flag.Parse()
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.WatchersBefore != "" {
		if cfg.WatchersSmall == 0 {
			cfg.WatchersSmall = cfg.Collecting / 5
		}
		res, err := runWatchers(ctx, cfg, os.Stderr)
		report(res, err, printWatchers)
		return
	}
	res, err := run(ctx, cfg, os.Stderr)
	report(res, err, printTable)
}

// report prints a run's table to stderr and its JSON to stdout (what it has, even after an
// error), then exits 1 on the error.
func report[R any](res *R, err error, table func(io.Writer, *R)) {
	if res != nil {
		table(os.Stderr, res)
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// workerMain is the worker process: the bills' worker and the baseline's (or the baseline's
// alone), until SIGTERM.
func workerMain(mode string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runWorker(ctx, mode); err != nil {
		fmt.Fprintln(os.Stderr, "bench worker:", err)
		return 1
	}
	return 0
}
