package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities"
	"rimflow/activities/calls"
	"rimflow/internal/metrics"
	"rimflow/internal/voice"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// harness runs BillWorkflow in the Temporal test suite with the activities mocked; it records
// every activity call (name + input) in order.
type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu    sync.Mutex
	calls []call

	// failures: activity name -> errors returned by the next calls (in order).
	failures map[string][]error
	// scans are the image system's outcomes AwaitScan answers, in order; while none is queued
	// the task is pending (and the activity is retried).
	scans []invoicecloud.ScanResult
	// metrics is the registry the bill's workflow metrics handler reports into.
	metrics *prometheus.Registry
	// watchHeartbeats are the heartbeat timeouts the watchers were scheduled with, in order.
	watchHeartbeats []time.Duration
}

type call struct {
	name  string
	input any
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	s := &testsuite.WorkflowTestSuite{}
	reg := prometheus.NewRegistry()
	s.SetMetricsHandler(metrics.NewSDKHandler(reg))
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(30 * time.Second)
	// Updates come from the API (signed) unless a test says otherwise (voice_test.go).
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&apiSigner{}, voice.WorkerInterceptor(testVoice)}})
	env.RegisterWorkflowWithOptions(workflows.BillWorkflow, workflow.RegisterOptions{Name: workflows.BillWorkflowName})
	env.RegisterWorkflowWithOptions(workflows.DeductionBatchWorkflow, workflow.RegisterOptions{Name: calls.DeductionWorkflowName})
	env.RegisterActivity(&activities.Activities{})
	h := &harness{t: t, env: env, failures: map[string][]error{}, metrics: reg}

	env.OnActivity("GetEventCode", mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in calls.EventCodeInput) (calls.EventCodeResult, error) {
			if err := h.record("GetEventCode", in); err != nil {
				return calls.EventCodeResult{}, err
			}
			code := fmt.Sprintf("EC%d", h.count("GetEventCode"))
			return calls.EventCodeResult{
				EventCode: code,
				Pages: invoicecloud.Pages{CollectPC: "http://cloud/index.html?formId=rim_fpzs_main&eventCode=" + code, CollectMobile: "http://cloud/mobile.html?eventCode=" + code,
					ViewPC: "http://cloud/index.html?formId=rim_view_invoice&eventCode=" + code, ViewMobile: "http://cloud/mobile.html?form=rim_invoice_list_mobile&eventCode=" + code},
				ExpiresAt: env.Now().Add(10 * time.Minute),
			}, nil
		})
	// A watcher listens until its eventCode dies (the bill may cancel it sooner); what it would
	// receive the tests deliver with h.deliver, the signal a real watcher sends.
	env.OnActivity("WatchInvoices", mock.Anything, mock.Anything).AfterFn(func() time.Duration {
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.failures["WatchInvoices"]) > 0 {
			return 0
		}
		return 20 * time.Minute
	}).Return(func(context.Context, calls.WatchInput) error { return h.nextFailure("WatchInvoices") })
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		if info.ActivityType.Name == "WatchInvoices" {
			var in calls.WatchInput
			if err := args.Get(&in); err != nil {
				t.Errorf("watcher input: %v", err)
			}
			h.mu.Lock()
			h.calls = append(h.calls, call{"WatchInvoices", in})
			h.watchHeartbeats = append(h.watchHeartbeats, info.HeartbeatTimeout)
			h.mu.Unlock()
		}
	})
	for _, name := range []string{"BindInvoices", "MarkUsed", "ReleaseInvoices"} {
		name := name
		env.OnActivity(name, mock.Anything, mock.Anything).Return(func(ctx context.Context, in calls.BillSaveInput) error {
			return h.record(name, in)
		})
	}
	env.OnActivity("CreateScanTask", mock.Anything, mock.Anything).Return(func(ctx context.Context, in calls.ScanTaskInput) (invoicecloud.ScanTask, error) {
		if err := h.record("CreateScanTask", in); err != nil {
			return invoicecloud.ScanTask{}, err
		}
		status := invoicecloud.ScanPending
		if in.Request.Mode == invoicecloud.ImageSubmitter {
			status = invoicecloud.ScanStored
		}
		return invoicecloud.ScanTask{TaskNo: fmt.Sprintf("TASK%d", h.count("CreateScanTask")), Status: status}, nil
	})
	env.OnActivity("AwaitScan", mock.Anything, mock.Anything).Return(func(ctx context.Context, in calls.ScanQueryInput) (invoicecloud.ScanResult, error) {
		if err := h.record("AwaitScan", in); err != nil {
			return invoicecloud.ScanResult{}, err
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.scans) == 0 {
			return invoicecloud.ScanResult{}, temporal.NewApplicationError("pending", activities.ErrorTypeScanPending)
		}
		r := h.scans[0]
		h.scans = h.scans[1:]
		return r, nil
	})
	env.OnActivity("SaveVoucher", mock.Anything, mock.Anything).Return(func(ctx context.Context, in calls.VoucherInput) error {
		return h.record("SaveVoucher", in)
	})
	env.OnActivity("Unbind", mock.Anything, mock.Anything).Return(func(ctx context.Context, in calls.UnbindInput) error {
		return h.record("Unbind", in)
	})
	env.OnActivity("RemoveInvoices", mock.Anything, mock.Anything).Return(func(ctx context.Context, in calls.RemoveInput) error {
		return h.record("RemoveInvoices", in)
	})
	env.OnActivity("DeliverEvent", mock.Anything, mock.Anything).Return(func(ctx context.Context, in calls.EventInput) error {
		return h.record("DeliverEvent", in)
	})
	env.OnActivity("SelectDeduction", mock.Anything, mock.Anything).Return(func(ctx context.Context, in calls.DeductionInput) (invoicecloud.DeductionResult, error) {
		if err := h.record("SelectDeduction", in); err != nil {
			return invoicecloud.DeductionResult{}, err
		}
		return invoicecloud.DeductionResult{TaskNo: fmt.Sprintf("T%d", h.count("SelectDeduction"))}, nil
	})
	env.OnActivity("EnqueueDeduction", mock.Anything, mock.Anything).Return(func(ctx context.Context, in calls.EnqueueInput) (string, error) {
		if err := h.record("EnqueueDeduction", in); err != nil {
			return "", err
		}
		return calls.DeductionWorkflowID(in.TaxNo, in.Period), nil
	})
	return h
}

// record notes a call and returns the next queued failure for it, if any.
func (h *harness) record(name string, input any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, call{name, input})
	h.mu.Unlock()
	defer h.mu.Lock()
	return h.nextFailure(name)
}

// nextFailure takes the next queued failure for name, if any (nil otherwise).
func (h *harness) nextFailure(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if q := h.failures[name]; len(q) > 0 {
		h.failures[name] = q[1:]
		return q[0]
	}
	return nil
}

// scanDone queues the image system's next outcome.
func (h *harness) scanDone(r invoicecloud.ScanResult) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scans = append(h.scans, r)
}

func (h *harness) failNext(name string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures[name] = append(h.failures[name], err)
}

func (h *harness) count(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.calls {
		if c.name == name {
			n++
		}
	}
	return n
}

// events lists the events delivered, in order.
func (h *harness) events() []calls.Event {
	var out []calls.Event
	for _, c := range h.callsOf("DeliverEvent") {
		out = append(out, c.(calls.EventInput).Event)
	}
	return out
}

// names lists the recorded calls except the watcher and eventCode (noise for most assertions).
func (h *harness) names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.calls {
		if c.name == "GetEventCode" || c.name == "DeliverEvent" {
			continue
		}
		out = append(out, c.name)
	}
	return out
}

func (h *harness) callsOf(name string) []any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []any
	for _, c := range h.calls {
		if c.name == name {
			out = append(out, c.input)
		}
	}
	return out
}

// deliver signals a message as a watcher does.
func (h *harness) deliver(via string, invs ...invoicecloud.Invoice) { h.deliverOn("-", via, invs...) }

// deliverOn signals a message received on linkKey ("" = the newest eventCode's, "-" = none).
func (h *harness) deliverOn(linkKey, via string, invs ...invoicecloud.Invoice) {
	if linkKey == "" {
		ecs := h.callsOf("GetEventCode")
		linkKey = ecs[len(ecs)-1].(calls.EventCodeInput).Request.LinkKey
	}
	if linkKey == "-" {
		linkKey = ""
	}
	m := invoicecloud.Message{InvoiceData: invs, Via: via}
	h.env.SignalWorkflow(workflows.SignalDelivery, calls.Delivery{Via: via, LinkKey: linkKey, Digest: m.Digest(), InvoiceData: invs})
}

// at schedules a step at a point of workflow time after the start.
func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// script runs steps one workflow-minute apart, starting at 1 min.
func (h *harness) script(steps ...func()) {
	for i, s := range steps {
		h.at(time.Duration(i+1)*time.Minute, s)
	}
}

// updateResult is what an update answered.
type updateResult struct {
	rejected error
	err      error
	value    any
	done     bool
}

// update sends an update and returns a pointer filled when the workflow answers.
func (h *harness) update(name string, arg any) *updateResult { return h.updateAs("", name, arg) }

// updateAs sends an update whose id starts with prefix (forgedPrefix: not the API's, voice_test.go).
func (h *harness) updateAs(prefix, name string, arg any) *updateResult {
	r := &updateResult{}
	h.env.UpdateWorkflow(name, fmt.Sprintf("%s%s-%d", prefix, name, time.Now().UnixNano()), &testsuite.TestUpdateCallback{
		OnAccept:   func() {},
		OnReject:   func(err error) { r.rejected = err; r.done = true },
		OnComplete: func(v any, err error) { r.value, r.err, r.done = v, err, true },
	}, arg)
	return r
}

func (h *harness) state() workflows.BillState {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryState)
	if err != nil {
		h.t.Fatalf("query state: %v", err)
	}
	var s workflows.BillState
	if err := v.Get(&s); err != nil {
		h.t.Fatalf("decode state: %v", err)
	}
	return s
}

func (h *harness) run(in workflows.BillInput) {
	h.env.ExecuteWorkflow(workflows.BillWorkflowName, in)
}

func (h *harness) result() (workflows.BillState, error) {
	h.t.Helper()
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatalf("workflow did not complete")
	}
	var s workflows.BillState
	err := h.env.GetWorkflowError()
	if err == nil {
		if gerr := h.env.GetWorkflowResult(&s); gerr != nil {
			h.t.Fatalf("result: %v", gerr)
		}
	}
	return s, err
}

// ---- fixtures ----

func bill(opts workflows.Options) workflows.BillInput {
	return workflows.BillInput{
		BillID: "B-1", BillNo: "BX-2024-001", BillType: "er_dailyreimbursebill", Resource: "OA",
		BillTaxNo: "91310000MA1FL0001R", UserID: "u1",
		CompanyInfo: []invoicecloud.Company{{TaxNo: "91310000MA1FL0001R", Name: "上海示例有限公司"}},
		Options:     opts,
	}
}

func money(s string) *decimal.Decimal {
	d := decimal.RequireFromString(s)
	return &d
}

// inv builds an invoice: special VAT (type 4) when special, else 电子普票 (type 26).
func inv(serial, no, amount, tax string, special bool) invoicecloud.Invoice {
	typ := "26"
	if special {
		typ = "4"
	}
	a, t := money(amount), money(tax)
	total := a.Add(*t)
	return invoicecloud.Invoice{SerialNo: serial, InvoiceType: typ, InvoiceNo: no, InvoiceCode: "031001900111",
		InvoiceDate: "2024-05-01", InvoiceAmount: a, TotalTaxAmount: t, TotalAmount: &total, SalerName: "某某科技", SalerTaxNo: "91440300XXXX"}
}

func invoicesSignal(invs ...invoicecloud.Invoice) workflows.InvoicesSignal {
	return workflows.InvoicesSignal{InvoiceData: invs}
}

func voucher() workflows.VoucherRequest {
	return workflows.VoucherRequest{VouchID: "V1", VouchNo: "记-0001", AccountDate: "2024-05-31", AccountTime: "2024-05-31", BusinessDate: "2024-05-30", Resource: "SAP"}
}

// approve is role's decision by the role's own approver (one person per role: segregation of duties).
func approve(role, decision string) workflows.ApproveRequest {
	return workflows.ApproveRequest{Role: role, Decision: decision, Approver: approverOf(role), Comment: "ok"}
}

func approverOf(role string) string {
	switch role {
	case "supervisor":
		return "alice"
	case "finance":
		return "bob"
	}
	return role + "-approver"
}

func falsePtr() *bool { f := false; return &f }

func nonRetryable(code, msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, activities.ErrorTypePrefix+code, errors.New(msg))
}

func hasNote(s workflows.BillState, substr string) bool {
	for _, h := range s.History {
		if strings.Contains(h.Note, substr) {
			return true
		}
	}
	return false
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func activityName(name string) activity.RegisterOptions { return activity.RegisterOptions{Name: name} }
