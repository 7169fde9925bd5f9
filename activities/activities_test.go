package activities_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities"
	"rimflow/activities/calls"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/ultimate"
)

// The activities against the simulator over real HTTP/WebSocket.
func newEnv(t *testing.T) (*testsuite.TestActivityEnvironment, *simulator.Sim) {
	t.Helper()
	sim := simulator.New(simulator.Options{Seed: 42, PollHold: time.Second})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	c := simulator.DefaultCredentials()
	cloud, err := ultimate.New(ultimate.Config{BaseURL: srv.URL, AppID: c.AppID, AppSecret: c.AppSecret, TenantID: c.TenantID,
		AccountID: c.AccountID, User: c.User, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s := &testsuite.WorkflowTestSuite{}
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Activities{Enterprises: enterprises.Single(cloud)})
	return env, sim
}

func eventCode(t *testing.T, env *testsuite.TestActivityEnvironment, billID, linkKey string) calls.EventCodeResult {
	t.Helper()
	return eventCodeFor(t, env, billID, linkKey, "socket")
}

func eventCodeFor(t *testing.T, env *testsuite.TestActivityEnvironment, billID, linkKey, push string) calls.EventCodeResult {
	t.Helper()
	v, err := env.ExecuteActivity("GetEventCode", calls.EventCodeInput{MessageID: "ec-" + billID + linkKey, Request: invoicecloud.EventCodeRequest{
		BillID: billID, Resource: "OA", BillNo: "N-" + billID, BillType: "er_dailyreimbursebill", BillTaxNo: "91310000MA1FL0001R",
		PushType: push, UserID: "u1", LinkKey: linkKey, CompanyInfo: []invoicecloud.Company{{TaxNo: "91310000MA1FL0001R", Name: "示例"}},
	}})
	if err != nil {
		t.Fatalf("GetEventCode: %v", err)
	}
	var res calls.EventCodeResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestGetEventCodeWatchAndBind(t *testing.T) {
	env, sim := newEnv(t)
	before := time.Now()
	res := eventCode(t, env, "B1", "0123456789abcdef0123456789abcdef")
	if res.EventCode == "" || !strings.Contains(res.Pages.CollectPC, res.EventCode) {
		t.Fatalf("result = %+v", res)
	}
	if res.ExpiresAt.Before(before.Add(9*time.Minute)) || res.ExpiresAt.After(time.Now().Add(10*time.Minute)) {
		t.Errorf("expiry %v not ~10 min from now", res.ExpiresAt)
	}
	delivered, err := sim.Collect(res.EventCode, 2)
	if err != nil {
		t.Fatal(err)
	}
	bind := calls.BillSaveInput{MessageID: "bind-1", Request: invoicecloud.BillSaveRequest{BillID: "B1", Resource: "OA", BillNo: "N-B1",
		BillType: "er_dailyreimbursebill", BillTaxNo: "91310000MA1FL0001R", Status: invoicecloud.StatusInUse,
		InvoiceData: []invoicecloud.BillInvoice{{SerialNo: delivered[0].SerialNo}}}}
	if _, err := env.ExecuteActivity("BindInvoices", bind); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if inv, _ := sim.Invoice(delivered[0].SerialNo); inv.Status != invoicecloud.StatusInUse {
		t.Errorf("sim status %s", inv.Status)
	}
	// A status that does not match the activity is a programming error, refused without a call.
	bad := bind
	bad.Request.Status = invoicecloud.StatusUsed
	if _, err := env.ExecuteActivity("BindInvoices", bad); err == nil {
		t.Error("bind with status 60 accepted")
	}

	// Another bill binding the same invoice: a business error, non-retryable, typed InvoiceCloud.<code>.
	eventCode(t, env, "B2", "fedcba9876543210fedcba9876543210")
	other := bind
	other.MessageID = "bind-2"
	other.Request.BillID = "B2"
	_, err = env.ExecuteActivity("BindInvoices", other)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() || !strings.HasPrefix(app.Type(), activities.ErrorTypePrefix) {
		t.Fatalf("want a non-retryable InvoiceCloud.* error, got %v", err)
	}
}

// sink stands in for a bill: it keeps the deliveries signalled to it, until cancelled.
func sink(ctx workflow.Context) ([]calls.Delivery, error) {
	var got []calls.Delivery
	if err := workflow.SetQueryHandler(ctx, "deliveries", func() ([]calls.Delivery, error) { return got, nil }); err != nil {
		return nil, err
	}
	ch := workflow.GetSignalChannel(ctx, calls.SignalDelivery)
	for {
		var d calls.Delivery
		if !ch.Receive(ctx, &d) {
			return got, nil
		}
		got = append(got, d)
	}
}

// watchEnv runs WatchInvoices for the bill "default-test-workflow-id" (the test environment's
// activity info) against the simulator, signalling a sink of that ID on a real server.
type watchEnv struct {
	env   *testsuite.TestActivityEnvironment
	cloud *harness.Cloud
	tc    client.Client
	stop  chan struct{}
}

func newWatchEnv(t *testing.T) *watchEnv {
	t.Helper()
	ts := harness.NewTestServer(t)
	tc := ts.GetDefaultClient()
	w := worker.New(tc, "sink", worker.Options{})
	w.RegisterWorkflowWithOptions(sink, workflow.RegisterOptions{Name: "sink"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	cloud := harness.NewCloud(t, simulator.Options{Seed: 7, PollHold: 300 * time.Millisecond}, nil)
	we := &watchEnv{cloud: cloud, tc: tc, stop: make(chan struct{})}
	s := &testsuite.WorkflowTestSuite{}
	we.env = s.NewTestActivityEnvironment()
	we.env.SetWorkerStopChannel(we.stop)
	we.env.RegisterActivity(&activities.Activities{Enterprises: enterprises.Single(cloud.Client), Temporal: tc, WatchGrace: time.Millisecond,
		HeartbeatEvery: 100 * time.Millisecond, Watch: invoicecloud.WatchOptions{Silence: time.Hour}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "default-test-workflow-id", TaskQueue: "sink"}, "sink"); err != nil {
		t.Fatal(err)
	}
	return we
}

func (we *watchEnv) deliveries(t *testing.T) []calls.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := we.tc.QueryWorkflow(ctx, "default-test-workflow-id", "", "deliveries")
	if err != nil {
		t.Fatalf("query sink: %v", err)
	}
	var got []calls.Delivery
	if err := v.Get(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// Every message is signalled to the bill, each on its own, before the watcher reads the next; a
// watch whose eventCode has died ends with nil. pushType poll reads the long poll only.
func TestWatchSignalsEveryDelivery(t *testing.T) {
	for _, push := range []string{"socket", "poll"} {
		t.Run(push, func(t *testing.T) {
			we := newWatchEnv(t)
			linkKey := "abcdefabcdefabcdefabcdefabcdef0" + push[:1]
			res := eventCodeFor(t, we.env, "W-"+push, linkKey, push)
			first, err := we.cloud.Sim.Collect(res.EventCode, 1)
			if err != nil {
				t.Fatal(err)
			}
			second, err := we.cloud.Sim.Collect(res.EventCode, 2)
			if err != nil {
				t.Fatal(err)
			}
			// The watch lives until Until (+grace): here three seconds.
			_, err = we.env.ExecuteActivity("WatchInvoices", calls.WatchInput{LinkKey: linkKey, PushType: push, Until: time.Now().Add(3 * time.Second)})
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			got := we.deliveries(t)
			if len(got) != 2 {
				t.Fatalf("deliveries = %d, want 2 (one per import): %+v", len(got), got)
			}
			if got[0].InvoiceData[0].SerialNo != first[0].SerialNo || len(got[1].InvoiceData) != 2 || got[1].InvoiceData[0].SerialNo != second[0].SerialNo {
				t.Errorf("deliveries out of order or incomplete: %+v", got)
			}
			for _, d := range got {
				eq := d.Via == push && d.LinkKey == linkKey && d.Digest != ""
				if !eq {
					t.Errorf("delivery = via %q linkKey %q digest %q", d.Via, d.LinkKey, d.Digest)
				}
			}
			if got[0].Digest == got[1].Digest {
				t.Errorf("two messages, one digest")
			}
			if push == "poll" && (got[0].MsgID == "" || got[1].MsgID == "") {
				t.Errorf("polled deliveries carry no msgId: %+v", got)
			}
		})
	}
}

// A stopping worker ends the watch with a retryable error (another worker goes on).
func TestWatchHandsBackOnWorkerStop(t *testing.T) {
	we := newWatchEnv(t)
	linkKey := "0123456789abcdef0123456789abcd00"
	eventCodeFor(t, we.env, "W-stop", linkKey, "socket")
	time.AfterFunc(300*time.Millisecond, func() { close(we.stop) })
	_, err := we.env.ExecuteActivity("WatchInvoices", calls.WatchInput{LinkKey: linkKey, PushType: "socket", Until: time.Now().Add(time.Minute)})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != "WorkerStopping" || app.NonRetryable() {
		t.Fatalf("want a retryable WorkerStopping error, got %v", err)
	}
}

// A watch for a bill that has ended stops at its first delivery, with nil.
func TestWatchEndsWhenTheBillHasEnded(t *testing.T) {
	we := newWatchEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := we.tc.TerminateWorkflow(ctx, "default-test-workflow-id", "", "the bill ended"); err != nil {
		t.Fatal(err)
	}
	linkKey := "0123456789abcdef0123456789abcd11"
	res := eventCodeFor(t, we.env, "W-ended", linkKey, "socket")
	if _, err := we.cloud.Sim.Collect(res.EventCode, 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := we.env.ExecuteActivity("WatchInvoices", calls.WatchInput{LinkKey: linkKey, PushType: "socket", Until: time.Now().Add(time.Minute)}); err != nil {
		t.Fatalf("watch: %v", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("the watch went on after its bill ended")
	}
}

// TestWatchDeliversOnlyToItsOwnBill: a watcher still running for a bill that ended must not
// deliver into a bill started again under the same key (another bill, with a run chain of its
// own): it ends with nil and the new bill gets nothing. A watcher of the new bill delivers to it.
func TestWatchDeliversOnlyToItsOwnBill(t *testing.T) {
	we := newWatchEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	firstRun := func() string {
		d, err := we.tc.DescribeWorkflowExecution(ctx, "default-test-workflow-id", "")
		if err != nil {
			t.Fatal(err)
		}
		return d.GetWorkflowExecutionInfo().GetFirstRunId()
	}
	ended := firstRun()
	if err := we.tc.TerminateWorkflow(ctx, "default-test-workflow-id", "", "the bill was cancelled"); err != nil {
		t.Fatal(err)
	}
	if _, err := we.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "default-test-workflow-id", TaskQueue: "sink"}, "sink"); err != nil {
		t.Fatal(err)
	}
	restarted := firstRun()
	if restarted == ended {
		t.Fatal("the bill started again kept its first run")
	}

	// The ended bill's watcher reads an import made on its page.
	oldKey := "0123456789abcdef0123456789abcd21"
	res := eventCodeFor(t, we.env, "W-old", oldKey, "socket")
	if _, err := we.cloud.Sim.Collect(res.EventCode, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := we.env.ExecuteActivity("WatchInvoices", calls.WatchInput{LinkKey: oldKey, PushType: "socket",
		Until: time.Now().Add(time.Minute), FirstRunID: ended}); err != nil {
		t.Fatalf("the ended bill's watch: %v", err)
	}
	if got := we.deliveries(t); len(got) != 0 {
		t.Fatalf("the bill started again got %d deliveries from the ended bill's watcher (linkKey %s)", len(got), got[0].LinkKey)
	}

	// The new bill's own watcher delivers to it.
	newKey := "0123456789abcdef0123456789abcd22"
	res = eventCodeFor(t, we.env, "W-new", newKey, "socket")
	if _, err := we.cloud.Sim.Collect(res.EventCode, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := we.env.ExecuteActivity("WatchInvoices", calls.WatchInput{LinkKey: newKey, PushType: "socket",
		Until: time.Now().Add(3 * time.Second), FirstRunID: restarted}); err != nil {
		t.Fatalf("the new bill's watch: %v", err)
	}
	if got := we.deliveries(t); len(got) != 1 || got[0].LinkKey != newKey {
		t.Fatalf("the bill started again got %d deliveries, want its own watcher's one", len(got))
	}
}
