package apiit

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rimflow/api"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// startCollected starts ref's bill with roles and imports n invoices: autoSubmit moves it on.
func (s *stack) startCollected(t *testing.T, billID string, n int, roles ...string) string {
	t.Helper()
	var started api.StartResponse
	if code := s.call(t, "POST", "/v1/bills", bill(billID, roles...), &started); code != http.StatusCreated {
		t.Fatalf("start %s: %d", billID, code)
	}
	s.collect(t, eventCodeOf(t, started.Collect.PC), n)
	return started.ID
}

// A sync job's cursor never skips: a bill's own updatedAt, as the API printed it, sent back as
// updatedSince, finds that bill; timestamps are printed at one precision.
func TestSyncCursorNeverSkipsABill(t *testing.T) {
	s := newStack(t, "it-token")
	id := s.startCollected(t, "SYNC-1", 1, "supervisor")
	st := s.waitStage(t, id, workflows.StageAwaitingSupervisor)
	printed := st.UpdatedAt.Format(time.RFC3339Nano)
	if !st.UpdatedAt.Equal(st.UpdatedAt.Truncate(api.TimePrecision)) {
		t.Errorf("updatedAt %s printed finer than %s", printed, api.TimePrecision)
	}
	// Visibility is eventually consistent: wait until it lists the bill at its current stage, then
	// the cursor must find it.
	var list api.ListResponse
	waitList(t, s, "/v1/bills?stage=awaiting_supervisor", 1, &list)
	for _, cursor := range []string{printed, list.Bills[0].UpdatedAt.Format(time.RFC3339Nano)} {
		var page api.ListResponse
		if code := s.call(t, "GET", "/v1/bills?updatedSince="+url.QueryEscape(cursor), nil, &page); code != 200 {
			t.Fatalf("updatedSince=%s: %d", cursor, code)
		}
		if len(page.Bills) != 1 || page.Bills[0].ID != id {
			t.Errorf("updatedSince=%s (the bill's own updatedAt) found %+v", cursor, page.Bills)
		}
	}
	// And in any letter case of the tax number.
	var page api.ListResponse
	if code := s.call(t, "GET", "/v1/bills?taxNo="+strings.ToLower(bill("x").BillTaxNo), nil, &page); code != 200 || len(page.Bills) != 1 {
		t.Errorf("taxNo in lower case: %d %+v", code, page.Bills)
	}
}

// Repeating the decision that ended a bill (finance's reject, the voucher of a bill with no
// deduction, a cancel) answers the bill's final state, one rule for all; another decision to the
// ended bill is 409 bill_finished.
func TestRepeatOfTheDecisionThatEndedABill(t *testing.T) {
	s := newStack(t, "it-token")

	rejected := s.startCollected(t, "END-REJECT", 1, "finance")
	s.waitStage(t, rejected, workflows.AwaitingStage("finance"))
	reject := workflows.ApproveRequest{Role: "finance", Decision: "reject", Approver: "fin-1", Comment: "no receipt"}
	var st workflows.BillState
	if code := s.call(t, "POST", "/v1/bills/"+rejected+"/approvals", reject, &st); code != 200 {
		t.Fatalf("reject: %d", code)
	}
	s.waitStage(t, rejected, workflows.StageRejected)

	completed := s.startCollected(t, "END-VOUCHER", 1, "supervisor")
	s.waitStage(t, completed, workflows.AwaitingStage("supervisor"))
	if code := s.call(t, "POST", "/v1/bills/"+completed+"/approvals",
		workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: "sup-1"}, &st); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	s.waitStage(t, completed, workflows.StageAwaitingVoucher)
	voucher := voucherFor("记-END")
	if code := s.call(t, "POST", "/v1/bills/"+completed+"/voucher", voucher, &st); code != 200 {
		t.Fatalf("voucher: %d", code)
	}
	s.waitStage(t, completed, workflows.StageCompleted)

	cancelled := s.startCollected(t, "END-CANCEL", 1, "supervisor")
	s.waitStage(t, cancelled, workflows.AwaitingStage("supervisor"))
	cancel := workflows.CancelRequest{Reason: "duplicate claim"}
	if code := s.call(t, "POST", "/v1/bills/"+cancelled+"/cancel", cancel, &st); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	s.waitStage(t, cancelled, workflows.StageCancelled)

	otherVoucher := voucher
	otherVoucher.VouchNo = "记-OTHER"
	for _, c := range []struct {
		name, path string
		body       any
		want       workflows.Stage // "" = refused as finished
	}{
		{"the same reject", rejected + "/approvals", reject, workflows.StageRejected},
		{"an approve after the reject", rejected + "/approvals", workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: "fin-1"}, ""},
		{"the same voucher", completed + "/voucher", voucher, workflows.StageCompleted},
		{"another voucher", completed + "/voucher", otherVoucher, ""},
		{"the same cancel", cancelled + "/cancel", cancel, workflows.StageCancelled},
		{"a cancel for another reason", cancelled + "/cancel", workflows.CancelRequest{Reason: "other"}, ""},
	} {
		status, raw := testenv.Do(t, t.Context(), "POST", s.api.URL+"/v1/bills/"+c.path, s.token, c.body)
		if c.want != "" {
			if status != 200 || !strings.Contains(string(raw), `"stage": "`+string(c.want)+`"`) {
				t.Errorf("%s: HTTP %d %.300s", c.name, status, raw)
			}
			continue
		}
		if status != http.StatusConflict || !strings.Contains(string(raw), api.CodeAlreadyFinished) {
			t.Errorf("%s: HTTP %d %.300s, want 409 %s", c.name, status, raw, api.CodeAlreadyFinished)
		}
	}
}
