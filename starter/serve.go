package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"rimflow/internal/access"
	"rimflow/internal/app"
	"rimflow/internal/config"
	"rimflow/internal/jsonlog"
	"rimflow/internal/policy"
)

// serve runs the HTTP API until the context ends, then shuts down gracefully.
func (c *cli) serve(args []string) error {
	cfg, err := app.Load(c.getenv, config.ForAPIServer)
	if err != nil {
		return usageError("environment", err.Error())
	}
	fs, _ := c.flags("serve")
	addr := fs.String("addr", cfg.API.Addr, "listen address (env "+config.EnvAPIAddr+")")
	positional, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return usageError("args", "serve takes flags only")
	}
	// No open API off loopback: with no client configured anyone who reaches it could drive bills.
	if err := access.CheckListen("the API", *addr, cfg.API.Clients); err != nil {
		return usageError("--addr", err.Error())
	}
	logger := jsonlog.New(c.stderr, cfg.LogLevel)
	handler, tc, err := app.NewAPI(c.ctx, cfg, c.getenv, logger)
	var settings *app.SettingsError
	if errors.As(err, &settings) {
		return usageError("environment", err.Error())
	}
	if err != nil {
		return err
	}
	c.temporal = tc
	if cfg.API.Clients.Open() {
		// Open on loopback: refuse a rebound DNS name (DNS rebinding), as the codec server does.
		handler = access.LoopbackHostOnly(handler, "/v1/push/")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return usageError("--addr", fmt.Sprintf("cannot listen on %s: %v", *addr, err))
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// An update may wait RequestTimeout for the worker; leave room to write the answer.
		WriteTimeout:   cfg.API.RequestTimeout + 15*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	auth := "bearer"
	if cfg.API.Clients.Open() {
		auth = "open"
		logger.Warn("the API is OPEN (no " + config.EnvAPIClientsFile + " or " + config.EnvAPIToken + "): it listens on loopback only")
	}
	if cfg.Policy.Source() == policy.Default().Source() {
		logger.Warn("no " + config.EnvPolicyFile + ": callers choose every option of their bills (approval chain, image mode…)")
	}
	url := "http://" + ln.Addr().String()
	logger.Info("rimflow API listening", "url", url, "auth", auth, "config", cfg, "codec", url+"/v1/codec")
	printJSON(c.stdout, map[string]string{"listening": url, "auth": auth})

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-c.ctx.Done():
	}
	logger.Info("rimflow API stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("rimflow API stopped")
	return nil
}
