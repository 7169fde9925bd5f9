// Package apiit tests the HTTP API over a real stack: an in-process Temporal server
// (temporaltest), the real worker (internal/app), the Invoice Cloud simulator over HTTP and the
// real invoicecloud client. It is a separate package so the api unit tests stay fast to link.
package apiit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/prometheus/client_golang/prometheus"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/app"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/ultimate"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// stack is everything a bill needs, in-process, on loopback ports.
type stack struct {
	client   client.Client
	ns       string
	frontend string // the server's host:port, for a client of a test's own
	simURL   string
	api      *httptest.Server
	token    string
	registry *prometheus.Registry
	cloud    *ultimate.Client // the worker's client, for playing "another system" at the cloud
}

func newStack(t *testing.T, token string, tune ...func(*api.Options)) *stack {
	t.Helper()
	ts := harness.NewTestServer(t)
	c := ts.GetDefaultClient()
	ns := ts.GetDefaultNamespace()
	cloudEnv := harness.NewCloud(t, simulator.Options{Seed: 7}, nil)
	cloud, simSrvURL := cloudEnv.Client, cloudEnv.URL
	w, err := app.NewWorker(c, enterprises.Single(cloud), app.WorkerOptions{TaskQueue: workflows.DefaultTaskQueue})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	reg := prometheus.NewRegistry()
	opts := api.Options{Client: c, Namespace: ns, TaskQueue: workflows.DefaultTaskQueue, Token: token, Registry: reg}
	for _, f := range tune {
		f(&opts)
	}
	apiSrv := httptest.NewServer(apiHandler(t, opts))
	t.Cleanup(apiSrv.Close)
	return &stack{client: c, ns: ns, frontend: ts.GetFrontendHostPort(), simURL: simSrvURL, api: apiSrv, token: token, registry: reg, cloud: cloud}
}

// apiHandler is api.Build's handler; options it refuses fail the test.
func apiHandler(t testing.TB, opts api.Options) http.Handler {
	t.Helper()
	h, err := api.Build(opts)
	if err != nil {
		t.Fatalf("api: %v", err)
	}
	return h
}

// call sends one request to the API and decodes the JSON answer into out (when given).
func (s *stack) call(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	status, raw := testenv.Do(t, t.Context(), method, s.api.URL+path, s.token, body)
	if out != nil {
		reflect.ValueOf(out).Elem().SetZero() // no stale fields from an earlier answer
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, status, raw, err)
		}
	}
	return status
}

// waitStage polls the bill's state until it reaches stage (the workflow moves on its own after
// an import); the bound is generous and only stops a hung test.
func (s *stack) waitStage(t *testing.T, id string, stage workflows.Stage) workflows.BillState {
	t.Helper()
	st, err := harness.WaitStageVia(t.Context(), testenv.CheckedClient(t), s.api.URL+"/v1/bills/"+id, s.token, 90*time.Second, stage)
	if err != nil {
		t.Fatalf("bill %s never reached %s: %v; last state stage=%s error=%+v history=%+v", id, stage, err, st.Stage, st.Error, st.History)
	}
	return st
}

func bill(billID string, approvals ...string) workflows.BillInput {
	return workflows.BillInput{
		BillID: billID, BillNo: "BX-" + billID, BillType: "er_dailyreimbursebill", Resource: "OA",
		BillTaxNo: "91330100MA2B3C4D5N", UserID: "u-7",
		Options: workflows.Options{Approvals: approvals},
	}
}

type apiError struct {
	Error api.Error `json:"error"`
}

func sleep() { time.Sleep(100 * time.Millisecond) }

func fetchText(t *testing.T, url string) string {
	t.Helper()
	_, b := testenv.Do(t, t.Context(), http.MethodGet, url, "", nil)
	return string(b)
}

// sim posts body to the simulator's test interface and fails the test unless it answers 2xx.
func (s *stack) sim(t *testing.T, path string, body any) []byte {
	t.Helper()
	status, raw := testenv.Do(t, t.Context(), http.MethodPost, s.simURL+path, "", body)
	if status/100 != 2 {
		t.Fatalf("POST %s: %d %s", path, status, raw)
	}
	return raw
}

// collect imports n invoices on the bill's collect page (through the simulator) and returns their serialNos.
func (s *stack) collect(t *testing.T, eventCode string, n int) []string {
	t.Helper()
	return testenv.Collect(t, t.Context(), s.simURL, eventCode, n)
}

// collectPayload imports n invoices and returns them as the socket payload the ERP's browser got.
func (s *stack) collectPayload(t *testing.T, eventCode string, n int) workflows.InvoicesSignal {
	t.Helper()
	var res struct {
		Delivered []invoicecloud.Invoice `json:"delivered"`
	}
	if err := json.Unmarshal(s.sim(t, "/__sim/collect", map[string]any{"eventCode": eventCode, "count": n}), &res); err != nil || len(res.Delivered) != n {
		t.Fatalf("collect: %v %d", err, len(res.Delivered))
	}
	return workflows.InvoicesSignal{InvoiceData: res.Delivered}
}

// waitInvoices waits until n invoices are bound to the bill.
func (s *stack) waitInvoices(t *testing.T, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var st workflows.BillState
		s.call(t, "GET", "/v1/bills/"+id, nil, &st)
		if st.InvoiceCount == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bill %s holds %d invoices, want %d", id, st.InvoiceCount, n)
		}
		sleep()
	}
}

// simBill is the cloud's view of a bill.
func (s *stack) simBill(t *testing.T, resource, billID string) simulator.BillView {
	t.Helper()
	var b simulator.BillView
	status, raw := testenv.Do(t, t.Context(), http.MethodGet, s.simURL+"/__sim/bills/"+url.PathEscape(resource)+"/"+url.PathEscape(billID), "", nil)
	if status != http.StatusOK || json.Unmarshal(raw, &b) != nil {
		t.Fatalf("sim bill %s/%s: %d %s", resource, billID, status, raw)
	}
	return b
}

// voucherElsewhere posts a voucher for the bill's invoices as another system would: the cloud then
// refuses to delete the bill.
func (s *stack) voucherElsewhere(t *testing.T, billID string, serials []string) {
	t.Helper()
	if err := s.cloud.VoucherSave(t.Context(), "elsewhere-"+billID, invoicecloud.VoucherSaveRequest{VouchID: "EXT-" + billID, VouchNo: "外-1",
		AccountDate: "2026-11-30", AccountTime: "2026-11-30", BusinessDate: "2026-11-29", Resource: "SAP",
		SerialNoArray: serials, ExpenseIDArray: []string{billID}}); err != nil {
		t.Fatalf("voucher elsewhere: %v", err)
	}
}
