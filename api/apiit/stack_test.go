// Package apiit tests the HTTP API over a real stack: an in-process Temporal server
// (temporaltest), the real worker (workerapp), the Invoice Cloud simulator over HTTP and the
// real invoicecloud client. It is a separate package so the api unit tests stay fast to link.
package apiit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/prometheus/client_golang/prometheus"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/internal/testenv"
	"rimflow/internal/workerapp"
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
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.api.URL+path, rd)
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		reflect.ValueOf(out).Elem().SetZero() // no stale fields from an earlier answer
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// simPost drives the simulator's /__sim/ interface.
func (s *stack) simPost(t *testing.T, path string, body any) map[string]any {
	t.Helper()
	raw, _ := json.Marshal(body)
	resp, err := http.Post(s.simURL+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		t.Fatalf("sim %s: %d %v", path, resp.StatusCode, out)
	}
	return out
}

// waitStage polls the bill's state until it reaches stage (the workflow moves on its own after
// an import); the bound is generous and only stops a hung test.
func (s *stack) waitStage(t *testing.T, id string, stage workflows.Stage) workflows.BillState {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var st workflows.BillState
	for time.Now().Before(deadline) {
		st = workflows.BillState{}
		if code := s.call(t, "GET", "/v1/bills/"+id, nil, &st); code == 200 && st.Stage == stage {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("bill %s never reached %s; last state stage=%s error=%+v history=%+v", id, stage, st.Stage, st.Error, st.History)
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
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
