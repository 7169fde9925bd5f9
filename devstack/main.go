// Command devstack runs all of rimflow in one process — an embedded Temporal server (SQLite under
// --data-dir, or a PostgreSQL with --postgres) with Temporal Web, the Invoice Cloud simulator, a
// worker and the HTTP API — so one command gives a working system. Stop it with Ctrl-C; starting
// it again keeps every bill.
//
//	go run ./devstack                                             # run until Ctrl-C
//	go run ./devstack --demo                                      # a bill on each demo enterprise (ultimate, standard) through its whole life, then exit
//	go run ./devstack --postgres postgres://temporal:pw@db:5432/temporal  # Temporal's data in PostgreSQL
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"rimflow/api"
	"rimflow/devstack/harness"
	"rimflow/internal/access"
	"rimflow/internal/app"
	"rimflow/internal/config"
	"rimflow/internal/jsonlog"
	"rimflow/internal/webhooks"
)

func main() {
	os.Exit(run())
}

func run() int {
	// The API's clients, the policy, payload encryption and the log level come from the environment
	// (the same variables as `starter serve` and the worker); everything else is a flag, since
	// devstack is its own cluster.
	cfg, err := app.Load(os.Getenv, config.ForDevstack)
	if err != nil {
		fmt.Fprintf(os.Stderr, "devstack: %v\n", err)
		return 2
	}
	var (
		opts     harness.Options
		demo     bool
		logLevel string
	)
	flag.StringVar(&opts.DataDir, "data-dir", harness.DefaultDataDir, "directory of the Temporal SQLite file and the simulator's journal (kept across restarts)")
	flag.StringVar(&opts.Postgres, "postgres", "", "keep Temporal's data in this PostgreSQL instead of SQLite: postgres://user:password@host:port/database (databases and schemas are created or upgraded as docker-compose.yml does)")
	flag.StringVar(&opts.TemporalAddr, "temporal-addr", harness.DefaultTemporalAddr, "Temporal frontend gRPC listen address")
	flag.StringVar(&opts.UIAddr, "ui-addr", harness.DefaultUIAddr, "Temporal Web listen address")
	flag.BoolVar(&opts.OffLoopback, "listen-off-loopback", false, "let --temporal-addr and --ui-addr listen on an address other than loopback (Temporal's frontend has no authentication and Web no login: whoever reaches them controls every bill)")
	flag.StringVar(&opts.CloudAddr, "cloud-addr", harness.DefaultCloudAddr, "Invoice Cloud simulator listen address")
	flag.StringVar(&opts.APIAddr, "api-addr", harness.DefaultAPIAddr, "HTTP API listen address")
	flag.StringVar(&opts.OpsAddr, "ops-addr", "", "listen address of the API's ops listener (/metrics and /healthz without a token, e.g. 127.0.0.1:9091); empty = /metrics on --api-addr, behind the API's token")
	flag.StringVar(&opts.APIToken, "api-token", "", "bearer token the API requires (else $RIMFLOW_API_TOKEN[_FILE] or the clients of $RIMFLOW_API_CLIENTS_FILE; none = open, loopback only)")
	flag.Int64Var(&opts.Seed, "seed", 1, "simulator seed (same seed, same sample invoices)")
	flag.BoolVar(&opts.CloudStrict, "cloud-strict", false, "run the simulator at the strict reading of every ambiguous vendor rule (cloudsim -strict)")
	flag.BoolVar(&demo, "demo", false, "drive a bill on each demo enterprise (ultimate, then standard edition) through its whole life, print the timelines and exit (non-zero if either fails)")
	flag.StringVar(&logLevel, "log-level", strings.ToLower(cfg.LogLevel.String()), "debug, info, warn or error (default from $RIMFLOW_LOG_LEVEL)")
	flag.Parse()

	opts.Worker.Activities.Webhooks = cfg.Webhooks
	opts.Worker.Activities.Registered = &webhooks.Store{Settings: cfg.WebhookStore}
	if os.Getenv(api.ScenarioWebhookSecretEnv) == "" {
		// A webhook registered through the devstack's API (the Postman collection's) can name
		// env:RIMFLOW_WEBHOOK_SECRET_DEVSTACK without setup: a random secret for this run.
		var b [24]byte
		_, _ = rand.Read(b[:])
		_ = os.Setenv(api.ScenarioWebhookSecretEnv, hex.EncodeToString(b[:]))
	}
	if opts.APIToken != "" {
		if why := access.CheckProgramToken(opts.APIToken); why != "" {
			fmt.Fprintf(os.Stderr, "devstack: --api-token: %s\n", why)
			return 2
		}
	}
	switch {
	case opts.APIToken != "" && cfg.API.Token == "" && !cfg.API.Clients.Open():
		fmt.Fprintf(os.Stderr, "devstack: --api-token: set either it or %s, not both\n", config.EnvAPIClientsFile)
		return 2
	case opts.APIToken == "" && cfg.API.Token != "":
		// Not a flag default, so the token never shows in --help or a log.
		opts.APIToken = cfg.API.Token
	case opts.APIToken == "":
		opts.APIClients = cfg.API.Clients // a clients file, or none (open, loopback only)
	}
	opts.Policy = cfg.Policy
	opts.PayloadKeys = cfg.Codec.Keys // none: the data dir's key file
	opts.PayloadEncryptionOff = !cfg.Codec.Encrypt
	if demo && opts.APIToken == "" && !opts.APIClients.Open() {
		fmt.Fprintf(os.Stderr, "devstack: --demo drives the API with one token: give --api-token (a clients file names no token)\n")
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "devstack: --log-level: want debug, info, warn or error, got %q\n", logLevel)
		return 2
	}
	// devstack's own lines are for a person at a terminal; the worker and API log JSON as they
	// do in production.
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	opts.WorkerLogger = jsonlog.New(os.Stderr, level)
	if level <= slog.LevelDebug {
		opts.ServerLogLevel = slog.LevelDebug
	}
	if demo && logLevel == "info" {
		// Keep the demo's timeline readable: only problems besides it.
		quiet := slog.LevelWarn
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: quiet}))
		opts.WorkerLogger = jsonlog.New(os.Stderr, quiet)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	stack, err := harness.Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "devstack: %v\n", err)
		return 1
	}
	fmt.Println(stack.ReadyLine())

	code := 0
	if demo {
		err := harness.RunDemos(ctx, harness.Demo{APIURL: stack.APIURL(), CloudURL: stack.CloudURL(), Token: opts.APIToken}, os.Stdout)
		if err != nil {
			fmt.Fprintf(os.Stderr, "devstack: demo failed: %v\n", err)
			code = 1
		}
	} else {
		stack.WriteHowTo(os.Stdout)
		fmt.Println("Ctrl-C stops; bills are kept in", stack.Temporal.Store())
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once
		fmt.Fprintln(os.Stderr, "devstack: stopping…")
	}

	closed := make(chan error, 1)
	go func() { closed <- stack.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			fmt.Fprintf(os.Stderr, "devstack: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	case <-time.After(time.Minute):
		fmt.Fprintln(os.Stderr, "devstack: stop timed out")
		return 1
	}
	return code
}
