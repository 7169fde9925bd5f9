package e2e

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rimflow/devstack/harness"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// TestWorkerLogsCarryNoBusinessData runs real bills on the devstack's stack with the worker's
// (and the API's) logs captured at info, as production logs them: one bill collects three
// invoices, loses one (with a reason), is submitted, approved twice (with comments), gets its
// voucher and completes; another is cancelled with a reason. Payload encryption seals all of it in
// Temporal, so no total, amount, serial or invoice number, buyer, comment, reason or voucher
// number may show in the logs either.
func TestWorkerLogsCarryNoBusinessData(t *testing.T) {
	var logs lockedBuffer
	s, err := harness.Start(t.Context(), harness.Options{DataDir: t.TempDir(), TemporalAddr: "127.0.0.1:0", DisableUI: true,
		CloudAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		WorkerLogger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	api := s.APIURL()
	do := func(method, path string, body any, want int) []byte {
		t.Helper()
		status, raw := testenv.Do(t, t.Context(), method, api+path, "", body)
		if status != want {
			t.Fatalf("%s %s: HTTP %d %.400s, want %d", method, path, status, raw, want)
		}
		return raw
	}
	waitFor := func(path string, ok func(workflows.BillState) bool) workflows.BillState {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var st workflows.BillState
			if err := json.Unmarshal(do("GET", path, nil, http.StatusOK), &st); err != nil {
				t.Fatal(err)
			}
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %s with %d invoice(s) after 2 minutes", path, st.Stage, st.InvoiceCount)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	const (
		comment1     = "COMMENT-hotel-upgrade-approved-7731"
		comment2     = "COMMENT-finance-ok-5520"
		removeReason = "REASON-duplicate-receipt-8812"
		cancelReason = "REASON-trip-called-off-9043"
		vouchNo      = "记-LOG-60417"
		billNo       = "BX-LOG-31337"
	)

	// Bill 1: collected, an invoice removed, submitted, approved twice, vouchered, completed.
	no := false
	in := harness.DemoBill("LOG-1")
	in.BillNo = billNo
	in.Options.AutoSubmit = &no
	var started struct {
		Collect workflows.URLs `json:"collect"`
	}
	if err := json.Unmarshal(do("POST", "/v1/bills", in, http.StatusCreated), &started); err != nil {
		t.Fatal(err)
	}
	bill := "/v1/bills/OA/LOG-1"
	if status, raw := testenv.Do(t, t.Context(), "POST", s.CloudURL()+"/__sim/collect", "", map[string]any{"url": started.Collect.PC, "count": 3}); status != http.StatusOK {
		t.Fatalf("collect: HTTP %d %.300s", status, raw)
	}
	collected := waitFor(bill, func(st workflows.BillState) bool { return st.InvoiceCount == 3 })
	removed := collected.Invoices[0]
	do("DELETE", bill+"/invoices/"+url.PathEscape(removed.SerialNo)+"?reason="+url.QueryEscape(removeReason), nil, http.StatusOK)
	waitFor(bill, func(st workflows.BillState) bool { return st.InvoiceCount == 2 })
	do("POST", bill+"/submit", workflows.SubmitRequest{}, http.StatusOK)
	waitFor(bill, func(st workflows.BillState) bool { return st.Stage == workflows.StageAwaitingSupervisor })
	do("POST", bill+"/approvals", workflows.ApproveRequest{Role: "supervisor", Decision: workflows.DecisionApprove, Approver: "alice", Comment: comment1}, http.StatusOK)
	waitFor(bill, func(st workflows.BillState) bool { return st.Stage == workflows.StageAwaitingFinance })
	do("POST", bill+"/approvals", workflows.ApproveRequest{Role: "finance", Decision: workflows.DecisionApprove, Approver: "bob", Comment: comment2}, http.StatusOK)
	waitFor(bill, func(st workflows.BillState) bool { return st.Stage == workflows.StageAwaitingVoucher })
	day := time.Now().Format("2006-01-02")
	do("POST", bill+"/voucher", workflows.VoucherRequest{VouchID: "V-LOG-1", VouchNo: vouchNo, AccountDate: day, AccountTime: day,
		BusinessDate: day, Resource: "SAP"}, http.StatusOK)
	done := waitFor(bill, func(st workflows.BillState) bool { return st.Stage == workflows.StageCompleted })

	// Bill 2: cancelled with a reason while collecting.
	do("POST", "/v1/bills", harness.DemoBill("LOG-2"), http.StatusCreated)
	do("POST", "/v1/bills/OA/LOG-2/cancel", workflows.CancelRequest{Reason: cancelReason}, http.StatusOK)
	waitFor("/v1/bills/OA/LOG-2", func(st workflows.BillState) bool { return st.Stage == workflows.StageCancelled })

	// What must not show: every business value of the bills.
	secrets := map[string]string{"total": done.TotalAmount, "comment": comment1, "comment (finance)": comment2,
		"remove reason": removeReason, "cancel reason": cancelReason, "voucher number": vouchNo, "bill number": billNo}
	for i, inv := range append(done.Invoices, removed) {
		for what, v := range map[string]string{"serialNo": inv.SerialNo, "invoiceNo": inv.InvoiceNo, "totalAmount": inv.TotalAmount,
			"salerName": inv.SalerName} {
			if v != "" && v != "0" {
				secrets[fmt.Sprintf("invoice %d %s", i, what)] = v
			}
		}
	}
	captured := string(logs.Bytes())
	if !strings.Contains(captured, `"level":"INFO"`) {
		t.Fatalf("no info line captured: the test would prove nothing (%d bytes)", len(captured))
	}
	for what, v := range secrets {
		for _, line := range strings.Split(captured, "\n") {
			if strings.Contains(line, v) {
				t.Errorf("the %s (%q) shows in a log line: %.600s", what, v, line)
				break
			}
		}
	}
}
