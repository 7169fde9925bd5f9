package access

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	erpToken       = "erp-token-0123456789"
	opsToken       = "ops-token-0123456789"
	reportingToken = "reporting-token-0123"
)

// exampleFile is the documented example: the ERP for one resource, an ops console, a read-only reporting client.
func exampleFile(t *testing.T) (string, Resolver) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ops.token"), []byte(opsToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := `
roles:
  ops: [read, retry, cancel, resolve, "codec:decode", "codec:encode"]
clients:
  - name: erp-oa
    token: ` + HashToken(erpToken) + `
    operations: [start, read, invoices, submit, "approve:supervisor", " Approve:Finance ", images, voucher, cancel]
    resources: [OA]
  - name: ops-console
    token: file:ops.token
    roles: [ops]
    operations: ["approve:*"]
    resources: ["*"]
  - name: reporting
    token: env:REPORTING_TOKEN
    operations: [read]
    resources: ["*"]
`
	env := map[string]string{"REPORTING_TOKEN": reportingToken}
	return yml, Resolver{Getenv: func(k string) string { return env[k] }, Dir: dir}
}

func TestParseExampleAndAuthorize(t *testing.T) {
	yml, r := exampleFile(t)
	cs, err := Parse([]byte(yml), r)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := strings.Join(cs.Names(), ","); got != "erp-oa,ops-console,reporting" {
		t.Fatalf("names = %s", got)
	}
	if cs.Open() {
		t.Fatal("Open() with three clients")
	}

	tests := []struct {
		name     string
		token    string
		op, res  string
		allowed  bool
		wantWhy  string
		wantName string
	}{
		{"erp starts its own resource", erpToken, OpStart, "OA", true, "", "erp-oa"},
		{"erp approves finance", erpToken, Approve("finance"), "OA", true, "", "erp-oa"},
		{"erp may not act on another resource", erpToken, OpStart, "SAP", false, `may not act on resource "SAP"`, "erp-oa"},
		{"erp may not approve an ungranted role", erpToken, Approve("cfo"), "OA", false, `may not use "approve:cfo"`, "erp-oa"},
		{"erp may not retry", erpToken, OpRetry, "OA", false, `may not use "retry"`, "erp-oa"},
		{"erp may not decode", erpToken, OpCodecDecode, "", false, `may not use "codec:decode"`, "erp-oa"},
		{"ops retries anywhere", opsToken, OpRetry, "SAP", true, "", "ops-console"},
		{"ops decodes through its role", opsToken, OpCodecDecode, "", true, "", "ops-console"},
		{"ops approves any role through approve:*", opsToken, Approve("cfo"), "OA", true, "", "ops-console"},
		{"ops may not start", opsToken, OpStart, "OA", false, `may not use "start"`, "ops-console"},
		{"reporting reads", reportingToken, OpRead, "OA", true, "", "reporting"},
		{"reporting lists across resources", reportingToken, OpRead, "", true, "", "reporting"},
		{"reporting may not cancel", reportingToken, OpCancel, "OA", false, `may not use "cancel"`, "reporting"},
		{"unknown operation is refused with its name", reportingToken, "delete", "OA", false, `unknown operation "delete"`, "reporting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cs.Authenticate(tt.token)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if c.Name != tt.wantName {
				t.Fatalf("authenticated %q, want %q", c.Name, tt.wantName)
			}
			ok, why := c.Allowed(tt.op, tt.res)
			if ok != tt.allowed {
				t.Fatalf("Allowed(%q,%q) = %v (%s), want %v", tt.op, tt.res, ok, why, tt.allowed)
			}
			if !strings.Contains(why, tt.wantWhy) || (tt.allowed && why != "") {
				t.Fatalf("reason %q, want it to contain %q", why, tt.wantWhy)
			}
		})
	}
}

func TestJSONClientsFileReadsTheSame(t *testing.T) {
	json := `{"clients":[{"name":"erp","token":"` + HashToken(erpToken) + `","operations":["start","read"],"resources":["OA","HR"]}]}`
	cs, err := Parse([]byte(json), Resolver{})
	if err != nil {
		t.Fatalf("Parse JSON: %v", err)
	}
	c, err := cs.Authenticate(erpToken)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Resources, ","); got != "HR,OA" || c.AllResourcesAllowed() {
		t.Fatalf("resources = %s, all = %v", got, c.AllResourcesAllowed())
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	yml, r := exampleFile(t)
	cs, err := Parse([]byte(yml), r)
	if err != nil {
		t.Fatal(err)
	}
	for name, header := range map[string]string{
		"no header":         "",
		"basic scheme":      "Basic " + erpToken,
		"bearer, no token":  "Bearer ",
		"wrong token":       "Bearer not-the-token-at-all",
		"token's prefix":    "Bearer " + erpToken[:len(erpToken)-1],
		"token with suffix": "Bearer " + erpToken + "x",
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			c, err := cs.AuthenticateRequest(req)
			if !errors.Is(err, ErrUnauthenticated) || c != nil {
				t.Fatalf("got client %v, err %v; want ErrUnauthenticated", c, err)
			}
		})
	}
	t.Run("scheme in any case", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		req.Header.Set("Authorization", "bearer "+erpToken)
		if c, err := cs.AuthenticateRequest(req); err != nil || c.Name != "erp-oa" {
			t.Fatalf("got %v, %v", c, err)
		}
	})
	t.Run("no clients authenticates nobody", func(t *testing.T) {
		if _, err := (&Clients{}).Authenticate(erpToken); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("err = %v", err)
		}
		var nilClients *Clients
		if _, err := nilClients.Authenticate(erpToken); !errors.Is(err, ErrUnauthenticated) || !nilClients.Open() {
			t.Fatalf("nil clients: err = %v", err)
		}
	})
}

func TestParseRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty.token"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SHORT": "abc", "GOOD": "good-token-1234567", "GOOD2": "good-token-1234567"}
	r := Resolver{Getenv: func(k string) string { return env[k] }, Dir: dir}
	client := func(fields string) string {
		return "clients:\n  - name: a\n    operations: [read]\n    resources: [\"*\"]\n" + fields
	}
	tests := []struct {
		name, yml string
		want      []string // every fragment must appear
	}{
		{"inline token", client("    token: plain-text-secret-value\n"),
			[]string{"clients[0].token: must be sha256:<hex>, env:VAR or file:PATH; a token written in the file is refused"}},
		{"missing token", client(""), []string{"clients[0].token: required"}},
		{"short sha256", client("    token: sha256:abcd\n"), []string{"clients[0].token: sha256: must be followed by 64 hex digits"}},
		{"empty env", client("    token: env:UNSET\n"), []string{"clients[0].token: variable UNSET (named by env:UNSET) is empty or unset"}},
		{"short token from env", client("    token: env:SHORT\n"), []string{"clients[0].token: variable SHORT holds a token shorter than 8 characters"}},
		{"unreadable file", client("    token: file:nope.token\n"), []string{"clients[0].token: cannot read", "nope.token"}},
		{"empty file", client("    token: file:empty.token\n"), []string{"clients[0].token: file", "empty.token\" is empty"}},
		{"duplicate names (any case)", `
clients:
  - {name: erp, token: env:GOOD, operations: [read], resources: ["*"]}
  - {name: ERP, token: ` + HashToken("other-token-123") + `, operations: [read], resources: ["*"]}
`, []string{`clients[1].name: "ERP" is also the name of clients[0]`}},
		{"duplicate tokens", `
clients:
  - {name: a, token: env:GOOD, operations: [read], resources: ["*"]}
  - {name: b, token: env:GOOD2, operations: [read], resources: ["*"]}
`, []string{"clients[1].token: same token as clients[0] (each client needs its own)"}},
		{"unknown operation", `
clients:
  - {name: a, token: env:GOOD, operations: [read, delete, "approve:"], resources: ["*"]}
`, []string{`clients[0].operations[1]: unknown operation "delete"`, `clients[0].operations[2]: "approve:": approve:<role> needs a role`}},
		{"unknown role", `
roles: {ops: [read]}
clients:
  - {name: a, token: env:GOOD, roles: [opz], resources: ["*"]}
`, []string{`clients[0].roles[0]: unknown role "opz"`}},
		{"bad operation in a role", `
roles: {ops: [read, fly]}
clients:
  - {name: a, token: env:GOOD, roles: [ops], resources: ["*"]}
`, []string{`roles.ops[1]: unknown operation "fly"`}},
		{"no operations", `
clients:
  - {name: a, token: env:GOOD, resources: ["*"]}
`, []string{"clients[0].operations: required"}},
		{"no resources", `
clients:
  - {name: a, token: env:GOOD, operations: [read]}
`, []string{"clients[0].resources: required"}},
		{"star with others", `
clients:
  - {name: a, token: env:GOOD, operations: [read], resources: [OA, "*"]}
`, []string{`clients[0].resources[1]: "*" stands alone`}},
		{"codec for one resource", `
clients:
  - {name: a, token: env:GOOD, operations: ["codec:decode"], resources: [OA]}
`, []string{`clients[0].resources: must be ["*"] for a client that may use the codec server`}},
		{"bad name", `
clients:
  - {name: "a b", token: env:GOOD, operations: [read], resources: ["*"]}
`, []string{`clients[0].name: "a b": letters, digits`}},
		{"unknown field", `
clients:
  - {name: a, token: env:GOOD, operations: [read], resources: ["*"], resource: [OA]}
`, []string{"field resource not found"}},
		{"no clients", "roles: {}\n", []string{"clients: at least one client is required"}},
		{"empty file", "", []string{"clients: the file is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := Parse([]byte(tt.yml), r)
			if err == nil {
				t.Fatalf("Parse accepted it: %v", cs.Names())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			for _, secret := range []string{"plain-text-secret-value", env["GOOD"], "abc\""} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %q", err)
				}
			}
		})
	}
}

func TestLoadFileNamesThePath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clients.yaml")
	if err := os.WriteFile(path, []byte("clients:\n  - {name: a, token: nope, operations: [read], resources: [\"*\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path, Resolver{})
	if err == nil || !strings.HasPrefix(err.Error(), "clients file "+path+": clients[0].token:") {
		t.Fatalf("err = %v", err)
	}
	_, err = LoadFile(filepath.Join(dir, "missing.yaml"), Resolver{})
	if err == nil || !strings.Contains(err.Error(), EnvClientsFile+": cannot read clients file") {
		t.Fatalf("missing file: err = %v", err)
	}
}

func TestLoadEnv(t *testing.T) {
	dir := t.TempDir()
	clientsFile := filepath.Join(dir, "clients.yaml")
	if err := os.WriteFile(clientsFile, []byte("clients:\n  - {name: erp, token: env:ERP_T, operations: [start], resources: [OA]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "api.token")
	if err := os.WriteFile(tokenFile, []byte("file-token-0123456789abcdef012345\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		token   string // authenticates, when the load succeeds and it is set
		client  string
		op, res string
		wantErr string
		open    bool
	}{
		{name: "nothing set is open", env: map[string]string{}, open: true},
		{name: "single token is an admin on every resource", env: map[string]string{EnvToken: "direct-token-0123456789abcdef0123"},
			token: "direct-token-0123456789abcdef0123", client: "default", op: OpCodecDecode, res: ""},
		{name: "single token from a file", env: map[string]string{EnvToken + "_FILE": tokenFile},
			token: "file-token-0123456789abcdef012345", client: "default", op: OpRetry, res: "SAP"},
		{name: "single client narrowed", env: map[string]string{EnvToken: "direct-token-0123456789abcdef0123", EnvClientName: "erp",
			EnvClientOperations: "start, read", EnvClientResources: "OA"}, token: "direct-token-0123456789abcdef0123", client: "erp", op: OpStart, res: "OA"},
		{name: "clients file", env: map[string]string{EnvClientsFile: clientsFile, "ERP_T": "erp-token-0123456789abcdef0123456"},
			token: "erp-token-0123456789abcdef0123456", client: "erp", op: OpStart, res: "OA"},
		{name: "file and token both", env: map[string]string{EnvClientsFile: clientsFile, EnvToken: "direct-token-0123456789abcdef0123"},
			wantErr: EnvClientsFile + ": set either"},
		{name: "token and token file both", env: map[string]string{EnvToken: "direct-token-0123456789abcdef0123", EnvToken + "_FILE": tokenFile},
			wantErr: EnvToken + ": set either"},
		{name: "client name without token", env: map[string]string{EnvClientName: "erp"},
			wantErr: EnvClientName + ": set only with " + EnvToken},
		{name: "client resources beside a clients file", env: map[string]string{EnvClientsFile: clientsFile, EnvClientResources: "OA"},
			wantErr: EnvClientResources + ": set only with " + EnvToken},
		{name: "bad operation names its variable", env: map[string]string{EnvToken: "direct-token-0123456789abcdef0123", EnvClientOperations: "read,fly"},
			wantErr: "environment: " + EnvClientOperations + `[1]: unknown operation "fly"`},
		{name: "short token names its variable", env: map[string]string{EnvToken: "short-but-not-a-placeholder"},
			wantErr: EnvToken + ": variable " + EnvToken + " holds a token shorter than 32"},
		{name: "the example's placeholder names its variable", env: map[string]string{EnvToken: "change-me-too"},
			wantErr: EnvToken + ": variable " + EnvToken + " holds a placeholder"},
		{name: "a placeholder in a clients file's token names the entry", env: map[string]string{EnvClientsFile: clientsFile, "ERP_T": "CHANGE-ME"},
			wantErr: "clients[0].token: variable ERP_T holds a placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := LoadEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "direct-token-0123456789abcdef0123") || strings.Contains(err.Error(), "short-but") || strings.Contains(err.Error(), "change-me") {
					t.Fatalf("error shows the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadEnv: %v", err)
			}
			if cs.Open() != tt.open {
				t.Fatalf("Open() = %v", cs.Open())
			}
			if tt.token == "" {
				return
			}
			c, err := cs.Authenticate(tt.token)
			if err != nil || c.Name != tt.client {
				t.Fatalf("Authenticate = %v, %v; want %s", c, err, tt.client)
			}
			if ok, why := c.Allowed(tt.op, tt.res); !ok {
				t.Fatalf("Allowed(%s, %s): %s", tt.op, tt.res, why)
			}
		})
	}
}

func TestNewAndContext(t *testing.T) {
	cs, err := New(Spec{Name: "devstack", Token: "generated-token-123", Operations: []string{OpAdmin}, Resources: []string{"OA"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cs.Authenticate("generated-token-123")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Allowed(OpCancel, "OA"); !ok {
		t.Fatal("admin may not cancel its own resource")
	}
	// admin of one resource still cannot use the codec server: a payload names no resource.
	if ok, why := c.Allowed(OpCodecDecode, ""); ok || !strings.Contains(why, "decoding can show any bill") {
		t.Fatalf("admin of OA decodes: %v %q", ok, why)
	}
	// Nor read the metrics, which count every resource's bills; a scraper names every resource.
	if ok, why := c.Allowed(OpMetrics, ""); ok || !strings.Contains(why, "the metrics count every resource's bills") {
		t.Fatalf("admin of OA reads the metrics: %v %q", ok, why)
	}
	if _, err := New(Spec{Name: "scraper", Token: "scraper-token-1234", Operations: []string{OpMetrics}, Resources: []string{"OA"}}); err == nil ||
		!strings.Contains(err.Error(), `clients[0].resources: must be ["*"] for a client that may read the metrics`) {
		t.Fatalf("a scraper of one resource: err = %v", err)
	}
	scrapers, err := New(Spec{Name: "scraper", Token: "scraper-token-1234", Operations: []string{OpMetrics}, Resources: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	scraper, _ := scrapers.ByName("scraper")
	if ok, why := scraper.Allowed(OpMetrics, ""); !ok {
		t.Fatalf("the scraper may not read the metrics: %s", why)
	}
	if ok, _ := scraper.Allowed(OpRead, ""); ok {
		t.Fatal("the metrics operation reads bills")
	}
	if _, err := New(Spec{Name: "x", Token: "generated-token-123", TokenRef: "env:X", Operations: []string{OpRead}, Resources: []string{"*"}}); err == nil ||
		!strings.Contains(err.Error(), "clients[0].token: set either a token or a token reference") {
		t.Fatalf("token and reference: err = %v", err)
	}
	ctx := WithClient(context.Background(), c)
	if got, ok := ClientFrom(ctx); !ok || got != c {
		t.Fatal("ClientFrom lost the client")
	}
	if _, ok := ClientFrom(context.Background()); ok {
		t.Fatal("ClientFrom found a client in an empty context")
	}
	var none *Client
	if ok, why := none.Allowed(OpRead, "OA"); ok || why == "" {
		t.Fatal("nil client allowed")
	}
}

func TestOperationsVocabulary(t *testing.T) {
	for _, op := range Operations() {
		if op == Approve("<role>") {
			continue
		}
		if why := validOperation(op); why != "" {
			t.Errorf("listed operation %q is refused: %s", op, why)
		}
	}
}

func TestHashTokenForm(t *testing.T) {
	h := HashToken("  abc  ")
	if h != "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashToken = %s", h)
	}
}

// The ops listener serves the metrics without a token: never on a public address.
func TestCheckOpsListen(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:9091": true, "[::1]:9091": true, ":9091": true, "0.0.0.0:9091": true, "[::]:9091": true,
		"10.1.2.3:9091": true, "172.20.0.4:9091": true, "192.168.1.9:9091": true, "[fd00::5]:9091": true, "api:9091": true,
		"203.0.113.7:9091": false, "8.8.8.8:9091": false, "[2001:db8::1]:9091": false, "9091": false, "": false,
	} {
		if err := CheckOpsListen(addr); (err == nil) != ok {
			t.Errorf("CheckOpsListen(%q) = %v, want allowed %v", addr, err, ok)
		}
	}
}

func TestIsLoopbackAndCheckListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true,
		"127.9.9.9:80":   true,
		"[::1]:8080":     true,
		"localhost:8080": true,
		"LOCALHOST:1":    true,
		":8080":          false,
		"0.0.0.0:8080":   false,
		"[::]:8080":      false,
		"10.0.0.5:8080":  false,
		"api.local:8080": false,
		"127.0.0.1":      false, // no port: not a listen address
		"":               false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
	open := &Clients{}
	if err := CheckListen("the API", "127.0.0.1:8080", open); err != nil {
		t.Errorf("open on loopback refused: %v", err)
	}
	if err := CheckListen("the API", ":8080", open); err == nil || !strings.Contains(err.Error(), `the API refuses to listen on ":8080" with no client configured`) {
		t.Errorf("open on :8080: err = %v", err)
	}
	closed, err := New(Spec{Name: "a", Token: "some-token-1234", Operations: []string{OpRead}, Resources: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckListen("the API", ":8080", closed); err != nil {
		t.Errorf("with clients on :8080: %v", err)
	}
}

// The documented example file must stay valid and mean what its comments say.
func TestDocumentedExample(t *testing.T) {
	env := map[string]string{"RIMFLOW_OPS_TOKEN": opsToken, "RIMFLOW_REPORTING_TOKEN": reportingToken, "RIMFLOW_SCRAPER_TOKEN": "scraper-token-0123456789abcdef0123"}
	cs, err := LoadFile(filepath.Join("..", "..", "docs", "examples", "clients.yaml"), Resolver{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	ops, err := cs.Authenticate(opsToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{OpRetry, OpCodecDecode, Approve("finance")} {
		if ok, why := ops.Allowed(op, "SAP"); !ok {
			t.Errorf("ops-console: %s", why)
		}
	}
	erp, ok := cs.ByName("erp-oa")
	if !ok {
		t.Fatal("no erp-oa")
	}
	if ok, _ := erp.Allowed(OpStart, "SAP"); ok {
		t.Error("erp-oa may start another resource's bill")
	}
	scraper, ok := cs.ByName("prometheus")
	if ok, _ = scraper.Allowed(OpMetrics, ""); !ok {
		t.Error("the prometheus client may not read the metrics")
	}
	if ok, _ = scraper.Allowed(OpRead, "OA"); ok {
		t.Error("the prometheus client reads bills")
	}
}

// "approve" alone asks whether the client may decide for some role (the approvals route, before
// its body names the role): approve:<role>, approve:* and admin do; nothing else does.
func TestSomeApprovalRole(t *testing.T) {
	cs, err := New(
		Spec{Name: "sup", Token: "sup-token-0123456789", Operations: []string{"approve:supervisor"}, Resources: []string{"OA"}},
		Spec{Name: "all", Token: "all-token-0123456789", Operations: []string{"approve:*"}, Resources: []string{"*"}},
		Spec{Name: "root", Token: "root-token-0123456789", Operations: []string{"admin"}, Resources: []string{"*"}},
		Spec{Name: "reader", Token: "reader-token-0123456789", Operations: []string{"read", "submit"}, Resources: []string{"*"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		client, resource string
		ok               bool
	}{{"sup", "OA", true}, {"sup", "SAP", false}, {"all", "SAP", true}, {"root", "OA", true}, {"reader", "OA", false}} {
		c, _ := cs.ByName(tc.client)
		if ok, why := c.Allowed(OpApprove, tc.resource); ok != tc.ok {
			t.Errorf("%s on %s: %v (%s), want %v", tc.client, tc.resource, ok, why, tc.ok)
		}
	}
}

// The programs' rules for a token: no placeholder, at least ProgramMinTokenLen characters; the
// reason never shows the token.
func TestCheckProgramToken(t *testing.T) {
	for token, want := range map[string]string{
		"change-me-too":                     "placeholder",
		"CHANGEME":                          "placeholder",
		"e2e-restart-token-5f1c":            "shorter than 32",
		"0123456789abcdef0123456789abcdef":  "",
		" 0123456789abcdef0123456789abcdef": "",
	} {
		why := CheckProgramToken(token)
		if want == "" && why != "" || want != "" && !strings.Contains(why, want) || strings.Contains(why, strings.TrimSpace(token)) {
			t.Errorf("%q: %q, want %q", token, why, want)
		}
	}
}

// Failed authentications per address: the burst, then one per interval; another address is not
// affected; the allowance comes back with time.
func TestFailureLimiterPerAddress(t *testing.T) {
	l := NewFailureLimiter(3, time.Second)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.Allow("10.0.0.1"); !ok {
			t.Fatalf("failure %d refused within the burst", i+1)
		}
		l.Fail("10.0.0.1")
	}
	if ok, wait := l.Allow("10.0.0.1"); ok || wait <= 0 || wait > time.Second {
		t.Fatalf("past the burst: allowed %v, wait %s", ok, wait)
	}
	if ok, _ := l.Allow("10.0.0.2"); !ok {
		t.Fatal("another address is limited too")
	}
	now = now.Add(time.Second)
	if ok, _ := l.Allow("10.0.0.1"); !ok {
		t.Fatal("one interval later: still refused")
	}
	l.Fail("10.0.0.1")
	if ok, _ := l.Allow("10.0.0.1"); ok {
		t.Fatal("the refilled one was spent: allowed again")
	}
}

// An open server answers loopback host names only: a DNS name rebound to 127.0.0.1 arrives with
// its own Host and is refused; exempt paths (the cloud's signed push) pass.
func TestLoopbackHostOnly(t *testing.T) {
	h := LoopbackHostOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }), "/v1/push/")
	for host, want := range map[string]int{
		"127.0.0.1:8080": 204, "localhost:8080": 204, "[::1]:8080": 204, "localhost": 204,
		"rebound.evil.example:8080": 403, "rebound.evil.example": 403, "192.168.1.10:8080": 403, "": 403,
	} {
		req, _ := http.NewRequest("GET", "http://x/v1/bills", nil)
		req.Host = host
		rec := &statusWriter{}
		h.ServeHTTP(rec, req)
		if rec.code != want {
			t.Errorf("Host %q: %d, want %d", host, rec.code, want)
		}
	}
	req, _ := http.NewRequest("POST", "http://x/v1/push/91330100MA2B3C4D5N", nil)
	req.Host = "cloud-tunnel.example"
	rec := &statusWriter{}
	h.ServeHTTP(rec, req)
	if rec.code != 204 {
		t.Errorf("push through another host name: %d", rec.code)
	}
}

type statusWriter struct {
	code int
	hdr  http.Header
}

func (w *statusWriter) Header() http.Header {
	if w.hdr == nil {
		w.hdr = http.Header{}
	}
	return w.hdr
}
func (w *statusWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *statusWriter) WriteHeader(c int)           { w.code = c }
