package production

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"rimflow/deploy"
	"rimflow/devstack/harness"
	"rimflow/internal/codec"
	"rimflow/internal/config"
	"rimflow/internal/temporalclient"
	"rimflow/systest/pgtest"
	"rimflow/systest/testenv"
)

// The programs of the production shape, built once for the package from this module: rimflow's
// worker and starter (what the Dockerfile builds), and from the pinned Temporal server module the
// server (temporalio/server runs `temporal-server start`) and temporal-sql-tool (what the
// admin-tools image runs for the schema job). The temporal CLI is the one .ci/run installs.
var programs struct {
	once sync.Once
	dir  string
	err  error
}

// buildPrograms builds the shape's programs into programs.dir, in one `go build` (the go command
// builds them side by side). The server's two programs depend only on the pinned server module
// and the Go release, so they are kept in the user's cache under that key: linking the server is
// the slowest step of a run, and no rimflow change alters them.
func buildPrograms(t *testing.T) string {
	t.Helper()
	programs.once.Do(func() { programs.err = buildShapePrograms(programs.dir) })
	if programs.err != nil {
		t.Fatal(programs.err)
	}
	return programs.dir
}

func buildShapePrograms(dir string) error {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	serverCache, err := serverProgramsCache(gobin)
	if err != nil {
		return err
	}
	// Each program's package, the name go build gives it, and the name the shape runs it by.
	type program struct{ pkg, built, name, cached string }
	all := []program{
		{pkg: "rimflow/worker", built: "worker", name: "worker"},
		{pkg: "rimflow/starter", built: "starter", name: "starter"},
		{pkg: "go.temporal.io/server/cmd/server", built: "server", name: "temporal-server", cached: serverCache},
		{pkg: "go.temporal.io/server/cmd/tools/sql", built: "sql", name: "temporal-sql-tool", cached: serverCache},
	}
	var build []program
	for _, p := range all {
		if p.cached != "" && copyExecutable(filepath.Join(p.cached, p.name), filepath.Join(dir, p.name)) == nil {
			continue
		}
		build = append(build, p)
	}
	if len(build) == 0 {
		return nil
	}
	out := filepath.Join(dir, "build")
	args := []string{"build", "-o", out + string(filepath.Separator)}
	for _, p := range build {
		args = append(args, p.pkg)
	}
	cmd := exec.Command(gobin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	for _, p := range build {
		if err := os.Rename(filepath.Join(out, p.built), filepath.Join(dir, p.name)); err != nil {
			return err
		}
		if p.cached != "" { // best effort: a read-only cache only costs the next run a build
			_ = copyExecutable(filepath.Join(dir, p.name), filepath.Join(p.cached, p.name))
		}
	}
	return nil
}

// serverProgramsCache is the directory for the server's programs of this build's server module
// and Go release ("" when there is no user cache: always build).
func serverProgramsCache(gobin string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", nil
	}
	// A test binary carries no module list: ask the go command which server this module pins.
	out, err := exec.Command(gobin, "list", "-m", "-f", "{{.Version}} {{if .Replace}}replaced{{end}}", "go.temporal.io/server").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m go.temporal.io/server: %w", err)
	}
	version, replaced, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if version == "" || replaced != "" {
		return "", nil // a local server tree may change under the same version: always build
	}
	dir := filepath.Join(base, "rimflow", "temporal-server", version+"-"+runtime.Version()+"-"+runtime.GOOS+"-"+runtime.GOARCH)
	return dir, os.MkdirAll(dir, 0o755)
}

// copyExecutable copies an executable through a temporary file renamed into place, so a reader
// never sees half a program.
func copyExecutable(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(to), ".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), to)
}

// shapeOptions harden the compose shape the way an operator would, by adding variables to services.
type shapeOptions struct {
	// ServerEnv is added to the temporal service (the server image's TEMPORAL_TLS_*,
	// TEMPORAL_AUTH_* variables).
	ServerEnv map[string]string
	// RimflowEnv is added to the worker and api services (RIMFLOW_TEMPORAL_TLS_*, the API key).
	RimflowEnv map[string]string
	// CLIEnv configures the temporal CLI of the setup job and of the test's ops (its TLS and API
	// key variables).
	CLIEnv map[string]string
	// Client is how the test itself reaches the server (TLS files, an admin API key); Address and
	// Namespace are filled in.
	Client config.Temporal
	// Database names Temporal's main database (default the compose file's); the visibility
	// database is <Database>_visibility.
	Database string
}

// shape is docker-compose.yml run natively, service by service, with the real programs: a
// PostgreSQL cluster for the postgresql service, deploy/temporal/setup-schema.sh with
// temporal-sql-tool for temporal-schema, temporal-server for temporal, the compose file's own
// script with the temporal CLI for temporal-setup, and rimflow's worker and `starter serve` for
// worker and api. Every variable comes from the compose file and deploy/env.example; the test
// changes only what a machine without Docker must: service host names become loopback
// addresses, the ports are free ones, volumes are the repository's files, secrets are files.
// The Invoice Cloud is the caller's simulator (the sim profile's cloudsim, in this process so the
// test can read its ledger).
type shape struct {
	t       *testing.T
	ctx     context.Context
	opts    shapeOptions
	compose deploy.Compose
	dotenv  map[string]string
	repo    string
	dir     string // secrets and logs
	bin     string
	cli     string // the temporal CLI

	PG        *pgtest.Cluster
	server    *process
	serverEnv []string
	Frontend  string // the temporal service's gRPC address
	// ServerMetrics is where the temporal service serves its metrics (PROMETHEUS_ENDPOINT).
	ServerMetrics string
	// APIOps is where the last StartAPI serves its ops listener (RIMFLOW_API_OPS_ADDR): the
	// API's /metrics, which the prometheus service scrapes without a token.
	APIOps   string
	Client   client.Client // the test's own client (ops, the ERP's side)
	CloudURL string        // where cloudsim:8090 points; set before starting rimflow's services
	APIToken string
	Codec    *codec.Codec // the payload keys the codec-keys job made, as the worker and the API read them
	ports    map[int]bool // handed out already: a port just released may come back
}

func newShape(t *testing.T, ctx context.Context, opts shapeOptions) *shape {
	t.Helper()
	t0 := time.Now()
	cli := testenv.RequireTemporalCLI(t)
	pg := pgtest.Start(t)
	tPG := time.Since(t0)
	s := &shape{t: t, ctx: ctx, opts: opts, PG: pg, cli: cli, bin: buildPrograms(t), ports: map[int]bool{}}
	tBuild := time.Since(t0)
	s.repo = repoRoot(t)
	var err error
	if s.compose, err = deploy.LoadCompose(filepath.Join(s.repo, "docker-compose.yml")); err != nil {
		t.Fatal(err)
	}
	if s.dotenv, err = deploy.ReadDotenv(filepath.Join(s.repo, "deploy", "env.example")); err != nil {
		t.Fatal(err)
	}
	// The .env a user makes from env.example: the secrets generated as it asks (the database's
	// password is the throwaway cluster's).
	s.dotenv = deploy.WithGeneratedSecrets(s.dotenv)
	s.dotenv["POSTGRES_PASSWORD"] = pg.Password
	s.APIToken = s.dotenv["RIMFLOW_API_TOKEN"]
	s.dir = t.TempDir()

	s.runSchemaJob()
	tSchema := time.Since(t0)
	s.serverEnv = s.temporalEnv()
	s.StartServer()
	tServer := time.Since(t0)
	s.runSetupJob()
	tSetup := time.Since(t0)
	s.runCodecKeysJob()
	// Where a slow run spends its time (each figure since the start of newShape).
	t.Logf("shape up in %s: postgres %s, programs %s, schema job %s, server %s, setup job %s",
		time.Since(t0).Round(time.Millisecond), tPG.Round(time.Millisecond), tBuild.Round(time.Millisecond),
		tSchema.Round(time.Millisecond), tServer.Round(time.Millisecond), tSetup.Round(time.Millisecond))

	// The test's client seals payloads with the shape's keys, as the worker and the API do.
	tc := opts.Client
	tc.Address, tc.Namespace, tc.Codec = s.Frontend, "default", s.Codec
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if s.Client, err = temporalclient.Dial(dctx, tc, nil, nil); err != nil {
		t.Fatalf("the test's client: %v", err)
	}
	t.Cleanup(s.Client.Close)
	return s
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "docker-compose.yml")); err != nil {
		t.Fatalf("repository root: %v", err)
	}
	return dir
}

// service is a compose service, or the test fails.
func (s *shape) service(name string) deploy.Service {
	svc, ok := s.compose.Services[name]
	if !ok {
		s.t.Fatalf("docker-compose.yml has no %s service", name)
	}
	return svc
}

// words is a command or entrypoint as compose runs it: its words, interpolated with the .env
// ($$ becomes the shell's $).
func (s *shape) words(cmd any) ([]string, error) {
	words, err := deploy.Words(cmd)
	if err != nil {
		return nil, err
	}
	for i, w := range words {
		if words[i], err = deploy.Interpolate(w, s.dotenv); err != nil {
			return nil, err
		}
	}
	return words, nil
}

// environment is the service's environment as compose would set it (interpolated with the .env),
// before any rewriting.
func (s *shape) environment(name string) map[string]string {
	env := map[string]string{}
	for k, raw := range s.service(name).Environment {
		v, err := deploy.Interpolate(raw, s.dotenv)
		if err != nil {
			s.t.Fatalf("service %s: %v", name, err)
		}
		env[k] = v
	}
	return env
}

// hostPath maps a path inside a service's container to the file its volume mounts: the
// repository's for a bind mount (./…), the shape's directory of that name for a named volume.
func (s *shape) hostPath(name, p string) (string, bool) {
	for _, v := range s.service(name).Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			continue
		}
		src, dst := filepath.Join(s.repo, parts[0]), parts[1]
		if !strings.HasPrefix(parts[0], ".") && !strings.HasPrefix(parts[0], "/") {
			src = s.volume(parts[0])
		}
		if p == dst {
			return src, true
		}
		if rest, ok := strings.CutPrefix(p, dst+"/"); ok {
			return filepath.Join(src, rest), true
		}
	}
	return "", false
}

// volume is the directory standing in for a named volume, shared by the services that mount it.
func (s *shape) volume(name string) string {
	dir := filepath.Join(s.dir, "volume-"+name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		s.t.Fatal(err)
	}
	return dir
}

// pgEnv points the server image's and admin-tools' database variables at the test's PostgreSQL.
func (s *shape) pgEnv(env map[string]string) {
	if env["POSTGRES_SEEDS"] != "postgresql" {
		s.t.Fatalf("POSTGRES_SEEDS is %q, not the postgresql service", env["POSTGRES_SEEDS"])
	}
	env["POSTGRES_SEEDS"] = s.PG.Host
	env["DB_PORT"] = strconv.Itoa(s.PG.Port)
	if s.opts.Database != "" {
		env["DBNAME"], env["VISIBILITY_DBNAME"] = s.opts.Database, s.opts.Database+"_visibility"
	}
}

// runSchemaJob runs temporal-schema: its entrypoint (sh and the mounted setup-schema.sh) with
// temporal-sql-tool on PATH, twice, as `docker compose up` does on the first and on a later start.
func (s *shape) runSchemaJob() {
	t := s.t
	svc := s.service("temporal-schema")
	words, err := s.words(svc.Entrypoint)
	if err != nil || len(words) < 2 || words[0] != "/bin/sh" {
		t.Fatalf("temporal-schema's entrypoint %v is not a shell script", svc.Entrypoint)
	}
	script, ok := s.hostPath("temporal-schema", words[1])
	if !ok {
		t.Fatalf("temporal-schema runs %s, which no volume of it mounts", words[1])
	}
	env := s.environment("temporal-schema")
	s.pgEnv(env)
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
		out, err := runCommand(ctx, "/bin/sh", append([]string{script}, words[2:]...), s.processEnv(env, s.bin))
		cancel()
		if err != nil {
			t.Fatalf("temporal-schema (run %d): %v\n%s", run, err, out)
		}
		if !strings.Contains(out, "temporal schema ready") {
			t.Fatalf("temporal-schema (run %d) did not finish:\n%s", run, out)
		}
	}
}

// serverPorts are the server template's port variables, each given a free port once, so a
// restarted server comes back on the same addresses.
var serverPorts = []string{
	"FRONTEND_GRPC_PORT", "FRONTEND_MEMBERSHIP_PORT", "FRONTEND_HTTP_PORT",
	"INTERNAL_FRONTEND_GRPC_PORT", "INTERNAL_FRONTEND_MEMBERSHIP_PORT", "INTERNAL_FRONTEND_HTTP_PORT",
	"HISTORY_GRPC_PORT", "HISTORY_MEMBERSHIP_PORT",
	"MATCHING_GRPC_PORT", "MATCHING_MEMBERSHIP_PORT",
	"WORKER_GRPC_PORT", "WORKER_MEMBERSHIP_PORT",
}

// temporalEnv is the temporal service's environment for temporal-server: the compose file's, the
// database at the test's PostgreSQL, loopback instead of the container's address, free ports, the
// mounted dynamic config file, and the operator's additions.
func (s *shape) temporalEnv() []string {
	t := s.t
	env := s.environment("temporal")
	s.pgEnv(env)
	if env["BIND_ON_IP"] != "0.0.0.0" {
		t.Fatalf("temporal's BIND_ON_IP is %q; the test expects the container's 0.0.0.0", env["BIND_ON_IP"])
	}
	env["BIND_ON_IP"] = "127.0.0.1"
	dc, ok := s.hostPath("temporal", env["DYNAMIC_CONFIG_FILE_PATH"])
	if !ok {
		t.Fatalf("DYNAMIC_CONFIG_FILE_PATH %q is not a file the temporal service mounts", env["DYNAMIC_CONFIG_FILE_PATH"])
	}
	env["DYNAMIC_CONFIG_FILE_PATH"] = dc
	for _, name := range serverPorts {
		if _, set := env[name]; set {
			t.Fatalf("the compose file sets %s; the test would override it", name)
		}
		env[name] = strconv.Itoa(s.serverPort())
	}
	// The server's /metrics (the prometheus service scrapes it), here on a free loopback port.
	if _, port, err := net.SplitHostPort(env["PROMETHEUS_ENDPOINT"]); err != nil || port != "8000" {
		t.Fatalf("temporal's PROMETHEUS_ENDPOINT is %q; the test expects 0.0.0.0:8000", env["PROMETHEUS_ENDPOINT"])
	}
	env["PROMETHEUS_ENDPOINT"] = "127.0.0.1:" + strconv.Itoa(s.port())
	s.ServerMetrics = env["PROMETHEUS_ENDPOINT"]
	env["LOG_LEVEL"] = "warn"
	for k, v := range s.opts.ServerEnv {
		env[k] = v
	}
	s.Frontend = net.JoinHostPort("127.0.0.1", env["FRONTEND_GRPC_PORT"])
	return s.processEnv(env, "")
}

// StartServer starts temporal-server (as the image's entrypoint does) and waits until its frontend
// answers a health check.
func (s *shape) StartServer() {
	t := s.t
	svc := s.service("temporal")
	if !strings.HasPrefix(svc.Image, "temporalio/server:") {
		t.Fatalf("the temporal service runs %s, not temporalio/server", svc.Image)
	}
	s.server = startProcess(t, "temporal-server", filepath.Join(s.bin, "temporal-server"), []string{"start"}, s.serverEnv, s.dir)
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	opts := client.Options{HostPort: s.Frontend}
	if s.opts.Client.TLS() {
		tc, err := temporalclient.TLSConfig(s.opts.Client)
		if err != nil {
			t.Fatal(err)
		}
		opts.ConnectionOptions.TLS = tc
	}
	var last error
	for {
		if s.server.Exited() {
			t.Fatalf("temporal-server exited: %v\n%s", s.server.Err(), s.server.tail(4000))
		}
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return
			}
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("temporal-server at %s is not serving: %v\n%s", s.Frontend, last, s.server.tail(4000))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// StopServer stops temporal-server as `docker compose stop` does: SIGTERM, then a kill after the
// grace period.
func (s *shape) StopServer() {
	if err := s.server.Stop(30 * time.Second); err != nil {
		s.t.Errorf("stop temporal-server: %v", err)
	}
}

// runSetupJob runs temporal-setup: its entrypoint and command (the namespace and the search
// attributes) with the temporal CLI on PATH.
func (s *shape) runSetupJob() {
	t := s.t
	svc := s.service("temporal-setup")
	entry, err1 := s.words(svc.Entrypoint)
	cmd, err2 := s.words(svc.Command)
	if err := errors.Join(err1, err2); err != nil || len(entry) == 0 || entry[0] != "/bin/sh" {
		t.Fatalf("temporal-setup: entrypoint %v command %v: %v", svc.Entrypoint, svc.Command, err)
	}
	env := s.environment("temporal-setup")
	s.rewrite("temporal-setup", env)
	for k, v := range s.opts.CLIEnv {
		env[k] = v
	}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	out, err := runCommand(ctx, entry[0], append(entry[1:], cmd...), s.processEnv(env, filepath.Dir(s.cli)))
	if err != nil {
		t.Fatalf("temporal-setup: %v\n%s", err, out)
	}
}

// runCodecKeysJob runs codec-keys, the one-shot that makes the payload key file in its named
// volume, twice, as two `docker compose up` do: the first run creates the file (mode 0600), the
// second keeps it as it is. The worker and the api services read it from the same volume.
func (s *shape) runCodecKeysJob() {
	t := s.t
	words := s.command("codec-keys")
	args := make([]string, 0, len(words)-1)
	keyFile := ""
	for i, w := range words[1:] {
		if p, ok := s.hostPath("codec-keys", w); ok {
			w = p
			if i > 0 && words[i] == "--file" {
				keyFile = p
			}
		}
		args = append(args, w)
	}
	if keyFile == "" {
		t.Fatalf("codec-keys runs %v: no --file in a volume it mounts", words)
	}
	var made []byte
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		out, err := runCommand(ctx, filepath.Join(s.bin, words[0]), args, s.processEnv(nil, ""))
		cancel()
		if err != nil {
			t.Fatalf("codec-keys (run %d): %v\n%s", run, err, out)
		}
		if created := strings.Contains(out, `"created": true`) || strings.Contains(out, `"created":true`); created != (run == 1) {
			t.Fatalf("codec-keys (run %d) created a key file: %v, want %v:\n%s", run, created, run == 1, out)
		}
		info, err := os.Stat(keyFile)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("codec-keys (run %d): the key file %v %v, want mode 0600", run, info, err)
		}
		raw, _ := os.ReadFile(keyFile)
		if run == 2 && !bytes.Equal(raw, made) {
			t.Fatal("the second codec-keys run changed the key file")
		}
		made = raw
	}
	keys, err := codec.ReadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if s.Codec, err = codec.NewFromSettings(codec.Settings{Encrypt: true, Keys: keys}); err != nil {
		t.Fatal(err)
	}
}

// CLI is the temporal CLI as ops run it against this server.
func (s *shape) CLI() *testenv.TemporalCLI {
	env := []string{"TEMPORAL_ADDRESS=" + s.Frontend, "TEMPORAL_NAMESPACE=default"}
	for k, v := range s.opts.CLIEnv {
		env = append(env, k+"="+v)
	}
	return &testenv.TemporalCLI{Path: s.cli, Env: env}
}

// rewrite makes a service's variables work on this machine: a compose service named in host:port
// or a URL becomes its loopback address here, a 0.0.0.0:port listen address a free loopback port,
// a /run/secrets/ path a file holding the secret, a mounted path the repository's file.
func (s *shape) rewrite(name string, env map[string]string) {
	t := s.t
	for k, v := range env {
		switch {
		case strings.HasPrefix(v, "/run/secrets/"):
			env[k] = s.secretFile(name, strings.TrimPrefix(v, "/run/secrets/"))
		case strings.Contains(v, "://"):
			u, err := url.Parse(v)
			if err != nil {
				t.Fatalf("service %s: %s=%q: %v", name, k, v, err)
			}
			if _, isService := s.compose.Services[u.Hostname()]; isService {
				u.Host = s.addrOf(name, k, u.Host)
				env[k] = u.String()
			}
		default:
			host, port, err := net.SplitHostPort(v)
			if err != nil {
				if p, ok := s.hostPath(name, v); ok {
					env[k] = p
				}
				continue
			}
			if host == "0.0.0.0" {
				env[k] = "127.0.0.1:" + strconv.Itoa(s.port())
				continue
			}
			if _, isService := s.compose.Services[host]; isService {
				env[k] = s.addrOf(name, k, net.JoinHostPort(host, port))
			}
		}
	}
}

// addrOf is where the test runs the compose service at host:port.
func (s *shape) addrOf(from, variable, hostPort string) string {
	switch hostPort {
	case "temporal:7233":
		return s.Frontend
	case "postgresql:5432":
		return s.PG.Addr()
	case "cloudsim:8090":
		if s.CloudURL == "" {
			s.t.Fatalf("service %s: %s points at the simulator, but the test has not started one", from, variable)
		}
		u, _ := url.Parse(s.CloudURL)
		return u.Host
	}
	s.t.Fatalf("service %s: %s points at %s, which this test does not run", from, variable, hostPort)
	return ""
}

// secretFile writes the compose secret (fed from the .env variable it names) to a file the
// service reads, as compose mounts it under /run/secrets/.
func (s *shape) secretFile(service, name string) string {
	t := s.t
	mounted := false
	for _, m := range s.service(service).Secrets {
		mounted = mounted || m == name
	}
	decl, ok := s.compose.Secrets[name]
	if !mounted || !ok || decl.Environment == "" {
		t.Fatalf("service %s reads secret %s, which it does not mount or compose does not feed from a variable", service, name)
	}
	p := filepath.Join(s.dir, "secret-"+service+"-"+name)
	if err := os.WriteFile(p, []byte(s.dotenv[decl.Environment]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// RimflowEnv is the environment of a rimflow service (worker or api) as compose sets it, made to
// work here, with the operator's additions; the map is returned too, to read the addresses.
func (s *shape) RimflowEnv(name string, extra map[string]string) ([]string, map[string]string) {
	env := s.environment(name)
	s.rewrite(name, env)
	for k, v := range s.opts.RimflowEnv {
		env[k] = v
	}
	for k, v := range extra {
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	return s.processEnv(env, ""), env
}

// processEnv is env as a process environment, plus what any program needs to run here (PATH with
// extra first, HOME, TMPDIR) and none of the caller's own RIMFLOW_ or TEMPORAL_ variables.
func (s *shape) processEnv(env map[string]string, pathFirst string) []string {
	out := make([]string, 0, len(env)+4)
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	path := os.Getenv("PATH")
	if pathFirst != "" {
		path = pathFirst + string(os.PathListSeparator) + path
	}
	out = append(out, "PATH="+path)
	for _, k := range []string{"HOME", "TMPDIR", "GOMAXPROCS"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

// StartWorker starts the worker service's program (./worker) with its compose environment and
// waits until it polls; extra variables override (an empty value removes one).
func (s *shape) StartWorker(extra map[string]string, stderr io.Writer) (*harness.Worker, map[string]string) {
	return s.StartWorkerBinary("", extra, stderr, nil)
}

// StartWorkerBinary is StartWorker with another build of the worker program (path; "" = the
// package's) and its own wait for it to poll (nil = harness.StartWorker's).
func (s *shape) StartWorkerBinary(path string, extra map[string]string, stderr io.Writer, ready func(*harness.Worker) error) (*harness.Worker, map[string]string) {
	t := s.t
	words := s.command("worker")
	if path == "" {
		path = filepath.Join(s.bin, words[0])
	}
	env, vars := s.RimflowEnv("worker", extra)
	own := &harness.LogBuffer{}
	if stderr != nil {
		stderr = io.MultiWriter(own, stderr)
	} else {
		stderr = own
	}
	w, err := harness.StartWorker(s.ctx, s.Client, harness.WorkerOptions{
		Path: path, Args: words[1:], Env: env, Stderr: stderr, Ready: ready,
	})
	if err != nil {
		t.Fatalf("start the worker service: %v\n%s", err, tailOf(own.String(), 3000))
	}
	t.Cleanup(func() {
		_ = w.Stop(30 * time.Second)
		if t.Failed() {
			t.Logf("worker %d output (tail):\n%s", w.PID(), tailOf(own.String(), 3000))
		}
	})
	return w, vars
}

// StartAPI starts the api service's program (`starter serve`) and waits until /healthz answers
// 200; it returns the API's base URL.
func (s *shape) StartAPI() (*process, string) {
	t := s.t
	words := s.command("api")
	env, vars := s.RimflowEnv("api", nil)
	p := startProcess(t, "api", filepath.Join(s.bin, words[0]), words[1:], env, s.dir)
	apiURL := "http://" + vars[config.EnvAPIAddr]
	s.APIOps = vars[config.EnvAPIOpsAddr]
	deadline := time.Now().Add(time.Minute)
	for {
		if p.Exited() {
			t.Fatalf("starter serve exited: %v\n%s", p.Err(), p.tail(3000))
		}
		status := 0
		req, _ := http.NewRequestWithContext(s.ctx, http.MethodGet, apiURL+"/healthz", nil)
		req.Header.Set("Authorization", "Bearer "+s.APIToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		if status == http.StatusOK {
			return p, apiURL
		}
		if time.Now().After(deadline) {
			t.Fatalf("starter serve at %s: /healthz answers %d\n%s", apiURL, status, p.tail(3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// command is the rimflow service's command: a program of the image and its arguments.
func (s *shape) command(name string) []string {
	svc := s.service(name)
	words, err := s.words(svc.Command)
	if err != nil || len(words) == 0 {
		s.t.Fatalf("service %s: command %v: %v", name, svc.Command, err)
	}
	if svc.Image != "rimflow:latest" {
		s.t.Fatalf("service %s runs %s, not the rimflow image", name, svc.Image)
	}
	return words
}

// process is a program the test runs, its output in a log file.
type process struct {
	*harness.Process
	log string
}

func startProcess(t *testing.T, name, path string, args, env []string, dir string) *process {
	t.Helper()
	logFile, err := os.CreateTemp(dir, name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	kp, err := harness.StartProcess(name, cmd)
	if err != nil {
		logFile.Close()
		t.Fatal(err)
	}
	p := &process{Process: kp, log: logFile.Name()}
	t.Cleanup(func() {
		_ = p.Stop(30 * time.Second)
		logFile.Close()
		if t.Failed() {
			t.Logf("%s output (tail):\n%s", name, p.tail(3000))
		}
	})
	return p
}

func (p *process) tail(n int) string {
	raw, _ := os.ReadFile(p.log)
	if len(raw) > n {
		raw = raw[len(raw)-n:]
	}
	return string(raw)
}

// runCommand runs a program to its end and returns its combined output.
func runCommand(ctx context.Context, path string, args, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// serverPort is a free loopback port below 32768 for the server's services: the cluster_membership
// table keeps a service's port as a smallint, so one from the kernel's ephemeral range (from
// 32768 up) stops the server at start.
func (s *shape) serverPort() int {
	for {
		p := 10000 + rand.IntN(32767-10000)
		if s.ports[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		s.ports[p] = true
		return p
	}
}

// port is a free loopback port not handed out before in this shape.
func (s *shape) port() int {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !s.ports[p] {
			s.ports[p] = true
			return p
		}
	}
}
