package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"rimflow/activities"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/app"
	"rimflow/internal/enterprises"
	"rimflow/internal/query"
	"rimflow/internal/webhooks"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/ultimate"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

var queueSeq atomic.Int64

// stack is one test's simulator (over httptest) + cloud client + worker on its own task queue.
type stack struct {
	t      *testing.T
	sim    *simulator.Sim
	simURL string
	cloud  *ultimate.Client
	queue  string
	worker *app.Worker
	// webhooks, when set before startWorker, is where the worker sends the bills' events.
	webhooks *webhooks.Registry
	// enterprises, when set before startWorker, routes the bills (default: the one cloud client).
	enterprises activities.Enterprises
	// buildID, when set before startWorker, is the build the worker declares (default: this binary's).
	buildID string
	// enterpriseGrace, when set before startWorker, is how long a lost enterprise is waited for.
	enterpriseGrace time.Duration
}

// cloudMode is how the simulator reads the vendor's ambiguous rules.
type cloudMode bool

const (
	lenient cloudMode = false // the readings the first version was built on, every [assumed] behaviour on
	strict  cloudMode = true  // every ambiguous rule at its strict reading, no [assumed] behaviour to lean on
)

// eachCloud runs body against a lenient simulator and a strict one: the product must not depend on
// a lenient reading or on an assumption.
func eachCloud(t *testing.T, body func(t *testing.T, cloud cloudMode)) {
	for _, m := range []cloudMode{lenient, strict} {
		name := "lenient"
		if m == strict {
			name = "strict"
		}
		t.Run(name, func(t *testing.T) { body(t, m) })
	}
}

func (m cloudMode) options(seed int64) simulator.Options {
	o := simulator.Options{Seed: seed, PollHold: 2 * time.Second}
	if m == strict {
		o.Strict = true
		o.Assume = simulator.Assumptions{DisableIdempotentMessageID: true, DisableBillSaveReplacesSet: true, DisablePollRedelivery: true}
	}
	return o
}

func newStack(t *testing.T, seed int64, cloud cloudMode) *stack {
	t.Helper()
	return newStackWith(t, seed, cloud, nil)
}

// newStackWith is newStack with configure applied before the worker starts.
func newStackWith(t *testing.T, seed int64, cloud cloudMode, configure func(*stack)) *stack {
	t.Helper()
	return newStackOn(t, cloud.options(seed), configure)
}

// newStackOn is newStackWith on a simulator with opts (a reading of its own).
func newStackOn(t *testing.T, opts simulator.Options, configure func(*stack)) *stack {
	t.Helper()
	env := harness.NewCloud(t, opts, func(c *ultimate.Config) {
		c.Timeout, c.PollHold, c.Logger = 10*time.Second, 2*time.Second, slog.New(slog.DiscardHandler)
	})
	s := &stack{t: t, sim: env.Sim, simURL: env.URL, cloud: env.Client, queue: fmt.Sprintf("itest-%d-%d", os.Getpid(), queueSeq.Add(1))}
	if configure != nil {
		configure(s)
	}
	s.startWorker()
	return s
}

func (s *stack) startWorker() {
	s.t.Helper()
	var ents activities.Enterprises = enterprises.Single(s.cloud)
	if s.enterprises != nil {
		ents = s.enterprises
	}
	w, err := app.NewWorker(tc, ents, app.WorkerOptions{
		TaskQueue: s.queue,
		BuildID:   s.buildID,
		Worker:    worker.Options{WorkerStopTimeout: 2 * time.Second},
		Activities: activities.Activities{
			DeductionBatchSize:     1, // a batch workflow submits each bill's invoices at once
			DeductionContinueAfter: 2, // and continues as new right after (its history joins the replay tests)
			HeartbeatEvery:         time.Second,
			Watch:                  invoicecloud.WatchOptions{Silence: 3 * time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second},
			Webhooks:               s.webhooks,
			EnterpriseGrace:        s.enterpriseGrace,
		},
	})
	if err != nil {
		s.t.Fatalf("worker: %v", err)
	}
	if err := w.Start(); err != nil {
		s.t.Fatalf("start worker: %v", err)
	}
	s.worker = w
	s.t.Cleanup(func() {
		if s.worker != nil {
			s.worker.Stop()
			s.worker = nil
		}
	})
}

func (s *stack) stopWorker() {
	s.worker.Stop()
	s.worker = nil
}

func input(billID string, opts workflows.Options) workflows.BillInput {
	return workflows.BillInput{
		BillID: billID, BillNo: "BX-" + billID, BillType: "er_dailyreimbursebill", Resource: "OA",
		BillTaxNo: "91310000MA1FL0001R", UserID: "u1",
		CompanyInfo: []invoicecloud.Company{{TaxNo: "91310000MA1FL0001R", Name: "上海示例有限公司"}},
		Options:     opts,
	}
}

func (s *stack) start(in workflows.BillInput) client.WorkflowRun {
	s.t.Helper()
	run, err := tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID:                       workflows.BillWorkflowID(in.Resource, in.BillID),
		TaskQueue:                s.queue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowExecutionTimeout: 10 * time.Minute,
	}, workflows.BillWorkflowName, in)
	if err != nil {
		s.t.Fatalf("start: %v", err)
	}
	return run
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// update sends an update and waits for its answer.
func update[T any](t *testing.T, wfID, name string, arg any) (T, error) {
	t.Helper()
	var out T
	h, err := tc.UpdateWorkflow(ctxT(t), client.UpdateWorkflowOptions{
		WorkflowID: wfID, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return out, err
	}
	err = h.Get(ctxT(t), &out)
	return out, err
}

func mustUpdate(t *testing.T, wfID, name string, arg any) workflows.BillState {
	t.Helper()
	st, err := update[workflows.BillState](t, wfID, name, arg)
	if err != nil {
		t.Fatalf("update %s: %v", name, err)
	}
	return st
}

func state(t *testing.T, wfID string) workflows.BillState {
	t.Helper()
	v, err := query.Workflow(ctxT(t), tc, wfID, workflows.QueryState)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var s workflows.BillState
	if err := v.Get(&s); err != nil {
		t.Fatalf("decode state: %v", err)
	}
	return s
}

// waitStage polls the state query until the bill reaches stage (or the test's patience ends:
// a generous bound, not a speed assertion).
func waitStage(t *testing.T, wfID string, stage workflows.Stage) workflows.BillState {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var s workflows.BillState
	for time.Now().Before(deadline) {
		s = state(t, wfID)
		if s.Stage == stage {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("bill %s never reached %s; last state %s, error %+v, history %+v", wfID, stage, s.Stage, s.Error, s.History)
	return s
}

// collect imports count sample invoices through the simulator's test interface (as the page would).
func (s *stack) collect(eventCode string, count int) []string {
	s.t.Helper()
	return testenv.Collect(s.t, s.t.Context(), s.simURL, eventCode, count)
}

// post sends body to the simulator's test interface and decodes its 2xx answer into out (nil =
// ignore); any other answer fails the test.
func (s *stack) post(path string, body, out any) {
	s.t.Helper()
	status, data := testenv.Do(s.t, s.t.Context(), http.MethodPost, s.simURL+path, "", body)
	if status/100 != 2 {
		s.t.Fatalf("POST %s: %d %s", path, status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("POST %s: decode: %v", path, err)
		}
	}
}

// get reads the simulator's test interface, decodes a 200 answer into out and returns the status.
func (s *stack) get(path string, out any) int {
	s.t.Helper()
	status, data := testenv.Do(s.t, s.t.Context(), http.MethodGet, s.simURL+path, "", nil)
	if status == http.StatusOK && out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("GET %s: decode: %v", path, err)
		}
	}
	return status
}

func (s *stack) bill(billID string) simulator.BillView {
	var b simulator.BillView
	if code := s.get("/__sim/bills/OA/"+billID, &b); code != http.StatusOK {
		s.t.Fatalf("sim bill %s: HTTP %d", billID, code)
	}
	return b
}

func (s *stack) invoiceStatus(serial string) string {
	var v struct {
		Status string `json:"status"`
	}
	if code := s.get("/__sim/invoices/"+serial, &v); code != http.StatusOK {
		s.t.Fatalf("sim invoice %s: HTTP %d", serial, code)
	}
	return v.Status
}

func (s *stack) collectURL(wfID string) workflows.CollectURLResponse {
	s.t.Helper()
	r, err := update[workflows.CollectURLResponse](s.t, wfID, workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: "pc"})
	if err != nil {
		s.t.Fatalf("collectUrl: %v", err)
	}
	return r
}

// book books the voucher of a bill awaiting it and returns its final state, which must be
// completed.
func book(t *testing.T, run client.WorkflowRun) workflows.BillState {
	t.Helper()
	mustUpdate(t, run.GetID(), workflows.UpdateVoucher, voucher())
	var final workflows.BillState
	if err := run.Get(ctxT(t), &final); err != nil {
		t.Fatalf("result: %v", err)
	}
	if final.Stage != workflows.StageCompleted {
		t.Fatalf("final stage %s, want completed", final.Stage)
	}
	return final
}

func voucher() workflows.VoucherRequest {
	return workflows.VoucherRequest{VouchID: "V1", VouchNo: "记-0001", AccountDate: "2024-05-31", AccountTime: "2024-05-31", BusinessDate: "2024-05-30", Resource: "SAP"}
}

func approve(role, decision string) workflows.ApproveRequest {
	return workflows.ApproveRequest{Role: role, Decision: decision, Approver: role + "-approver"} // one person per role (segregation of duties)
}

// record writes the workflow's history for the replay test when RIMFLOW_RECORD=1: into
// RIMFLOW_RECORD_DIR, a new release's directory under workflows/testdata/releases (docs/releases.md).
func record(t *testing.T, wfID, name string) { recordRun(t, wfID, "", name) }

// recordRun writes one run's history (runID "" = the latest run). A kept history is never
// overwritten: a release's histories are what its bills' runs look like, for good.
func recordRun(t *testing.T, wfID, runID, name string) {
	if os.Getenv("RIMFLOW_RECORD") != "1" || strings.HasSuffix(t.Name(), "/strict") {
		return
	}
	t.Helper()
	dir := os.Getenv("RIMFLOW_RECORD_DIR")
	if dir == "" {
		t.Fatal("RIMFLOW_RECORD=1 needs RIMFLOW_RECORD_DIR: the new release's directory, e.g. workflows/testdata/releases/<version> (absolute)")
	}
	path := filepath.Join(dir, name+".json")
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("%s exists: kept histories are never re-recorded", path)
	}
	iter := tc.GetWorkflowHistory(ctxT(t), wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var hist historypb.History
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		hist.Events = append(hist.Events, ev)
	}
	out, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(&hist)
	if err != nil {
		t.Fatalf("marshal history: %v", err)
	}
	events := hist.Events
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	t.Logf("recorded %s (%d events)", path, len(events))
}

func errContains(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}
