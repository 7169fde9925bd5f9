// Package apiit tests the HTTP API over a real stack: an in-process Temporal server
// (temporaltest), the real worker (workerapp), the Invoice Cloud simulator over HTTP and the
// real invoicecloud client. It is a separate package so the api unit tests stay fast to link.
package apiit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/prometheus/client_golang/prometheus"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/internal/devstack"
	"rimflow/internal/workerapp"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// stack is everything a bill needs, in-process, on loopback ports.
type stack struct {
	client   client.Client
	ns       string
	simURL   string
	api      *httptest.Server
	token    string
	registry *prometheus.Registry
}

func newStack(t *testing.T, token string) *stack {
	t.Helper()
	ts := testenv.NewServer(t)
	c := ts.GetDefaultClient()
	ns := ts.GetDefaultNamespace()
	cloudEnv := testenv.NewCloud(t, simulator.Options{Seed: 7}, nil)
	cloud, simSrvURL := cloudEnv.Client, cloudEnv.URL
	w, err := workerapp.New(c, cloud, workerapp.Options{TaskQueue: workflows.DefaultTaskQueue})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	reg := prometheus.NewRegistry()
	apiSrv := httptest.NewServer(api.New(api.Options{
		Client: c, Namespace: ns, TaskQueue: workflows.DefaultTaskQueue, Token: token, Registry: reg,
	}))
	t.Cleanup(apiSrv.Close)
	return &stack{client: c, ns: ns, simURL: simSrvURL, api: apiSrv, token: token, registry: reg}
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
	st, err := devstack.WaitStage(t.Context(), s.api.URL+"/v1/bills/"+id, s.token, 90*time.Second, stage)
	if err != nil {
		t.Fatalf("bill %s never reached %s: %v; last state stage=%s error=%+v history=%+v", id, stage, err, st.Stage, st.Error, st.History)
	}
	return st
}

func bill(billID string, approvals ...string) workflows.BillInput {
	return workflows.BillInput{
		BillID: billID, BillNo: "BX-" + billID, BillType: "er_dailyreimbursebill", Resource: "OA",
		BillTaxNo: "91330100MA2B3C4D5E", UserID: "u-7",
		Options: workflows.Options{Approvals: approvals},
	}
}

type apiError struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

func sleep() { time.Sleep(100 * time.Millisecond) }

func fetchText(t *testing.T, url string) string {
	t.Helper()
	_, b := testenv.Do(t, t.Context(), http.MethodGet, url, "", nil)
	return string(b)
}
