package apiit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"rimflow/api"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// Every POST route, sent with an Idempotency-Key, then sent again with the same key after the
// client gave up waiting (the cloud is slow, so the first call is still at work when the client's
// timeout hits): the retry gets the first call's answer — not a 409, and the operation is applied
// once.
func TestIdempotentRetriesAfterAClientTimeout(t *testing.T) {
	s := newStack(t, "it-token")
	slow := func(on bool) {
		ms := 0
		if on {
			ms = 1500
		}
		s.sim(t, "/__sim/faults", map[string]any{"latencyMs": ms})
	}
	// keyed sends a POST with key; a timeout of 0 waits for the answer.
	keyed := func(path, key string, body any, timeout time.Duration) (int, []byte) {
		t.Helper()
		raw, _ := json.Marshal(body)
		ctx := t.Context()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.api.URL+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set(api.HeaderIdempotencyKey, key)
		resp, err := testenv.CheckedClient(t).Do(req)
		if err != nil {
			if timeout > 0 && (errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err)) {
				return 0, nil // the client gave up, as an ERP behind a short timeout does
			}
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// twice sends the call with a timeout that gives up, then again with the same key; the second
	// answer is the first call's (a third, later, too). It returns that answer.
	twice := func(path, key string, body any, want int) []byte {
		t.Helper()
		slow(true)
		keyed(path, key, body, 300*time.Millisecond)
		slow(false)
		code, first := keyed(path, key, body, 0)
		if code != want {
			t.Fatalf("retried %s: %d %s, want %d", path, code, first, want)
		}
		code, again := keyed(path, key, body, 0)
		if code != want {
			t.Fatalf("third %s: %d %s", path, code, again)
		}
		return first
	}
	stateOf := func(raw []byte) workflows.BillState {
		var st workflows.BillState
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatalf("state: %v: %s", err, raw)
		}
		return st
	}

	// POST /v1/bills: the retry answers 201, as the call that started it would have.
	in := bill("IDEM-1", "supervisor", "finance")
	in.Options.AutoSubmit = new(bool)
	in.Options.ImageMode = workflows.ImageBasic
	var started api.StartResponse
	if err := json.Unmarshal(twice("/v1/bills", "start-IDEM-1", in, http.StatusCreated), &started); err != nil || started.WorkflowID != "bill:OA:IDEM-1" {
		t.Fatalf("start: %+v %v", started, err)
	}

	// POST …/invoices: a forwarded payload, twice: bound once.
	var url workflows.CollectURLResponse
	s.call(t, "GET", "/v1/bills/OA/IDEM-1/collect-url", nil, &url)
	delivered := s.collectPayload(t, url.EventCode, 2)
	twice("/v1/bills/OA/IDEM-1/invoices", "inv-1", delivered, http.StatusAccepted)
	s.waitInvoices(t, "OA/IDEM-1", 2)

	// submit, the supervisor's approval, the scan, the finance approval (billSave 60), the voucher
	// (voucherSave): each once.
	if st := stateOf(twice("/v1/bills/OA/IDEM-1/submit", "submit-1", workflows.SubmitRequest{By: "u-7"}, 200)); st.Stage != workflows.StageAwaitingSupervisor {
		t.Errorf("after submit: %s", st.Stage)
	}
	twice("/v1/bills/OA/IDEM-1/approvals", "sup-1", workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: "ann"}, 200)
	twice("/v1/bills/OA/IDEM-1/images", "scan-1", workflows.ImagesRequest{ScanBillNo: "SCAN-1"}, 200)
	st := stateOf(twice("/v1/bills/OA/IDEM-1/approvals", "fin-1", workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: "bob"}, 200))
	if st.Stage != workflows.StageAwaitingVoucher {
		t.Errorf("after finance: %s, want awaiting_voucher", st.Stage)
	}
	if st := s.waitStage(t, "OA/IDEM-1", workflows.StageAwaitingVoucher); len(st.Approvals) != 2 {
		t.Errorf("after finance: %d approvals, want 2 (each decided once)", len(st.Approvals))
	}
	v := workflows.VoucherRequest{VouchID: "V-I", VouchNo: "记-I", AccountDate: "2026-11-30", AccountTime: "2026-11-30", BusinessDate: "2026-11-29", Resource: "SAP"}
	if st := stateOf(twice("/v1/bills/OA/IDEM-1/voucher", "voucher-1", v, 200)); st.Stage != workflows.StageCompleted {
		t.Errorf("after voucher: %s", st.Stage)
	}
	calls := s.simBill(t, "OA", "IDEM-1").Calls
	if calls.BillSave.InUse.Applied != 1 || calls.BillSave.Used.Applied != 1 || calls.VoucherSave.Applied != 1 {
		t.Errorf("applied at the cloud: %+v", calls)
	}

	// cancel: a second bill, cancelled twice with one key (the unbind is slow).
	cin := bill("IDEM-2", "supervisor")
	s.call(t, "POST", "/v1/bills", cin, nil)
	s.call(t, "GET", "/v1/bills/OA/IDEM-2/collect-url", nil, &url)
	s.collect(t, url.EventCode, 1)
	s.waitStage(t, "OA/IDEM-2", workflows.StageAwaitingSupervisor)
	if st := stateOf(twice("/v1/bills/OA/IDEM-2/cancel", "cancel-2", workflows.CancelRequest{Reason: "duplicate"}, 200)); st.Stage != workflows.StageCancelled {
		t.Errorf("after cancel: %s", st.Stage)
	}
	if c := s.simBill(t, "OA", "IDEM-2").Calls; c.BillDelete.Applied != 1 {
		t.Errorf("unbinds applied: %+v", c.BillDelete)
	}

	// retry and resolve: a third bill whose unbind the cloud refuses for good (a voucher was posted
	// elsewhere); retry it (refused again), then resolve it by hand.
	rin := bill("IDEM-3", "supervisor")
	s.call(t, "POST", "/v1/bills", rin, nil)
	s.call(t, "GET", "/v1/bills/OA/IDEM-3/collect-url", nil, &url)
	serials := s.collect(t, url.EventCode, 1)
	s.waitStage(t, "OA/IDEM-3", workflows.StageAwaitingSupervisor)
	s.voucherElsewhere(t, "IDEM-3", serials)
	s.call(t, "POST", "/v1/bills/OA/IDEM-3/cancel", workflows.CancelRequest{Reason: "raised twice"}, nil)
	s.waitStage(t, "OA/IDEM-3", workflows.StageFailed)
	// The retry runs the unbind again and answers its outcome: refused again (502, with the cloud's
	// code); the same retry sent again gets that answer, it does not run the step a third time.
	var refusedAgain apiError
	if err := json.Unmarshal(twice("/v1/bills/OA/IDEM-3/retry", "retry-3", workflows.RetryRequest{By: "ops"}, http.StatusBadGateway), &refusedAgain); err != nil ||
		refusedAgain.Error.Code != api.CodeCloudRefused {
		t.Errorf("retry answer: %+v %v", refusedAgain, err)
	}
	s.waitStage(t, "OA/IDEM-3", workflows.StageFailed)
	if c := s.simBill(t, "OA", "IDEM-3").Calls; c.BillDelete.Refused != 2 {
		t.Errorf("unbind refusals %d, want 2 (the first attempt and one retry)", c.BillDelete.Refused)
	}
	res := workflows.ResolveRequest{By: "ops-li", Reason: "voucher reversed in SAP", Done: "invoices released in the vendor console"}
	if st := stateOf(twice("/v1/bills/OA/IDEM-3/resolve", "resolve-3", res, 200)); st.Stage != workflows.StageCancelled {
		t.Errorf("after resolve: %s", st.Stage)
	}
	if st := s.waitStage(t, "OA/IDEM-3", workflows.StageCancelled); len(st.Resolutions) != 1 {
		t.Errorf("after resolve: %+v, want one resolution", st.Resolutions)
	}
}
