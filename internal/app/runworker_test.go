package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/app"
	"rimflow/internal/codec"
	"rimflow/internal/config"
	"rimflow/workflows"
)

func TestRunRefusesMissingCloudCredentials(t *testing.T) {
	env := map[string]string{config.EnvCloudAppSecret: "half-configured-secret"}
	var logs bytes.Buffer
	err := app.RunWorker(context.Background(), func(k string) string { return env[k] }, &logs, app.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), config.EnvCloudAppID) || strings.Contains(err.Error(), "half-configured-secret") {
		t.Errorf("Run without credentials: %v", err)
	}
}

// TestRunServesBillsAndAddedWorkers runs the worker process's body against a real server and the
// simulator, configured only through the environment: a bill starts (its first step calls the
// cloud), the added worker answers on its own queue, and cancelling stops Run.
func TestRunServesBillsAndAddedWorkers(t *testing.T) {
	ts := harness.NewTestServer(t)
	cloud := harness.NewCloud(t, simulator.Options{Seed: 5}, nil)
	env := map[string]string{
		config.EnvTemporalAddress:   ts.GetFrontendHostPort(),
		config.EnvTemporalNamespace: ts.GetDefaultNamespace(),
		config.EnvCloudBaseURL:      cloud.URL,
		config.EnvCloudAppID:        cloud.Config.AppID,
		config.EnvCloudAppSecret:    cloud.Config.AppSecret,
		config.EnvCloudTenantID:     cloud.Config.TenantID,
		config.EnvCloudAccountID:    cloud.Config.AccountID,
		config.EnvCloudUser:         cloud.Config.User,
	}
	// Payloads sealed as in production: the worker reads its key from the environment; this
	// test's client seals with the same key.
	key, err := codec.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	env[config.EnvCodecKeys] = key
	ring, err := codec.ParseKeyring("test", key)
	if err != nil {
		t.Fatal(err)
	}
	sealing := codec.New(ring)
	const extraQueue = "run-test-extra"
	echo := func(ctx workflow.Context, s string) (string, error) { return "echo " + s, nil }
	opts := app.RunOptions{AddWorkers: func(c client.Client) ([]worker.Worker, error) {
		w := worker.New(c, extraQueue, worker.Options{})
		w.RegisterWorkflowWithOptions(echo, workflow.RegisterOptions{Name: "Echo"})
		return []worker.Worker{w}, nil
	}}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A file, as a process's stderr: SDK goroutines may still log after Run returned.
	logs, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	done := make(chan error, 1)
	go func() { done <- app.RunWorker(ctx, func(k string) string { return env[k] }, logs, opts) }()

	var copts client.Options
	sealing.Apply(&copts)
	c := ts.NewClientWithOptions(copts)
	callCtx, callCancel := context.WithTimeout(context.Background(), time.Minute)
	defer callCancel()
	run, err := c.ExecuteWorkflow(callCtx, client.StartWorkflowOptions{ID: "run-test-echo", TaskQueue: extraQueue}, "Echo", "x")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := run.Get(callCtx, &got); err != nil || got != "echo x" {
		t.Fatalf("the added worker answered %q, %v", got, err)
	}

	in, e := api.DecodeStart([]byte(`{"billId":"R-1","billNo":"BX-R-1","billType":"er_dailyreimbursebill","resource":"OA",
		"billTaxNo":"91330100MA2B3C4D5N","userId":"u-1"}`))
	if e != nil {
		t.Fatal(e)
	}
	bills := api.NewBills(c, ts.GetDefaultNamespace(), workflows.DefaultTaskQueue)
	bills.DataConverter = sealing.DataConverter()
	resp, created, err := bills.Start(callCtx, in)
	if err != nil || !created || resp.Stage != workflows.StageCollecting || !strings.Contains(resp.Collect.PC, "eventCode=") {
		t.Fatalf("bill on the worker Run built: %+v created=%v %v", resp, created, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of its context ending")
	}
	raw, err := os.ReadFile(logs.Name())
	if err != nil {
		t.Fatal(err)
	}
	out := string(raw)
	if !strings.Contains(out, `"msg":"worker running"`) || !strings.Contains(out, `"msg":"worker stopped"`) {
		t.Errorf("logs lack the running/stopped lines:\n%s", out)
	}
	if strings.Contains(out, cloud.Config.AppSecret) {
		t.Error("the app secret reached the logs")
	}
}
