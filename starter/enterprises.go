package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"rimflow/internal/config"
	"rimflow/internal/enterprises"
)

// EnterpriseCheck is one line of `starter enterprises check`.
type EnterpriseCheck struct {
	enterprises.Info
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"` // the cloud's refusal, naming the field (never a secret)
}

// errSomeEnterpriseFailed makes `enterprises check` exit non-zero after printing every result.
var errSomeEnterpriseFailed = errors.New("at least one enterprise cannot log in")

// enterprises: `starter enterprises list` prints the registry (no secrets); `starter enterprises
// check` logs in to each enterprise's cloud at once and reports each (exit 1 if one fails).
func (c *cli) enterprises(args []string) error {
	fs, co := c.flags("enterprises")
	positional, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 || (positional[0] != "check" && positional[0] != "list") {
		return usageError("args", "enterprises takes one of: list, check")
	}
	// The worker's view: the registry file, or the one enterprise RIMFLOW_CLOUD_* describe.
	cfg, err := config.Load(c.getenv, config.PartCloud|config.PartEnterprises)
	if err != nil {
		return usageError("environment", err.Error())
	}
	reg, err := enterprises.New(cfg.Enterprises, enterprises.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return usageError("environment", err.Error())
	}
	if positional[0] == "list" {
		printJSON(c.stdout, map[string]any{"enterprises": reg.List()})
		return nil
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	all := reg.All()
	out := make([]EnterpriseCheck, len(all))
	var wg sync.WaitGroup
	for i, e := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = checkEnterprise(ctx, e)
		}()
	}
	wg.Wait()
	printJSON(c.stdout, map[string]any{"enterprises": out})
	for _, r := range out {
		if !r.OK {
			return errSomeEnterpriseFailed
		}
	}
	return nil
}

func checkEnterprise(ctx context.Context, e *enterprises.Enterprise) EnterpriseCheck {
	r := EnterpriseCheck{Info: e.Info(), OK: true}
	if err := e.Cloud.CheckLogin(ctx); err != nil {
		r.OK, r.Error = false, e.Label()+": "+err.Error()
	}
	return r
}
