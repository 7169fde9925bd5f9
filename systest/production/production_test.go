// Package production runs rimflow's production shape for real, natively, without a Docker engine:
// docker-compose.yml's services as the real programs on this machine (PostgreSQL from the
// distribution, temporal-server and temporal-sql-tool built from the pinned server module, the
// temporal CLI, rimflow's worker and `starter serve`), configured only by the compose file and
// deploy/env.example. On it: the end-to-end suite, the server restarted mid-run, three workers
// through a SIGKILL and a rolling restart, mutual TLS and bearer-token (API key) authorization to
// Temporal. Also the devstack on a user's PostgreSQL (--postgres), and a check that the embedded
// server's PostgreSQL settings are what the compose file gives the server image.
//
// PostgreSQL and the temporal CLI must be installed (.ci/run installs both); without them the
// tests skip, except under CI, where they fail.
package production

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	serverconfig "go.temporal.io/server/common/config"
	pgschema "go.temporal.io/server/schema/postgresql/v12"

	"rimflow/bench/kit"
	"rimflow/cloudsim/simulator"
	"rimflow/deploy"
	"rimflow/devstack/devserver"
	"rimflow/devstack/harness"
	"rimflow/internal/config"
	"rimflow/invoicecloud/ultimate"
	"rimflow/systest/e2e"
	"rimflow/systest/pgtest"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// TestEmbeddedServerOnPostgresIsTheComposeServer renders the server image's configuration the way
// temporalio/server does at start (its embedded template, from the temporal service's environment
// in docker-compose.yml) and compares its persistence with devserver's PostgreSQL settings, so
// `devstack --postgres` and `bench -postgres` run the store the compose file deploys.
func TestEmbeddedServerOnPostgresIsTheComposeServer(t *testing.T) {
	repo := repoRoot(t)
	cf, err := deploy.LoadCompose(filepath.Join(repo, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dotenv, err := deploy.ReadDotenv(filepath.Join(repo, "deploy", "env.example"))
	if err != nil {
		t.Fatal(err)
	}
	dotenv = deploy.WithGeneratedSecrets(dotenv)
	env := map[string]string{}
	for k, raw := range cf.Services["temporal"].Environment {
		if env[k], err = deploy.Interpolate(raw, dotenv); err != nil {
			t.Fatal(err)
		}
	}
	// The template reads the process environment; nothing else in this test does.
	for k, v := range env {
		t.Setenv(k, v)
	}
	rendered, err := serverconfig.Load(serverconfig.WithEmbedded())
	if err != nil {
		t.Fatalf("the server image's template rejects the compose environment: %v", err)
	}
	pg, err := devserver.ParsePostgresURL("postgres://" + env["POSTGRES_USER"] + ":" + env["POSTGRES_PWD"] + "@" +
		env["POSTGRES_SEEDS"] + ":" + env["DB_PORT"] + "/" + env["DBNAME"])
	if err != nil {
		t.Fatal(err)
	}
	if pg.VisibilityDatabase() != env["VISIBILITY_DBNAME"] {
		t.Errorf("devserver's visibility database %s, the compose file's %s", pg.VisibilityDatabase(), env["VISIBILITY_DBNAME"])
	}
	ours := devserver.PostgresPersistence(pg)
	theirs := rendered.Persistence
	if theirs.NumHistoryShards != ours.NumHistoryShards {
		t.Errorf("history shards: compose's server %d, devserver %d", theirs.NumHistoryShards, ours.NumHistoryShards)
	}
	for _, store := range []struct {
		name         string
		theirs, ours string
	}{
		{"persistence", theirs.DefaultStore, ours.DefaultStore},
		{"visibility", theirs.VisibilityStore, ours.VisibilityStore},
	} {
		a, b := theirs.DataStores[store.theirs].SQL, ours.DataStores[store.ours].SQL
		if a == nil || b == nil {
			t.Fatalf("%s: compose's server %+v, devserver %+v: want SQL on both", store.name, theirs.DataStores[store.theirs], ours.DataStores[store.ours])
		}
		have := fmt.Sprintf("plugin=%s db=%s addr=%s user=%s conns=%d/%d lifetime=%s",
			a.PluginName, a.DatabaseName, a.ConnectAddr, a.User, a.MaxConns, a.MaxIdleConns, a.MaxConnLifetime)
		want := fmt.Sprintf("plugin=%s db=%s addr=%s user=%s conns=%d/%d lifetime=%s",
			b.PluginName, b.DatabaseName, b.ConnectAddr, b.User, b.MaxConns, b.MaxIdleConns, b.MaxConnLifetime)
		if have != want {
			t.Errorf("%s store:\ncompose's server %s\ndevserver        %s", store.name, have, want)
		}
	}
	if filepath.Base(rendered.DynamicConfigClient.Filepath) == "docker.yaml" {
		t.Errorf("the compose server does not read rimflow's dynamic config (DYNAMIC_CONFIG_FILE_PATH unset)")
	}
}

// schemaVersions reads the schema version of the main and the visibility database.
func schemaVersions(t *testing.T, pg *pgtest.Cluster, database string) (main, visibility string) {
	t.Helper()
	read := func(db string) string {
		out, err := psql(pg, db, "SELECT curr_version FROM schema_version")
		if err != nil {
			t.Fatalf("schema version of %s: %v", db, err)
		}
		return strings.TrimSpace(out)
	}
	return read(database), read(database + "_visibility")
}

// psql runs one query with the distribution's psql client.
func psql(pg *pgtest.Cluster, db, query string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return runCommand(ctx, "psql", []string{"-X", "-A", "-t", "-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-U", pg.User, "-d", db, "-c", query},
		append(os.Environ(), "PGPASSWORD="+pg.Password))
}

func assertSchemaVersions(t *testing.T, pg *pgtest.Cluster, database string) {
	t.Helper()
	main, vis := schemaVersions(t, pg, database)
	if main != pgschema.Version || vis != pgschema.VisibilityVersion {
		t.Fatalf("schema versions %s/%s, want the server release's %s/%s", main, vis, pgschema.Version, pgschema.VisibilityVersion)
	}
}

// TestDevstackOnPostgres is `go run ./devstack --postgres URL` on an empty PostgreSQL: it creates
// the databases and the schemas of this server release, the demo bill completes, and a restart on
// the same database keeps the bill without touching the schema.
func TestDevstackOnPostgres(t *testing.T) {
	t.Parallel() // its own cluster, server and processes: two shapes at a time (go test -parallel)
	pg := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	opts := harness.Options{DataDir: dir, Postgres: pg.URL("rimflow_dev"), TemporalAddr: "127.0.0.1:0", UIAddr: "127.0.0.1:0",
		CloudAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Seed: 3}
	s, err := harness.Start(ctx, opts)
	if err != nil {
		t.Fatalf("devstack --postgres: %v", err)
	}
	closeOnce := sync.OnceValue(s.Close)
	t.Cleanup(func() { _ = closeOnce() })
	if !s.Temporal.SchemaCreated() {
		t.Error("devstack on an empty PostgreSQL did not report creating the schema")
	}
	if strings.Contains(s.Temporal.Store(), pg.Password) || !strings.Contains(s.Temporal.Store(), "rimflow_dev") {
		t.Errorf("the store is named %q: want the database, never the password", s.Temporal.Store())
	}
	if _, err := os.Stat(filepath.Join(dir, devserver.DefaultDBFile)); err == nil {
		t.Error("devstack --postgres wrote a SQLite file")
	}
	assertSchemaVersions(t, pg, "rimflow_dev")

	steps, err := harness.Demo{APIURL: s.APIURL(), CloudURL: s.CloudURL(), BillID: "PG-DEV", Wait: 90 * time.Second, HTTP: testenv.CheckedClient(t)}.Run(ctx, io.Discard)
	if err != nil {
		t.Fatalf("demo on PostgreSQL: %v", err)
	}
	if last := steps[len(steps)-1]; last.Stage != workflows.StageCompleted {
		t.Fatalf("demo ended in %s", last.Stage)
	}
	// Temporal Web lists it from PostgreSQL visibility (written shortly after the bill's change).
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := testenv.Do(t, ctx, http.MethodGet, s.UIURL()+"/api/v1/namespaces/default/workflows?query="+
			"BillStage%3D%22completed%22", "", nil)
		if status == http.StatusOK && strings.Contains(string(body), workflows.BillWorkflowID("OA", "PG-DEV")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Temporal Web's list by BillStage after 30 s: HTTP %d %.300s", status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	temporalAddr, uiAddr, cloudAddr, apiAddr := s.Addrs()
	if err := closeOnce(); err != nil {
		t.Fatalf("close: %v", err)
	}
	opts.TemporalAddr, opts.UIAddr, opts.CloudAddr, opts.APIAddr = temporalAddr, uiAddr, cloudAddr, apiAddr
	s2, err := harness.Start(ctx, opts)
	if err != nil {
		t.Fatalf("devstack --postgres again on the same database: %v", err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	if s2.Temporal.SchemaCreated() {
		t.Error("the restart created the schema again")
	}
	st, err := harness.WaitStageVia(ctx, testenv.CheckedClient(t), s2.APIURL()+"/v1/bills/OA/PG-DEV", "", 30*time.Second, workflows.StageCompleted)
	if err != nil {
		t.Fatalf("the completed bill after the restart: %v (%+v)", err, st)
	}
}

// TestProductionEndToEnd runs the end-to-end suite on the compose shape: PostgreSQL, the schema
// job, temporal-server, the setup job, one worker and the API as separate processes configured
// by the compose file alone. The restart stops and starts the server, the worker and the API.
func TestProductionEndToEnd(t *testing.T) {
	t.Parallel() // its own cluster, server and processes: two shapes at a time (go test -parallel)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s := newShape(t, ctx, shapeOptions{})
	assertSchemaVersions(t, s.PG, "temporal")
	assertSearchAttributes(t, ctx, s.Client)

	cloud := harness.NewCloud(t, simulator.Options{Seed: 7}, nil)
	s.CloudURL = cloud.URL
	worker, workerVars := s.StartWorker(nil, nil)
	webPort := s.webPort()
	api, apiURL := s.StartAPI()
	webURL := s.StartWeb(webPort, apiURL)

	// One enterprise (RIMFLOW_CLOUD_*, no registry file), the ultimate tenant of the simulator;
	// Temporal Web as the compose file configures it, its origin the codec server's.
	target := e2e.Target{APIURL: apiURL, CloudURL: cloud.URL, Token: s.APIToken, CLI: s.CLI(), WebURL: webURL,
		Demos:       []harness.DemoRun{{TaxNo: harness.DemoTaxNo, Suffix: "ULT", Edition: ultimate.Name}},
		CodecOrigin: s.environment("api")[config.EnvCodecOrigins]}
	target.Restart = func(t *testing.T) e2e.Target {
		if err := api.Stop(30 * time.Second); err != nil {
			t.Errorf("stop the API: %v", err)
		}
		if err := worker.Stop(30 * time.Second); err != nil {
			t.Errorf("stop the worker: %v", err)
		}
		s.StopServer()
		s.StartServer()
		worker, workerVars = s.StartWorker(nil, nil)
		api, apiURL = s.StartAPI()
		// Without the token the API refuses, as compose runs it.
		if status, body := testenv.Do(t, ctx, http.MethodGet, apiURL+"/v1/bills/OA/E2E-RESTART", "", nil); status != http.StatusUnauthorized {
			t.Fatalf("the API answered without its token: HTTP %d: %s", status, body)
		}
		next := target
		next.APIURL = apiURL
		return next
	}
	suite := &e2e.Suite{Ctx: ctx, Target: target}
	suite.Run(t,
		e2e.Case{Name: "temporal workflow describe and show print the bill decoded (--codec-auth)", Run: suite.CLIShowsBillDecoded},
		e2e.Case{Name: "Temporal Web (compose's) shows the bill decoded after the codec sign-in", Run: suite.WebShowsBillDecoded})

	// Compose's Prometheus scrapes the worker, the API and the Temporal server: each answers, and
	// every metric the alert rules and the dashboard name is there after the bills above ran.
	// The API's metrics are on its ops listener, as compose runs it: its own port answers 404 to
	// the token that may do everything, and nothing to a stranger.
	if s.APIOps == "" {
		t.Fatalf("the api service sets no %s: its metrics would be on its public port", config.EnvAPIOpsAddr)
	}
	if status, body := testenv.Do(t, ctx, http.MethodGet, apiURL+"/metrics", s.APIToken, nil); status != http.StatusNotFound {
		t.Errorf("the API's own port answers /metrics: HTTP %d: %s", status, tailOf(string(body), 300))
	}
	s.scrapeEveryTarget(t, ctx, map[string]string{
		"worker": workerVars[config.EnvMetricsAddr], "api": s.APIOps, "temporal": s.ServerMetrics,
	})
}

// scrapeEveryTarget scrapes each target of deploy/prometheus/prometheus.yml once, where the test
// runs its service (addrs: compose service → address), and checks that the series names rules.yml
// and the dashboard select are all served by one of them. The bill gauges are counted at the
// API's start and then every minute, so it waits for the API's first count.
func (s *shape) scrapeEveryTarget(t *testing.T, ctx context.Context, addrs map[string]string) {
	targets, err := deploy.ScrapeTargets(filepath.Join(s.repo, "deploy", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := deploy.LoadRules(filepath.Join(s.repo, "deploy", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	queries, err := deploy.DashboardQueries(filepath.Join(s.repo, "deploy", "grafana", "dashboards", "rimflow.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		queries = append(queries, r.Expr)
	}
	scrape := func(tg deploy.Target) map[string]bool {
		host, _, _ := strings.Cut(tg.Target, ":")
		addr, ok := addrs[host]
		if !ok || addr == "" {
			t.Fatalf("prometheus scrapes %s (job %s), which this test does not run", tg.Target, tg.Job)
		}
		// As Prometheus scrapes: no token.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+tg.Path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("scrape %s (%s): %v", tg.Job, addr, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("scrape %s (%s): HTTP %d %s", tg.Job, addr, resp.StatusCode, tailOf(string(body), 300))
		}
		names := map[string]bool{}
		for _, line := range strings.Split(string(body), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if i := strings.IndexAny(line, "{ "); i > 0 {
				names[line[:i]] = true
			}
		}
		if len(names) == 0 {
			t.Errorf("scrape %s (%s): no series", tg.Job, addr)
		}
		return names
	}
	served := map[string]bool{}
	for _, tg := range targets {
		for n := range scrape(tg) {
			served[n] = true
		}
	}
	if !served["rimflow_bills"] {
		// The API's first count may still be under way: scrape again until it is in.
		if err := waitFor(ctx, func() bool {
			for _, tg := range targets {
				if strings.HasPrefix(tg.Target, "api:") && scrape(tg)["rimflow_bills"] {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("the API never served the bill gauges: %v", err)
		}
		served["rimflow_bills"] = true
		for _, tg := range targets {
			for n := range scrape(tg) {
				served[n] = true
			}
		}
	}
	for _, n := range deploy.MetricNames(queries...) {
		if !served[n] {
			t.Errorf("%s, named by the alert rules or the dashboard, is served by no target of prometheus.yml", n)
		}
	}
}

func assertSearchAttributes(t *testing.T, ctx context.Context, c client.Client) {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		t.Fatalf("list search attributes: %v", err)
	}
	for name, typ := range workflows.SearchAttributes() {
		if got, ok := resp.GetCustomAttributes()[name]; !ok || got != typ {
			t.Errorf("the setup job registered %s as %v (present %v), want %v", name, got, ok, typ)
		}
	}
}

// fleet drives bills' lives on a few ERP clients and counts where they are, so a test can strike
// while bills are in flight.
type fleet struct {
	started   atomic.Int32
	parked    atomic.Int32 // invoices bound
	completed atomic.Int32
}

// inFlight is how many bills have started and not completed.
func (f *fleet) inFlight() int { return int(f.started.Load() - f.completed.Load()) }

func (f *fleet) run(ctx context.Context, d *kit.Driver, prefix string, n, clients int) (ids []string, errs []error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var next atomic.Int32
	for i := range n {
		ids = append(ids, fmt.Sprintf("%s-%d", prefix, i))
	}
	for range min(clients, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f.started.Add(1)
				err := d.Park(ctx, ids[i])
				if err == nil {
					f.parked.Add(1)
					err = d.Drain(ctx, ids[i])
				}
				if err == nil {
					f.completed.Add(1)
				} else {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return ids, errs
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// checkFleet asserts every bill completed, none passed through failed, and the cloud's ledger
// shows each invoice bound exactly once, to one bill.
func checkFleet(t *testing.T, ctx context.Context, env *kit.Env, d *kit.Driver, ids []string, errs []error) kit.LedgerReport {
	t.Helper()
	for i, err := range errs {
		if i == 5 {
			t.Errorf("… and %d more", len(errs)-5)
			break
		}
		t.Errorf("bill: %v", err)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = d.Ref(id).Resource + "/" + id
		st, err := d.WaitEnd(ctx, id)
		if err != nil {
			t.Errorf("bill %s: %v", id, err)
			continue
		}
		for _, h := range st.History {
			if h.Stage == workflows.StageFailed {
				t.Errorf("bill %s went through failed: %s", id, h.Note)
			}
		}
	}
	rep, err := kit.CheckLedger(env.Sim, keys, true)
	if err != nil {
		t.Fatalf("ledger: %v", err)
	}
	return rep
}

// TestServerRestartedMidRun stops temporal-server (SIGTERM, as `docker compose restart temporal`)
// while bills are in flight on the PostgreSQL-backed cluster, and starts it again. The worker
// process and the ERP's client reconnect; every bill completes and the ledger is clean.
func TestServerRestartedMidRun(t *testing.T) {
	t.Parallel() // its own cluster, server and processes: two shapes at a time (go test -parallel)
	const n = 20
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s := newShape(t, ctx, shapeOptions{})
	env, err := kit.StartEnv(ctx, kit.EnvOptions{TemporalAddr: s.Frontend, Seed: 12, Codec: s.Codec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	s.CloudURL = env.CloudURL
	s.StartWorker(nil, nil)
	d := &kit.Driver{Env: env, Resource: "PGRESTART", Invoices: 1, StepTimeout: 3 * time.Minute}

	var f fleet
	struck := make(chan struct{})
	fleetDone := make(chan struct{})
	var inFlight int
	var down time.Duration
	go func() {
		defer close(struck)
		if waitFor(ctx, func() bool { return int(f.parked.Load()) >= n/2 || closed(fleetDone) }) != nil || closed(fleetDone) {
			return
		}
		inFlight = f.inFlight()
		began := time.Now()
		s.StopServer()
		time.Sleep(time.Second)
		s.StartServer()
		down = time.Since(began)
	}()
	ids, errs := f.run(ctx, d, "r", n, 8)
	close(fleetDone)
	<-struck
	if inFlight == 0 {
		t.Fatal("the server was not restarted while bills were in flight")
	}
	rep := checkFleet(t, ctx, env, d, ids, errs)
	t.Logf("temporal-server on PostgreSQL restarted (down %.1fs) with %d of %d bills in flight; %d completed, no invoice forwarded by the ERP; ledger: %d bills, %d invoices each bound once",
		down.Seconds(), inFlight, n, f.completed.Load(), rep.Bills, rep.Invoices)
}

// workerStats reads a worker's /metrics: the cloud calls it made, the workflow tasks it ran and
// the activities (cloud calls, watchers) running on it now.
func workerStats(ctx context.Context, metricsAddr string) (cloudCalls, workflowTasks, activitiesRunning float64, err error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+metricsAddr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, _ := strconv.ParseFloat(strings.TrimSpace(rest[strings.LastIndexByte(rest, ' ')+1:]), 64)
		switch name {
		case "rimflow_cloud_calls_total":
			cloudCalls += v
		case "temporal_workflow_task_execution_latency_seconds_count":
			workflowTasks += v
		case "temporal_worker_task_slots_used":
			if strings.Contains(line, `worker_type="ActivityWorker"`) {
				activitiesRunning += v
			}
		}
	}
	return cloudCalls, workflowTasks, activitiesRunning, sc.Err()
}

// TestThreeWorkersRollingRestart runs three worker processes on one cluster. All three take a share
// of the bills (each one's /metrics shows cloud calls and workflow tasks); then one is SIGKILLed
// and another is stopped gracefully (SIGTERM, a rolling restart's step), and its replacement
// started. The stopped worker drains and exits cleanly within its stop timeout; every bill
// completes, none passes through failed, and each invoice is bound exactly once.
func TestThreeWorkersRollingRestart(t *testing.T) {
	t.Parallel() // its own cluster, server and processes: two shapes at a time (go test -parallel)
	const n = 30
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := newShape(t, ctx, shapeOptions{})
	env, err := kit.StartEnv(ctx, kit.EnvOptions{TemporalAddr: s.Frontend, Seed: 13, Codec: s.Codec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	s.CloudURL = env.CloudURL

	type member struct {
		w       *harness.Worker
		metrics string
		log     *harness.LogBuffer
		calls   float64
		tasks   float64
	}
	var workers []*member
	for range 3 {
		m := &member{log: &harness.LogBuffer{}}
		var vars map[string]string
		m.w, vars = s.StartWorker(nil, m.log)
		m.metrics = vars[config.EnvMetricsAddr]
		workers = append(workers, m)
	}
	// A socket frame the cloud had written to the SIGKILLed worker is gone with it
	// (systest/resilience/README.md, "What a crash can lose"): the ERP forwards its copy of an
	// import not bound within 3 minutes (the killed worker's watchers move on after their 5-minute
	// heartbeat timeout).
	d := &kit.Driver{Env: env, Resource: "ROLLING", Invoices: 2, StepTimeout: 5 * time.Minute, ForwardAfter: 3 * time.Minute}

	var f fleet
	struck := make(chan struct{})
	fleetDone := make(chan struct{})
	var inFlight int
	var stopTook time.Duration
	var stopErr error
	var runningAtStop float64
	go func() {
		defer close(struck)
		// Strike once every worker has done a share of the work.
		allWorked := func() bool {
			for _, m := range workers {
				m.calls, m.tasks, _, _ = workerStats(ctx, m.metrics)
				if m.calls == 0 || m.tasks == 0 {
					return false
				}
			}
			return int(f.parked.Load()) >= n/3
		}
		if waitFor(ctx, func() bool { return allWorked() || closed(fleetDone) }) != nil || closed(fleetDone) {
			return
		}
		inFlight = f.inFlight()
		if err := workers[0].w.Kill(); err != nil {
			t.Errorf("kill worker 1: %v", err)
		}
		// The graceful stop comes while worker 2 runs activities, and the cloud answers slowly
		// meanwhile, so the stop has calls to wait for.
		busy := func() bool {
			_, _, running, _ := workerStats(ctx, workers[1].metrics)
			runningAtStop = running
			return running > 0
		}
		wctx, wcancel := context.WithTimeout(ctx, time.Minute)
		_ = waitFor(wctx, busy)
		wcancel()
		if err := env.Sim.SetFaults(simulator.Faults{LatencyMs: 1500}); err != nil {
			t.Errorf("slow cloud: %v", err)
		}
		began := time.Now()
		stopErr = workers[1].w.Stop(time.Minute)
		stopTook = time.Since(began)
		if err := env.Sim.SetFaults(simulator.Faults{}); err != nil {
			t.Errorf("clear the cloud's faults: %v", err)
		}
		s.StartWorker(nil, nil) // the rolling restart's new worker
	}()
	ids, errs := f.run(ctx, d, "w", n, 10)
	close(fleetDone)
	<-struck
	for i, m := range workers {
		t.Logf("worker %d (pid %d) before the strike: %.0f cloud calls, %.0f workflow tasks", i+1, m.w.PID(), m.calls, m.tasks)
	}
	if inFlight == 0 {
		t.Fatal("the workers were not struck while bills were in flight (see the shares above)")
	}
	if runningAtStop == 0 {
		t.Error("worker 2 ran no activity when it was stopped: the graceful stop had nothing to drain")
	}
	if stopErr != nil {
		t.Errorf("the gracefully stopped worker: %v\n%s", stopErr, workers[1].log.String())
	}
	if limit := 20*time.Second + 10*time.Second; stopTook > limit {
		t.Errorf("the graceful stop took %s, more than the worker's stop timeout (20s) allows", stopTook)
	}
	if !strings.Contains(workers[1].log.String(), `"worker stopped"`) {
		t.Errorf("the gracefully stopped worker did not log its stop:\n%s", workers[1].log.String())
	}
	rep := checkFleet(t, ctx, env, d, ids, errs)
	t.Logf("3 workers: #1 SIGKILLed, #2 stopped gracefully with %.0f activities running (took %s), %d bills in flight; %d of %d completed, %d imports forwarded by the ERP %v; ledger: %d bills, %d invoices each bound once",
		runningAtStop, stopTook.Round(time.Millisecond), inFlight, f.completed.Load(), n, d.Forwarded.Load(), d.ForwardedBills(), rep.Bills, rep.Invoices)
}

// refused starts a worker that Temporal must refuse and returns what it said: it must exit with
// an error, not poll.
func refused(t *testing.T, s *shape, extra map[string]string) string {
	t.Helper()
	var log harness.LogBuffer
	words := s.command("worker")
	env, _ := s.RimflowEnv("worker", extra)
	w, err := harness.StartWorker(s.ctx, s.Client, harness.WorkerOptions{Path: filepath.Join(s.bin, words[0]), Args: words[1:], Env: env, Stderr: &log})
	if err == nil {
		_ = w.Kill()
		t.Fatalf("a worker with %v was accepted and polls", extra)
	}
	t.Logf("refused: %v; the worker said:\n%s", err, tailOf(log.String(), 1500))
	return log.String()
}

// completeOneBill runs the demo bill through the API and the worker.
func completeOneBill(t *testing.T, ctx context.Context, apiURL, token, cloudURL, id string) {
	t.Helper()
	steps, err := harness.Demo{APIURL: apiURL, CloudURL: cloudURL, Token: token, BillID: id, Wait: 90 * time.Second, HTTP: testenv.CheckedClient(t)}.Run(ctx, io.Discard)
	if err != nil {
		t.Fatalf("bill %s: %v", id, err)
	}
	if last := steps[len(steps)-1]; last.Stage != workflows.StageCompleted {
		t.Fatalf("bill %s ended in %s", id, last.Stage)
	}
}

// TestMutualTLS hardens the cluster as Temporal's TLS guide and the server image's TEMPORAL_TLS_*
// variables do: the frontend requires client certificates from the client CA, the server's
// services speak TLS among themselves. The worker and the API connect with
// RIMFLOW_TEMPORAL_TLS_CERT/KEY/CA and a bill completes; a client without a certificate, with one
// from another CA, or not trusting the server's CA is refused with an error that names the setting.
func TestMutualTLS(t *testing.T) {
	t.Parallel() // its own cluster, server and processes: two shapes at a time (go test -parallel)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	dir := t.TempDir()
	serverCA, clientCA, rogueCA := newCA(t, dir, "server-ca"), newCA(t, dir, "client-ca"), newCA(t, dir, "rogue-ca")
	internodeCert, internodeKey := serverCA.issue(t, "temporal", true)
	frontendCert, frontendKey := serverCA.issue(t, "temporal-frontend", true)
	clientCert, clientKey := clientCA.issue(t, "rimflow", false)
	rogueCert, rogueKey := rogueCA.issue(t, "intruder", false)
	opsCert, opsKey := clientCA.issue(t, "ops", false)

	s := newShape(t, ctx, shapeOptions{
		ServerEnv: map[string]string{
			"TEMPORAL_TLS_REQUIRE_CLIENT_AUTH":   "true",
			"TEMPORAL_TLS_SERVER_CA_CERT":        serverCA.File,
			"TEMPORAL_TLS_SERVER_CERT":           internodeCert,
			"TEMPORAL_TLS_SERVER_KEY":            internodeKey,
			"TEMPORAL_TLS_INTERNODE_SERVER_NAME": "temporal",
			"TEMPORAL_TLS_FRONTEND_CERT":         frontendCert,
			"TEMPORAL_TLS_FRONTEND_KEY":          frontendKey,
			"TEMPORAL_TLS_FRONTEND_SERVER_NAME":  "temporal-frontend",
			// Clients: rimflow's CA, and the server's own (its system worker presents its internode certificate).
			"TEMPORAL_TLS_CLIENT1_CA_CERT": clientCA.File,
			"TEMPORAL_TLS_CLIENT2_CA_CERT": serverCA.File,
		},
		RimflowEnv: map[string]string{
			config.EnvTemporalTLSCert: clientCert, config.EnvTemporalTLSKey: clientKey, config.EnvTemporalTLSCA: serverCA.File,
		},
		CLIEnv: map[string]string{
			"TEMPORAL_TLS_CLIENT_CERT_PATH": opsCert, "TEMPORAL_TLS_CLIENT_KEY_PATH": opsKey, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": serverCA.File,
		},
		Client:   config.Temporal{TLSCert: opsCert, TLSKey: opsKey, TLSCA: serverCA.File},
		Database: "temporal_mtls",
	})
	cloud := harness.NewCloud(t, simulator.Options{Seed: 21}, nil)
	s.CloudURL = cloud.URL
	s.StartWorker(nil, nil)
	_, apiURL := s.StartAPI()
	completeOneBill(t, ctx, apiURL, s.APIToken, cloud.URL, "MTLS-1")

	for _, c := range []struct {
		name  string
		extra map[string]string
		want  []string // in the worker's error
	}{
		{"no client certificate", map[string]string{config.EnvTemporalTLSCert: "", config.EnvTemporalTLSKey: ""},
			[]string{"certificate required", config.EnvTemporalTLSCert}},
		{"a certificate from another CA", map[string]string{config.EnvTemporalTLSCert: rogueCert, config.EnvTemporalTLSKey: rogueKey},
			[]string{"the server refused the client certificate", "not signed by a CA the server trusts", config.EnvTemporalTLSCert}},
		{"the server's CA not trusted", map[string]string{config.EnvTemporalTLSCA: ""},
			[]string{"certificate signed by unknown authority", config.EnvTemporalTLSCA}},
		{"no TLS at all", map[string]string{config.EnvTemporalTLSCert: "", config.EnvTemporalTLSKey: "", config.EnvTemporalTLSCA: ""},
			[]string{"if the server requires TLS", config.EnvTemporalTLSCA}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := refused(t, s, c.extra)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("the refused worker's error lacks %q:\n%s", w, tailOf(out, 2000))
				}
			}
		})
	}
}

// TestAPIKey puts the cluster behind bearer-token authorization, as the server image's
// TEMPORAL_AUTH_* and TEMPORAL_JWT_* variables do: the default JWT claim mapper checks each
// request's token against the test's identity provider's key (served as JWKS), and the default
// authorizer its permissions. The frontend serves TLS with a private CA. The worker and the API
// send RIMFLOW_TEMPORAL_API_KEY (a token with the permission "default:write") and a bill
// completes; a token signed by another key, or no token, is refused with an error naming the
// variable, and no key reaches a log line.
func TestAPIKey(t *testing.T) {
	t.Parallel() // its own cluster, server and processes: two shapes at a time (go test -parallel)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	dir := t.TempDir()
	serverCA := newCA(t, dir, "server-ca")
	frontendCert, frontendKey := serverCA.issue(t, "temporal", true)
	idp := newJWTIssuer(t, "rimflow-test-key", true)
	rogue := newJWTIssuer(t, "rimflow-test-key", false) // the same key id, another key
	admin := idp.token(t, "ops", "temporal-system:admin")
	workerKey := idp.token(t, "rimflow", "default:write")

	s := newShape(t, ctx, shapeOptions{
		ServerEnv: map[string]string{
			"TEMPORAL_TLS_FRONTEND_CERT": frontendCert,
			"TEMPORAL_TLS_FRONTEND_KEY":  frontendKey,
			"TEMPORAL_AUTH_AUTHORIZER":   "default",
			"TEMPORAL_AUTH_CLAIM_MAPPER": "default",
			"TEMPORAL_JWT_KEY_SOURCE1":   idp.JWKSURL,
			// The server's own system worker goes through the internal frontend, which needs no
			// token; the image starts it only when TEMPORAL_SERVICES names it.
			"USE_INTERNAL_FRONTEND": "true",
			"TEMPORAL_SERVICES":     "frontend,internal-frontend,history,matching,worker",
		},
		RimflowEnv: map[string]string{config.EnvTemporalAPIKey: workerKey, config.EnvTemporalTLSCA: serverCA.File},
		CLIEnv:     map[string]string{"TEMPORAL_API_KEY": admin, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": serverCA.File},
		Client:     config.Temporal{APIKey: admin, TLSCA: serverCA.File},
		Database:   "temporal_apikey",
	})
	cloud := harness.NewCloud(t, simulator.Options{Seed: 22}, nil)
	s.CloudURL = cloud.URL
	var workerLog harness.LogBuffer
	s.StartWorker(map[string]string{config.EnvLogLevel: "debug"}, &workerLog)
	api, apiURL := s.StartAPI()
	completeOneBill(t, ctx, apiURL, s.APIToken, cloud.URL, "APIKEY-1")

	forged := rogue.token(t, "intruder", "temporal-system:admin")
	for _, c := range []struct {
		name  string
		extra map[string]string
	}{
		{"a token signed by another key", map[string]string{config.EnvTemporalAPIKey: forged}},
		{"no token", map[string]string{config.EnvTemporalAPIKey: ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := refused(t, s, c.extra)
			if !strings.Contains(out, "PermissionDenied") && !strings.Contains(out, "Request unauthorized") {
				t.Errorf("the refused worker does not say Temporal denied it:\n%s", tailOf(out, 2000))
			}
			if !strings.Contains(out, config.EnvTemporalAPIKey) {
				t.Errorf("the refused worker's error does not name %s:\n%s", config.EnvTemporalAPIKey, tailOf(out, 2000))
			}
			if strings.Contains(out, forged) {
				t.Error("the refused worker printed the key")
			}
		})
	}
	if err := api.Stop(30 * time.Second); err != nil {
		t.Errorf("stop the API: %v", err)
	}
	for _, secret := range []string{workerKey, admin} {
		if strings.Contains(workerLog.String(), secret) || strings.Contains(api.tail(1<<20), secret) {
			t.Error("an API key reached a worker or API log line")
		}
	}
	// The admin's token reads the namespace's visibility: the bill is listed by its search attribute.
	resp, err := s.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: "BillStage = 'completed'"})
	if err != nil || len(resp.GetExecutions()) == 0 || resp.GetExecutions()[0].GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("the admin's list of completed bills: %v %v", resp.GetExecutions(), err)
	}
}

func tailOf(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
