// Package kit is the benchmark harness behind `go run ./bench` and the resilience suite: the
// embedded Temporal server and the Invoice Cloud simulator in this process, a worker as a separate
// OS process, an ERP driver that walks bills through api.Bills, and the probes (bind times from the
// simulator's wire traffic, RSS and CPU from /proc, the simulator's ledger).
package kit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/internal/codec"
	"rimflow/internal/config"
	"rimflow/internal/devserver"
	"rimflow/workflows"
)

// EnvOptions configure StartEnv. Zero values take the defaults.
type EnvOptions struct {
	DataDir string // required for the embedded server: the SQLite file lives here (a restart reuses it)
	// Postgres, when set, keeps the server's data in that PostgreSQL instead (a postgres:// URL,
	// devserver.Options.Postgres): the compose cluster's persistence, on the embedded server.
	Postgres string
	Seed     int64
	// Sim overrides the simulator's options (Seed is taken from the field above).
	Sim simulator.Options
	// Logger receives the server's and the simulator's logs (nil discards).
	Logger *slog.Logger
	// ServerLogLevel filters the embedded server's logs (default warn).
	ServerLogLevel slog.Level
	// TemporalAddr, when set, is a Temporal server run elsewhere (another process, a cluster):
	// StartEnv starts none and connects there, in Namespace (default "default"). StopServer and
	// StartServer are then the caller's business.
	TemporalAddr string
	Namespace    string
	// Codec seals the harness client's payloads, for workers that encrypt (the compose shape's);
	// nil sends them as they are, as the worker processes of WorkerEnv do.
	Codec *codec.Codec
}

// Env is the server side of a run: Temporal and the simulator in this process, an SDK client and
// the ERP's api.Bills service on it. The worker is started beside it (StartWorker).
type Env struct {
	opts     EnvOptions
	Server   *devserver.Server // nil when the server runs elsewhere (EnvOptions.TemporalAddr)
	Sim      *simulator.Sim
	Tap      *Tap // the simulator's wire traffic as the harness sees it
	Client   client.Client
	Bills    *api.Bills
	CloudURL string

	frontend  string
	namespace string
	cloudSrv  *http.Server
}

// StartEnv starts the embedded server (no Temporal Web), the simulator on a free loopback port
// and a client. Close stops them.
func StartEnv(ctx context.Context, opts EnvOptions) (_ *Env, err error) {
	if opts.DataDir == "" && opts.TemporalAddr == "" {
		return nil, errors.New("bench kit: EnvOptions.DataDir is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Env{opts: opts, frontend: "127.0.0.1:0", namespace: opts.Namespace}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if opts.TemporalAddr != "" {
		e.frontend = opts.TemporalAddr
		if e.namespace == "" {
			e.namespace = devserver.DefaultNamespace
		}
	} else {
		if err := e.startServer(ctx); err != nil {
			return nil, err
		}
		e.frontend = e.Server.FrontendAddr() // a restart comes back on the same address
		e.namespace = e.Server.Namespace()
	}

	simOpts := opts.Sim
	simOpts.Seed = opts.Seed
	if simOpts.Logger == nil {
		simOpts.Logger = opts.Logger.With("component", "cloudsim")
	}
	e.Sim = simulator.New(simOpts)
	e.Tap = NewTap(e.Sim.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulator listener: %w", err)
	}
	e.CloudURL = "http://" + ln.Addr().String()
	e.cloudSrv = &http.Server{Handler: e.Tap, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.cloudSrv.Serve(ln) }()

	copts := client.Options{
		HostPort: e.frontend, Namespace: e.namespace,
		Logger: sdklog.NewStructuredLogger(opts.Logger.With("component", "erp-client")),
	}
	opts.Codec.Apply(&copts)
	e.Client, err = client.DialContext(ctx, copts)
	if err != nil {
		return nil, fmt.Errorf("temporal client: %w", err)
	}
	e.Bills = api.NewBills(e.Client, e.namespace, workflows.DefaultTaskQueue)
	return e, nil
}

func (e *Env) startServer(ctx context.Context) error {
	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir:          e.opts.DataDir,
		Postgres:         e.opts.Postgres,
		FrontendAddr:     e.frontend,
		DisableUI:        true,
		SearchAttributes: workflows.SearchAttributes(),
		Logger:           e.opts.Logger,
		ServerLogLevel:   e.opts.ServerLogLevel,
	})
	if err != nil {
		return fmt.Errorf("embedded temporal: %w", err)
	}
	e.Server = srv
	return nil
}

// StopServer stops the embedded server; bills stay in the data dir.
func (e *Env) StopServer() error {
	if e.Server == nil {
		return errors.New("bench kit: the server is not embedded; stop it where it runs")
	}
	return e.Server.Stop()
}

// StartServer starts the server again on the same data dir and frontend address; the clients
// (this process's and the worker's) reconnect by themselves.
func (e *Env) StartServer(ctx context.Context) error {
	if e.opts.TemporalAddr != "" {
		return errors.New("bench kit: the server is not embedded; start it where it runs")
	}
	return e.startServer(ctx)
}

// BillsOn is the ERP service for another task queue (the baseline's).
func (e *Env) BillsOn(taskQueue string) *api.Bills {
	return api.NewBills(e.Client, e.namespace, taskQueue)
}

// WorkerEnv is the environment a worker process reads (internal/config): this server, this
// simulator and the simulator's credentials. Secrets travel in the environment, never in argv.
func (e *Env) WorkerEnv(logLevel string) []string {
	creds := e.Sim.Options().Credentials
	paths := e.Sim.Options().Paths
	if logLevel == "" {
		logLevel = "warn"
	}
	vars := map[string]string{
		config.EnvTemporalAddress:   e.frontend,
		config.EnvTemporalNamespace: e.namespace,
		config.EnvTaskQueue:         workflows.DefaultTaskQueue,
		config.EnvCloudBaseURL:      e.CloudURL,
		config.EnvCloudAuthMode:     "legacy",
		config.EnvCloudTokenPlace:   "header",
		config.EnvCloudAppID:        creds.AppID,
		config.EnvCloudAppSecret:    creds.AppSecret,
		config.EnvCloudTenantID:     creds.TenantID,
		config.EnvCloudAccountID:    creds.AccountID,
		config.EnvCloudUser:         creds.User,
		config.EnvCloudClientID:     creds.ClientID,
		config.EnvCloudClientSecret: creds.ClientSecret,
		config.EnvCloudUsername:     creds.Username,
		config.EnvCloudUnbindType:   paths.UnbindMessageType,
		config.EnvCloudPollPath:     paths.PollData,
		config.EnvCloudReceiptPath:  paths.PollReceipt,
		config.EnvLogLevel:          logLevel,
		// This harness's own client (Env.Client) sends payloads as they are, so the worker
		// process must too: encryption is on by default and would refuse to start without keys.
		config.EnvPayloadEncryption: "off",
	}
	out := make([]string, 0, len(vars)+4)
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	// Enough of the parent's environment for a Go program to run (HOME, PATH, TMPDIR, GOMAXPROCS…),
	// but no RIMFLOW_* of the caller's.
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// Close stops the client, the simulator and the server.
func (e *Env) Close() {
	if e.Client != nil {
		e.Client.Close()
	}
	if e.cloudSrv != nil {
		e.Sim.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = e.cloudSrv.Shutdown(ctx)
		cancel()
	}
	if e.Server != nil {
		_ = e.Server.Stop()
	}
}

// itoa is strconv.Itoa, short.
func itoa(n int) string { return strconv.Itoa(n) }
