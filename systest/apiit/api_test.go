package apiit

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"rimflow/api"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// TestBillLifeOverHTTP drives bills only through the HTTP API and the simulator's /__sim/
// interface: start, duplicate start, collect, approvals (wrong stage, bad payload), voucher,
// completed, restart refused, reject, cancel, list, health and metrics.
func TestBillLifeOverHTTP(t *testing.T) {
	s := newStack(t, "it-token")

	// Start: 201 with the collect URLs once the eventCode is issued.
	var started api.StartResponse
	if code := s.call(t, "POST", "/v1/bills", bill("B-1", "supervisor", "finance"), &started); code != http.StatusCreated {
		t.Fatalf("start: %d %+v", code, started)
	}
	if started.ID != "OA/B-1" || started.WorkflowID != "bill:OA:B-1" || started.Stage != workflows.StageCollecting {
		t.Errorf("start answer %+v", started)
	}
	if started.Collect.PC == "" || started.Collect.Mobile == "" || started.Collect.ExpiresAt == nil ||
		started.View.PC == "" || started.View.Mobile == "" {
		t.Errorf("start answer lacks URLs: %+v", started)
	}

	// Duplicate start joins the running bill: 200, same body.
	var again api.StartResponse
	if code := s.call(t, "POST", "/v1/bills", bill("B-1", "supervisor", "finance"), &again); code != http.StatusOK {
		t.Fatalf("duplicate start: %d", code)
	}
	if again.WorkflowID != started.WorkflowID || again.ID != started.ID || again.Stage != started.Stage {
		t.Errorf("duplicate start answered %+v, first %+v", again, started)
	}

	// Bad input: 400 naming the fields, nothing started.
	var bad apiError
	if code := s.call(t, "POST", "/v1/bills", `{"billId":"B-X","resource":"OA"}`, &bad); code != 400 {
		t.Fatalf("bad start: %d", code)
	}
	for _, f := range []string{"billNo", "billType", "userId", "billTaxNo"} {
		if bad.Error.Fields[f] == "" {
			t.Errorf("bad start: %s not named in %v", f, bad.Error.Fields)
		}
	}
	if code := s.call(t, "GET", "/v1/bills/OA/B-X", nil, &bad); code != 404 || bad.Error.Code != api.CodeNotFound {
		t.Errorf("refused bill exists: %d %+v", code, bad)
	}

	// A fresh collect URL.
	var url workflows.CollectURLResponse
	if code := s.call(t, "GET", "/v1/bills/OA/B-1/collect-url?client=mobile", nil, &url); code != 200 || url.URL == "" || url.EventCode == "" {
		t.Fatalf("collect-url: %d %+v", code, url)
	}

	// The user imports two invoices in the cloud; autoSubmit moves the bill to the supervisor.
	testenv.Collect(t, t.Context(), s.simURL, url.EventCode, 2)
	st := s.waitStage(t, "OA/B-1", workflows.StageAwaitingSupervisor)
	if st.InvoiceCount != 2 || st.TotalAmount == "" || st.TotalAmount == "0" {
		t.Errorf("after import: count %d total %q", st.InvoiceCount, st.TotalAmount)
	}

	// The ERP forwards the same invoices from its browser socket: accepted (202, kept: the bill is
	// past collecting), deduplicated by serialNo, so nothing is bound twice. A field the cloud's
	// record does not have is refused, naming it.
	forward := map[string]any{"invoiceData": []map[string]any{}}
	for _, inv := range st.Invoices {
		forward["invoiceData"] = append(forward["invoiceData"].([]map[string]any), map[string]any{
			"serialNo": inv.SerialNo, "invoiceType": inv.InvoiceType, "invoiceNo": inv.InvoiceNo,
			"totalAmount": inv.TotalAmount, "buyerTaxNo": inv.BuyerTaxNo})
	}
	var accepted api.InvoicesAccepted
	if code := s.call(t, "POST", "/v1/bills/OA/B-1/invoices", forward, &accepted); code != http.StatusAccepted || accepted.Invoices != 2 ||
		accepted.Outcome != api.ForwardPending || accepted.Stage != workflows.StageAwaitingSupervisor {
		t.Errorf("forward invoices: %d %+v", code, accepted)
	}
	forward["invoiceData"].([]map[string]any)[0]["someVendorField"] = "x"
	if code := s.call(t, "POST", "/v1/bills/OA/B-1/invoices", forward, &bad); code != 400 || bad.Error.Fields["invoiceData[0].someVendorField"] == "" {
		t.Errorf("unknown invoice field: %d %+v", code, bad)
	}
	delete(forward["invoiceData"].([]map[string]any)[0], "someVendorField")
	if code := s.call(t, "POST", "/v1/bills/OA/nope/invoices", forward, &bad); code != 404 {
		t.Errorf("forward to an unknown bill: %d %+v", code, bad)
	}
	// The signal is asynchronous: wait until the bill has recorded the forward, then check it
	// added nothing.
	deadline := time.Now().Add(time.Minute)
	for {
		s.call(t, "GET", "/v1/bills/OA/B-1", nil, &st)
		if n := len(st.Deliveries); n > 0 && st.Deliveries[n-1].Via == workflows.ViaERP {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the forwarded invoices were not recorded within a minute: deliveries %+v", st.Deliveries)
		}
		sleep()
	}
	if last := st.Deliveries[len(st.Deliveries)-1]; last.Outcome != "duplicate" || last.New != 0 || st.InvoiceCount != 2 {
		t.Errorf("forwarded duplicates changed the bill: delivery %+v, %d invoices", last, st.InvoiceCount)
	}

	// Wrong stage: finance cannot decide yet → 409.
	var conflict apiError
	if code := s.call(t, "POST", "/v1/bills/OA/B-1/approvals",
		workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: "fin-1"}, &conflict); code != http.StatusConflict {
		t.Errorf("wrong-stage approval: %d %+v", code, conflict)
	}
	// Unknown body field → 400 naming it; the bill does not move.
	if code := s.call(t, "POST", "/v1/bills/OA/B-1/approvals", `{"role":"supervisor","decision":"approve","approvr":"x"}`, &bad); code != 400 || bad.Error.Fields["approvr"] == "" {
		t.Errorf("misspelt field: %d %+v", code, bad)
	}

	// Approvals answer the new state.
	if code := s.call(t, "POST", "/v1/bills/OA/B-1/approvals",
		workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: "sup-1"}, &st); code != 200 {
		t.Fatalf("supervisor approval: %d", code)
	}
	if st.Stage != workflows.StageAwaitingFinance {
		t.Errorf("after supervisor: %s", st.Stage)
	}
	// The same decision again (an ERP retry) is answered with the state; another decision for a
	// role that has decided this round → 409.
	var repeated workflows.BillState
	if code := s.call(t, "POST", "/v1/bills/OA/B-1/approvals",
		workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: "sup-1"}, &repeated); code != 200 || repeated.Stage != workflows.StageAwaitingFinance {
		t.Errorf("repeated supervisor decision: %d %s", code, repeated.Stage)
	}
	if code := s.call(t, "POST", "/v1/bills/OA/B-1/approvals",
		workflows.ApproveRequest{Role: "supervisor", Decision: "reject", Approver: "sup-1"}, &conflict); code != http.StatusConflict {
		t.Errorf("second supervisor decision: %d", code)
	}
	if code := s.call(t, "POST", "/v1/bills/OA/B-1/approvals",
		workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: "fin-1"}, &st); code != 200 {
		t.Fatalf("finance approval: %d", code)
	}
	st = s.waitStage(t, "OA/B-1", workflows.StageAwaitingVoucher)

	voucher := workflows.VoucherRequest{VouchID: "V-1", VouchNo: "记-001", AccountDate: "2026-01-31",
		AccountTime: "2026-01-31", BusinessDate: "2026-01-30", Resource: "SAP"}
	if code := s.call(t, "POST", "/v1/bills/OA/B-1/voucher", voucher, &st); code != 200 {
		t.Fatalf("voucher: %d %+v", code, st)
	}
	st = s.waitStage(t, "OA/B-1", workflows.StageCompleted)
	if st.Voucher == nil || st.Voucher.VouchNo != "记-001" {
		t.Errorf("completed state lacks the voucher: %+v", st.Voucher)
	}

	// A finished bill: start again → 409, cancel → 409, state still answers.
	if code := s.call(t, "POST", "/v1/bills", bill("B-1", "supervisor", "finance"), &conflict); code != http.StatusConflict ||
		conflict.Error.Code != api.CodeAlreadyFinished {
		t.Errorf("restart of a finished bill: %d %+v", code, conflict)
	}
	if code := s.call(t, "POST", "/v1/bills/OA/B-1/cancel", workflows.CancelRequest{Reason: "late"}, &conflict); code != http.StatusConflict {
		t.Errorf("cancel after completion: %d %+v", code, conflict)
	}

	// Reject compensates; cancel in collecting ends the bill.
	var b2 api.StartResponse
	if code := s.call(t, "POST", "/v1/bills", bill("B-2", "supervisor"), &b2); code != http.StatusCreated {
		t.Fatalf("start B-2: %d", code)
	}
	var b2state workflows.BillState
	s.call(t, "GET", "/v1/bills/OA/B-2", nil, &b2state)
	testenv.Collect(t, t.Context(), s.simURL, b2state.EventCode, 1)
	s.waitStage(t, "OA/B-2", workflows.StageAwaitingSupervisor)
	if code := s.call(t, "POST", "/v1/bills/OA/B-2/approvals",
		workflows.ApproveRequest{Role: "supervisor", Decision: "reject", Approver: "sup-1", Comment: "not business"}, &b2state); code != 200 {
		t.Fatalf("reject: %d", code)
	}
	s.waitStage(t, "OA/B-2", workflows.StageRejected)

	if code := s.call(t, "POST", "/v1/bills", bill("B-3"), nil); code != http.StatusCreated {
		t.Fatalf("start B-3: %d", code)
	}
	var b3 workflows.BillState
	if code := s.call(t, "POST", "/v1/bills/OA/B-3/cancel", workflows.CancelRequest{Reason: "duplicate claim"}, &b3); code != 200 {
		t.Fatalf("cancel B-3: %d %+v", code, b3)
	}
	s.waitStage(t, "OA/B-3", workflows.StageCancelled)

	// A tax number that is not one is refused before anything starts: 400 naming it, no bill.
	badTax := bill("B-5")
	badTax.BillTaxNo = "not-a-tax-number"
	if code := s.call(t, "POST", "/v1/bills", badTax, &bad); code != 400 || bad.Error.Fields["billTaxNo"] == "" {
		t.Errorf("typo in the tax number: %d %+v", code, bad)
	}
	if code := s.call(t, "GET", "/v1/bills/OA/B-5", nil, &bad); code != 404 {
		t.Errorf("a refused start left a bill: %d", code)
	}
	// The cloud refuses the bill's tax number for its own reasons: 502 with the cloud's code, the
	// field and the step as data, and the bill waits in failed.
	s.sim(t, "/__sim/faults", map[string]any{"errorRate": 1, "messageTypes": []string{"getEventCode"},
		"refuseCode": "1001", "refuseField": "billTaxNo"})
	var refused apiError
	code := s.call(t, "POST", "/v1/bills", bill("B-5"), &refused)
	s.sim(t, "/__sim/faults", map[string]any{})
	if code != http.StatusBadGateway || refused.Error.Code != api.CodeCloudRefused || refused.Error.CloudCode != "1001" ||
		refused.Error.Step == "" || !strings.Contains(refused.Error.Message, "billTaxNo") {
		t.Errorf("cloud refusal: %d %+v", code, refused)
	}
	var failed workflows.BillState
	if s.call(t, "GET", "/v1/bills/OA/B-5", nil, &failed); failed.Stage != workflows.StageFailed || failed.Error == nil {
		t.Errorf("refused bill: %s %+v", failed.Stage, failed.Error)
	}
	// Ops terminate it: the state still answers (the worker replays the closed history), and the
	// bill key may start a new life since the old one did not end normally.
	if err := s.client.TerminateWorkflow(context.Background(), "bill:OA:B-5", "", "ops: wrong tax number"); err != nil {
		t.Fatal(err)
	}
	if code := s.call(t, "GET", "/v1/bills/OA/B-5", nil, &failed); code != 200 || failed.Stage != workflows.StageFailed {
		t.Errorf("state of a terminated bill: %d %s", code, failed.Stage)
	}
	var restarted api.StartResponse
	if code := s.call(t, "POST", "/v1/bills", bill("B-5"), &restarted); code != http.StatusCreated || restarted.Stage != workflows.StageCollecting {
		t.Errorf("restart after termination: %d %+v", code, restarted)
	}

	// Visibility: filters and escaping.
	var list api.ListResponse
	waitList(t, s, "/v1/bills?stage=completed&billNo=BX-B-1", 1, &list)
	if got := list.Bills[0]; got.ID != "OA/B-1" || got.TaxNo != "91330100MA2B3C4D5N" || got.InvoiceCount != 2 || got.StartedAt.IsZero() {
		t.Errorf("listed %+v", got)
	}
	if code := s.call(t, "GET", "/v1/bills?billNo=x%27%20OR%20%27a%27%3D%27a", nil, &list); code != 200 || len(list.Bills) != 0 {
		t.Errorf("quoted filter value: %d, %d bills", code, len(list.Bills))
	}
	if code := s.call(t, "GET", "/v1/bills?stage=nowhere", nil, &bad); code != 400 || bad.Error.Fields["stage"] == "" {
		t.Errorf("bad stage filter: %d %+v", code, bad)
	}

	// Auth: the token is required for bill routes and the metrics, not for health.
	anon := *s
	anon.token = ""
	if code := anon.call(t, "GET", "/v1/bills/OA/B-1", nil, &bad); code != 401 {
		t.Errorf("no token: %d", code)
	}
	var health api.HealthResponse
	if code := anon.call(t, "GET", "/healthz", nil, &health); code != 200 || health.Status != "ok" {
		t.Errorf("healthz: %d %+v", code, health)
	}
	if status, raw := testenv.Do(t, t.Context(), http.MethodGet, s.api.URL+"/metrics", "", nil); status != http.StatusUnauthorized || strings.Contains(string(raw), "rimflow_") {
		t.Errorf("metrics without a token: %d %.200s", status, raw)
	}
	_, raw := testenv.Do(t, t.Context(), http.MethodGet, s.api.URL+"/metrics", s.token, nil)
	metrics := string(raw)
	for _, want := range []string{
		`rimflow_api_bill_starts_total{outcome="created"} 4`,
		`rimflow_api_bill_starts_total{outcome="error"} 1`,
		`rimflow_api_bill_starts_total{outcome="joined"} 1`,
		`rimflow_api_stage_transitions_total{from="awaiting_finance",to="awaiting_voucher"}`,
		`rimflow_api_requests_total{method="POST",route="/v1/bills",status="409"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func waitList(t *testing.T, s *stack, path string, n int, out *api.ListResponse) {
	t.Helper()
	for i := 0; i < 300; i++ {
		*out = api.ListResponse{}
		if code := s.call(t, "GET", path, nil, out); code == 200 && len(out.Bills) == n {
			return
		}
		sleep()
	}
	t.Fatalf("%s: never %d bills, last %+v", path, n, out)
}
