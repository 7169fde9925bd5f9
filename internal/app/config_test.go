package app

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rimflow/internal/access"
	"rimflow/internal/codec"
	"rimflow/internal/config"
	"rimflow/internal/policy"
	"rimflow/workflows"
)

// internal/config is a leaf: it writes out the few names and defaults the libraries above it own.
func TestConfigAgreesWithTheLibrariesAboveIt(t *testing.T) {
	for _, c := range []struct{ name, config, library string }{
		{"task queue default", config.DefaultTaskQueue, workflows.DefaultTaskQueue},
		{"policy variable", config.EnvPolicyFile, policy.EnvPolicyFile},
		{"token variable", config.EnvAPIToken, access.EnvToken},
		{"encryption variable", config.EnvPayloadEncryption, codec.EnvEncryption},
	} {
		if c.config != c.library {
			t.Errorf("%s: internal/config says %q, the library %q", c.name, c.config, c.library)
		}
	}
}

func TestLoadReadsThePolicy(t *testing.T) {
	key, err := codec.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte("default:\n  approvals: [finance]\n  allowCallerOptions: [autoSubmit]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(vars map[string]string) func(string) string {
		return func(k string) string {
			if k == config.EnvCodecKeys {
				return key
			}
			return vars[k]
		}
	}

	c, err := Load(getenv(nil), config.ForAPIServer)
	if err != nil || c.Policy == nil || c.Policy.Source() != policy.Default().Source() || c.Temporal.Address != "127.0.0.1:7233" {
		t.Fatalf("defaults: policy %v, %v, err %v", c.Policy, c, err)
	}
	c, err = Load(getenv(map[string]string{config.EnvPolicyFile: " " + policyFile + " ", config.EnvAPIToken: "api-token-value-0123456789abcdef0123"}), config.ForAPIServer)
	if err != nil || c.Policy.Source() != policyFile {
		t.Fatalf("policy from its file: %v, err %v", c.Policy, err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "config", c)
	for _, out := range []string{c.String(), fmt.Sprintf("%v %+v %#v", c, c, c), logged.String()} {
		if !strings.Contains(out, policyFile) || !strings.Contains(out, "127.0.0.1:7233") || strings.Contains(out, "api-token-value-0123456789abcdef0123") {
			t.Errorf("the redacted view lacks the policy or the Temporal address, or shows the token: %s", out)
		}
	}
	if c, err := Load(getenv(nil), config.PartTemporal|config.PartCodec|config.PartLog); err != nil || c.Policy != nil {
		t.Errorf("without PartPolicy no policy is read: %v, err %v", c.Policy, err)
	}

	// Every problem at once: the settings' and the policy's, each named.
	_, err = Load(getenv(map[string]string{config.EnvPolicyFile: filepath.Join(dir, "none.yaml"), config.EnvTemporalAddress: "nohost"}), config.ForAPIServer)
	if err == nil || !strings.Contains(err.Error(), config.EnvPolicyFile) || !strings.Contains(err.Error(), config.EnvTemporalAddress) {
		t.Errorf("a missing policy file and a bad address: %v", err)
	}
}
