// Package devserver runs a complete Temporal server and Temporal Web inside this process:
// SQLite persistence and visibility in one WAL-mode file (or, with Options.Postgres, a PostgreSQL
// set up as docker-compose.yml sets it up), the `default` namespace and the caller's search
// attributes registered. It is the embedded default behind `go run ./devstack` and the end-to-end
// tests; nothing else in rimflow imports the Temporal server.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/temporal"
)

// Defaults of Options.
const (
	DefaultDataDir      = ".rimflow"
	DefaultDBFile       = "temporal.db"
	DefaultFrontendAddr = "127.0.0.1:7233"
	DefaultUIAddr       = "127.0.0.1:8233"
	DefaultNamespace    = "default"
	// DefaultRetention keeps finished bills inspectable for a month on a dev box.
	DefaultRetention = 30 * 24 * time.Hour
)

// Options configure Start. Zero values take the defaults above.
type Options struct {
	DataDir string // directory of the SQLite file; created if missing
	// Postgres, when set, is a postgres:// URL (ParsePostgresURL): persistence and visibility go
	// to that server instead of the SQLite file, with the settings, schema and dynamic config of
	// docker-compose.yml's Temporal. The databases and schemas are created or upgraded at start.
	Postgres     string
	FrontendAddr string // host:port of the frontend gRPC; port 0 picks a free one
	UIAddr       string // host:port of Temporal Web; port 0 picks a free one
	DisableUI    bool
	// OffLoopback lets FrontendAddr and UIAddr listen on an address other than loopback. Without
	// it such an address is refused: the frontend has no authentication and Web no login, so
	// whoever reaches them can start, signal, cancel and read every bill (docs/security.md).
	OffLoopback bool
	Namespace   string
	Retention   time.Duration
	// Codec, when its Endpoint is set, points Temporal Web at a remote codec server: the browser
	// sends every payload it shows (and a signal's input) there to be decoded (encoded).
	Codec UICodec
	// SearchAttributes to register (required: rimflow passes workflows.SearchAttributes()). The
	// caller names them so this package stays a plain Temporal server, free of rimflow's workflows.
	SearchAttributes map[string]enumspb.IndexedValueType
	// Logger receives the server's logs at ServerLogLevel and above. A nil Logger discards them.
	Logger *slog.Logger
	// ServerLogLevel: zero means warn, since the server logs a lot at info; set debug to see
	// everything.
	ServerLogLevel slog.Level
}

func (o *Options) applyDefaults() {
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.FrontendAddr == "" {
		o.FrontendAddr = DefaultFrontendAddr
	}
	if o.UIAddr == "" {
		o.UIAddr = DefaultUIAddr
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ServerLogLevel == 0 {
		o.ServerLogLevel = slog.LevelWarn
	}
}

// Server is a running embedded Temporal server (and Temporal Web unless disabled).
type Server struct {
	opts          Options
	dbPath        string    // the SQLite file, or "" on PostgreSQL
	postgres      *Postgres // nil on SQLite
	frontendAddr  string
	schemaCreated bool
	temporal      temporal.Server
	logger        *slogLogger
	ui            *uiServer
	stopOnce      sync.Once
	stopErr       error
}

// pickPorts resolves the frontend's address (port 0: a free one) and picks free ports for the
// other services.
func pickPorts(frontendAddr string) (servicePorts, error) {
	host, frontendPort, err := resolveAddr("frontend address", frontendAddr)
	if err != nil {
		return servicePorts{}, err
	}
	ports := servicePorts{host: host, frontend: frontendPort}
	for _, p := range []*int{&ports.history, &ports.matching, &ports.worker} {
		if *p, err = freePort(host); err != nil {
			return servicePorts{}, err
		}
	}
	return ports, nil
}

// portTaken: the server could not bind one of its ports.
func portTaken(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "address already in use") || strings.Contains(msg, "Failed to start gRPC listener")
}

// startServer creates and starts the Temporal server on ports; nothing is left running on error.
// The server reports a listener it cannot bind through its logger's Fatal, which panics
// (logger.go): that panic is the start's error here, so Start can try other ports.
func startServer(persistence config.Persistence, ports servicePorts, logger *slogLogger, dc dynamicconfig.StaticClient) (started temporal.Server, err error) {
	var srv temporal.Server
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if msg, ok := r.(string); !ok || !strings.HasPrefix(msg, fatalPrefix) {
			panic(r)
		}
		if srv != nil {
			_ = srv.Stop()
		}
		started, err = nil, fmt.Errorf("%v", r)
	}()
	cfg := serverConfig(persistence, ports)
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("temporal authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("temporal claim mapper: %w", err)
	}
	srv, err = temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(ports.staticHosts()),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dc),
		// No metrics listener: a second server in the same process (a restart) would collide
		// with the first one's registrations.
		temporal.WithCustomMetricsHandler(metrics.NoopMetricsHandler),
	)
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	return srv, nil
}

// Start creates the data dir and schema if needed, starts the server, waits until its frontend
// answers, registers the namespace and search attributes (idempotent) and starts Temporal Web.
// On error nothing is left running.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if len(opts.SearchAttributes) == 0 {
		return nil, errors.New("devserver: Options.SearchAttributes is required (rimflow's are workflows.SearchAttributes())")
	}
	opts.applyDefaults()
	if err := checkLoopback(opts); err != nil {
		return nil, err
	}
	s := &Server{opts: opts}
	if opts.Postgres != "" {
		pg, err := ParsePostgresURL(opts.Postgres)
		if err != nil {
			return nil, err
		}
		s.postgres = &pg
	} else {
		if err := os.MkdirAll(opts.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data dir %s: %w", opts.DataDir, err)
		}
		s.dbPath = filepath.Join(opts.DataDir, DefaultDBFile)
	}

	ports, err := pickPorts(opts.FrontendAddr)
	if err != nil {
		return nil, err
	}
	// Check Temporal Web's address before starting anything, so a busy port fails fast.
	var uiHost string
	var uiPort int
	if !opts.DisableUI {
		if uiHost, uiPort, err = resolveAddr("ui address", opts.UIAddr); err != nil {
			return nil, err
		}
	}

	dc, err := dynamicConfig()
	if err != nil {
		return nil, err
	}
	logger := newSlogLogger(opts.Logger.With("component", "temporal"), opts.ServerLogLevel)
	s.logger = logger
	var persistence config.Persistence
	if s.postgres != nil {
		persistence = PostgresPersistence(*s.postgres)
		if s.schemaCreated, err = preparePostgres(*s.postgres, logger); err != nil {
			return nil, fmt.Errorf("temporal on %s: %w", s.postgres, err)
		}
	} else {
		persistence = sqlitePersistence(s.dbPath)
		sqlCfg := persistence.DataStores[persistence.DefaultStore].SQL
		if s.schemaCreated, err = prepareDatabase(sqlCfg, opts.Namespace, opts.SearchAttributes); err != nil {
			return nil, err
		}
	}
	// The services' ports are picked free and bound a moment later: another process may take one
	// in between. Such a start is tried again on other free ports (never a port the caller chose).
	for attempt := 1; ; attempt++ {
		s.frontendAddr = ports.addr(ports.frontend)
		s.temporal, err = startServer(persistence, ports, logger, dc)
		if err == nil {
			break
		}
		if attempt == 3 || !portTaken(err) {
			return nil, fmt.Errorf("start temporal server on %s: %w", s.frontendAddr, err)
		}
		opts.Logger.Warn("a port picked for the Temporal server was taken meanwhile: trying other ports", "error", err)
		if ports, err = pickPorts(opts.FrontendAddr); err != nil {
			return nil, err
		}
	}

	if err := s.register(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}

	if !opts.DisableUI {
		ui, err := startUI(uiHost, uiPort, s.frontendAddr, opts.Namespace, opts.Codec, opts.Logger)
		if err != nil {
			_ = s.Stop()
			return nil, err
		}
		s.ui = ui
	}
	opts.Logger.Info("temporal server started",
		"frontend", s.frontendAddr, "ui", s.UIURL(), "db", s.Store(), "newSchema", s.schemaCreated)
	return s, nil
}

// register waits for the frontend, then makes the namespace and search attributes what rimflow needs.
func (s *Server) register(ctx context.Context) error {
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := ensureNamespace(ctx, c, s.opts.Namespace, s.opts.Retention); err != nil {
		return err
	}
	if err := ensureRetention(ctx, c, s.opts.Namespace, s.opts.Retention); err != nil {
		return err
	}
	return ensureSearchAttributes(ctx, c, s.opts.Namespace, s.opts.SearchAttributes, s.opts.Logger)
}

// dial connects to the frontend, retrying until it answers or ctx ends.
func (s *Server) dial(ctx context.Context) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var lastErr error
	for {
		c, err := client.DialContext(ctx, client.Options{
			HostPort:  s.frontendAddr,
			Namespace: s.opts.Namespace,
			Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		})
		if err == nil {
			if _, err = c.CheckHealth(ctx, &client.CheckHealthRequest{}); err == nil {
				return c, nil
			}
			c.Close()
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("temporal frontend %s did not answer: %w", s.frontendAddr, errors.Join(ctx.Err(), lastErr))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FrontendAddr is the host:port of the frontend gRPC service (for client.Options.HostPort).
func (s *Server) FrontendAddr() string { return s.frontendAddr }

// Namespace is the registered namespace.
func (s *Server) Namespace() string { return s.opts.Namespace }

// DBPath is the SQLite file ("" on PostgreSQL).
func (s *Server) DBPath() string { return s.dbPath }

// Store names where the data lives: the SQLite file, or the PostgreSQL URL without its password.
func (s *Server) Store() string {
	if s.postgres != nil {
		return s.postgres.String()
	}
	return s.dbPath
}

// SchemaCreated reports whether this Start created the schema (a fresh data dir or database).
func (s *Server) SchemaCreated() bool { return s.schemaCreated }

// UIAddr is the host:port of Temporal Web, or "" when disabled.
func (s *Server) UIAddr() string {
	if s.ui == nil {
		return ""
	}
	return s.ui.addr
}

// UIURL is the base URL of Temporal Web, or "" when disabled.
func (s *Server) UIURL() string {
	if s.ui == nil {
		return ""
	}
	return "http://" + s.ui.addr
}

// NewClient dials the server in its namespace; the caller closes it.
func (s *Server) NewClient(ctx context.Context, opts client.Options) (client.Client, error) {
	opts.HostPort = s.frontendAddr
	if opts.Namespace == "" {
		opts.Namespace = s.opts.Namespace
	}
	return client.DialContext(ctx, opts)
}

// Stop stops Temporal Web and the server. A new Start on the same DataDir resumes every
// workflow. Safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.ui != nil {
			s.ui.stop()
		}
		if s.temporal != nil {
			s.logger.stopping.Store(true)
			s.stopErr = s.temporal.Stop()
		}
	})
	return s.stopErr
}

// checkLoopback refuses a frontend or Web address off loopback unless OffLoopback asks for it.
// An empty host is loopback here (resolveAddr fills 127.0.0.1); "0.0.0.0" or a LAN address is not.
func checkLoopback(opts Options) error {
	if opts.OffLoopback {
		return nil
	}
	addrs := []struct{ field, addr string }{{"frontend address", opts.FrontendAddr}}
	if !opts.DisableUI {
		addrs = append(addrs, struct{ field, addr string }{"ui address", opts.UIAddr})
	}
	for _, a := range addrs {
		h, _, err := net.SplitHostPort(a.addr)
		if err != nil {
			return fmt.Errorf("%s: %q is not host:port: %w", a.field, a.addr, err)
		}
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); !strings.EqualFold(h, "localhost") && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("%s: %q is not a loopback address: Temporal's frontend has no authentication and Temporal Web no login, "+
				"so they listen off loopback only when asked explicitly (devstack --listen-off-loopback)", a.field, a.addr)
		}
	}
	return nil
}
