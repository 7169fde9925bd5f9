// Package config reads rimflow's process configuration from the environment.
// Every variable is listed in Vars (the README table and the compose-consistency test use it);
// secrets come from the variable or from a file named by <VAR>_FILE and are never printed.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// Temporal is how the worker (and the API) reach Temporal.
type Temporal struct {
	Address   string
	Namespace string
	TaskQueue string
	// TLS files (PEM). Cert and Key go together; CA alone verifies the server with a private CA.
	TLSCert string
	TLSKey  string
	TLSCA   string
	// APIKey (Temporal Cloud) is sent as a bearer credential; implies TLS.
	APIKey string
}

// TLS reports whether the connection uses TLS.
func (t Temporal) TLS() bool { return t.TLSCert != "" || t.TLSCA != "" || t.APIKey != "" }

// Cloud is how the worker reaches Invoice Cloud.
type Cloud struct {
	BaseURL        string
	AuthMode       invoicecloud.AuthMode
	TokenPlacement invoicecloud.TokenPlacement
	AppID          string
	AppSecret      string
	TenantID       string
	AccountID      string
	User           string
	ClientID       string
	ClientSecret   string
	Username       string
	// [assumed] parts of the vendor API, overridable.
	UnbindMessageType string
	PollPath          string
	ReceiptPath       string
}

// Config is the whole process configuration.
type Config struct {
	Temporal    Temporal
	Cloud       Cloud
	LogLevel    slog.Level
	MetricsAddr string // worker's /metrics listen address; empty = off
	// WorkflowCacheSize bounds the bills a worker keeps in memory between their events; an evicted
	// bill is replayed from its (short) history when its next event comes.
	WorkflowCacheSize int
}

// Var documents one environment variable.
type Var struct {
	Name    string
	Default string
	Meaning string
	Secret  bool // also read from <Name>_FILE; never printed
}

// Variable names.
const (
	EnvTemporalAddress   = "RIMFLOW_TEMPORAL_ADDRESS"
	EnvTemporalNamespace = "RIMFLOW_TEMPORAL_NAMESPACE"
	EnvTaskQueue         = "RIMFLOW_TASK_QUEUE"
	EnvTemporalTLSCert   = "RIMFLOW_TEMPORAL_TLS_CERT"
	EnvTemporalTLSKey    = "RIMFLOW_TEMPORAL_TLS_KEY"
	EnvTemporalTLSCA     = "RIMFLOW_TEMPORAL_TLS_CA"
	EnvTemporalAPIKey    = "RIMFLOW_TEMPORAL_API_KEY"
	EnvCloudBaseURL      = "RIMFLOW_CLOUD_BASE_URL"
	EnvCloudAuthMode     = "RIMFLOW_CLOUD_AUTH_MODE"
	EnvCloudTokenPlace   = "RIMFLOW_CLOUD_TOKEN_PLACEMENT"
	EnvCloudAppID        = "RIMFLOW_CLOUD_APP_ID"
	EnvCloudAppSecret    = "RIMFLOW_CLOUD_APP_SECRET"
	EnvCloudTenantID     = "RIMFLOW_CLOUD_TENANT_ID"
	EnvCloudAccountID    = "RIMFLOW_CLOUD_ACCOUNT_ID"
	EnvCloudUser         = "RIMFLOW_CLOUD_USER"
	EnvCloudClientID     = "RIMFLOW_CLOUD_CLIENT_ID"
	EnvCloudClientSecret = "RIMFLOW_CLOUD_CLIENT_SECRET"
	EnvCloudUsername     = "RIMFLOW_CLOUD_USERNAME"
	EnvCloudUnbindType   = "RIMFLOW_CLOUD_UNBIND_MESSAGE_TYPE"
	EnvCloudPollPath     = "RIMFLOW_CLOUD_POLL_PATH"
	EnvCloudReceiptPath  = "RIMFLOW_CLOUD_RECEIPT_PATH"
	EnvLogLevel          = "RIMFLOW_LOG_LEVEL"
	EnvMetricsAddr       = "RIMFLOW_METRICS_ADDR"
	EnvWorkflowCacheSize = "RIMFLOW_WORKFLOW_CACHE_SIZE"
)

// Vars lists every variable Load reads, in a stable order, with its default and meaning.
// Secret variables are also read from <Name>_FILE (the file's content, trailing newline trimmed).
func Vars() []Var {
	return []Var{
		{EnvTemporalAddress, "127.0.0.1:7233", "Temporal frontend host:port", false},
		{EnvTemporalNamespace, "default", "Temporal namespace", false},
		{EnvTaskQueue, workflows.DefaultTaskQueue, "task queue of the bill workflows", false},
		{EnvTemporalTLSCert, "", "client certificate file (PEM) for mTLS; needs " + EnvTemporalTLSKey, false},
		{EnvTemporalTLSKey, "", "client key file (PEM) for mTLS; needs " + EnvTemporalTLSCert, false},
		{EnvTemporalTLSCA, "", "CA file (PEM) that verifies the Temporal server; empty = system roots", false},
		{EnvTemporalAPIKey, "", "Temporal Cloud API key (implies TLS)", true},
		{EnvCloudBaseURL, "http://127.0.0.1:8090", "Invoice Cloud base URL (default: the local simulator)", false},
		{EnvCloudAuthMode, string(invoicecloud.AuthLegacy), "legacy (app_token -> access_token) or oauth2", false},
		{EnvCloudTokenPlace, string(invoicecloud.TokenInHeader), "where the access token travels: header or query", false},
		{EnvCloudAppID, "", "legacy auth: appId", false},
		{EnvCloudAppSecret, "", "legacy auth: appSecuret", true},
		{EnvCloudTenantID, "", "legacy auth: tenantid", false},
		{EnvCloudAccountID, "", "accountId (data centre id), both auth modes", false},
		{EnvCloudUser, "", "legacy auth: user (mobile or user name)", false},
		{EnvCloudClientID, "", "oauth2 auth: client_id", false},
		{EnvCloudClientSecret, "", "oauth2 auth: client_secret", true},
		{EnvCloudUsername, "", "oauth2 auth: username", false},
		{EnvCloudUnbindType, "billDelete", "[assumed] messageType of the unbind call", false},
		{EnvCloudPollPath, "/polling/fpzs/invoice/data/v2", "[assumed] long-poll path", false},
		{EnvCloudReceiptPath, "/polling/fpzs/portal/receipt", "[assumed] poll receipt path", false},
		{EnvLogLevel, "info", "debug, info, warn or error", false},
		{EnvMetricsAddr, "", "listen address of the worker's /metrics (e.g. :9090); empty = off", false},
		{EnvWorkflowCacheSize, "1000", "bills a worker keeps cached in memory; more are replayed from history on their next event", false},
	}
}

// Load reads the configuration through getenv (os.Getenv in production, a map in tests).
// Every error names the variable; all problems are reported at once.
func Load(getenv func(string) string) (Config, error) {
	vals := map[string]string{}
	var errs []error
	for _, v := range Vars() {
		val, err := read(getenv, v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		vals[v.Name] = val
	}
	get := func(name string) string { return vals[name] }

	c := Config{
		Temporal: Temporal{
			Address:   get(EnvTemporalAddress),
			Namespace: get(EnvTemporalNamespace),
			TaskQueue: get(EnvTaskQueue),
			TLSCert:   get(EnvTemporalTLSCert),
			TLSKey:    get(EnvTemporalTLSKey),
			TLSCA:     get(EnvTemporalTLSCA),
			APIKey:    get(EnvTemporalAPIKey),
		},
		Cloud: Cloud{
			BaseURL:           strings.TrimRight(get(EnvCloudBaseURL), "/"),
			AuthMode:          invoicecloud.AuthMode(strings.ToLower(get(EnvCloudAuthMode))),
			TokenPlacement:    invoicecloud.TokenPlacement(strings.ToLower(get(EnvCloudTokenPlace))),
			AppID:             get(EnvCloudAppID),
			AppSecret:         get(EnvCloudAppSecret),
			TenantID:          get(EnvCloudTenantID),
			AccountID:         get(EnvCloudAccountID),
			User:              get(EnvCloudUser),
			ClientID:          get(EnvCloudClientID),
			ClientSecret:      get(EnvCloudClientSecret),
			Username:          get(EnvCloudUsername),
			UnbindMessageType: get(EnvCloudUnbindType),
			PollPath:          get(EnvCloudPollPath),
			ReceiptPath:       get(EnvCloudReceiptPath),
		},
		MetricsAddr: get(EnvMetricsAddr),
	}
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}

	if _, _, err := net.SplitHostPort(c.Temporal.Address); err != nil {
		bad(EnvTemporalAddress, "want host:port, got %q", c.Temporal.Address)
	}
	if (c.Temporal.TLSCert == "") != (c.Temporal.TLSKey == "") {
		bad(EnvTemporalTLSCert, "%s and %s must be set together", EnvTemporalTLSCert, EnvTemporalTLSKey)
	}
	for _, f := range []struct{ name, path string }{
		{EnvTemporalTLSCert, c.Temporal.TLSCert}, {EnvTemporalTLSKey, c.Temporal.TLSKey}, {EnvTemporalTLSCA, c.Temporal.TLSCA},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			bad(f.name, "cannot read file %q", f.path)
		}
	}
	if u, err := url.Parse(c.Cloud.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(EnvCloudBaseURL, "want an http(s) URL such as https://cosmic-sandbox.piaozone.com/tenant, got %q", redactURL(c.Cloud.BaseURL))
	} else if u.RawQuery != "" || u.User != nil {
		bad(EnvCloudBaseURL, "must not carry a query string or user info")
	}
	if c.Cloud.AuthMode != invoicecloud.AuthLegacy && c.Cloud.AuthMode != invoicecloud.AuthOAuth2 {
		bad(EnvCloudAuthMode, "want legacy or oauth2, got %q", c.Cloud.AuthMode)
	}
	if c.Cloud.TokenPlacement != invoicecloud.TokenInHeader && c.Cloud.TokenPlacement != invoicecloud.TokenInQuery {
		bad(EnvCloudTokenPlace, "want header or query, got %q", c.Cloud.TokenPlacement)
	}
	for _, p := range []struct{ name, v string }{{EnvCloudPollPath, c.Cloud.PollPath}, {EnvCloudReceiptPath, c.Cloud.ReceiptPath}} {
		if !strings.HasPrefix(p.v, "/") {
			bad(p.name, "want a path starting with '/', got %q", p.v)
		}
	}
	if c.Cloud.UnbindMessageType == "" {
		bad(EnvCloudUnbindType, "must not be empty")
	}
	if err := c.LogLevel.UnmarshalText([]byte(get(EnvLogLevel))); err != nil {
		bad(EnvLogLevel, "want debug, info, warn or error, got %q", get(EnvLogLevel))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad(EnvMetricsAddr, "want host:port or :port, got %q", c.MetricsAddr)
		}
	}
	if n, err := strconv.Atoi(get(EnvWorkflowCacheSize)); err != nil || n < 1 {
		bad(EnvWorkflowCacheSize, "want a whole number of at least 1, got %q", get(EnvWorkflowCacheSize))
	} else {
		c.WorkflowCacheSize = n
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// read returns a variable's value: the variable, else its _FILE for secrets, else the default.
func read(getenv func(string) string, v Var) (string, error) {
	val := strings.TrimSpace(getenv(v.Name))
	if v.Secret {
		file := strings.TrimSpace(getenv(v.Name + "_FILE"))
		if file != "" {
			if val != "" {
				return "", fmt.Errorf("%s: set either %s or %s_FILE, not both", v.Name, v.Name, v.Name)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				// The path is not secret; the content is never echoed.
				return "", fmt.Errorf("%s_FILE: cannot read %q", v.Name, file)
			}
			val = strings.TrimRight(string(b), "\r\n")
			if val == "" {
				return "", fmt.Errorf("%s_FILE: file %q is empty", v.Name, file)
			}
		}
	}
	if val == "" {
		val = v.Default
	}
	return val, nil
}

// MissingCloudCredentials names the credential variables the chosen auth mode needs but lacks.
// The simulator accepts its documented defaults, so this is a warning at start-up, not a Load error.
func (c Config) MissingCloudCredentials() []string {
	var need []struct{ name, v string }
	switch c.Cloud.AuthMode {
	case invoicecloud.AuthOAuth2:
		need = []struct{ name, v string }{
			{EnvCloudClientID, c.Cloud.ClientID}, {EnvCloudClientSecret, c.Cloud.ClientSecret},
			{EnvCloudUsername, c.Cloud.Username}, {EnvCloudAccountID, c.Cloud.AccountID},
		}
	default:
		need = []struct{ name, v string }{
			{EnvCloudAppID, c.Cloud.AppID}, {EnvCloudAppSecret, c.Cloud.AppSecret}, {EnvCloudTenantID, c.Cloud.TenantID},
			{EnvCloudAccountID, c.Cloud.AccountID}, {EnvCloudUser, c.Cloud.User},
		}
	}
	var missing []string
	for _, n := range need {
		if n.v == "" {
			missing = append(missing, n.name)
		}
	}
	return missing
}

// InvoiceCloud builds the client configuration; logger and observe may be nil.
func (c Config) InvoiceCloud(logger *slog.Logger, observe func(name, outcome string, took time.Duration)) invoicecloud.Config {
	return invoicecloud.Config{
		BaseURL:        c.Cloud.BaseURL,
		AuthMode:       c.Cloud.AuthMode,
		TokenPlacement: c.Cloud.TokenPlacement,
		AppID:          c.Cloud.AppID,
		AppSecret:      c.Cloud.AppSecret,
		TenantID:       c.Cloud.TenantID,
		AccountID:      c.Cloud.AccountID,
		User:           c.Cloud.User,
		ClientID:       c.Cloud.ClientID,
		ClientSecret:   c.Cloud.ClientSecret,
		Username:       c.Cloud.Username,
		Paths: invoicecloud.Paths{
			PollData:    c.Cloud.PollPath,
			PollReceipt: c.Cloud.ReceiptPath,
		},
		MessageTypes: invoicecloud.MessageTypes{Unbind: c.Cloud.UnbindMessageType},
		Logger:       logger,
		Observe:      observe,
	}
}
