// Package devstack starts the whole of rimflow in one process: the embedded Temporal server and
// Temporal Web (internal/devserver), the Invoice Cloud simulator, a worker and the HTTP API.
// `go run ./devstack` is a thin main over Start; the end-to-end tests start it on free ports.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/internal/devserver"
	"rimflow/internal/metrics"
	"rimflow/internal/workerapp"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// Default addresses: all loopback, so an open API (no token) is reachable from this machine only.
const (
	DefaultDataDir      = devserver.DefaultDataDir
	DefaultTemporalAddr = devserver.DefaultFrontendAddr
	DefaultUIAddr       = devserver.DefaultUIAddr
	DefaultCloudAddr    = "127.0.0.1:8090"
	DefaultAPIAddr      = "127.0.0.1:8080"
)

// Options configure Start. Every address accepts port 0 (a free port, for tests).
type Options struct {
	DataDir string
	// Postgres, when set, keeps Temporal's data in that PostgreSQL (devserver.Options.Postgres)
	// instead of the SQLite file in DataDir; the simulator's journal stays in DataDir.
	Postgres     string
	TemporalAddr string
	UIAddr       string
	DisableUI    bool
	CloudAddr    string
	APIAddr      string
	// APIToken is the bearer token of the HTTP API; empty leaves it open (loopback dev only).
	APIToken string
	// Seed makes the simulator's sample invoices deterministic.
	Seed int64
	// CloudStrict runs the simulator with every ambiguous vendor rule at its strict reading
	// (cloudsim -strict): a linkKey delivers once, no token in a URL, buyer name and tax number
	// decide compliance, no empty billSave.
	CloudStrict bool
	// Sim, when set, is served instead of devstack's own simulator and outlives the stack (Close
	// leaves it running). Without it devstack journals its simulator in the data dir
	// (SimJournalFile) so a restart finds the same cloud state, as a real cloud would keep it.
	Sim *simulator.Sim
	// Logger gets devstack's and the server's logs; WorkerLogger the worker's and API's
	// (JSON in production). Nil discards.
	Logger       *slog.Logger
	WorkerLogger *slog.Logger
	// ServerLogLevel filters the embedded Temporal server's logs (zero = warn).
	ServerLogLevel slog.Level
	// Worker tunes the worker and its activities (zero = production defaults: watchers hand back
	// at once on stop, and a cloud call in flight has time to end).
	Worker workerapp.Options
}

func (o *Options) applyDefaults() {
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.TemporalAddr == "" {
		o.TemporalAddr = DefaultTemporalAddr
	}
	if o.UIAddr == "" {
		o.UIAddr = DefaultUIAddr
	}
	if o.CloudAddr == "" {
		o.CloudAddr = DefaultCloudAddr
	}
	if o.APIAddr == "" {
		o.APIAddr = DefaultAPIAddr
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.WorkerLogger == nil {
		o.WorkerLogger = o.Logger
	}
}

// Stack is the running one-process rimflow.
type Stack struct {
	Temporal *devserver.Server
	Sim      *simulator.Sim
	Client   client.Client // SDK client shared by the worker and the API
	Cloud    *invoicecloud.Client
	Worker   *workerapp.Worker

	opts     Options
	ownsSim  bool
	cloudSrv *http.Server
	cloudURL string
	apiSrv   *http.Server
	apiURL   string
	closers  []func(context.Context) error // in start order; Close runs them backwards
}

// Start brings the stack up in dependency order: Temporal (+ Web), simulator, Invoice Cloud
// client, worker, API. On error whatever started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	opts.applyDefaults()
	s := &Stack{opts: opts}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	log := opts.Logger

	// 1. Temporal server and Temporal Web.
	s.Temporal, err = devserver.Start(ctx, devserver.Options{
		DataDir:          opts.DataDir,
		Postgres:         opts.Postgres,
		FrontendAddr:     opts.TemporalAddr,
		UIAddr:           opts.UIAddr,
		DisableUI:        opts.DisableUI,
		SearchAttributes: workflows.SearchAttributes(),
		Logger:           log,
		ServerLogLevel:   opts.ServerLogLevel,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded temporal: %w", err)
	}
	s.closers = append(s.closers, func(context.Context) error { return s.Temporal.Stop() })

	// 2. The Invoice Cloud simulator.
	var simHandler http.Handler
	var journal *simJournal
	if s.Sim = opts.Sim; s.Sim != nil {
		simHandler = s.Sim.Handler()
	} else {
		var hdr journalHeader
		s.Sim, journal, hdr, err = openSimJournal(filepath.Join(opts.DataDir, SimJournalFile),
			simulator.Options{Seed: opts.Seed, Strict: opts.CloudStrict, Logger: log.With("component", "cloudsim")})
		if err != nil {
			return nil, err
		}
		if hdr.Seed != opts.Seed {
			log.Warn("the simulator keeps the seed its journal was started with", "seed", hdr.Seed, "ignored", opts.Seed)
		}
		if hdr.Strict != opts.CloudStrict {
			log.Warn("the simulator keeps the strict mode its journal was started with (remove the data dir to change it)", "strict", hdr.Strict)
		}
		s.ownsSim = true
		simHandler = journal
	}
	s.closers = append(s.closers, func(context.Context) error {
		if !s.ownsSim {
			return nil
		}
		s.Sim.Close() // ends its sockets and held polls, which Shutdown does not wait for
		return journal.Close()
	})
	cloudLn, err := listen("cloud address", opts.CloudAddr)
	if err != nil {
		return nil, err
	}
	s.cloudURL = "http://" + cloudLn.Addr().String()
	s.cloudSrv = serve(cloudLn, simHandler, log.With("component", "cloudsim"))
	s.closers = append(s.closers, func(ctx context.Context) error { return shutdown(ctx, s.cloudSrv) })

	// 3. One registry: the API's /metrics shows the API's, the worker SDK's and the cloud calls'.
	reg := metrics.NewRegistry()
	cloudCfg := s.cloudConfig()
	cloudCfg.Logger = opts.WorkerLogger
	cloudCfg.Observe = metrics.NewCloud(reg).Observe
	s.Cloud, err = invoicecloud.New(cloudCfg)
	if err != nil {
		return nil, fmt.Errorf("invoice cloud client: %w", err)
	}

	// 4. The worker, on a client of the embedded server.
	s.Client, err = s.Temporal.NewClient(ctx, client.Options{
		Logger:         sdklog.NewStructuredLogger(opts.WorkerLogger),
		MetricsHandler: metrics.NewSDKHandler(reg),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal client: %w", err)
	}
	s.closers = append(s.closers, func(context.Context) error { s.Client.Close(); return nil })
	wopts := opts.Worker
	if wopts.TaskQueue == "" {
		wopts.TaskQueue = workflows.DefaultTaskQueue
	}
	s.Worker, err = workerapp.New(s.Client, s.Cloud, wopts)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	if err := s.Worker.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	s.closers = append(s.closers, func(context.Context) error { s.Worker.Stop(); return nil })

	// 5. The HTTP API.
	apiLn, err := listen("api address", opts.APIAddr)
	if err != nil {
		return nil, err
	}
	s.apiURL = "http://" + apiLn.Addr().String()
	handler := api.New(api.Options{
		Client:    s.Client,
		Namespace: s.Temporal.Namespace(),
		TaskQueue: wopts.TaskQueue,
		Token:     opts.APIToken,
		Logger:    opts.WorkerLogger.With("component", "api"),
		Registry:  reg,
	})
	s.apiSrv = serve(apiLn, handler, log.With("component", "api"))
	s.closers = append(s.closers, func(ctx context.Context) error { return shutdown(ctx, s.apiSrv) })
	return s, nil
}

// cloudConfig is what a separately deployed worker would read from RIMFLOW_CLOUD_* variables,
// pointed at this process's simulator with its documented credentials.
func (s *Stack) cloudConfig() invoicecloud.Config {
	creds, paths := s.Sim.Options().Credentials, s.Sim.Options().Paths
	return invoicecloud.Config{
		BaseURL:        s.cloudURL,
		AuthMode:       invoicecloud.AuthLegacy,
		TokenPlacement: invoicecloud.TokenInHeader,
		AppID:          creds.AppID,
		AppSecret:      creds.AppSecret,
		TenantID:       creds.TenantID,
		AccountID:      creds.AccountID,
		User:           creds.User,
		ClientID:       creds.ClientID,
		ClientSecret:   creds.ClientSecret,
		Username:       creds.Username,
		Paths:          invoicecloud.Paths{PollData: paths.PollData, PollReceipt: paths.PollReceipt},
		MessageTypes:   invoicecloud.MessageTypes{Unbind: paths.UnbindMessageType},
	}
}

// APIURL is the base URL of the HTTP API, e.g. http://127.0.0.1:8080.
func (s *Stack) APIURL() string { return s.apiURL }

// CloudURL is the base URL of the simulator.
func (s *Stack) CloudURL() string { return s.cloudURL }

// UIURL is Temporal Web's base URL ("" when disabled).
func (s *Stack) UIURL() string { return s.Temporal.UIURL() }

// TemporalAddr is the frontend's host:port.
func (s *Stack) TemporalAddr() string { return s.Temporal.FrontendAddr() }

// Addrs are the bound addresses, to start again on the same ones.
func (s *Stack) Addrs() (temporal, ui, cloud, api string) {
	return s.Temporal.FrontendAddr(), s.Temporal.UIAddr(), hostPort(s.cloudURL), hostPort(s.apiURL)
}

// ReadyLine is the one line that says the stack is up, with the actual addresses.
func (s *Stack) ReadyLine() string {
	ui := s.UIURL()
	if ui == "" {
		ui = "disabled"
	}
	return fmt.Sprintf("rimflow ready: api=%s ui=%s temporal=%s cloud=%s", s.apiURL, ui, s.TemporalAddr(), s.cloudURL)
}

// CloseTimeout bounds each step of Close.
const CloseTimeout = 15 * time.Second

// Close stops everything in reverse start order, each step bounded by CloseTimeout, and reports
// every failure. Bills survive in the data dir; a new Start resumes them.
func (s *Stack) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
		done := make(chan error, 1)
		go func(f func(context.Context) error) { done <- f(ctx) }(s.closers[i])
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("stop step %d did not finish in %s", i, CloseTimeout))
		}
		cancel()
	}
	s.closers = nil
	return errors.Join(errs...)
}

func listen(field, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", field, addr, err)
	}
	return ln, nil
}

func serve(ln net.Listener, h http.Handler, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "addr", ln.Addr().String(), "error", err.Error())
		}
	}()
	return srv
}

func shutdown(ctx context.Context, srv *http.Server) error {
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		if !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	return nil
}

func hostPort(u string) string {
	const p = "http://"
	if len(u) > len(p) {
		return u[len(p):]
	}
	return u
}
