package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rimflow/internal/codec"
	"rimflow/invoicecloud/ultimate"
)

// testKey is a payload key entry ("k1:<base64>") for the programs that encrypt by default.
var testKey = func() string {
	k, err := codec.GenerateKey("k1")
	if err != nil {
		panic(err)
	}
	return k
}()

// env is a getenv over m, starting from the legacy credentials the worker needs and a payload key.
func env(m map[string]string) func(string) string {
	all := map[string]string{
		EnvCloudAppID: "app", EnvCloudAppSecret: "app-secret-value", EnvCloudTenantID: "tenant",
		EnvCloudAccountID: "account", EnvCloudUser: "13800000000", EnvCodecKeys: testKey,
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
		c.Cloud.AuthMode != ultimate.AuthLegacy || c.Cloud.TokenPlacement != ultimate.TokenInHeader ||
		c.LogLevel != slog.LevelInfo || c.Worker.MetricsAddr != "" || c.Worker.WorkflowCacheSize != 256 ||
		c.Worker.DeductionBatchSize != 100 || c.Worker.DeductionInterval != time.Hour ||
		c.Cloud.MessageTypes.Unbind != "billDelete" || c.Cloud.Paths.PollData != ultimate.DefaultPaths().PollData ||
		c.API.Addr != "127.0.0.1:8080" || c.API.Token != "" || c.API.RequestTimeout != DefaultAPIRequestTimeout ||
		!c.API.Clients.Open() ||
		!c.Codec.Encrypt || c.Temporal.Codec == nil || !c.Temporal.Codec.Encrypting() {
		t.Errorf("defaults = %v", c)
	}
	// Every variable is documented once, in exactly one part.
	seen := map[string]bool{}
	for _, v := range Vars() {
		// Ours carry RIMFLOW_; OpenTelemetry's standard ones keep their own names.
		ours := strings.HasPrefix(v.Name, "RIMFLOW_") || v.Part == PartTracing && strings.HasPrefix(v.Name, "OTEL_")
		if seen[v.Name] || !ours || v.Meaning == "" || v.Part == 0 || v.Part&(v.Part-1) != 0 {
			t.Errorf("bad Var %+v", v)
		}
		seen[v.Name] = true
	}
}

func TestLoadNamesBadVariables(t *testing.T) {
	_, err := Load(env(map[string]string{
		EnvTemporalAddress: "nohost", EnvLogLevel: "loud", EnvTemporalTLSCert: "/nonexistent.pem", EnvMetricsAddr: "nope",
		EnvWorkflowCacheSize: "0", EnvAPIRequestTimeout: "soon", EnvCloudBaseURL: "ftp://x", EnvReissueMargin: "9m",
		EnvAPIOpsAddr: "203.0.113.7:9091", EnvDeductionBatchSize: "0", EnvDeductionInterval: "1s",
		EnvPushMaxAge: "30s", EnvCloudNothingBound: "2001,,3004",
	}), ForWorker|ForAPIServer)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, name := range []string{EnvTemporalAddress, EnvLogLevel, EnvTemporalTLSCert, EnvMetricsAddr, EnvWorkflowCacheSize,
		EnvAPIRequestTimeout, EnvCloudBaseURL, EnvReissueMargin, EnvAPIOpsAddr, EnvDeductionBatchSize, EnvDeductionInterval,
		EnvPushMaxAge, EnvCloudNothingBound} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

// The [assumed] names the environment gives every ultimate enterprise, and the pushes' age.
func TestCloudNamesAndPushAgeFromTheEnvironment(t *testing.T) {
	c, err := Load(env(map[string]string{EnvCloudNothingBound: "2001, 3004", EnvCloudBusinessSystemCode: "ERP01", EnvPushMaxAge: "2h"}), ForWorker)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Cloud.NothingBoundCodes, "|") != "2001|3004" || c.Cloud.BusinessSystemCode != "ERP01" || c.PushMaxAge != 2*time.Hour {
		t.Errorf("codes %q, businessSystemCode %q, push max age %s", c.Cloud.NothingBoundCodes, c.Cloud.BusinessSystemCode, c.PushMaxAge)
	}
	c, err = Load(env(nil), ForWorker)
	if err != nil || strings.Join(c.Cloud.NothingBoundCodes, "|") != "2001" || c.Cloud.WithDefaults().BusinessSystemCode != "rimflow" || c.PushMaxAge != 10*time.Minute {
		t.Errorf("defaults: %v %v %s %v", c.Cloud.NothingBoundCodes, c.Cloud.BusinessSystemCode, c.PushMaxAge, err)
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
	if c.Cloud.BaseURL != "https://cloud.example/tenant" || c.Cloud.AuthMode != ultimate.AuthLegacy || c.Cloud.AppSecret != "app-secret-value" {
		t.Errorf("cloud = %v", c)
	}
	if _, err := ultimate.New(c.Cloud); err != nil {
		t.Errorf("the client refuses what Load accepted: %v", err)
	}
}

// Each program reads only its parts: a setting another program needs cannot stop it.
func TestProgramsReadOnlyTheirParts(t *testing.T) {
	others := map[string]string{
		EnvCloudBaseURL: "ftp://x", EnvMetricsAddr: "nope", EnvAPIRequestTimeout: "soon", EnvLogLevel: "loud",
		EnvTemporalAddress: "nohost", EnvAPIToken: "devstack-token-0123456789abcdef0123",
	}
	cli := map[string]string{}
	for k, v := range others {
		cli[k] = v
	}
	cli[EnvTemporalAddress] = "temporal.example:7233"
	cli[EnvPayloadEncryption] = "off"
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
	if err != nil || c.API.Token != "devstack-token-0123456789abcdef0123" || c.LogLevel != slog.LevelDebug || c.API.Clients.Open() ||
		!c.Codec.Encrypt || c.Codec.Keys != nil || c.Temporal.Codec != nil {
		// The devstack makes its own key file: no keys is not an error for it.
		t.Errorf("devstack: %v %v", c, err)
	}

	if _, err := Load(bare(map[string]string{EnvTemporalAddress: "nohost"}), ForAPIServer); err == nil ||
		!strings.Contains(err.Error(), EnvTemporalAddress) || strings.Contains(err.Error(), "RIMFLOW_CLOUD_") {
		t.Errorf("API server: %v", err)
	}
	if got := len(VarsFor(ForCLI)); got != 13 {
		t.Errorf("the CLI reads %d variables, want the 7 of the Temporal connection, the policy file, the 2 of payload encryption, the webhooks file, the enterprises file and the pushes' age", got)
	}
}

func TestSecretsFromFilesAndRedacted(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("api-token-value-0123456789abcdef0123\n"), 0o600); err != nil {
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
	if c.Cloud.AppSecret != "s3cr3t-value" || c.API.Token != "api-token-value-0123456789abcdef0123" || c.API.Addr != ":9000" || c.API.RequestTimeout != 5*time.Second {
		t.Errorf("from files: appSecret %q, API %v", c.Cloud.AppSecret, c)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "config", c)
	for _, out := range []string{c.String(), fmt.Sprintf("%v %+v %#v", c, c, c), logged.String()} {
		for _, secret := range []string{"s3cr3t-value", "key-value-123", "client-secret-xyz", "api-token-value-0123456789abcdef0123"} {
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
			strings.Contains(err.Error(), "api-token-value-0123456789abcdef0123")) {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}
}

// The security libraries' readers run on the values Load read: payload keys (also from a file),
// the access clients and the codec server's origins (the policy file: internal/app); every error names its
// variable and none shows a key or a token.
func TestSecurityPartsDriveTheLibraries(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k2, err := codec.GenerateKey("k2")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := write("codec.keys", "# newest first\n"+k2+"\n"+testKey+"\n")
	clientsFile := write("clients.yaml", "clients:\n  - {name: erp, token: env:ERP_TOKEN, operations: [start, read], resources: [OA]}\n")
	const erpToken = "erp-token-0123456789abcdef01234567"
	keyMaterial := func(entry string) string { _, m, _ := strings.Cut(entry, ":"); return m }

	t.Run("keys from a file, clients from a file, origins", func(t *testing.T) {
		c, err := Load(env(map[string]string{
			EnvCodecKeys: "", EnvCodecKeys + "_FILE": keyFile, EnvAPIClientsFile: clientsFile, "ERP_TOKEN": erpToken,
			EnvCodecOrigins: "http://127.0.0.1:8233, HTTPS://Web.Example.com",
		}), ForWorker|ForAPIServer)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(c.Codec.Keys.IDs(), ","); got != "k2,k1" || !c.Temporal.Codec.Encrypting() || c.Temporal.Codec.Keys().Current() != "k2" {
			t.Errorf("keys = %s, codec %v", got, c.Temporal.Codec)
		}
		if got := strings.Join(c.API.Clients.Names(), ","); got != "erp" || c.API.Token != "" {
			t.Errorf("clients = %s, token set %v", got, c.API.Token != "")
		}
		if _, err := c.API.Clients.Authenticate(erpToken); err != nil {
			t.Errorf("the file's client does not authenticate: %v", err)
		}
		if got := strings.Join(c.API.CodecOrigins, ","); got != "http://127.0.0.1:8233,https://web.example.com" {
			t.Errorf("origins = %s", got)
		}
		for _, out := range []string{c.String(), fmt.Sprintf("%+v", c)} {
			for _, secret := range []string{keyMaterial(k2), keyMaterial(testKey), erpToken} {
				if strings.Contains(out, secret) {
					t.Errorf("secret printed: %s", out)
				}
			}
			if !strings.Contains(out, "k2,k1") || !strings.Contains(out, "clients=erp") {
				t.Errorf("the view lacks key IDs or clients: %s", out)
			}
		}
	})

	t.Run("encryption off without keys: payloads as they are", func(t *testing.T) {
		c, err := Load(env(map[string]string{EnvCodecKeys: "", EnvPayloadEncryption: "OFF"}), ForWorker)
		if err != nil || c.Temporal.Codec != nil || c.Codec.Encrypt {
			t.Fatalf("codec %v, err %v", c.Temporal.Codec, err)
		}
		c, err = Load(env(map[string]string{EnvPayloadEncryption: "off"}), ForWorker)
		if err != nil || c.Temporal.Codec == nil || c.Temporal.Codec.Encrypting() {
			t.Fatalf("off with keys must still decrypt: codec %v, err %v", c.Temporal.Codec, err)
		}
	})

	placeholderFile := filepath.Join(dir, "apikey")
	if err := os.WriteFile(placeholderFile, []byte("change-me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		vars  map[string]string
		parts Part
		want  string
	}{
		{"on without keys", map[string]string{EnvCodecKeys: ""}, ForWorker, EnvCodecKeys},
		{"CLI on without keys", map[string]string{EnvCodecKeys: ""}, ForCLI, EnvCodecKeys},
		{"unknown mode", map[string]string{EnvPayloadEncryption: "maybe"}, ForWorker, EnvPayloadEncryption},
		{"key too short", map[string]string{EnvCodecKeys: "k1:c2hvcnQ="}, ForWorker, EnvCodecKeys},
		{"key file missing", map[string]string{EnvCodecKeys: "", EnvCodecKeys + "_FILE": filepath.Join(dir, "none")}, ForWorker, EnvCodecKeys + "_FILE"},
		{"client name without a token", map[string]string{EnvAPIClientName: "erp"}, ForAPIServer, EnvAPIClientName},
		{"token too short", map[string]string{EnvAPIToken: "abc12"}, ForAPIServer, EnvAPIToken},
		{"token shorter than 32", map[string]string{EnvAPIToken: "a-twenty-char-token!"}, ForAPIServer, EnvAPIToken + ": variable " + EnvAPIToken + " holds a token shorter than 32"},
		{"the example's API token", map[string]string{EnvAPIToken: "change-me-too"}, ForAPIServer, EnvAPIToken + ": a placeholder"},
		{"a placeholder app secret", map[string]string{EnvCloudAppSecret: "Change-Me"}, ForWorker, EnvCloudAppSecret + ": a placeholder"},
		{"a placeholder API key in a file", map[string]string{EnvTemporalAPIKey + "_FILE": placeholderFile}, ForWorker, EnvTemporalAPIKey + ": a placeholder"},
		{"clients file and token", map[string]string{EnvAPIClientsFile: clientsFile, EnvAPIToken: "a-long-enough-token"}, ForAPIServer, EnvAPIClientsFile},
		{"wildcard origin", map[string]string{EnvCodecOrigins: "*"}, ForAPIServer, EnvCodecOrigins},
		{"origin with a path", map[string]string{EnvCodecOrigins: "http://127.0.0.1:8233/ui"}, ForAPIServer, EnvCodecOrigins},
		{"remote http cloud", map[string]string{EnvCloudBaseURL: "http://cloudsim:8090"}, ForWorker, EnvCloudBaseURL},
		{"insecure flag not a bool", map[string]string{EnvCloudInsecureHTTP: "sometimes"}, ForWorker, EnvCloudInsecureHTTP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(tc.vars), tc.parts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v does not name %s", err, tc.want)
			}
			for _, secret := range []string{keyMaterial(testKey), "a-long-enough-token", "abc12", "a-twenty-char-token", "change-me", "Change-Me"} {
				if strings.Contains(err.Error(), secret) && !strings.Contains(tc.want, secret) {
					t.Errorf("error shows %q: %v", secret, err)
				}
			}
		})
	}

	c, err := Load(env(map[string]string{EnvCloudBaseURL: "http://cloudsim:8090", EnvCloudInsecureHTTP: "true"}), ForWorker)
	if err != nil || !c.Cloud.AllowInsecureHTTP {
		t.Fatalf("explicitly allowed http: %v", err)
	}
}

// The worker's /metrics has no token: a public address is refused as for the API's ops listener,
// while loopback, private addresses and every interface are taken.
func TestWorkerMetricsRefusesAPublicAddress(t *testing.T) {
	_, err := Load(env(map[string]string{EnvMetricsAddr: "203.0.113.7:9090"}), ForWorker)
	if err == nil || !strings.Contains(err.Error(), EnvMetricsAddr) || !strings.Contains(err.Error(), "public") {
		t.Fatalf("public metrics address: %v", err)
	}
	for _, ok := range []string{":9090", "0.0.0.0:9090", "127.0.0.1:9090", "10.1.2.3:9090", "worker:9090"} {
		c, err := Load(env(map[string]string{EnvMetricsAddr: ok}), ForWorker)
		if err != nil || c.Worker.MetricsAddr != ok {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
