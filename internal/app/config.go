// Package app is where rimflow's programs are wired: configuration read (internal/config) and
// completed with what speaks the bill's vocabulary (the policy), and from it the clients, the
// registries, the worker (NewWorker, RunWorker) and the HTTP API (ServeAPI). ./worker, `starter`,
// the devstack's harness and the bench's worker process all build their pieces here, so the same
// code runs embedded, measured and in production. It never links the Temporal server.
package app

import (
	"errors"
	"fmt"
	"log/slog"

	"rimflow/internal/config"
	"rimflow/internal/policy"
)

// Config is a program's configuration: the settings internal/config read, and the policy.
type Config struct {
	config.Config
	// Policy decides each bill's options, duties and ops path at its start (config.PartPolicy).
	Policy *policy.Policy
}

// Load reads the given parts (config.Load) and, with config.PartPolicy, the policy file. All
// problems are reported at once, each naming its variable or file field.
func Load(getenv func(string) string, parts config.Part) (Config, error) {
	var errs []error
	cfg, err := config.Load(getenv, parts)
	if err != nil {
		errs = append(errs, err)
	}
	c := Config{Config: cfg}
	if parts&config.PartPolicy != 0 {
		// The variable is not a secret (no _FILE); LoadEnv trims it and names it in its errors.
		p, err := policy.LoadEnv(getenv)
		if err != nil {
			errs = append(errs, err) // names RIMFLOW_POLICY_FILE or the file and its field
		}
		c.Policy = p
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// String is config.Config's redacted one-line view, with the policy's source.
func (c Config) String() string {
	if c.Policy == nil {
		return c.Config.String()
	}
	return fmt.Sprintf("%s policy=%s", c.Config.String(), c.Policy.Source())
}

// GoString keeps %#v from printing secrets too.
func (c Config) GoString() string { return c.String() }

// LogValue is config.Config's redacted view, with the policy's source.
func (c Config) LogValue() slog.Value {
	attrs := c.Config.LogValue().Group()
	if c.Policy != nil {
		attrs = append(attrs, slog.String("policy", c.Policy.Source()))
	}
	return slog.GroupValue(attrs...)
}
