package devserver

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"rimflow/workflows"
)

// crashChildEnv makes the test binary act as a devserver process that starts a workflow and
// then dies without stopping anything (os.Exit), like a killed `go run ./devstack`.
const crashChildEnv = "RIMFLOW_DEVSERVER_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

func crashChild(dir string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := Start(ctx, Options{DataDir: dir, FrontendAddr: "127.0.0.1:0", DisableUI: true, SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	c, err := srv.NewClient(ctx, client.Options{})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "bill:OA:crash", TaskQueue: "crash-test"},
		workflows.BillWorkflowName, workflows.BillInput{BillID: "crash"})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("run:", run.GetRunID())
	return 0 // no Stop, no Close: the process just ends
}

// A process that dies without stopping the server loses nothing it had acknowledged: the next
// start on the same dir (another process) recovers the WAL and finds the workflow, without
// creating the schema again.
func TestRestartAfterProcessDeath(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var runID string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if r, ok := strings.CutPrefix(sc.Text(), "run: "); ok {
			runID = r
		}
	}
	if runID == "" {
		t.Fatalf("child did not start the workflow:\n%s", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := Start(ctx, Options{DataDir: dir, FrontendAddr: "127.0.0.1:0", DisableUI: true, SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatalf("start after the process died: %v", err)
	}
	defer srv.Stop()
	if srv.SchemaCreated() {
		t.Fatal("the schema was created again over the dead process's data")
	}
	c, err := srv.NewClient(ctx, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, err := c.DescribeWorkflowExecution(ctx, "bill:OA:crash", "")
	if err != nil {
		t.Fatalf("workflow lost with the process: %v", err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetExecution().GetRunId() != runID || info.GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("after the crash: run %s status %s, want run %s running", info.GetExecution().GetRunId(), info.GetStatus(), runID)
	}
}
