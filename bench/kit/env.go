// Package kit is what `go run ./bench` and the resilience suite add to devstack/harness: an Env
// (the harness's embedded Temporal server and simulator in this process, the environment of the
// worker and API processes the harness starts, with an enterprise registry when the simulator
// serves several tenants), a TCP proxy that partitions them on purpose, an ERP driver that walks
// bills through api.Bills, and the probes (bind times from the simulator's wire traffic, idle CPU,
// the simulator's ledger).
package kit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"gopkg.in/yaml.v3"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/devserver"
	"rimflow/devstack/harness"
	"rimflow/internal/callheader"
	"rimflow/internal/codec"
	"rimflow/internal/config"
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
	// ReissueMargin is stamped on every bill the Env's api.Bills and local API start (0: the
	// workflow's default): with a short eventCode life, a short margin lets a run see them expire.
	ReissueMargin time.Duration
}

// Env is the server side of a run: Temporal and the simulator in this process, an SDK client and
// the ERP's api.Bills service on it. The worker is started beside it (StartWorker).
type Env struct {
	opts     EnvOptions
	Server   *devserver.Server // nil when the server runs elsewhere (EnvOptions.TemporalAddr)
	Sim      *simulator.Sim
	Tap      *Tap // the simulator's wire traffic as the harness sees it
	gauge    *simGauge
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
	e.gauge = newSimGauge(e.Tap, e.Sim.Options().Paths.PollData)
	if e.cloudSrv, e.CloudURL, err = harness.ServeHTTP("simulator listener", "127.0.0.1:0", e.gauge, simOpts.Logger); err != nil {
		return nil, err
	}

	copts := client.Options{
		HostPort: e.frontend, Namespace: e.namespace,
		Logger: sdklog.NewStructuredLogger(opts.Logger.With("component", "erp-client")),
	}
	opts.Codec.Apply(&copts)
	callheader.Install(&copts) // the API's compact answers, with or without the codec
	e.Client, err = client.DialContext(ctx, copts)
	if err != nil {
		return nil, fmt.Errorf("temporal client: %w", err)
	}
	e.Bills = e.BillsOn(workflows.DefaultTaskQueue)
	return e, nil
}

func (e *Env) startServer(ctx context.Context) error {
	srv, err := harness.StartTemporal(ctx, devserver.Options{
		DataDir:        e.opts.DataDir,
		Postgres:       e.opts.Postgres,
		FrontendAddr:   e.frontend,
		DisableUI:      true,
		Logger:         e.opts.Logger,
		ServerLogLevel: e.opts.ServerLogLevel,
	})
	if err != nil {
		return err
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
	b := api.NewBills(e.Client, e.namespace, taskQueue)
	b.ReissueMargin = e.opts.ReissueMargin
	return b
}

// TemporalAddr is the embedded server's frontend (host:port); it stays the same across a restart.
func (e *Env) TemporalAddr() string { return e.frontend }

// WorkerEnv is the environment a worker process reads (internal/config): this server, this
// simulator and the simulator's credentials. Secrets travel in the environment, never in argv.
func (e *Env) WorkerEnv(logLevel string) []string { return processEnv(e.workerVars(logLevel, true)) }

// RegistryWorkerEnv is the environment of a worker whose enterprises come from a registry
// (registry: the variables EnterprisesFile answered): RIMFLOW_CLOUD_* give only what the
// enterprises share, the [assumed] names.
func (e *Env) RegistryWorkerEnv(logLevel string, registry []string) []string {
	return append(processEnv(e.workerVars(logLevel, false)), registry...)
}

func (e *Env) workerVars(logLevel string, credentials bool) map[string]string {
	paths := e.Sim.Options().Paths
	vars := e.temporalVars(logLevel)
	vars[config.EnvCloudUnbindType] = paths.UnbindMessageType
	vars[config.EnvCloudVoucherReverseType] = paths.VoucherReverseMessageType
	vars[config.EnvCloudPollPath] = paths.PollData
	vars[config.EnvCloudReceiptPath] = paths.PollReceipt
	vars[config.EnvCloudScanPointsOperate] = paths.ScanPointsOperate
	if !credentials {
		return vars
	}
	creds := e.Sim.Options().Credentials
	for k, v := range map[string]string{
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
	} {
		vars[k] = v
	}
	return vars
}

// APIEnv is the environment an API process (`starter serve`) reads: this server, the bills'
// task queue, payloads as this harness's client sends them, and nothing of the cloud's (the API
// never calls it). Add the access settings (RIMFLOW_API_TOKEN…) and a registry (EnterprisesFile).
func (e *Env) APIEnv(logLevel string) []string { return processEnv(e.temporalVars(logLevel)) }

// temporalVars are what every process of the harness reads: the server, the task queue, the log
// level, and payloads in clear.
func (e *Env) temporalVars(logLevel string) map[string]string {
	if logLevel == "" {
		logLevel = "warn"
	}
	return map[string]string{
		config.EnvTemporalAddress:   e.frontend,
		config.EnvTemporalNamespace: e.namespace,
		config.EnvTaskQueue:         workflows.DefaultTaskQueue,
		config.EnvLogLevel:          logLevel,
		// This harness's own client (Env.Client) sends payloads as they are, so the processes
		// must too: encryption is on by default and would refuse to start without keys.
		config.EnvPayloadEncryption: "off",
	}
}

// processEnv is vars plus enough of the parent's environment for a Go program to run (HOME,
// PATH, TMPDIR, GOMAXPROCS…), but no RIMFLOW_* of the caller's.
func processEnv(vars map[string]string) []string {
	out := make([]string, 0, len(vars)+7)
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// EnterprisesFile writes the simulator's tenants as an enterprise registry into dir: the
// ultimate tenant as TaxNo (legacy auth) and each standard tenant as itself, with push on where
// the simulator pushes its imports. Secrets are env: references. The answer is the variables to
// add to a worker's and an API's environment: RIMFLOW_ENTERPRISES_FILE and the secrets.
func (e *Env) EnterprisesFile(dir string) ([]string, error) {
	type entry struct {
		TaxNo          string   `yaml:"taxNo"`
		Name           string   `yaml:"name"`
		Edition        string   `yaml:"edition"`
		BaseURL        string   `yaml:"baseURL"`
		AuthMode       string   `yaml:"authMode,omitempty"`
		TokenPlacement string   `yaml:"tokenPlacement,omitempty"`
		AppID          string   `yaml:"appId,omitempty"`
		AppSecret      string   `yaml:"appSecret,omitempty"`
		TenantID       string   `yaml:"tenantId,omitempty"`
		AccountID      string   `yaml:"accountId,omitempty"`
		User           string   `yaml:"user,omitempty"`
		ClientID       string   `yaml:"clientId,omitempty"`
		ClientSecret   string   `yaml:"clientSecret,omitempty"`
		EncryptKey     string   `yaml:"encryptKey,omitempty"`
		PlaintextCalls []string `yaml:"plaintextCalls,omitempty"`
		Push           bool     `yaml:"push,omitempty"`
	}
	var vars []string
	secret := func(value string) string { // the value goes into the environment, its name into the file
		name := fmt.Sprintf("KIT_ENTERPRISE_SECRET_%d", len(vars))
		vars = append(vars, name+"="+value)
		return "env:" + name
	}
	var entries []entry
	for _, t := range e.Sim.Options().Tenants {
		switch t.Edition {
		case simulator.EditionUltimate:
			c := e.Sim.Options().Credentials
			entries = append(entries, entry{TaxNo: TaxNo, Name: CompanyName, Edition: "ultimate", BaseURL: e.CloudURL,
				AuthMode: "legacy", TokenPlacement: "header", AppID: c.AppID, AppSecret: secret(c.AppSecret),
				TenantID: c.TenantID, AccountID: c.AccountID, User: c.User})
		case simulator.EditionStandard:
			entries = append(entries, entry{TaxNo: t.TaxNo, Name: t.Name, Edition: "standard", BaseURL: e.CloudURL,
				ClientID: t.ClientID, ClientSecret: secret(t.ClientSecret), EncryptKey: secret(t.EncryptKey),
				PlaintextCalls: t.PlaintextCalls, Push: len(t.Push) > 0})
		}
	}
	raw, err := yaml.Marshal(map[string]any{"enterprises": entries})
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "enterprises.yaml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return nil, fmt.Errorf("enterprises file: %w", err)
	}
	return append(vars, config.EnvEnterprisesFile+"="+path), nil
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
