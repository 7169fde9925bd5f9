package resilience

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
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
// a dropped connection. A 4xx is a JSON error with a code; a 400 (or 413) names the fields it
// refuses; and a refused request writes nothing (the target bill's history does not grow, and a
// refused start starts no workflow). A 2xx answers the route's documented shape for the bill it
// names and leaves a valid, consistent bill: its state answers, its counts and total agree with
// its invoices, and a start, a cancel or a forward did what it said. The seed corpus (good and bad
// bodies for each route) runs in CI; `go test -fuzz FuzzAPIPost ./systest/resilience/` explores
// further.
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
	// Bodies the API accepts, so the 2xx checks run in CI too: a start, a forwarded invoice with
	// a serialNo, a cancel with a reason.
	f.Add(uint8(0), []byte(`{"billId":"fuzz-start","billNo":"BX-2","billType":"expense","resource":"FUZZ","billTaxNo":"91440300MA5G9GK78Y","userId":"u"}`))
	f.Add(uint8(1), []byte(`{"invoiceData":[{"serialNo":"fuzz-serial-1","invoiceType":"26","invoiceNo":"1","totalAmount":"10.00","invoiceAmount":"9.00","totalTaxAmount":"1.00"}]}`))
	f.Add(uint8(6), []byte(`{"reason":"fuzz over","by":"ops"}`))

	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	env, _ := newEnv(f, ctx, kit.EnvOptions{Seed: 51})
	startWorker(f, ctx, env, "")
	h, err := api.Build(api.Options{Client: env.Client, Namespace: env.Server.Namespace(), RequestTimeout: 20 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(h)
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
	var tried, accepted, refused atomic.Int64
	f.Cleanup(func() {
		f.Logf("%d bodies tried against %d routes (%d accepted, %d refused); %d target bills",
			tried.Load(), len(postRoutes), accepted.Load(), refused.Load(), targets.Load())
		// With -fuzz the inputs run in worker processes: only a plain run counts its own.
		if fz := flag.Lookup("test.fuzz"); fz != nil && fz.Value.String() != "" {
			return
		}
		if accepted.Load() == 0 || refused.Load() == 0 {
			f.Errorf("the corpus must reach both answers: %d accepted, %d refused", accepted.Load(), refused.Load())
		}
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
			accepted.Add(1)
			checkAccepted(t, ctx, env, path, body, raw, resp.StatusCode, target)
			if strings.HasSuffix(path, "/cancel") {
				target = "" // the target has ended; the next input gets a fresh one
			}
			return
		}
		refused.Add(1)
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
		if (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge) && len(e.Error.Fields) == 0 {
			t.Fatalf("POST %s %q: HTTP %d names no field: %s", path, body, resp.StatusCode, raw)
		}
		if after := historyLength(t, ctx, env, d.Ref(target).WorkflowID()); after != before {
			t.Fatalf("POST %s answered %d but the bill's history grew from %d to %d events: %s", path, resp.StatusCode, before, after, raw)
		}
		if startKey != "" && !existedBefore && historyLength(t, ctx, env, startKey) > 0 {
			t.Fatalf("a refused start (HTTP %d) left workflow %s behind: %s", resp.StatusCode, startKey, raw)
		}
	})
}

// checkAccepted: a 2xx answered the route's shape for the bill it concerns, and that bill is
// valid and consistent afterwards.
func checkAccepted(t *testing.T, ctx context.Context, env *kit.Env, path string, body, raw []byte, status int, target string) {
	t.Helper()
	ref := api.BillRef{Resource: "FUZZ", BillID: target}
	switch {
	case path == "/v1/bills":
		var started api.StartResponse
		if err := json.Unmarshal(raw, &started); err != nil || started.WorkflowID == "" || started.Collect.PC == "" {
			t.Fatalf("start answered %d without a started bill (%v): %s", status, err, raw)
		}
		if want := startKeyOf(body); started.WorkflowID != want {
			t.Fatalf("start answered workflow %s for a body naming %s", started.WorkflowID, want)
		}
		res, id, _ := strings.Cut(started.ID, "/")
		ref = api.BillRef{Resource: res, BillID: id}
	case strings.HasSuffix(path, "/invoices"):
		var acc api.InvoicesAccepted
		if err := json.Unmarshal(raw, &acc); err != nil || status != http.StatusAccepted || acc.WorkflowID != ref.WorkflowID() {
			t.Fatalf("forward answered %d %s (%v), want 202 for %s", status, raw, err, ref.WorkflowID())
		}
	default:
		var st workflows.BillState
		if err := json.Unmarshal(raw, &st); err != nil || st.WorkflowID != ref.WorkflowID() || st.Stage == "" {
			t.Fatalf("POST %s answered %d without the bill's state (%v): %s", path, status, err, raw)
		}
	}
	// The bill after the call: its state answers (a workflow that panicked on the input would not)
	// and is consistent.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := env.Bills.State(sctx, ref)
	if err != nil {
		t.Fatalf("after POST %s answered %d, the bill's state does not answer: %v", path, status, err)
	}
	if problem := inconsistency(st); problem != "" {
		t.Fatalf("after POST %s %q answered %d, the bill is inconsistent: %s", path, body, status, problem)
	}
	if strings.HasSuffix(path, "/cancel") && st.Stage != workflows.StageCancelled {
		t.Fatalf("a cancel answered %d but the bill is %s", status, st.Stage)
	}
	if path == "/v1/bills" && st.Stage != workflows.StageCollecting && st.Stage != workflows.StageFailed {
		t.Fatalf("a started bill is %s", st.Stage)
	}
}

// inconsistency names what in a bill's state contradicts itself ("" = nothing).
func inconsistency(st workflows.BillState) string {
	known := map[workflows.Stage]bool{workflows.StageCollecting: true, workflows.StageAwaitingVoucher: true,
		workflows.StageImageReview: true, workflows.StageDeducting: true, workflows.StageCompleted: true,
		workflows.StageRejected: true, workflows.StageCancelled: true, workflows.StageFailed: true}
	if !known[st.Stage] && !strings.HasPrefix(string(st.Stage), "awaiting_") {
		return fmt.Sprintf("unknown stage %q", st.Stage)
	}
	if st.Stage == workflows.StageFailed && st.Error == nil {
		return "failed without a reason"
	}
	if st.InvoiceCount != len(st.Invoices) {
		return fmt.Sprintf("invoiceCount %d but %d invoices listed", st.InvoiceCount, len(st.Invoices))
	}
	total := decimal.Zero
	for _, inv := range st.Invoices {
		amount, err := decimal.NewFromString(inv.TotalAmount)
		if err != nil || inv.SerialNo == "" {
			return fmt.Sprintf("invoice %q with total %q", inv.SerialNo, inv.TotalAmount)
		}
		total = total.Add(amount)
	}
	if got, err := decimal.NewFromString(st.TotalAmount); err != nil || !got.Equal(total) {
		return fmt.Sprintf("totalAmount %q, the invoices add up to %s", st.TotalAmount, total)
	}
	if st.Stage == workflows.StageCollecting && st.Collect.PC == "" {
		return "collecting without a collect URL"
	}
	return ""
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
