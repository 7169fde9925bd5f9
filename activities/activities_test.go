package activities_test

import (
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"rimflow/activities"
	"rimflow/activities/calls"
	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
)

// The activities against the simulator over real HTTP/WebSocket.
func newEnv(t *testing.T) (*testsuite.TestActivityEnvironment, *simulator.Sim) {
	t.Helper()
	sim := simulator.New(simulator.Options{Seed: 42, PollHold: time.Second})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	c := simulator.DefaultCredentials()
	cloud, err := invoicecloud.New(invoicecloud.Config{BaseURL: srv.URL, AppID: c.AppID, AppSecret: c.AppSecret, TenantID: c.TenantID,
		AccountID: c.AccountID, User: c.User, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s := &testsuite.WorkflowTestSuite{}
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Activities{Cloud: cloud, WatchSpan: 20 * time.Second, HeartbeatEvery: 200 * time.Millisecond,
		Watch: invoicecloud.WatchOptions{Silence: 2 * time.Second}})
	return env, sim
}

func eventCode(t *testing.T, env *testsuite.TestActivityEnvironment, billID, linkKey string) calls.EventCodeResult {
	t.Helper()
	v, err := env.ExecuteActivity("GetEventCode", calls.EventCodeInput{MessageID: "ec-" + billID + linkKey, Request: invoicecloud.EventCodeRequest{
		BillID: billID, Resource: "OA", BillNo: "N-" + billID, BillType: "er_dailyreimbursebill", BillTaxNo: "91310000MA1FL0001X",
		PushType: "socket", UserID: "u1", LinkKey: linkKey, CompanyInfo: []invoicecloud.Company{{TaxNo: "91310000MA1FL0001X", Name: "示例"}},
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
	v, err := env.ExecuteActivity("WatchInvoices", calls.WatchInput{LinkKey: "0123456789abcdef0123456789abcdef", PushType: "socket"})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	var w calls.WatchResult
	_ = v.Get(&w)
	if w.Message == nil || len(w.Message.InvoiceData) != 2 || w.Message.InvoiceData[0].SerialNo != delivered[0].SerialNo {
		t.Fatalf("watch result = %+v", w)
	}
	bind := calls.BillSaveInput{MessageID: "bind-1", Request: invoicecloud.BillSaveRequest{BillID: "B1", Resource: "OA", BillNo: "N-B1",
		BillType: "er_dailyreimbursebill", BillTaxNo: "91310000MA1FL0001X", Status: invoicecloud.StatusInUse,
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

// A watch with nothing to deliver returns empty when its span ends.
func TestWatchSpanEndsEmpty(t *testing.T) {
	sim := simulator.New(simulator.Options{Seed: 1, PollHold: 200 * time.Millisecond})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	c := simulator.DefaultCredentials()
	cloud, _ := invoicecloud.New(invoicecloud.Config{BaseURL: srv.URL, AppID: c.AppID, AppSecret: c.AppSecret, TenantID: c.TenantID, AccountID: c.AccountID, User: c.User})
	s := &testsuite.WorkflowTestSuite{}
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Activities{Cloud: cloud, WatchSpan: 500 * time.Millisecond, HeartbeatEvery: 100 * time.Millisecond})
	v, err := env.ExecuteActivity("WatchInvoices", calls.WatchInput{LinkKey: "nobody-collects-here-000000000000"})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	var w calls.WatchResult
	_ = v.Get(&w)
	if w.Message != nil {
		t.Errorf("unexpected message %+v", w.Message)
	}
}
