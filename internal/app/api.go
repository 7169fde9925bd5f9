package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"rimflow/api"
	"rimflow/internal/config"
	"rimflow/internal/enterprises"
	"rimflow/internal/metrics"
	"rimflow/internal/temporalclient"
	"rimflow/internal/tracing"
)

// SettingsError is a wiring failure the configuration causes (a registry or API option the
// settings make impossible), as opposed to one of the network: the CLI answers it as bad input.
type SettingsError struct{ Err error }

func (e *SettingsError) Error() string { return e.Err.Error() }
func (e *SettingsError) Unwrap() error { return e.Err }

// NewAPI builds `starter serve`'s HTTP API from cfg (config.ForAPIServer): the Temporal client
// (payloads sealed, SDK metrics), the enterprise registry bills are checked against (reloaded on
// SIGHUP or change until ctx ends), and the handler with its clients, policy, codec server and
// /metrics (on the ops listener's handler when cfg.API.OpsAddr is set); until ctx ends it counts
// the open bills for the gauges on /metrics (api.CountBills). The caller closes the client after
// the server stops.
func NewAPI(ctx context.Context, cfg Config, getenv func(string) string, logger *slog.Logger) (api.Handlers, client.Client, error) {
	registry := metrics.NewRegistry()
	stopTracing, err := tracing.Setup(ctx, getenv, "rimflow-api")
	if err != nil {
		return api.Handlers{}, nil, &SettingsError{fmt.Errorf("tracing: %w", err)}
	}
	context.AfterFunc(ctx, func() { // flush the last spans when the server stops
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stopTracing(sctx)
	})
	logger = slog.New(tracing.LogHandler(logger.Handler())) // lines logged in a request carry its traceId
	dialCtx, cancelDial := context.WithTimeout(ctx, 30*time.Second)
	defer cancelDial()
	tc, err := temporalclient.Dial(dialCtx, cfg.Temporal, logger, metrics.NewSDKHandler(registry))
	if err != nil {
		return api.Handlers{}, nil, err
	}
	opts := api.Options{
		Client: tc, Namespace: cfg.Temporal.Namespace, TaskQueue: cfg.Temporal.TaskQueue,
		Clients: cfg.API.Clients, Policy: cfg.Policy, Codec: cfg.Temporal.Codec, CodecOrigins: cfg.API.CodecOrigins,
		SecureCookies: strings.HasPrefix(strings.ToLower(cfg.API.PublicURL), "https://"),
		Logger:        logger, Registry: registry, RequestTimeout: cfg.API.RequestTimeout,
		Notifies: cfg.Webhooks.Has, Webhooks: cfg.WebhookStore, ReissueMargin: cfg.API.ReissueMargin, OpsListener: cfg.API.OpsAddr != "",
	}
	ents, err := Enterprises(cfg, logger)
	if err != nil {
		tc.Close()
		return api.Handlers{}, nil, &SettingsError{err}
	}
	if ents != nil { // a nil *Registry in the interface would not be nil
		ents.Watch(ctx, cfg.EnterprisesFile, func() ([]enterprises.Spec, error) {
			return config.ReloadEnterprises(getenv)
		}, enterprises.Hangups(ctx), enterprises.DefaultWatchEvery)
		opts.Enterprises = ents
	}
	handlers, err := api.BuildHandlers(opts)
	if err != nil {
		tc.Close()
		return api.Handlers{}, nil, &SettingsError{err}
	}
	counts := api.BillCountOptions{Client: tc, Namespace: cfg.Temporal.Namespace, Registry: registry, Logger: logger}
	if cfg.Policy != nil {
		counts.Roles = cfg.Policy.Roles()
	}
	if ents != nil {
		counts.Enterprises = func() []string { return taxNumbers(ents) }
	}
	go api.CountBills(ctx, counts)
	return handlers, tc, nil
}

// taxNumbers are the registry's enterprises, the values of the bill gauges' enterprise label.
func taxNumbers(r *enterprises.Registry) []string {
	var out []string
	for _, e := range r.List() {
		out = append(out, e.TaxNo)
	}
	return out
}

// Enterprises is what bills are checked against at start (and pushes authenticated by), by the
// API and the CLI: the registry file's enterprises. Without a file it is nil: the worker's one
// enterprise takes any tax number.
func Enterprises(cfg Config, logger *slog.Logger) (*enterprises.Registry, error) {
	if cfg.EnterprisesFile == "" {
		return nil, nil
	}
	r, err := enterprises.New(cfg.Enterprises, enterprises.Options{Logger: logger, PushMaxAge: cfg.PushMaxAge})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvEnterprisesFile, err)
	}
	return r, nil
}

// watchedEnterprises is the registry of cfg's enterprises; with a file it reloads on SIGHUP or
// when the file changes, until ctx ends.
func watchedEnterprises(ctx context.Context, cfg Config, getenv func(string) string, opts enterprises.Options) (*enterprises.Registry, error) {
	ents, err := enterprises.New(cfg.Enterprises, opts)
	if err != nil {
		return nil, err
	}
	if cfg.EnterprisesFile != "" {
		ents.Watch(ctx, cfg.EnterprisesFile, func() ([]enterprises.Spec, error) {
			return config.ReloadEnterprises(getenv)
		}, enterprises.Hangups(ctx), enterprises.DefaultWatchEvery)
	}
	return ents, nil
}
