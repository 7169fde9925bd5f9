package resilience

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"rimflow/api"
	"rimflow/bench/kit"
	"rimflow/workflows"
)

// postRoutes are the API's POST routes; %s is a bill's path ({resource}/{billId}).
var postRoutes = []string{"/v1/bills", "/v1/bills/%s/invoices", "/v1/bills/%s/submit",
	"/v1/bills/%s/approvals", "/v1/bills/%s/images", "/v1/bills/%s/voucher", "/v1/bills/%s/cancel",
	"/v1/bills/%s/retry"}

// FuzzAPIPost sends arbitrary bodies to every POST route of the real HTTP API, on the real
// server with a worker process, at a live bill in collecting. Whatever the body: never a 5xx or
// a dropped connection; a 4xx is a JSON error with a code, and a validation error names its
// fields; and a refused request writes nothing (the target bill's history does not grow, and a
// refused start starts no workflow). The seed corpus (good and bad bodies for each route) runs
// in CI; `go test -fuzz FuzzAPIPost ./systest/resilience/` explores further.
func FuzzAPIPost(f *testing.F) {
	good := map[int]string{
		0: `{"billId":"seed-%d","billNo":"BX-1","billType":"expense","resource":"FUZZ","billTaxNo":"91440300MA5G9GK78Y","userId":"u"}`,
		1: `{"invoiceData":[{"serialNo":"","invoiceType":"4"}]}`,
		2: `{"by":"someone"}`,
		3: `{"role":"supervisor","decision":"approve","approver":"a"}`,
		4: `{"scanBillNo":"S1","invoiceNos":["1"]}`,
		5: `{"vouchId":"V","vouchNo":"N","accountDate":"2025-01-01","accountTime":"2025-01-01","businessDate":"2025-13-01","resource":"FUZZ"}`,
		6: `{"reason":""}`,
		7: `{"by":"ops"}`,
	}
	bad := []string{``, `{}`, `null`, `[]`, `"x"`, `{"a":1}`, `{`, `{"role":7}`, `{"decision":"maybe","role":"finance","approver":" "}`,
		`{"invoiceData":"x"}`, `{"billId":"` + strings.Repeat("x", 5000) + `"}`, `{"resource":"\u0000"}`, `{"by":"x"} trailing`,
		`{"amounts":{"1":"1e400"}}`, `{"options":{"sla":{"approval":"forever"}}}`}
	for route := range postRoutes {
		f.Add(uint8(route), []byte(good[route]))
		for _, b := range bad {
			f.Add(uint8(route), []byte(b))
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	env, _ := newEnv(f, ctx, kit.EnvOptions{Seed: 51})
	startWorker(f, ctx, env, "", nil)
	srv := httptest.NewServer(api.New(api.Options{Client: env.Client, Namespace: env.Server.Namespace(),
		RequestTimeout: 20 * time.Second}))
	f.Cleanup(srv.Close)
	d := &kit.Driver{Env: env, Resource: "FUZZ", StepTimeout: time.Minute}

	var targets atomic.Int32
	var target string
	newTarget := func(t testing.TB) {
		target = fmt.Sprintf("target-%d", targets.Add(1))
		if _, err := d.Start(ctx, target); err != nil {
			t.Fatalf("start the target bill: %v", err)
		}
	}
	var tried atomic.Int64
	f.Cleanup(func() {
		f.Logf("%d bodies tried against %d routes; %d target bills", tried.Load(), len(postRoutes), targets.Load())
	})

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		tried.Add(1)
		if target == "" {
			newTarget(t)
		}
		path := postRoutes[int(route)%len(postRoutes)]
		if strings.Contains(path, "%s") {
			path = fmt.Sprintf(path, "FUZZ/"+target)
		}
		before := historyLength(t, ctx, env, d.Ref(target).WorkflowID())
		var startKey string
		if path == "/v1/bills" {
			startKey = startKeyOf(body)
		}
		existedBefore := startKey != "" && historyLength(t, ctx, env, startKey) > 0

		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(rctx, http.MethodPost, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: no answer (a panic?): %v", path, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("POST %s %q: HTTP %d: %s", path, body, resp.StatusCode, raw)
		}
		if resp.StatusCode < 400 {
			if strings.HasSuffix(path, "/cancel") {
				target = "" // the target has ended; the next input gets a fresh one
			}
			return
		}
		var e struct {
			Error struct {
				Code    string            `json:"code"`
				Message string            `json:"message"`
				Fields  map[string]string `json:"fields"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("POST %s: HTTP %d without a JSON error: %s", path, resp.StatusCode, raw)
		}
		if e.Error.Code == api.CodeValidation && len(e.Error.Fields) == 0 && resp.StatusCode == http.StatusBadRequest &&
			!strings.Contains(e.Error.Message, ":") {
			t.Fatalf("POST %s: a validation error names no field: %s", path, raw)
		}
		if after := historyLength(t, ctx, env, d.Ref(target).WorkflowID()); after != before {
			t.Fatalf("POST %s answered %d but the bill's history grew from %d to %d events: %s", path, resp.StatusCode, before, after, raw)
		}
		if startKey != "" && !existedBefore && historyLength(t, ctx, env, startKey) > 0 {
			t.Fatalf("a refused start (HTTP %d) left workflow %s behind: %s", resp.StatusCode, startKey, raw)
		}
	})
}

// historyLength is the number of events of the workflow's latest run (0 = no such workflow).
func historyLength(t *testing.T, ctx context.Context, env *kit.Env, workflowID string) int64 {
	desc, err := env.Client.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if asNotFound(err, &nf) {
			return 0
		}
		t.Fatalf("describe %s: %v", workflowID, err)
	}
	return desc.GetWorkflowExecutionInfo().GetHistoryLength()
}

// startKeyOf is the workflow ID a start body would create, if it names one.
func startKeyOf(body []byte) string {
	var in struct {
		Resource any `json:"resource"`
		BillID   any `json:"billId"`
	}
	if json.Unmarshal(body, &in) != nil {
		return ""
	}
	r, ok1 := in.Resource.(string)
	b, ok2 := in.BillID.(string)
	if !ok1 || !ok2 || strings.TrimSpace(r) == "" || strings.TrimSpace(b) == "" {
		return ""
	}
	return workflows.BillWorkflowID(strings.TrimSpace(r), strings.TrimSpace(b))
}
