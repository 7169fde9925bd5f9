package deploy

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"rimflow/internal/app"
	"rimflow/internal/codec"
	"rimflow/internal/config"
	"rimflow/workflows"
)

const rimflowImage = "rimflow:latest"

// What each program of the image reads: the worker its parts, `starter` (serve) the API server's,
// the simulator only flags.
func programVars() map[string][]config.Var {
	return map[string][]config.Var{
		"worker":   config.VarsFor(config.ForWorker),
		"starter":  config.VarsFor(config.ForAPIServer),
		"cloudsim": nil,
		// The one-shot that makes the payload key file reads flags only.
		"starter codec-keys": nil,
		// The one-shot that checks the passwords of PostgreSQL and Grafana reads just those.
		"starter check-secrets": {{Name: "POSTGRES_PASSWORD"}, {Name: "GRAFANA_ADMIN_PASSWORD"}},
	}
}

func loadCompose(t *testing.T) Compose {
	t.Helper()
	cf, err := LoadCompose(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return cf
}

// envExample is deploy/env.example: the .env a user starts from, used to interpolate ${VAR}.
func envExample(t *testing.T) map[string]string {
	t.Helper()
	env, err := ReadDotenv("env.example")
	if err != nil {
		t.Fatalf("deploy/env.example: %v", err)
	}
	return WithGeneratedSecrets(env)
}

// TestEnvExampleAsksForGeneratedSecrets: deploy/env.example carries no value for a secret the user
// must generate (an example value would be everyone's credential), compose refuses the file as it
// is, and the programs refuse the placeholders such files used to carry, naming the variable.
func TestEnvExampleAsksForGeneratedSecrets(t *testing.T) {
	raw, err := ReadDotenv("env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range GeneratedSecrets {
		if v, ok := raw[k]; !ok || v != "" {
			t.Errorf("env.example: %s=%q, want the variable present and empty (generate it)", k, v)
		}
	}
	cf := loadCompose(t)
	if _, err := Interpolate(cf.Services["postgresql"].Environment["POSTGRES_PASSWORD"], raw); err == nil {
		t.Errorf("compose accepts env.example without a generated POSTGRES_PASSWORD")
	}
	for _, placeholder := range []string{"change-me-too", "change-me", "changeme"} {
		_, err := config.Load(func(k string) string {
			if k == config.EnvAPIToken {
				return placeholder
			}
			return ""
		}, config.ForAPIServer)
		if err == nil || !strings.Contains(err.Error(), config.EnvAPIToken+": a placeholder") || strings.Contains(err.Error(), placeholder) {
			t.Errorf("starter serve with %s=%s: %v", config.EnvAPIToken, placeholder, err)
		}
	}
}

// interpolate does what compose does with ${VAR}, ${VAR:-default} and ${VAR:?error} given dotenv.
func interpolate(t *testing.T, s string, dotenv map[string]string) string {
	t.Helper()
	out, err := Interpolate(s, dotenv)
	if err != nil {
		t.Errorf("with deploy/env.example as .env: %v", err)
	}
	return out
}

func commandWords(t *testing.T, name string, cmd any) []string {
	t.Helper()
	words, err := Words(cmd)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return words
}

// rimflowServices are the services running the rimflow image, by the program they run.
func rimflowServices(t *testing.T, cf Compose) map[string]string {
	out := map[string]string{}
	builds := 0
	for name, svc := range cf.Services {
		if svc.Build != nil {
			builds++
		}
		if svc.Image != rimflowImage {
			continue
		}
		words := commandWords(t, name, svc.Command)
		if len(words) == 0 {
			t.Errorf("service %s runs the rimflow image without a command (worker, starter or cloudsim)", name)
			continue
		}
		prog := words[0]
		if len(words) > 1 && prog == "starter" && (words[1] == "codec-keys" || words[1] == "check-secrets") {
			prog = "starter " + words[1]
		}
		if _, ok := programVars()[prog]; !ok {
			t.Errorf("service %s runs %q, not one of the image's programs worker, starter, cloudsim", name, words[0])
		}
		out[name] = prog
	}
	if builds != 1 {
		t.Errorf("exactly one service should build the image (build: .), found %d", builds)
	}
	for _, want := range []string{"worker", "starter", "cloudsim"} {
		found := false
		for _, prog := range out {
			found = found || prog == want
		}
		if !found {
			t.Errorf("no compose service runs %s", want)
		}
	}
	return out
}

// TestComposeEnvMatchesCode: every variable a rimflow service sets is one its program reads, the
// secrets come through *_FILE from declared secrets, and with deploy/env.example as .env each
// program's own configuration loader accepts the result.
func TestComposeEnvMatchesCode(t *testing.T) {
	cf := loadCompose(t)
	dotenv := envExample(t)
	for name, prog := range rimflowServices(t, cf) {
		svc := cf.Services[name]
		vars := programVars()[prog]
		known := map[string]config.Var{}
		for _, v := range vars {
			known[v.Name] = v
		}
		env := map[string]string{}
		for k, raw := range svc.Environment {
			v := interpolate(t, raw, dotenv)
			base, isFile := strings.CutSuffix(k, "_FILE")
			if _, plain := known[k]; plain {
				isFile = false // a variable whose own name ends in _FILE (RIMFLOW_POLICY_FILE)
			}
			switch {
			case !isFile:
				if _, ok := known[k]; !ok {
					t.Errorf("service %s sets %s, which %s does not read", name, k, prog)
				}
				env[k] = boundFile(svc, v)
			case !known[base].Secret:
				t.Errorf("service %s sets %s, but %s is not a secret %s reads from a file", name, k, base, prog)
			case k == config.EnvCodecKeys+"_FILE":
				env[k] = keyFile(t, cf, svc, name, v)
			default:
				env[k] = secretFile(t, cf, svc, name, k, v, dotenv)
			}
		}
		getenv := func(k string) string { return env[k] }
		switch prog {
		case "worker":
			// The worker's loader also judges the Invoice Cloud credentials for the auth mode.
			cfg, err := config.Load(getenv, config.ForWorker)
			if err != nil {
				t.Errorf("service %s: the worker would refuse its configuration: %v", name, err)
				continue
			}
			checkServiceAddr(t, cf, name, config.EnvTemporalAddress, cfg.Temporal.Address)
			if cfg.Temporal.Codec == nil || !cfg.Temporal.Codec.Encrypting() {
				t.Errorf("service %s: payloads are not encrypted", name)
			}
			if u, err := url.Parse(cfg.Cloud.BaseURL); err == nil && u.Hostname() == "cloudsim" {
				checkServiceAddr(t, cf, name, config.EnvCloudBaseURL, u.Host)
			}
		case "starter":
			cfg, err := app.Load(getenv, config.ForAPIServer)
			if err != nil {
				t.Errorf("service %s: starter serve would refuse its configuration: %v", name, err)
				continue
			}
			if host, _, _ := net.SplitHostPort(cfg.API.Addr); host != "127.0.0.1" && cfg.API.Clients.Open() {
				t.Errorf("service %s: the API listens on %s without an access client", name, cfg.API.Addr)
			}
			if cfg.Temporal.Codec == nil || !cfg.Temporal.Codec.Encrypting() || cfg.Policy.Source() == "built-in default" || len(cfg.API.CodecOrigins) == 0 {
				t.Errorf("service %s: want payloads encrypted, a policy file and Temporal Web's origin for the codec server; have %v", name, cfg)
			}
			checkPublished(t, name, svc, cfg.API.Addr, defaultOf(config.Vars(), config.EnvAPIAddr))
			checkServiceAddr(t, cf, name, config.EnvTemporalAddress, getenv(config.EnvTemporalAddress))
		}
	}
}

// secretFile checks that a *_FILE variable names a mounted secret fed from the matching variable,
// and returns a temporary file with the env.example value so the loaders can read it.
func secretFile(t *testing.T, cf Compose, svc Service, svcName, fileVar, path string, dotenv map[string]string) string {
	t.Helper()
	secret, ok := strings.CutPrefix(path, "/run/secrets/")
	if !ok {
		t.Errorf("service %s: %s=%s is not a compose secret (/run/secrets/…)", svcName, fileVar, path)
		return path
	}
	mounted := false
	for _, s := range svc.Secrets {
		mounted = mounted || s == secret
	}
	if !mounted {
		t.Errorf("service %s: %s points at secret %q, which the service does not mount", svcName, fileVar, secret)
	}
	decl, ok := cf.Secrets[secret]
	base := strings.TrimSuffix(fileVar, "_FILE")
	switch {
	case !ok:
		t.Errorf("secret %q is not declared at the top level", secret)
	case decl.Environment != base:
		t.Errorf("secret %q comes from %q; want it fed from %s so users set one variable", secret, decl.Environment, base)
	}
	tmp := filepath.Join(t.TempDir(), secret)
	if err := os.WriteFile(tmp, []byte(dotenv[base]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return tmp
}

// boundFile maps a container path the service bind-mounts from the repository (./deploy/…) to
// that file, so the loaders read what the container would; other values pass unchanged.
func boundFile(svc Service, v string) string {
	for _, vol := range svc.Volumes {
		parts := strings.Split(vol, ":")
		if len(parts) >= 2 && strings.HasPrefix(parts[0], "./") && parts[1] == v {
			return filepath.Join("..", parts[0])
		}
	}
	return v
}

// keyFile checks the payload key file: it lies in a named volume the service mounts read-only,
// which a one-shot `starter codec-keys --file <same path>` writes and the service waits for; it
// returns a key file such a run makes, for the loaders.
func keyFile(t *testing.T, cf Compose, svc Service, svcName, path string) string {
	t.Helper()
	volume := ""
	for _, vol := range svc.Volumes {
		parts := strings.Split(vol, ":")
		if len(parts) == 3 && parts[2] == "ro" && !strings.HasPrefix(parts[0], ".") && strings.HasPrefix(path, parts[1]+"/") {
			volume = parts[0]
		}
	}
	if volume == "" {
		t.Errorf("service %s: %s=%s is not in a named volume the service mounts read-only", svcName, config.EnvCodecKeys+"_FILE", path)
	}
	maker := ""
	for name, other := range cf.Services {
		words := strings.Join(commandWords(t, name, other.Command), " ")
		for _, vol := range other.Volumes {
			if strings.HasPrefix(vol, volume+":") && strings.Contains(words, "starter codec-keys --file "+path) {
				maker = name
			}
		}
	}
	if maker == "" {
		t.Errorf("service %s: no one-shot service runs `starter codec-keys --file %s` on volume %s", svcName, path, volume)
	} else if svc.DependsOn[maker].Condition != "service_completed_successfully" {
		t.Errorf("service %s does not wait for %s to complete before reading the key file", svcName, maker)
	}
	file := filepath.Join(t.TempDir(), "codec.keys")
	if _, err := codec.EnsureKeyFile(file, "k1"); err != nil {
		t.Fatal(err)
	}
	return file
}

func defaultOf(vars []config.Var, name string) string {
	for _, v := range vars {
		if v.Name == name {
			return v.Default
		}
	}
	return ""
}

// checkPublished: the service publishes the port it listens on, on the same port as the default.
func checkPublished(t *testing.T, name string, svc Service, listen, def string) {
	t.Helper()
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Errorf("service %s: listen address %q: %v", name, listen, err)
		return
	}
	_, defPort, _ := net.SplitHostPort(def)
	want := defPort + ":" + port
	for _, p := range svc.Ports {
		if p == want {
			return
		}
	}
	t.Errorf("service %s listens on %s; want port mapping %q (the default port published), have %v", name, listen, want, svc.Ports)
}

// checkServiceAddr: host:port names a compose service that publishes or exposes that port.
func checkServiceAddr(t *testing.T, cf Compose, from, varName, addr string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("service %s: %s=%q is not host:port", from, varName, addr)
		return
	}
	target, ok := cf.Services[host]
	if !ok {
		t.Errorf("service %s: %s points at %q, which is not a compose service", from, varName, host)
		return
	}
	for _, p := range append(append([]string(nil), target.Ports...), target.Expose...) {
		if p == port || strings.HasSuffix(p, ":"+port) {
			return
		}
	}
	t.Errorf("service %s: %s uses port %s, but service %s serves %v %v", from, varName, port, host, target.Ports, target.Expose)
}

// saLine is one create of the setup job, through its retry: each create is a namespace update,
// which the server takes 10 at once and then one a second.
var saLine = regexp.MustCompile(`retry temporal operator search-attribute create --namespace (\S+) --name (\S+) --type (\S+)`)

// cliType is the `temporal operator search-attribute create --type` spelling.
func cliType(t enumspb.IndexedValueType) string {
	switch t {
	case enumspb.INDEXED_VALUE_TYPE_KEYWORD:
		return "Keyword"
	case enumspb.INDEXED_VALUE_TYPE_TEXT:
		return "Text"
	case enumspb.INDEXED_VALUE_TYPE_INT:
		return "Int"
	case enumspb.INDEXED_VALUE_TYPE_DOUBLE:
		return "Double"
	case enumspb.INDEXED_VALUE_TYPE_BOOL:
		return "Bool"
	case enumspb.INDEXED_VALUE_TYPE_DATETIME:
		return "Datetime"
	case enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST:
		return "KeywordList"
	}
	return t.String()
}

// expectedSearchAttributeLines are the compose lines for workflows.SearchAttributes(), sorted.
func expectedSearchAttributeLines() []string {
	var lines []string
	for _, name := range workflows.SearchAttributeNames() {
		lines = append(lines, fmt.Sprintf("retry temporal operator search-attribute create --namespace default --name %s --type %s",
			name, cliType(workflows.SearchAttributes()[name])))
	}
	return lines
}

// TestComposeSearchAttributesMatchCode: the setup job registers exactly the code's list.
func TestComposeSearchAttributesMatchCode(t *testing.T) {
	cf := loadCompose(t)
	setup, ok := cf.Services["temporal-setup"]
	if !ok {
		t.Fatal("no temporal-setup service")
	}
	script := strings.Join(commandWords(t, "temporal-setup", setup.Command), " ")
	var got []string
	for _, m := range saLine.FindAllStringSubmatch(script, -1) {
		if m[1] != "default" {
			t.Errorf("search attribute %s registered in namespace %s, want default", m[2], m[1])
		}
		got = append(got, m[0])
	}
	sort.Strings(got)
	want := expectedSearchAttributeLines()
	if strings.Join(got, "\n") != strings.Join(want, "\n") && os.Getenv("RIMFLOW_UPDATE_DOCS") == "1" {
		regenerateSearchAttributeLines(t, want)
		return
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("temporal-setup's search attributes differ from workflows.SearchAttributes().\nhave:\n  %s\nwant (RIMFLOW_UPDATE_DOCS=1 go test ./deploy writes them):\n  %s",
			strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if !strings.Contains(script, "namespace create --namespace default") {
		t.Error("temporal-setup does not create the default namespace")
	}
}

// TestComposeCommandsInterpolate: compose substitutes $VAR in commands too, so a script's own shell
// variables must be written $$VAR; every command and entrypoint interpolates without error.
func TestComposeCommandsInterpolate(t *testing.T) {
	cf := loadCompose(t)
	dotenv := envExample(t)
	for name, svc := range cf.Services {
		for _, cmd := range []any{svc.Entrypoint, svc.Command} {
			for _, w := range commandWords(t, name, cmd) {
				if _, err := Interpolate(w, dotenv); err != nil {
					t.Errorf("service %s: %v", name, err)
				}
			}
		}
	}
}

// TestComposePortsMatchDefaults: the published ports are the ports users know from devstack, and
// only the API is published beyond this machine: Temporal's frontend is on the compose network
// only, Temporal Web (no login unless configured), the simulator and the metrics on 127.0.0.1.
func TestComposePortsMatchDefaults(t *testing.T) {
	cf := loadCompose(t)
	dotenv := envExample(t)
	cloudURL, _ := url.Parse(defaultOf(config.Vars(), config.EnvCloudBaseURL))
	for svc, want := range map[string]string{
		"temporal-ui": "127.0.0.1:8233:8080", // Temporal Web on devstack's --ui-addr port; the image listens on 8080
		"cloudsim":    "127.0.0.1:" + cloudURL.Port() + ":8090",
		"worker":      "127.0.0.1:9090:9090",
		"api":         "8080:8080",
	} {
		s, ok := cf.Services[svc]
		if !ok {
			t.Errorf("no %s service", svc)
			continue
		}
		var published []string
		for _, p := range s.Ports {
			published = append(published, interpolate(t, p, dotenv))
		}
		if !contains(published, want) {
			t.Errorf("service %s publishes %v, want %q", svc, published, want)
		}
	}
	for name, s := range cf.Services {
		for _, p := range s.Ports {
			if p = interpolate(t, p, dotenv); name != "api" && !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %q beyond this machine", name, p)
			}
		}
	}
	if temporal := cf.Services["temporal"]; len(temporal.Ports) > 0 || !contains(temporal.Expose, "7233") {
		t.Errorf("temporal publishes %v (want nothing) and exposes %v (want 7233 on the compose network)", temporal.Ports, temporal.Expose)
	}
	ui := cf.Services["temporal-ui"].Environment
	if ui["TEMPORAL_CODEC_ENDPOINT"] == "" || ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] != "true" || ui["TEMPORAL_AUTH_ENABLED"] == "" {
		t.Errorf("temporal-ui: want the codec endpoint with credentials and the OIDC switch, have %v", ui)
	}
	sim := cf.Services["cloudsim"]
	if !contains(sim.Profiles, "sim") {
		t.Errorf("cloudsim must be under the sim profile, has %v", sim.Profiles)
	}
	words := commandWords(t, "cloudsim", sim.Command)
	if i := indexOf(words, "-addr"); i < 0 || i+1 >= len(words) || !strings.HasSuffix(words[i+1], ":8090") {
		t.Errorf("cloudsim command %v should listen on :8090 with -addr", words)
	}
	for _, needed := range []string{"postgresql", "temporal-schema", "temporal", "temporal-setup", "temporal-ui", "codec-keys", "worker", "api", "cloudsim"} {
		if _, ok := cf.Services[needed]; !ok {
			t.Errorf("service %s is missing", needed)
		}
	}
	for _, name := range []string{"temporal-schema", "temporal", "temporal-setup"} {
		if img := cf.Services[name].Image; !regexp.MustCompile(`:\$\{TEMPORAL_VERSION:-1\.32\.\d+\}$`).MatchString(img) {
			t.Errorf("service %s image %q is not pinned to a 1.32 release", name, img)
		}
	}
}

// TestDockerfileBuildsTheThreeProgramsAsNonRoot reads the Dockerfile the compose file builds.
func TestDockerfileBuildsTheThreeProgramsAsNonRoot(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatalf("read Dockerfile: %v", err)
	}
	df := string(raw)
	var froms, users []string
	var buildLine string
	for _, line := range strings.Split(strings.ReplaceAll(df, "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "FROM "):
			froms = append(froms, line)
		case strings.HasPrefix(line, "USER "):
			users = append(users, strings.TrimSpace(strings.TrimPrefix(line, "USER ")))
		case strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build"):
			buildLine = line
		}
	}
	if len(froms) < 2 || !strings.HasPrefix(froms[0], "FROM golang:1.26") {
		t.Errorf("want a multi-stage build starting FROM golang:1.26, have %v", froms)
	}
	final := froms[len(froms)-1]
	if !strings.Contains(final, "distroless/static") && !strings.Contains(final, "scratch") {
		t.Errorf("final stage %q is not distroless static or scratch", final)
	}
	for _, want := range []string{"GOTOOLCHAIN=local", "CGO_ENABLED=0"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile does not set %s", want)
		}
	}
	for _, prog := range []string{"./worker", "./starter", "./cloudsim"} {
		if !strings.Contains(buildLine, prog) {
			t.Errorf("go build line %q does not build %s", buildLine, prog)
		}
		main := filepath.Join("..", prog, "main.go")
		if b, err := os.ReadFile(main); err != nil || !strings.Contains(string(b), "package main") {
			t.Errorf("%s is not a main package (%v)", main, err)
		}
	}
	if len(users) == 0 {
		t.Fatal("Dockerfile never sets USER: the programs would run as root")
	}
	if last := users[len(users)-1]; last == "root" || last == "0" || strings.HasPrefix(last, "0:") || strings.HasPrefix(last, "root:") {
		t.Errorf("final USER is %q", last)
	}
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// regenerateSearchAttributeLines rewrites the block between the BEGIN/END search attributes
// comments of docker-compose.yml, keeping its indentation.
func regenerateSearchAttributeLines(t *testing.T, lines []string) {
	t.Helper()
	path := filepath.Join("..", "docker-compose.yml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	skipping := false
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "# BEGIN search attributes"):
			out = append(out, line)
			indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
			for _, l := range lines {
				out = append(out, indent+l)
			}
			skipping = true
		case strings.HasPrefix(trimmed, "# END search attributes"):
			out = append(out, line)
			skipping = false
		case !skipping:
			out = append(out, line)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log("rewrote the search attributes of docker-compose.yml")
}

// TestComposeWebOffersNoSagaSkippingActions: compose's Temporal Web (the image's own settings, as
// ui-server 2.55 reads them in its docker.yaml) hides terminate, reset and batch actions: they
// skip a bill's saga or re-run its cloud calls; ops use the API's cancel, retry and resolve.
func TestComposeWebOffersNoSagaSkippingActions(t *testing.T) {
	cf := loadCompose(t)
	env := cf.Services["temporal-ui"].Environment
	for _, k := range []string{"TEMPORAL_WORKFLOW_TERMINATE_DISABLED", "TEMPORAL_WORKFLOW_RESET_DISABLED", "TEMPORAL_BATCH_ACTIONS_DISABLED"} {
		if v := interpolate(t, env[k], envExample(t)); v != "true" {
			t.Errorf("temporal-ui: %s=%q, want true", k, v)
		}
	}
}

// TestPasswordsNoProgramReadsAreChecked: PostgreSQL's and Grafana's passwords reach no rimflow
// program's configuration loader, so a one-shot `starter check-secrets` refuses a placeholder or
// a short one before either service starts (both wait for it to complete), and compose refuses
// them unset.
func TestPasswordsNoProgramReadsAreChecked(t *testing.T) {
	cf := loadCompose(t)
	check, ok := cf.Services["secrets-check"]
	if !ok {
		t.Fatal("no secrets-check service")
	}
	words := commandWords(t, "secrets-check", check.Command)
	for _, c := range []struct{ service, variable, target string }{
		{"postgresql", "POSTGRES_PASSWORD", "POSTGRES_PASSWORD"},
		{"grafana", "GRAFANA_ADMIN_PASSWORD", "GF_SECURITY_ADMIN_PASSWORD"},
	} {
		svc := cf.Services[c.service]
		if d, ok := svc.DependsOn["secrets-check"]; !ok || d.Condition != "service_completed_successfully" {
			t.Errorf("%s does not wait for secrets-check to complete: %+v", c.service, svc.DependsOn)
		}
		if !slices.Contains(words[2:], c.variable) || check.Environment[c.variable] != svc.Environment[c.target] {
			t.Errorf("secrets-check (%v, %s=%q) does not check what %s gets (%s=%q)", words, c.variable,
				check.Environment[c.variable], c.service, c.target, svc.Environment[c.target])
		}
		if _, err := Interpolate(svc.Environment[c.target], map[string]string{}); err == nil {
			t.Errorf("compose starts %s with %s unset", c.service, c.variable)
		}
	}
}
