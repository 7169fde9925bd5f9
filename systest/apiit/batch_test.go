package apiit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"rimflow/api"
	"rimflow/workflows"
)

// The batch routes answer each bill on its own item (no all-or-nothing): two bills awaiting
// finance are approved while, in the same call, a collecting bill answers 409 wrong_stage, a bill
// of a resource the client may not use 403 (the same for one that exists as for one that does
// not) and a missing bill 404. The same batch sent again with its Idempotency-Key applies
// nothing twice; a batch over the bound is 413, a repeated bill 400 naming it.
func TestBatchAnswersEachBillOnItsOwn(t *testing.T) {
	ring, _ := newKeyring(t, "k1")
	s := newSecuredStack(t, ring)
	for _, id := range []string{"BT-1", "BT-2"} {
		s.startAndImport(t, securedBill(id, "er_dailyreimbursebill"), nil, workflows.StageAwaitingFinance)
	}
	if code, raw := s.as(t, erpToken, "", "POST", "/v1/bills", securedBill("BT-3", "er_dailyreimbursebill"), nil); code != http.StatusCreated {
		t.Fatalf("start BT-3: %d %s", code, raw)
	}
	bills := `[{"resource":"OA","billId":"BT-1"},{"resource":"OA","billId":"BT-2"},{"resource":"OA","billId":"BT-3"},` +
		`{"resource":"SAP","billId":"BT-1"},{"resource":"OA","billId":"BT-NONE"}]`
	type answer struct {
		status   int
		business string
	}
	want := []answer{{200, ""}, {200, ""}, {409, "RF2001"}, {403, "RF1101"}, {404, "RF1200"}}
	check := func(what string, code int, raw []byte) api.BatchResponse {
		t.Helper()
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", what, code, raw)
		}
		var resp api.BatchResponse
		if err := json.Unmarshal(raw, &resp); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		ok := 0
		for _, w := range want {
			if w.status == 200 {
				ok++
			}
		}
		if len(resp.Results) != len(want) || resp.Succeeded != ok || resp.Failed != len(want)-ok {
			t.Fatalf("%s: %d results, %d succeeded, %d failed: %s", what, len(resp.Results), resp.Succeeded, resp.Failed, raw)
		}
		for i, w := range want {
			got := resp.Results[i]
			business := ""
			if got.Error != nil {
				business = got.Error.BusinessCode
			}
			if got.Status != w.status || business != w.business || (w.status == 200) != (got.State != nil) {
				t.Errorf("%s: item %d (%s/%s): %d %s, want %d %s", what, i, got.Resource, got.BillID, got.Status, business, w.status, w.business)
			}
		}
		return resp
	}
	body := `{"role":"finance","decision":"approve","approver":"fin-1","comment":"month end","bills":` + bills + `}`
	code, raw := idempotent(t, s, erpToken, "POST", "/v1/batch/approvals", "month-end-1", body)
	first := check("approvals", code, raw)
	// Each bill answers as POST …/approvals does: its Decision, the bill in brief.
	for _, i := range []int{0, 1} {
		if st := first.Results[i].State; st.Stage != workflows.StageAwaitingVoucher || st.InvoiceCount == 0 {
			t.Errorf("%s: answered %+v", st.ID, st)
		}
	}
	if strings.Contains(string(raw), `"approvals"`) || strings.Contains(string(raw), `"history"`) {
		t.Errorf("the batch's answers carry the whole states: %s", raw)
	}
	// The answer was lost: the ERP sends the same batch with the same key.
	code, raw = idempotent(t, s, erpToken, "POST", "/v1/batch/approvals", "month-end-1", body)
	check("the same batch again", code, raw)
	for _, id := range []string{"BT-1", "BT-2"} {
		st := s.waitStage(t, "OA/"+id, workflows.StageAwaitingVoucher)
		if len(st.Approvals) != 1 || st.Approvals[0].Approver != "fin-1" {
			t.Errorf("%s: decided %d times: %+v", id, len(st.Approvals), st.Approvals)
		}
	}

	want[2] = answer{200, ""} // the collecting bill's state
	code, raw = s.as(t, erpToken, "", "POST", "/v1/batch/states", json.RawMessage(`{"bills":`+bills+`}`), nil)
	states := check("states", code, raw)
	if states.Results[0].State.Stage != workflows.StageAwaitingVoucher || states.Results[2].State.Stage != workflows.StageCollecting {
		t.Errorf("states: %s", raw)
	}
	// Another resource's bill answers the same whether it exists or not: nothing reached Temporal.
	if a, b := states.Results[3].Error.Message, strings.ReplaceAll(states.Results[3].Error.Message, "BT-1", "X"); a != b {
		t.Errorf("the 403 names the bill: %s", a)
	}

	var many []string
	for i := range api.MaxBatch + 1 {
		many = append(many, fmt.Sprintf(`{"resource":"OA","billId":"B-%d"}`, i))
	}
	code, raw = s.as(t, reportingToken, "", "POST", "/v1/batch/states", json.RawMessage(`{"bills":[`+strings.Join(many, ",")+`]}`), nil)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(raw), `"RF1002"`) {
		t.Errorf("a batch over the bound: %d %s", code, raw)
	}
	code, raw = s.as(t, reportingToken, "", "POST", "/v1/batch/states",
		json.RawMessage(`{"bills":[{"resource":"OA","billId":"BT-1"},{"resource":"OA","billId":"BT-1"}]}`), nil)
	if _, _, fields := errorMessage(t, raw); code != http.StatusBadRequest || fields["bills[1]"] == "" {
		t.Errorf("a repeated bill: %d %s", code, raw)
	}
}
