package api

import (
	"fmt"
	"os"
	"strings"
	"time"

	"rimflow/internal/config"
)

// The API's own environment variables (`starter serve`); the Temporal connection is config.Vars().
const (
	EnvAPIAddr           = "RIMFLOW_API_ADDR"
	EnvAPIToken          = "RIMFLOW_API_TOKEN"
	EnvAPIRequestTimeout = "RIMFLOW_API_REQUEST_TIMEOUT"
)

// Vars lists the API's variables with defaults and meanings (README table, compose test).
func Vars() []config.Var {
	return []config.Var{
		{Name: EnvAPIAddr, Default: "127.0.0.1:8080", Meaning: "listen address of the HTTP API (starter serve)"},
		{Name: EnvAPIToken, Default: "", Meaning: "bearer token API callers must send; empty = open (loopback only!)", Secret: true},
		{Name: EnvAPIRequestTimeout, Default: DefaultRequestTimeout.String(), Meaning: "how long one API call may wait for Temporal and the worker"},
	}
}

// Env is the API's configuration read from the environment.
type Env struct {
	Addr           string
	Token          string
	RequestTimeout time.Duration
}

// String never shows the token.
func (e Env) String() string {
	token := "none (open)"
	if e.Token != "" {
		token = "set"
	}
	return fmt.Sprintf("addr=%s token=%s requestTimeout=%s", e.Addr, token, e.RequestTimeout)
}

// LoadEnv reads the API's variables; the token may come from RIMFLOW_API_TOKEN_FILE. Errors name
// the variable and never echo a secret.
func LoadEnv(getenv func(string) string) (Env, error) {
	env := Env{Addr: strings.TrimSpace(getenv(EnvAPIAddr)), RequestTimeout: DefaultRequestTimeout}
	if env.Addr == "" {
		env.Addr = "127.0.0.1:8080"
	}
	token := strings.TrimSpace(getenv(EnvAPIToken))
	if file := strings.TrimSpace(getenv(EnvAPIToken + "_FILE")); file != "" {
		if token != "" {
			return Env{}, fmt.Errorf("%s: set either %s or %s_FILE, not both", EnvAPIToken, EnvAPIToken, EnvAPIToken)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return Env{}, fmt.Errorf("%s_FILE: cannot read %q", EnvAPIToken, file)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return Env{}, fmt.Errorf("%s_FILE: file %q is empty", EnvAPIToken, file)
		}
	}
	env.Token = token
	if s := strings.TrimSpace(getenv(EnvAPIRequestTimeout)); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return Env{}, fmt.Errorf("%s: must be a positive duration like 30s, got %q", EnvAPIRequestTimeout, s)
		}
		env.RequestTimeout = d
	}
	return env, nil
}
