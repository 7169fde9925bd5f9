package apiit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// toAwaitingVoucher starts a bill, imports an invoice, has the supervisor approve it and waits for
// the voucher.
func (s *stack) toAwaitingVoucher(t *testing.T, billID string) string {
	t.Helper()
	id := s.startCollected(t, billID, 1, "supervisor")
	s.waitStage(t, id, workflows.AwaitingStage("supervisor"))
	if code := s.call(t, "POST", "/v1/bills/"+id+"/approvals",
		workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: "sup-1"}, nil); code != 200 {
		t.Fatalf("approve %s: %d", id, code)
	}
	s.waitStage(t, id, workflows.StageAwaitingVoucher)
	return id
}

// A vouchId belongs to one bill: sent for two bills at once through two API processes, one bill
// gets it and the other a 409 voucher_in_use naming the first; the cloud keeps the first bill's
// voucher and booked invoices; the holder repeating it is answered its state; a voucher the bill
// refused leaves its vouchId free for another bill.
func TestVoucherIDBelongsToOneBill(t *testing.T) {
	s := newStack(t, "it-token")
	second := httptest.NewServer(apiHandler(t, api.Options{Client: s.client, Namespace: s.ns,
		TaskQueue: workflows.DefaultTaskQueue, Token: s.token, Registry: prometheus.NewRegistry()}))
	t.Cleanup(second.Close)

	a, b := s.toAwaitingVoucher(t, "000400"), s.toAwaitingVoucher(t, "000401")
	v := voucherFor("HZ-0001")
	v.VouchID = "V-2026-12-HZ-0001"
	type answer struct {
		id     string
		status int
		raw    []byte
	}
	answers := make(chan answer, 2)
	var wg sync.WaitGroup
	for _, c := range []struct{ base, id string }{{s.api.URL, a}, {second.URL, b}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, raw := testenv.Do(t, t.Context(), "POST", c.base+"/v1/bills/"+c.id+"/voucher", s.token, v)
			answers <- answer{c.id, status, raw}
		}()
	}
	wg.Wait()
	close(answers)
	var holder, refused string
	for ans := range answers {
		switch ans.status {
		case 200:
			holder = ans.id
		case http.StatusConflict:
			var e apiError
			if err := json.Unmarshal(ans.raw, &e); err != nil || e.Error.SubCode != api.SubVoucherInUse {
				t.Fatalf("%s refused with %s", ans.id, ans.raw)
			}
			refused = ans.id
			defer func() {
				if !strings.Contains(e.Error.Message, holder) || !strings.Contains(e.Error.Fields["vouchId"], holder) {
					t.Errorf("the refusal does not name the holder %s: %+v", holder, e.Error)
				}
			}()
		default:
			t.Fatalf("voucher for %s: HTTP %d %s", ans.id, ans.status, ans.raw)
		}
	}
	if holder == "" || refused == "" {
		t.Fatalf("one bill must get the vouchId, the other be refused: holder %q refused %q", holder, refused)
	}
	s.waitStage(t, holder, workflows.StageCompleted)
	if st := s.waitStage(t, refused, workflows.StageAwaitingVoucher); st.Voucher != nil {
		t.Errorf("the refused bill shows a voucher: %+v", st.Voucher)
	}
	_, holderID, _ := strings.Cut(holder, "/")
	cloud := s.simBill(t, "OA", holderID)
	if cloud.Voucher == nil || cloud.Voucher.VouchID != v.VouchID || len(cloud.Invoices) == 0 || !cloud.Invoices[0].Accounted {
		t.Errorf("the holder at the cloud: voucher %+v invoices %+v", cloud.Voucher, cloud.Invoices)
	}
	// The holder repeating its voucher is a repeat: its final state.
	var st workflows.BillState
	if code := s.call(t, "POST", "/v1/bills/"+holder+"/voucher", v, &st); code != 200 || st.Stage != workflows.StageCompleted {
		t.Errorf("the holder's repeat: %d %s", code, st.Stage)
	}

	// A voucher the bill refuses (still collecting) does not keep its vouchId.
	var started api.StartResponse
	if code := s.call(t, "POST", "/v1/bills", bill("000402", "supervisor"), &started); code != http.StatusCreated {
		t.Fatalf("start 000402: %d", code)
	}
	free := voucherFor("FREE")
	if code := s.call(t, "POST", "/v1/bills/"+started.ID+"/voucher", free, nil); code != http.StatusConflict {
		t.Fatalf("a voucher for a collecting bill: %d", code)
	}
	if code := s.call(t, "POST", "/v1/bills/"+refused+"/voucher", free, &st); code != 200 {
		t.Errorf("a vouchId a refused voucher claimed is still held: %d", code)
	}
}
