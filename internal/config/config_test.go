package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Temporal.Address != "127.0.0.1:7233" || c.Temporal.Namespace != "default" || c.Temporal.TaskQueue != "rimflow-bills" ||
		c.Cloud.AuthMode != "legacy" || c.Cloud.TokenPlacement != "header" || c.LogLevel != slog.LevelInfo || c.MetricsAddr != "" ||
		c.Cloud.UnbindMessageType != "billDelete" {
		t.Errorf("defaults = %v", c)
	}
	// Every variable read is documented, and every documented default is what Load uses.
	seen := map[string]bool{}
	for _, v := range Vars() {
		if seen[v.Name] || !strings.HasPrefix(v.Name, "RIMFLOW_") || v.Meaning == "" {
			t.Errorf("bad Var %+v", v)
		}
		seen[v.Name] = true
	}
}

func TestLoadNamesBadVariables(t *testing.T) {
	_, err := Load(env(map[string]string{
		EnvTemporalAddress: "nohost", EnvCloudBaseURL: "ftp://x", EnvCloudAuthMode: "magic", EnvLogLevel: "loud",
		EnvTemporalTLSCert: "/nonexistent.pem", EnvMetricsAddr: "nope", EnvCloudPollPath: "poll",
	}))
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, name := range []string{EnvTemporalAddress, EnvCloudBaseURL, EnvCloudAuthMode, EnvLogLevel, EnvTemporalTLSCert, EnvMetricsAddr, EnvCloudPollPath} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestSecretsFromFilesAndRedacted(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{EnvCloudAppSecret + "_FILE": file, EnvTemporalAPIKey: "key-value-123", EnvCloudClientSecret: "client-secret-xyz"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cloud.AppSecret != "s3cr3t-value" {
		t.Errorf("secret from file = %q", c.Cloud.AppSecret)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "config", c)
	for _, out := range []string{c.String(), fmt.Sprintf("%v %+v %#v", c, c, c), logged.String()} {
		for _, secret := range []string{"s3cr3t-value", "key-value-123", "client-secret-xyz"} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q printed: %s", secret, out)
			}
		}
		if !strings.Contains(out, "redacted") {
			t.Errorf("no redaction marker in %s", out)
		}
	}
	if _, err := Load(env(map[string]string{EnvCloudAppSecret: "a", EnvCloudAppSecret + "_FILE": file})); err == nil || !strings.Contains(err.Error(), EnvCloudAppSecret) {
		t.Errorf("both value and file: %v", err)
	}
	if _, err := Load(env(map[string]string{EnvCloudAppSecret + "_FILE": filepath.Join(dir, "missing")})); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("missing file: %v", err)
	}
}

func TestMissingCloudCredentials(t *testing.T) {
	c, _ := Load(env(map[string]string{EnvCloudAuthMode: "oauth2", EnvCloudClientID: "id"}))
	got := strings.Join(c.MissingCloudCredentials(), ",")
	if got != EnvCloudClientSecret+","+EnvCloudUsername+","+EnvCloudAccountID {
		t.Errorf("missing = %s", got)
	}
}
