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
	opsAddr := fs.String("ops-addr", cfg.API.OpsAddr, "listen address of /metrics and /healthz without a token, on a private network (env "+config.EnvAPIOpsAddr+"; empty = /metrics on --addr, for a client with the metrics operation)")
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
	if *opsAddr != "" {
		if err := access.CheckOpsListen(*opsAddr); err != nil {
			return usageError("--ops-addr", err.Error())
		}
	}
	cfg.API.OpsAddr = *opsAddr
	logger := jsonlog.New(c.stderr, cfg.LogLevel)
	handlers, tc, err := app.NewAPI(c.ctx, cfg, c.getenv, logger)
	var settings *app.SettingsError
	if errors.As(err, &settings) {
		return usageError("environment", err.Error())
	}
	if err != nil {
		return err
	}
	c.temporal = tc
	handler := handlers.API
	if cfg.API.Clients.Open() {
		// Open on loopback: refuse a rebound DNS name (DNS rebinding), as the codec server does.
		handler = access.LoopbackHostOnly(handler, "/v1/push/")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return usageError("--addr", fmt.Sprintf("cannot listen on %s: %v", *addr, err))
	}
	var opsLn net.Listener
	if handlers.Ops != nil {
		if opsLn, err = net.Listen("tcp", *opsAddr); err != nil {
			_ = ln.Close()
			return usageError("--ops-addr", fmt.Sprintf("cannot listen on %s: %v", *opsAddr, err))
		}
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
	ready := map[string]string{"listening": url, "auth": auth}
	served := make(chan error, 2)
	var opsSrv *http.Server
	if opsLn != nil {
		// The scraper's and the probes' listener: no token, short timeouts, nothing else served.
		opsSrv = &http.Server{Handler: handlers.Ops, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		ready["ops"] = "http://" + opsLn.Addr().String()
		go func() { served <- opsSrv.Serve(opsLn) }()
	}
	logger.Info("rimflow API listening", "url", url, "auth", auth, "config", cfg, "codec", url+"/v1/codec", "ops", ready["ops"])
	printJSON(c.stdout, ready)

	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		if opsSrv != nil {
			_ = opsSrv.Close()
		}
		_ = srv.Close()
		return err
	case <-c.ctx.Done():
	}
	logger.Info("rimflow API stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if opsSrv != nil {
		// The probes see the API go down with it.
		_ = opsSrv.Shutdown(shutdownCtx)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("rimflow API stopped")
	return nil
}
