package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rimflow/api"
	"rimflow/invoicecloud"
)

// env is a getenv over m, starting from the legacy credentials the worker needs.
func env(m map[string]string) func(string) string {
	all := map[string]string{
		EnvCloudAppID: "app", EnvCloudAppSecret: "app-secret-value", EnvCloudTenantID: "tenant",
		EnvCloudAccountID: "account", EnvCloudUser: "13800000000",
	}
	for k, v := range m {
		all[k] = v
	}
	return func(k string) string { return all[k] }
}

// bare is a getenv over m alone.
func bare(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil), ForWorker|ForAPIServer)
	if err != nil {
		t.Fatal(err)
	}
	if c.Temporal.Address != "127.0.0.1:7233" || c.Temporal.Namespace != "default" || c.Temporal.TaskQueue != "rimflow-bills" ||
		c.Cloud.AuthMode != invoicecloud.AuthLegacy || c.Cloud.TokenPlacement != invoicecloud.TokenInHeader ||
		c.LogLevel != slog.LevelInfo || c.Worker.MetricsAddr != "" || c.Worker.WorkflowCacheSize != 1000 ||
		c.Cloud.MessageTypes.Unbind != "billDelete" || c.Cloud.Paths.PollData != invoicecloud.DefaultPaths().PollData ||
		c.API.Addr != "127.0.0.1:8080" || c.API.Token != "" || c.API.RequestTimeout != api.DefaultRequestTimeout {
		t.Errorf("defaults = %v", c)
	}
	// Every variable is documented once, in exactly one part.
	seen := map[string]bool{}
	for _, v := range Vars() {
		if seen[v.Name] || !strings.HasPrefix(v.Name, "RIMFLOW_") || v.Meaning == "" || v.Part == 0 || v.Part&(v.Part-1) != 0 {
			t.Errorf("bad Var %+v", v)
		}
		seen[v.Name] = true
	}
}

func TestLoadNamesBadVariables(t *testing.T) {
	_, err := Load(env(map[string]string{
		EnvTemporalAddress: "nohost", EnvLogLevel: "loud", EnvTemporalTLSCert: "/nonexistent.pem", EnvMetricsAddr: "nope",
		EnvWorkflowCacheSize: "0", EnvAPIRequestTimeout: "soon", EnvCloudBaseURL: "ftp://x",
	}), ForWorker|ForAPIServer)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, name := range []string{EnvTemporalAddress, EnvLogLevel, EnvTemporalTLSCert, EnvMetricsAddr, EnvWorkflowCacheSize,
		EnvAPIRequestTimeout, EnvCloudBaseURL} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

// The cloud settings get one verdict, the client's own, reported under the variable's name.
func TestCloudVerdictNamesTheVariable(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(string) string
		want string
	}{
		{"legacy without credentials", bare(nil), EnvCloudAppID},
		{"legacy without the user", env(map[string]string{EnvCloudUser: ""}), EnvCloudUser},
		{"oauth2 with a client id only", bare(map[string]string{EnvCloudAuthMode: "oauth2", EnvCloudClientID: "id"}), EnvCloudClientSecret},
		{"unknown auth mode", env(map[string]string{EnvCloudAuthMode: "magic"}), EnvCloudAuthMode},
		{"unknown token placement", env(map[string]string{EnvCloudTokenPlace: "sideways"}), EnvCloudTokenPlace},
		{"oauth2 token in the query", bare(map[string]string{EnvCloudAuthMode: "OAuth2", EnvCloudClientID: "id",
			EnvCloudClientSecret: "cs", EnvCloudUsername: "u", EnvCloudAccountID: "a", EnvCloudTokenPlace: "query"}), EnvCloudTokenPlace},
		{"not an http URL", env(map[string]string{EnvCloudBaseURL: "ftp://x"}), EnvCloudBaseURL},
		{"URL with a query", env(map[string]string{EnvCloudBaseURL: "https://cloud.example/t?access_token=abc"}), EnvCloudBaseURL},
		{"relative poll path", env(map[string]string{EnvCloudPollPath: "poll"}), EnvCloudPollPath},
		{"relative receipt path", env(map[string]string{EnvCloudReceiptPath: "receipt"}), EnvCloudReceiptPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.env, ForWorker)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want+": ") {
				t.Fatalf("error %v does not start with %s", err, tc.want)
			}
			for _, s := range []string{"app-secret-value", "abc", "cs"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows %q: %v", s, err)
				}
			}
		})
	}
	_, err := Load(env(map[string]string{EnvCloudBaseURL: "https://me:pa55word@cloud.example/t"}), ForWorker)
	if err == nil || !strings.Contains(err.Error(), EnvCloudBaseURL) || strings.Contains(err.Error(), "pa55word") {
		t.Errorf("user info in the URL: %v", err)
	}

	c, err := Load(env(map[string]string{EnvCloudBaseURL: "https://cloud.example/tenant/", EnvCloudAuthMode: "LEGACY"}), ForWorker)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cloud.BaseURL != "https://cloud.example/tenant" || c.Cloud.AuthMode != invoicecloud.AuthLegacy || c.Cloud.AppSecret != "app-secret-value" {
		t.Errorf("cloud = %v", c)
	}
	if _, err := invoicecloud.New(c.Cloud); err != nil {
		t.Errorf("the client refuses what Load accepted: %v", err)
	}
}

// Each program reads only its parts: a setting another program needs cannot stop it.
func TestProgramsReadOnlyTheirParts(t *testing.T) {
	others := map[string]string{
		EnvCloudBaseURL: "ftp://x", EnvMetricsAddr: "nope", EnvAPIRequestTimeout: "soon", EnvLogLevel: "loud",
		EnvTemporalAddress: "nohost", EnvAPIToken: "devstack-token",
	}
	cli := map[string]string{}
	for k, v := range others {
		cli[k] = v
	}
	cli[EnvTemporalAddress] = "temporal.example:7233"
	c, err := Load(bare(cli), ForCLI)
	if err != nil || c.Temporal.Address != "temporal.example:7233" {
		t.Errorf("CLI: %v %v", c, err)
	}
	if c.Cloud.BaseURL != "" || c.API.Token != "" || strings.Contains(c.String(), "cloud") {
		t.Errorf("CLI loaded parts it does not read: %v", c)
	}

	dev := map[string]string{}
	for k, v := range others {
		dev[k] = v
	}
	dev[EnvLogLevel] = "debug"
	c, err = Load(bare(dev), ForDevstack)
	if err != nil || c.API.Token != "devstack-token" || c.LogLevel != slog.LevelDebug {
		t.Errorf("devstack: %v %v", c, err)
	}

	if _, err := Load(bare(map[string]string{EnvTemporalAddress: "nohost"}), ForAPIServer); err == nil ||
		!strings.Contains(err.Error(), EnvTemporalAddress) || strings.Contains(err.Error(), "RIMFLOW_CLOUD_") {
		t.Errorf("API server: %v", err)
	}
	if got := len(VarsFor(ForCLI)); got != 9 {
		t.Errorf("the CLI reads %d variables, want the 7 of the Temporal connection, the webhooks file and the enterprises file", got)
	}
}

func TestSecretsFromFilesAndRedacted(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("api-token-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{
		EnvCloudAppSecret: "", EnvCloudAppSecret + "_FILE": file, EnvTemporalAPIKey: "key-value-123",
		EnvCloudClientSecret: "client-secret-xyz", EnvAPIToken + "_FILE": tokenFile, EnvAPIAddr: ":9000",
		EnvAPIRequestTimeout: "5s",
	}), ForWorker|ForAPIServer)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cloud.AppSecret != "s3cr3t-value" || c.API.Token != "api-token-value" || c.API.Addr != ":9000" || c.API.RequestTimeout != 5*time.Second {
		t.Errorf("from files: appSecret %q, API %v", c.Cloud.AppSecret, c)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "config", c)
	for _, out := range []string{c.String(), fmt.Sprintf("%v %+v %#v", c, c, c), logged.String()} {
		for _, secret := range []string{"s3cr3t-value", "key-value-123", "client-secret-xyz", "api-token-value"} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q printed: %s", secret, out)
			}
		}
		if !strings.Contains(out, "redacted") || !strings.Contains(out, "9000") {
			t.Errorf("no redaction marker or no API address in %s", out)
		}
	}

	for name, vars := range map[string]map[string]string{
		EnvCloudAppSecret:           {EnvCloudAppSecret: "direct-secret", EnvCloudAppSecret + "_FILE": file},
		EnvCloudAppSecret + "_FILE": {EnvCloudAppSecret: "", EnvCloudAppSecret + "_FILE": filepath.Join(dir, "missing")},
		EnvAPIToken:                 {EnvAPIToken: "direct-secret", EnvAPIToken + "_FILE": tokenFile},
		EnvAPIToken + "_FILE":       {EnvAPIToken + "_FILE": filepath.Join(dir, "missing")},
	} {
		_, err := Load(env(vars), ForWorker|ForAPIServer)
		if err == nil || !strings.HasPrefix(err.Error(), name+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v does not name the variable, alone", name, err)
		}
		if err != nil && (strings.Contains(err.Error(), "direct-secret") || strings.Contains(err.Error(), "s3cr3t") ||
			strings.Contains(err.Error(), "api-token-value")) {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}
}
