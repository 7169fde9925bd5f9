// Package harness is the one place rimflow's pieces are started for development: the embedded
// Temporal server (StartTemporal) or the in-memory test server (NewTestServer, StartTestServer),
// the Invoice Cloud simulator over HTTP (ServeHTTP, NewCloud), the worker and the API in this
// process (Start, over internal/app) or as child processes (StartWorker, StartAPI, Process).
// `go run ./devstack` is a thin main over Start; the end-to-end tests start it on free ports; the
// bench's kit and the system tests build their stacks from the same pieces.
// Only development uses it (the devstack, the bench, the system tests): it links the Temporal
// server, which the worker and starter binaries never do.
package harness

import (
	"cmp"
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
	"rimflow/devstack/devserver"
	"rimflow/internal/access"
	"rimflow/internal/app"
	"rimflow/internal/callheader"
	"rimflow/internal/codec"
	"rimflow/internal/enterprises"
	"rimflow/internal/metrics"
	"rimflow/internal/policy"
	"rimflow/internal/tracing"
	"rimflow/internal/webhooks"
	"rimflow/workflows"
)

// Default addresses: all loopback, so an open API (no token) is reachable from this machine only.
const (
	DefaultDataDir      = devserver.DefaultDataDir
	DefaultTemporalAddr = devserver.DefaultFrontendAddr
	DefaultUIAddr       = devserver.DefaultUIAddr
	DefaultCloudAddr    = "127.0.0.1:8090"
	DefaultAPIAddr      = "127.0.0.1:8080"
	// CodecKeyFile is the payload key file in the data dir, created on first start when
	// encryption is on and no key is configured; deleting it makes every stored bill unreadable.
	CodecKeyFile = "codec.keys"
)

// Options configure Start. Every address accepts port 0 (a free port, for tests).
type Options struct {
	DataDir string
	// Postgres, when set, keeps Temporal's data in that PostgreSQL (devserver.Options.Postgres)
	// instead of the SQLite file in DataDir; the simulator's journal stays in DataDir.
	Postgres     string
	TemporalAddr string
	UIAddr       string
	// OffLoopback lets TemporalAddr and UIAddr listen off loopback (devserver.Options.OffLoopback).
	OffLoopback bool
	DisableUI   bool
	CloudAddr   string
	APIAddr     string
	// OpsAddr, when set, is the API's ops listener (RIMFLOW_API_OPS_ADDR): /metrics and /healthz
	// there without a token, and no /metrics on APIAddr. Empty: /metrics on APIAddr (open on
	// loopback, or for a client with the metrics operation). Only loopback or private addresses.
	OpsAddr string
	// APIToken is the bearer token of the HTTP API's one client (allowed everything); with neither
	// it nor APIClients the API is open, which only a loopback APIAddr may be.
	APIToken string
	// APIClients are the API's access clients (RIMFLOW_API_CLIENTS_FILE); not with APIToken.
	APIClients *access.Clients
	// Policy decides each bill's options, duties and Temporal Web signals (nil: policy.Default()).
	Policy *policy.Policy
	// PayloadKeys encrypt (the first) and decrypt (all) every payload; nil: the key file
	// CodecKeyFile in DataDir, created on first start.
	PayloadKeys *codec.Keyring
	// PayloadEncryptionOff stops encrypting new payloads (configured keys still decrypt old ones):
	// encryption is on unless this says otherwise.
	PayloadEncryptionOff bool
	// Seed makes the simulator's sample invoices deterministic.
	Seed int64
	// CloudStrict runs the simulator with every ambiguous vendor rule at its strict reading
	// (cloudsim -strict): a linkKey delivers once, no token in a URL, buyer name and tax number
	// decide compliance, no empty billSave.
	CloudStrict bool
	// CloudAssume switches off the simulator's [assumed] behaviours (cloudsim -assume-*=false);
	// the demo registry is configured to match (the poll key, billSave's reading).
	CloudAssume simulator.Assumptions
	// CloudHandshakeWindow is how long the simulator keeps a socket that sends no heartbeat
	// (cloudsim -handshake-window; zero: its default) [assumed].
	CloudHandshakeWindow time.Duration
	// CloudLimits are the simulator's [assumed] bounds on billSave (cloudsim -line-remark-max, …;
	// zero: its defaults); the demo registry gives each enterprise the same limits.
	CloudLimits simulator.Limits
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
	Worker app.WorkerOptions
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
	// Enterprises are the demo registry: the simulator's ultimate tenant as DemoTaxNo and its
	// standard tenant as DemoStandardTaxNo (DemoEnterprises).
	Enterprises *enterprises.Registry
	Worker      *app.Worker
	// Codec seals every payload of the stack's client (nil with encryption off and no key); the
	// API serves it at CodecURL, and Temporal Web decodes through it.
	Codec *codec.Codec

	opts     Options
	ownsSim  bool
	cloudSrv *http.Server
	cloudURL string
	apiSrv   *http.Server
	apiURL   string
	opsURL   string
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

	// 0. Who may call the API (an open API only on loopback: ":8080" is every interface), the
	// payload codec (its key file made on first start) and the API's listener, whose address
	// Temporal Web needs for the codec.
	clients := opts.APIClients
	if opts.APIToken != "" {
		if !clients.Open() {
			return nil, errors.New("api: set either an API token or API clients, not both")
		}
		if clients, err = access.New(access.Spec{Name: api.DefaultClientName, Token: opts.APIToken,
			Operations: []string{access.OpAdmin}, Resources: []string{access.AllResources}}); err != nil {
			return nil, fmt.Errorf("api token: %w", err)
		}
	}
	if err := access.CheckListen("the API", opts.APIAddr, clients); err != nil {
		return nil, err
	}
	var created bool
	s.Codec, created, err = codec.NewFromSettingsOrKeyFile(codec.Settings{Encrypt: !opts.PayloadEncryptionOff, Keys: opts.PayloadKeys},
		filepath.Join(opts.DataDir, CodecKeyFile))
	if err != nil {
		return nil, fmt.Errorf("payload encryption: %w", err)
	}
	if created {
		log.Info("created the payload key file: keep it with the data dir (without it stored bills cannot be read)",
			"file", filepath.Join(opts.DataDir, CodecKeyFile))
	}
	apiLn, err := listen("api address", opts.APIAddr)
	if err != nil {
		return nil, err
	}
	s.apiURL = "http://" + apiLn.Addr().String()
	s.closers = append(s.closers, func(context.Context) error {
		if s.apiSrv == nil {
			return apiLn.Close() // never served
		}
		return nil
	})
	var uiCodec devserver.UICodec
	if s.Codec != nil {
		uiCodec = devserver.UICodec{Endpoint: s.CodecURL(), IncludeCredentials: !clients.Open()}
	}

	// 1. Temporal server and Temporal Web.
	s.Temporal, err = StartTemporal(ctx, devserver.Options{
		DataDir:        opts.DataDir,
		Postgres:       opts.Postgres,
		FrontendAddr:   opts.TemporalAddr,
		UIAddr:         opts.UIAddr,
		OffLoopback:    opts.OffLoopback,
		DisableUI:      opts.DisableUI,
		Codec:          uiCodec,
		Logger:         log,
		ServerLogLevel: opts.ServerLogLevel,
	})
	if err != nil {
		return nil, err
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
			simulator.Options{Seed: opts.Seed, Strict: opts.CloudStrict, Logger: log.With("component", "cloudsim"),
				Tenants: DemoTenants(s.apiURL), Assume: opts.CloudAssume, HandshakeWindow: opts.CloudHandshakeWindow,
				Limits: opts.CloudLimits})
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
	s.cloudSrv, s.cloudURL, err = ServeHTTP("cloud address", opts.CloudAddr, simHandler, log.With("component", "cloudsim"))
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func(ctx context.Context) error { return shutdown(ctx, s.cloudSrv) })

	// 3. One registry: the API's /metrics shows the API's, the worker SDK's and the cloud calls'.
	reg := metrics.NewRegistry()
	s.Enterprises, err = enterprises.New(DemoEnterprises(s.cloudURL, s.Sim.Options()),
		enterprises.Options{Logger: opts.WorkerLogger, Observe: metrics.NewCloud(reg).Observe})
	if err != nil {
		return nil, fmt.Errorf("invoice cloud clients: %w", err)
	}

	// 4. The worker, on a client of the embedded server; payloads sealed like a deployed worker's.
	copts := client.Options{
		Logger:         sdklog.NewStructuredLogger(opts.WorkerLogger),
		MetricsHandler: metrics.NewSDKHandler(reg),
	}
	if copts.Interceptors, err = tracing.TemporalInterceptors(); err != nil { // when tracing is on
		return nil, err
	}
	s.Codec.Apply(&copts)      // after: it adds the interceptor that carries the API's signatures
	callheader.Install(&copts) // and the answer the API asks for, with or without the codec
	s.Client, err = s.Temporal.NewClient(ctx, copts)
	if err != nil {
		return nil, fmt.Errorf("temporal client: %w", err)
	}
	s.closers = append(s.closers, func(context.Context) error { s.Client.Close(); return nil })
	wopts := opts.Worker
	if wopts.TaskQueue == "" {
		wopts.TaskQueue = workflows.DefaultTaskQueue
	}
	if wopts.Voice == nil {
		wopts.Voice = s.Codec.Voice() // the API (api.Build derives the same from the codec) signs with it
	}
	if wopts.Activities.Metrics == nil {
		wopts.Activities.Metrics = metrics.NewWorker(reg, cmp.Or(max(wopts.MaxWatchers, 0), app.DefaultMaxWatchers))
	}
	s.Worker, err = app.NewWorker(s.Client, s.Enterprises, wopts)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	if err := s.Worker.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	s.closers = append(s.closers, func(context.Context) error { s.Worker.Stop(); return nil })

	// 5. The HTTP API, with the codec server Temporal Web uses, and its ops listener if asked for.
	var opsLn net.Listener
	if opts.OpsAddr != "" {
		if err := access.CheckOpsListen(opts.OpsAddr); err != nil {
			return nil, fmt.Errorf("ops address: %w", err)
		}
		if opsLn, err = listen("ops address", opts.OpsAddr); err != nil {
			return nil, err
		}
		s.opsURL = "http://" + opsLn.Addr().String()
	}
	handlers, err := api.BuildHandlers(api.Options{
		Client:       s.Client,
		Namespace:    s.Temporal.Namespace(),
		TaskQueue:    wopts.TaskQueue,
		Clients:      clients,
		Policy:       opts.Policy,
		Codec:        s.Codec,
		CodecOrigins: uiOrigins(s.Temporal.UIAddr()),
		Logger:       opts.WorkerLogger.With("component", "api"),
		Registry:     reg,
		Notifies:     wopts.Activities.Webhooks.Has,
		Webhooks:     webhookSettings(wopts.Activities.Registered),
		Enterprises:  s.Enterprises,
		OpsListener:  opsLn != nil,
	})
	if err != nil {
		if opsLn != nil {
			_ = opsLn.Close()
		}
		return nil, fmt.Errorf("api: %w", err)
	}
	if opsLn != nil {
		opsSrv := serve(opsLn, handlers.Ops, log.With("component", "ops"))
		s.closers = append(s.closers, func(ctx context.Context) error { return shutdown(ctx, opsSrv) })
	}
	handler := handlers.API
	if clients.Open() {
		// Open on loopback: refuse a rebound DNS name, as the codec server does.
		handler = access.LoopbackHostOnly(handler, "/v1/push/")
	}
	s.apiSrv = serve(apiLn, handler, log.With("component", "api"))
	s.closers = append(s.closers, func(ctx context.Context) error { return shutdown(ctx, s.apiSrv) })
	// The bill gauges, as `starter serve` counts them.
	countCtx, stopCounting := context.WithCancel(context.Background())
	counts := api.BillCountOptions{Client: s.Client, Namespace: s.Temporal.Namespace(), Registry: reg,
		Logger: opts.WorkerLogger.With("component", "api"), Enterprises: func() []string {
			var out []string
			for _, e := range s.Enterprises.List() {
				out = append(out, e.TaxNo)
			}
			return out
		}}
	if opts.Policy != nil {
		counts.Roles = opts.Policy.Roles()
	}
	go api.CountBills(countCtx, counts)
	s.closers = append(s.closers, func(context.Context) error { stopCounting(); return nil })
	return s, nil
}

// APIURL is the base URL of the HTTP API, e.g. http://127.0.0.1:8080.
func (s *Stack) APIURL() string { return s.apiURL }

// OpsURL is the base URL of the API's ops listener (/metrics, /healthz), "" without one.
func (s *Stack) OpsURL() string { return s.opsURL }

// CodecURL is the codec server's base URL (the API's /v1/codec), which Temporal Web and
// `temporal … --codec-endpoint` use.
func (s *Stack) CodecURL() string { return s.apiURL + "/v1/codec" }

// uiOrigins are the origins a browser shows Temporal Web under: its address, and for 127.0.0.1
// also localhost (the same machine, another origin to the browser).
func uiOrigins(uiAddr string) []string {
	if uiAddr == "" {
		return nil
	}
	out := []string{"http://" + uiAddr}
	if host, port, err := net.SplitHostPort(uiAddr); err == nil && host == "127.0.0.1" {
		out = append(out, "http://localhost:"+port)
	}
	return out
}

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
	line := fmt.Sprintf("rimflow ready: api=%s ui=%s temporal=%s cloud=%s", s.apiURL, ui, s.TemporalAddr(), s.cloudURL)
	if s.opsURL != "" {
		line += " ops=" + s.opsURL
	}
	return line
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

// webhookSettings are the worker's settings for the webhooks registered through the API, the
// API's too (one secrets folder, one retention).
func webhookSettings(st *webhooks.Store) webhooks.Settings {
	if st == nil {
		return webhooks.Settings{}
	}
	return st.Settings
}
