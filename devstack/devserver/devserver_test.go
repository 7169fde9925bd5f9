package devserver

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	_ "modernc.org/sqlite" // read the data file directly to check its journal mode

	"rimflow/workflows"
)

// One server life cycle covers the package's claims: schema on first start, WAL, namespace and
// search attributes, Temporal Web serving pages and proxying the API, and a restart on the same
// dir that keeps a running workflow and does not recreate the schema.
func TestServerLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	opts := Options{DataDir: dir, FrontendAddr: "127.0.0.1:0", UIAddr: "127.0.0.1:0", SearchAttributes: workflows.SearchAttributes()}

	srv, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	if !srv.SchemaCreated() {
		t.Fatalf("first start on an empty dir did not create the schema")
	}
	if _, err := os.Stat(srv.DBPath()); err != nil {
		t.Fatalf("data file: %v", err)
	}
	assertJournalMode(t, srv.DBPath(), "wal")

	c, err := srv.NewClient(ctx, client.Options{})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	assertSearchAttributes(t, ctx, c, srv.Namespace())

	// No worker: the workflow just stays open, which is what a restart must keep.
	const wfID = "bill:OA:devserver-restart"
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: wfID, TaskQueue: "devserver-test",
		TypedSearchAttributes: temporalSA("collecting"),
	}, workflows.BillWorkflowName, workflows.BillInput{BillID: "devserver-restart"})
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}

	assertUI(t, srv.UIURL(), wfID)
	c.Close()

	if err := srv.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second stop must be a no-op, got %v", err)
	}

	srv2, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("restart on the same dir: %v", err)
	}
	t.Cleanup(func() { _ = srv2.Stop() })
	if srv2.SchemaCreated() {
		t.Fatalf("restart recreated the schema")
	}
	c2, err := srv2.NewClient(ctx, client.Options{})
	if err != nil {
		t.Fatalf("client after restart: %v", err)
	}
	defer c2.Close()
	desc, err := c2.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		t.Fatalf("workflow lost across restart: %v", err)
	}
	if got := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(); got != run.GetRunID() {
		t.Fatalf("run id after restart = %s, want %s", got, run.GetRunID())
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("status after restart = %s, want running", st)
	}
	assertSearchAttributes(t, ctx, c2, srv2.Namespace())
}

func temporalSA(stage string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(workflows.SABillStage.ValueSet(stage))
}

func assertJournalMode(t *testing.T, path, want string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatalf("read journal_mode: %v", err)
	}
	if !strings.EqualFold(mode, want) {
		t.Fatalf("journal_mode = %q, want %q", mode, want)
	}
}

func assertSearchAttributes(t *testing.T, ctx context.Context, c client.Client, ns string) {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		t.Fatalf("list search attributes: %v", err)
	}
	for name, typ := range workflows.SearchAttributes() {
		if got, ok := resp.GetCustomAttributes()[name]; !ok || got != typ {
			t.Errorf("search attribute %s = %v (registered %v), want %v", name, got, ok, typ)
		}
	}
}

func assertUI(t *testing.T, base, wfID string) {
	t.Helper()
	body, ctype := get(t, base+"/")
	if !strings.Contains(ctype, "text/html") || !strings.Contains(strings.ToLower(body), "<html") {
		t.Fatalf("Temporal Web / served %q, not HTML: %.200s", ctype, body)
	}
	// The API proxy reaches the frontend: the open workflow is listed.
	body, ctype = get(t, base+"/api/v1/namespaces/default/workflows")
	if !strings.Contains(ctype, "application/json") {
		t.Fatalf("workflows API served %q: %.200s", ctype, body)
	}
	var list struct {
		Executions []struct {
			Execution struct {
				WorkflowID string `json:"workflowId"`
			} `json:"execution"`
		} `json:"executions"`
	}
	// Visibility is written asynchronously: poll until the workflow shows up.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("workflows API body is not JSON: %v: %.200s", err, body)
		}
		for _, e := range list.Executions {
			if e.Execution.WorkflowID == wfID {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow %s not listed by Temporal Web's API: %.300s", wfID, body)
		}
		time.Sleep(200 * time.Millisecond)
		body, _ = get(t, base+"/api/v1/namespaces/default/workflows")
	}
}

func get(t *testing.T, url string) (body, contentType string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %.200s", url, resp.Status, b)
	}
	return string(b), resp.Header.Get("Content-Type")
}

// The search attributes are the caller's to name: a start without them is refused before anything
// is written, and the error names the option.
func TestStartRequiresSearchAttributes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	srv, err := Start(context.Background(), Options{DataDir: dir, FrontendAddr: "127.0.0.1:0", DisableUI: true})
	if err == nil {
		_ = srv.Stop()
		t.Fatal("start without search attributes succeeded")
	}
	if !strings.Contains(err.Error(), "SearchAttributes") {
		t.Errorf("error does not name the option: %v", err)
	}
	if _, statErr := os.Stat(dir); !errors.Is(statErr, fs.ErrNotExist) {
		t.Errorf("a refused start left the data dir behind (stat: %v)", statErr)
	}
}

func TestResolveAddrRejectsBadInput(t *testing.T) {
	for _, addr := range []string{"7233", "127.0.0.1:x", "127.0.0.1:70000"} {
		if _, _, err := resolveAddr("frontend address", addr); err == nil || !strings.Contains(err.Error(), "frontend address") {
			t.Errorf("resolveAddr(%q) = %v, want an error naming the field", addr, err)
		}
	}
}

// TestTemporalAndWebStayOnLoopbackUnlessAsked: the frontend and Web listen off loopback only with
// OffLoopback (devstack --listen-off-loopback); any other address is refused before anything
// starts or is created, naming the field and the flag.
func TestTemporalAndWebStayOnLoopbackUnlessAsked(t *testing.T) {
	sa := workflows.SearchAttributes()
	for _, c := range []struct{ frontend, ui, field string }{
		{"0.0.0.0:0", "127.0.0.1:0", "frontend address"},
		{"127.0.0.1:0", "0.0.0.0:0", "ui address"},
		{"[::]:0", "127.0.0.1:0", "frontend address"},
		{"127.0.0.1:0", "192.0.2.10:0", "ui address"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		srv, err := Start(t.Context(), Options{DataDir: dir, FrontendAddr: c.frontend, UIAddr: c.ui, SearchAttributes: sa})
		if err == nil {
			_ = srv.Stop()
			t.Fatalf("frontend %s, ui %s: started without OffLoopback", c.frontend, c.ui)
		}
		if !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), "--listen-off-loopback") {
			t.Errorf("frontend %s, ui %s: %v; want the error to name %q and the flag", c.frontend, c.ui, err, c.field)
		}
		if _, statErr := os.Stat(dir); !errors.Is(statErr, fs.ErrNotExist) {
			t.Errorf("a refused start left the data dir behind (stat: %v)", statErr)
		}
	}
	// Loopback in every spelling, an empty host (127.0.0.1), and off loopback when asked.
	for _, o := range []Options{
		{FrontendAddr: "127.0.0.1:7233", UIAddr: "localhost:8233"},
		{FrontendAddr: "[::1]:7233", UIAddr: ":8233"},
		{FrontendAddr: "127.0.0.1:7233", UIAddr: "0.0.0.0:8233", DisableUI: true},
		{FrontendAddr: "0.0.0.0:7233", UIAddr: "0.0.0.0:8233", OffLoopback: true},
	} {
		if err := checkLoopback(o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// A service port taken before the server binds it (another process on the box, between the pick
// and the bind) is an error Start can try again on other ports, not a panic that ends the process:
// the server reports it through its logger's Fatal.
func TestStartServerReportsATakenPortAsAnError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ports, err := pickPorts("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ports.history = taken.Addr().(*net.TCPAddr).Port
	persistence := sqlitePersistence(filepath.Join(t.TempDir(), "temporal.db"))
	if _, err := prepareDatabase(persistence.DataStores[persistence.DefaultStore].SQL, "default", workflows.SearchAttributes()); err != nil {
		t.Fatal(err)
	}
	dc, err := dynamicConfig()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startServer(persistence, ports, newSlogLogger(slog.New(slog.DiscardHandler), slog.LevelError), dc)
	if err == nil {
		_ = srv.Stop()
		t.Fatal("the server started with its history port taken")
	}
	if !portTaken(err) {
		t.Fatalf("the error %q is not one Start tries again on other ports", err)
	}
}
