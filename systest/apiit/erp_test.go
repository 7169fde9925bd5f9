package apiit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// TestERPThroughHTTP plays an ERP integrator through the HTTP API only (and the simulator's
// /__sim/ interface where a user or the cloud acts): issue 15's walls, one subtest each, each on
// its own bills.
func TestERPThroughHTTP(t *testing.T) {
	s := newStack(t, "erp-token", func(o *api.Options) { o.StartWait = 8 * time.Second })

	t.Run("a Chinese bill key lives its whole life", func(t *testing.T) {
		in := bill("报销单-十四 B/16 é")
		in.Resource = "办公"
		in.BillNo = "报销-十四"
		ref := keyPath(in.Resource, in.BillID)
		var started api.StartResponse
		code := s.call(t, "POST", "/v1/bills", in, &started)
		if code == http.StatusAccepted && started.Pending != nil {
			// A loaded box issued the eventCode after the start's wait: the ERP asks for it.
			var link workflows.CollectURLResponse
			for deadline := time.Now().Add(time.Minute); link.URL == "" && time.Now().Before(deadline); sleep() {
				s.call(t, "GET", "/v1/bills/"+ref+"/collect-url", nil, &link)
			}
			started.Collect.PC, code = link.URL, http.StatusCreated
		}
		if code != http.StatusCreated {
			t.Fatalf("start: %d %+v", code, started)
		}
		if started.ID != "办公/报销单-十四 B/16 é" || started.WorkflowID != workflows.BillWorkflowID(in.Resource, in.BillID) ||
			started.Collect.PC == "" {
			t.Errorf("start answer %+v", started)
		}
		if r, b, ok := workflows.ParseBillWorkflowID(started.WorkflowID); !ok || r != in.Resource || b != in.BillID {
			t.Errorf("workflow ID %q does not read back: %q %q", started.WorkflowID, r, b)
		}
		var st workflows.BillState
		if code := s.call(t, "GET", "/v1/bills/"+ref, nil, &st); code != 200 || st.Bill.BillID != in.BillID {
			t.Fatalf("state: %d bill %q", code, st.Bill.BillID)
		}
		if st.ID != started.ID {
			t.Errorf("state.id %q, want %q", st.ID, started.ID)
		}
		var link workflows.CollectURLResponse
		s.call(t, "GET", "/v1/bills/"+ref+"/collect-url?client=mobile", nil, &link)
		s.collect(t, link.EventCode, 2)
		s.waitStage(t, ref, workflows.StageAwaitingSupervisor)
		for _, role := range []string{"supervisor", "finance"} {
			if code := s.call(t, "POST", "/v1/bills/"+ref+"/approvals",
				workflows.ApproveRequest{Role: role, Decision: "approve", Approver: role + "-张"}, &st); code != 200 {
				t.Fatalf("%s approval: %d", role, code)
			}
		}
		s.waitStage(t, ref, workflows.StageAwaitingVoucher)
		if code := s.call(t, "POST", "/v1/bills/"+ref+"/voucher", voucherFor("V-十四"), &st); code != 200 {
			t.Fatalf("voucher: %d", code)
		}
		st = s.waitStage(t, ref, workflows.StageCompleted)
		if cloud := s.simBill(t, in.Resource, in.BillID); cloud.Voucher == nil || len(cloud.Invoices) != 2 || cloud.Status != invoicecloud.StatusUsed {
			t.Errorf("the cloud's view of the Chinese bill: %+v", cloud)
		}
		var list api.ListResponse
		waitList(t, s, "/v1/bills?resource="+url.QueryEscape(in.Resource)+"&billNo="+url.QueryEscape(in.BillNo), 1, &list)
		if list.Bills[0].ID != started.ID || list.Bills[0].Stage != workflows.StageCompleted {
			t.Errorf("listed %+v", list.Bills[0])
		}
		// A key with a control character is refused, in a body and in a path.
		bad := bill("B\x07")
		var e apiError
		if code := s.call(t, "POST", "/v1/bills", bad, &e); code != 400 || e.Error.Fields["billId"] == "" {
			t.Errorf("control character in the key: %d %+v", code, e)
		}
		if code := s.call(t, "GET", "/v1/bills/OA/B%07", nil, &e); code != 400 || e.Error.Fields["billId"] == "" {
			t.Errorf("control character in the path: %d %+v", code, e)
		}
	})

	t.Run("a typo is refused with 400 and nothing started", func(t *testing.T) {
		in := bill("TYPO-1")
		in.BillTaxNo = "bad-tax"
		in.CompanyInfo = []invoicecloud.Company{{TaxNo: "123", Name: "某公司"}}
		var e apiError
		if code := s.call(t, "POST", "/v1/bills", in, &e); code != 400 || e.Error.Code != api.CodeValidation ||
			e.Error.Fields["billTaxNo"] == "" || e.Error.Fields["companyInfo[0].taxNo"] == "" {
			t.Fatalf("typo: %d %+v", code, e)
		}
		if code := s.call(t, "GET", "/v1/bills/OA/TYPO-1", nil, &e); code != 404 {
			t.Errorf("a refused start left a bill: %d", code)
		}
		// A lower-case tax number is the same company: taken, upper-cased.
		in = bill("TYPO-2")
		in.BillTaxNo = strings.ToLower(in.BillTaxNo)
		if code := s.call(t, "POST", "/v1/bills", in, nil); code != http.StatusCreated {
			t.Fatalf("lower-case tax number: %d", code)
		}
		var st workflows.BillState
		if s.call(t, "GET", "/v1/bills/OA/TYPO-2", nil, &st); st.Bill.BillTaxNo != "91330100MA2B3C4D5N" {
			t.Errorf("tax number not upper-cased: %q", st.Bill.BillTaxNo)
		}
	})

	t.Run("a duplicate start answers 200 with the same body and 409 naming what differs", func(t *testing.T) {
		in := bill("DUP-1", "supervisor")
		if code := s.call(t, "POST", "/v1/bills", in, nil); code != http.StatusCreated {
			t.Fatalf("start: %d", code)
		}
		if code := s.call(t, "POST", "/v1/bills", in, nil); code != http.StatusOK {
			t.Errorf("same body: %d", code)
		}
		other := in
		other.UserID = "u-8"
		other.Options.ImageMode = workflows.ImageBasic
		var e apiError
		if code := s.call(t, "POST", "/v1/bills", other, &e); code != http.StatusConflict || e.Error.SubCode != api.SubDifferentBody ||
			e.Error.Fields["userId"] == "" || e.Error.Fields["options.imageMode"] == "" || len(e.Error.Fields) != 2 {
			t.Errorf("different body: %d %+v", code, e)
		}
	})

	t.Run("a failed-at-start bill is amended and completes", func(t *testing.T) {
		in := bill("AMEND-1", "supervisor")
		var e apiError
		s.sim(t, "/__sim/faults", map[string]any{"errorRate": 1, "messageTypes": []string{"getEventCode"},
			"refuseCode": "1001", "refuseField": "billTaxNo"})
		code := s.call(t, "POST", "/v1/bills", in, &e)
		s.sim(t, "/__sim/faults", map[string]any{})
		if code != http.StatusBadGateway || e.Error.CloudCode != "1001" || e.Error.Step == "" || e.Error.Field != "billTaxNo" {
			t.Errorf("refused start: %d %+v", code, e)
		}
		s.waitStage(t, "OA/AMEND-1", workflows.StageFailed)
		// The corrected body posted again is not silently joined: 409 naming the field.
		fixed := in
		fixed.BillTaxNo = "91440300MA5G9GK78Y"
		if code := s.call(t, "POST", "/v1/bills", fixed, &e); code != http.StatusConflict || e.Error.SubCode != api.SubDifferentBody ||
			e.Error.Fields["billTaxNo"] == "" {
			t.Errorf("corrected body re-posted: %d %+v", code, e)
		}
		// A bad amend is refused before it is sent.
		if code := s.call(t, "PATCH", "/v1/bills/OA/AMEND-1", map[string]any{"billTaxNo": "nope", "reason": "typo"}, &e); code != 400 ||
			e.Error.Fields["billTaxNo"] == "" {
			t.Errorf("bad amend: %d %+v", code, e)
		}
		var st workflows.BillState
		if code := s.call(t, "PATCH", "/v1/bills/OA/AMEND-1", map[string]any{"billTaxNo": "91440300ma5g9gk78y", "reason": "typo"}, &st); code != 200 ||
			st.Stage != workflows.StageFailed {
			t.Fatalf("amend: %d %+v", code, st)
		}
		// The answer is the bill in brief; its header is in the whole state.
		if s.call(t, "GET", "/v1/bills/OA/AMEND-1", nil, &st); st.Bill.BillTaxNo != "91440300MA5G9GK78Y" {
			t.Fatalf("after the amend: %+v", st.Bill)
		}
		if code := s.call(t, "POST", "/v1/bills/OA/AMEND-1/retry", workflows.RetryRequest{By: "erp"}, &st); code != 200 || st.Stage != workflows.StageCollecting {
			t.Fatalf("retry: %d %s %+v", code, st.Stage, st.Error)
		}
		// The cloud now knows the bill by the amended tax number.
		if cloud := s.simBill(t, "OA", "AMEND-1"); cloud.BillTaxNo != "91440300MA5G9GK78Y" {
			t.Errorf("the cloud has %q", cloud.BillTaxNo)
		}
		driveToCompleted(t, s, "OA/AMEND-1", 1, "supervisor")
	})

	t.Run("a failed start cancelled starts again", func(t *testing.T) {
		in := bill("RESTART-1")
		s.sim(t, "/__sim/faults", map[string]any{"errorRate": 1, "messageTypes": []string{"getEventCode"}, "refuseCode": "1001"})
		code := s.call(t, "POST", "/v1/bills", in, nil)
		s.sim(t, "/__sim/faults", map[string]any{})
		if code != http.StatusBadGateway {
			t.Fatalf("refused start: %d", code)
		}
		var st workflows.BillState
		if code := s.call(t, "POST", "/v1/bills/OA/RESTART-1/cancel", workflows.CancelRequest{Reason: "typo, starting again"}, &st); code != 200 || st.Stage != workflows.StageCancelled {
			t.Fatalf("cancel: %d %s", code, st.Stage)
		}
		var again api.StartResponse
		if code := s.call(t, "POST", "/v1/bills", in, &again); code != http.StatusCreated || again.Stage != workflows.StageCollecting {
			t.Errorf("start again: %d %+v", code, again)
		}
		// A bill that bound invoices and was cancelled keeps its key: 409 finished.
		used := bill("RESTART-2")
		s.call(t, "POST", "/v1/bills", used, &again)
		s.collect(t, eventCodeOf(t, again.Collect.PC), 1)
		s.waitStage(t, "OA/RESTART-2", workflows.StageAwaitingSupervisor)
		s.call(t, "POST", "/v1/bills/OA/RESTART-2/cancel", workflows.CancelRequest{Reason: "not needed"}, nil)
		s.waitStage(t, "OA/RESTART-2", workflows.StageCancelled)
		var e apiError
		if code := s.call(t, "POST", "/v1/bills", used, &e); code != http.StatusConflict || e.Error.SubCode != api.SubFinished ||
			e.Error.Code != api.CodeAlreadyFinished {
			t.Errorf("restart after invoices were bound: %d %+v", code, e)
		}
	})

	t.Run("a bad forward is refused and an invoice removed", func(t *testing.T) {
		in := bill("FWD-1", "supervisor")
		in.Options.AutoSubmit = new(bool)
		var started api.StartResponse
		s.call(t, "POST", "/v1/bills", in, &started)
		payload := s.collectPayload(t, eventCodeOf(t, started.Collect.PC), 2)
		s.waitInvoices(t, "OA/FWD-1", 2)

		// Refused, named, nothing sent: a wrong total, a field the cloud's record does not have.
		raw, _ := json.Marshal(payload)
		var doc map[string]any
		_ = json.Unmarshal(raw, &doc)
		inv0 := doc["invoiceData"].([]any)[0].(map[string]any)
		inv0["totalAmount"] = "0.01"
		var e apiError
		if code := s.call(t, "POST", "/v1/bills/OA/FWD-1/invoices", doc, &e); code != 400 || e.Error.Fields["invoiceData[0].totalAmount"] == "" {
			t.Errorf("wrong total: %d %+v", code, e)
		}
		delete(inv0, "totalAmount")
		inv0["memo"] = "x"
		if code := s.call(t, "POST", "/v1/bills/OA/FWD-1/invoices", doc, &e); code != 400 || e.Error.Fields["invoiceData[0].memo"] == "" {
			t.Errorf("unknown field: %d %+v", code, e)
		}

		// A forwarded serialNo the cloud's pool does not have fails the bill at binding; removing
		// it lets the retry bind again.
		ghost := map[string]any{"invoiceData": []map[string]any{{"serialNo": "GHOST-0001", "invoiceType": "26",
			"invoiceAmount": "10.00", "totalTaxAmount": "0.60", "totalAmount": "10.60", "buyerTaxNo": in.BillTaxNo}}}
		var accepted api.InvoicesAccepted
		if code := s.call(t, "POST", "/v1/bills/OA/FWD-1/invoices", ghost, &accepted); code != http.StatusAccepted || accepted.Outcome != api.ForwardBinding {
			t.Fatalf("ghost forward: %d %+v", code, accepted)
		}
		st := s.waitStage(t, "OA/FWD-1", workflows.StageFailed)
		if st.Error == nil || st.Error.Code != "InvoiceCloud.2002" {
			t.Errorf("failure: %+v", st.Error)
		}
		if code := s.call(t, "DELETE", "/v1/bills/OA/FWD-1/invoices/GHOST-0001?reason="+url.QueryEscape("not in the pool"), nil, &st); code != 200 {
			t.Fatalf("remove the ghost: %d %+v", code, st)
		}
		if code := s.call(t, "POST", "/v1/bills/OA/FWD-1/retry", nil, &st); code != 200 || st.Stage != workflows.StageCollecting {
			t.Fatalf("retry after removing: %d %s %+v", code, st.Stage, st.Error)
		}
		// Remove a bound invoice: released at the cloud, gone from the bill.
		serial := payload.InvoiceData[0].SerialNo
		if code := s.call(t, "DELETE", "/v1/bills/OA/FWD-1/invoices/"+url.PathEscape(serial)+"?reason=duplicate", nil, &st); code != 200 ||
			st.InvoiceCount != 1 {
			t.Errorf("remove a bound invoice: %d %d", code, st.InvoiceCount)
		}
		if s.call(t, "GET", "/v1/bills/OA/FWD-1", nil, &st); slices.ContainsFunc(st.Invoices, func(v workflows.InvoiceView) bool { return v.SerialNo == serial }) {
			t.Errorf("the bill still lists %s: %+v", serial, st.Invoices)
		}
		cloud := s.simBill(t, "OA", "FWD-1")
		if slices.ContainsFunc(cloud.Invoices, func(v simulator.BillInvoiceView) bool {
			return v.SerialNo == serial && v.Status != invoicecloud.StatusUnused
		}) {
			t.Errorf("the cloud still holds %s: %+v", serial, cloud.Invoices)
		}
		driveToCompleted(t, s, "OA/FWD-1", 1, "supervisor")
		// A bill that has ended takes nothing: 409 finished, not 202-and-drop.
		if code := s.call(t, "POST", "/v1/bills/OA/FWD-1/invoices", payload, &e); code != http.StatusConflict || e.Error.SubCode != api.SubFinished {
			t.Errorf("forward to a completed bill: %d %+v", code, e)
		}
	})

	t.Run("a return and a re-collect keep the earlier invoices", func(t *testing.T) {
		in := bill("RET-1", "supervisor")
		var started api.StartResponse
		s.call(t, "POST", "/v1/bills", in, &started)
		first := s.collect(t, eventCodeOf(t, started.Collect.PC), 3)
		s.waitStage(t, "OA/RET-1", workflows.StageAwaitingSupervisor)
		var st workflows.BillState
		if code := s.call(t, "POST", "/v1/bills/OA/RET-1/approvals",
			workflows.ApproveRequest{Role: "supervisor", Decision: "return", Approver: "sup", Comment: "one more receipt"}, &st); code != 200 {
			t.Fatalf("return: %d", code)
		}
		s.waitStage(t, "OA/RET-1", workflows.StageCollecting)
		var link workflows.CollectURLResponse
		s.call(t, "GET", "/v1/bills/OA/RET-1/collect-url", nil, &link)
		extra := s.collect(t, link.EventCode, 1)
		s.waitInvoices(t, "OA/RET-1", 4)
		s.call(t, "GET", "/v1/bills/OA/RET-1", nil, &st)
		for _, serial := range append(first, extra...) {
			if !slices.ContainsFunc(st.Invoices, func(v workflows.InvoiceView) bool {
				return v.SerialNo == serial && v.Status == invoicecloud.StatusInUse
			}) {
				t.Errorf("%s not bound after the re-collect: %+v", serial, st.Invoices)
			}
		}
		if cloud := s.simBill(t, "OA", "RET-1"); len(cloud.Invoices) != 4 {
			t.Errorf("the cloud holds %d invoices, want 4", len(cloud.Invoices))
		}
	})

	t.Run("approvers get a view URL in any stage", func(t *testing.T) {
		in := bill("VIEW-1", "supervisor")
		var started api.StartResponse
		s.call(t, "POST", "/v1/bills", in, &started)
		s.collect(t, eventCodeOf(t, started.Collect.PC), 1)
		s.waitStage(t, "OA/VIEW-1", workflows.StageAwaitingSupervisor)
		var view workflows.ViewURLResponse
		if code := s.call(t, "GET", "/v1/bills/OA/VIEW-1/view-url?client=mobile", nil, &view); code != 200 ||
			view.URL == "" || !view.ExpiresAt.After(time.Now()) {
			t.Fatalf("view URL while awaiting the supervisor: %d %+v", code, view)
		}
		if page := fetchText(t, view.URL); page == "" {
			t.Error("the view page is empty")
		}
		// The collect eventCode still lives, but the view page has one of its own: the same
		// eventCode would open the collect page, which imports into the bill.
		if eventCodeOf(t, view.URL) == eventCodeOf(t, started.Collect.PC) {
			t.Errorf("the view URL %s carries the collect eventCode", view.URL)
		}
		var e apiError
		s.call(t, "POST", "/v1/bills/OA/VIEW-1/cancel", workflows.CancelRequest{Reason: "done"}, nil)
		s.waitStage(t, "OA/VIEW-1", workflows.StageCancelled)
		if code := s.call(t, "GET", "/v1/bills/OA/VIEW-1/view-url", nil, &e); code != http.StatusConflict || e.Error.SubCode != api.SubFinished {
			t.Errorf("view URL of an ended bill: %d %+v", code, e)
		}
	})

	t.Run("honest statuses and machine-readable errors", func(t *testing.T) {
		var e apiError
		// A garbage page token: 400 (the parse refuses it; no query reaches visibility), not a 503.
		if code := s.call(t, "GET", "/v1/bills?pageToken=AAAAbm90LWEtdG9rZW4", nil, &e); code != 400 || e.Error.Fields["pageToken"] == "" {
			t.Errorf("garbage page token: %d %+v", code, e)
		}
		if code := s.call(t, "GET", "/v1/bills?stauts=failed", nil, &e); code != 400 || e.Error.Fields["stauts"] == "" {
			t.Errorf("misspelt filter: %d %+v", code, e)
		}
		// Every answer carries its X-Request-Id, and error bodies repeat it.
		resp, body := s.raw(t, "GET", "/v1/bills/OA/nope", nil, map[string]string{api.HeaderRequestID: "erp-trace-1"})
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode != 404 || resp.Header.Get(api.HeaderRequestID) != "erp-trace-1" || e.Error.RequestID != "erp-trace-1" {
			t.Errorf("request id: %d %q %+v", resp.StatusCode, resp.Header.Get(api.HeaderRequestID), e.Error)
		}
		// 409 sub-codes.
		in := bill("STATUS-1", "supervisor", "finance")
		var started api.StartResponse
		s.call(t, "POST", "/v1/bills", in, &started)
		if code := s.call(t, "POST", "/v1/bills/OA/STATUS-1/approvals",
			workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: "f"}, &e); code != 409 || e.Error.SubCode != api.SubWrongStage {
			t.Errorf("wrong stage: %d %+v", code, e)
		}
		if code := s.call(t, "POST", "/v1/bills/OA/STATUS-1/submit", nil, &e); code != 409 || e.Error.SubCode != api.SubNoInvoices {
			t.Errorf("submit with nothing bound: %d %+v", code, e)
		}
		// A start while the cloud is failing answers within the start's wait with what is known
		// (202, the step being retried and the cloud's answer), then the bill carries on by itself.
		s.sim(t, "/__sim/faults", map[string]any{"errorRate": 1, "messageTypes": []string{"getEventCode"}})
		var pending api.StartResponse
		code := s.call(t, "POST", "/v1/bills", bill("STATUS-2"), &pending)
		s.sim(t, "/__sim/faults", map[string]any{})
		if code != http.StatusAccepted || pending.Pending == nil || pending.Pending.Activity != "GetEventCode" ||
			pending.Pending.LastError == "" || pending.Stage != workflows.StageCollecting {
			t.Errorf("start while the cloud fails: %d %+v %+v", code, pending, pending.Pending)
		}
		deadline := time.Now().Add(90 * time.Second)
		for {
			var link workflows.CollectURLResponse
			if code := s.call(t, "GET", "/v1/bills/OA/STATUS-2/collect-url", nil, &link); code == 200 && link.EventCode != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the bill never issued its eventCode after the cloud came back")
			}
			sleep()
		}
	})

	t.Run("the list finds what changed and sorts it", func(t *testing.T) {
		since := time.Now().UTC().Add(-time.Second)
		ids := []string{"LIST-1", "LIST-2"}
		for _, id := range ids {
			in := bill(id, "supervisor")
			in.Resource = "LIST"
			var started api.StartResponse
			s.call(t, "POST", "/v1/bills", in, &started)
			s.collect(t, eventCodeOf(t, started.Collect.PC), 1)
			s.waitStage(t, "LIST/"+id, workflows.StageAwaitingSupervisor)
		}
		var list api.ListResponse
		waitList(t, s, "/v1/bills?resource=LIST&sort=-startedAt&awaitingRole=supervisor", 2, &list)
		if list.Bills[0].ID != "LIST/LIST-2" || list.Bills[1].ID != "LIST/LIST-1" {
			t.Errorf("-startedAt order: %s, %s", list.Bills[0].ID, list.Bills[1].ID)
		}
		for _, it := range list.Bills {
			if it.AwaitingRole != "supervisor" || it.UpdatedAt.Before(it.StartedAt) {
				t.Errorf("item %+v", it)
			}
		}
		// One bill per page, sorted, the token carrying the order.
		var page api.ListResponse
		s.call(t, "GET", "/v1/bills?resource=LIST&sort=startedAt&pageSize=1", nil, &page)
		if len(page.Bills) != 1 || page.Bills[0].ID != "LIST/LIST-1" || page.NextPageToken == "" {
			t.Fatalf("first sorted page: %+v", page)
		}
		s.call(t, "GET", "/v1/bills?resource=LIST&sort=startedAt&pageSize=1&pageToken="+page.NextPageToken, nil, &page)
		if len(page.Bills) != 1 || page.Bills[0].ID != "LIST/LIST-2" {
			t.Errorf("second sorted page: %+v", page)
		}
		waitList(t, s, "/v1/bills?resource=LIST&updatedSince="+url.QueryEscape(since.Format(time.RFC3339Nano)), 2, &list)
		var none api.ListResponse
		if code := s.call(t, "GET", "/v1/bills?resource=LIST&updatedSince="+url.QueryEscape(time.Now().UTC().Add(time.Hour).Format(time.RFC3339)), nil, &none); code != 200 || len(none.Bills) != 0 {
			t.Errorf("updatedSince in the future: %d %d bills", code, len(none.Bills))
		}
	})
}

// keyPath is "{resource}/{billId}" as a path: each key percent-encoded (UTF-8, '/' as %2F).
func keyPath(resource, billID string) string {
	return url.PathEscape(resource) + "/" + url.PathEscape(billID)
}

func voucherFor(no string) workflows.VoucherRequest {
	return workflows.VoucherRequest{VouchID: "ID-" + no, VouchNo: no, AccountDate: "2026-11-30", AccountTime: "2026-11-30",
		BusinessDate: "2026-11-29", Resource: "SAP"}
}

func eventCodeOf(t *testing.T, pageURL string) string {
	t.Helper()
	u, err := url.Parse(pageURL)
	if err != nil || u.Query().Get("eventCode") == "" {
		t.Fatalf("no eventCode in %q", pageURL)
	}
	return u.Query().Get("eventCode")
}

// driveToCompleted submits a collecting bill (when it is) once n invoices are bound, approves each
// role and saves the voucher.
func driveToCompleted(t *testing.T, s *stack, ref string, n int, roles ...string) {
	t.Helper()
	var st workflows.BillState
	s.call(t, "GET", "/v1/bills/"+ref, nil, &st)
	if st.Stage == workflows.StageCollecting {
		var link workflows.CollectURLResponse
		if st.InvoiceCount < n {
			s.call(t, "GET", "/v1/bills/"+ref+"/collect-url", nil, &link)
			s.collect(t, link.EventCode, n-st.InvoiceCount)
		}
		s.waitInvoices(t, ref, n)
		s.call(t, "GET", "/v1/bills/"+ref, nil, &st)
		if st.Stage == workflows.StageCollecting {
			if code := s.call(t, "POST", "/v1/bills/"+ref+"/submit", nil, &st); code != 200 {
				t.Fatalf("submit %s: %d", ref, code)
			}
		}
	}
	for _, role := range roles {
		s.waitStage(t, ref, workflows.AwaitingStage(role))
		if code := s.call(t, "POST", "/v1/bills/"+ref+"/approvals",
			workflows.ApproveRequest{Role: role, Decision: "approve", Approver: role + "-1"}, &st); code != 200 {
			t.Fatalf("%s approves %s: %d", role, ref, code)
		}
	}
	s.waitStage(t, ref, workflows.StageAwaitingVoucher)
	if code := s.call(t, "POST", "/v1/bills/"+ref+"/voucher", voucherFor("记-"+ref[strings.LastIndex(ref, "/")+1:]), &st); code != 200 {
		t.Fatalf("voucher %s: %d", ref, code)
	}
	s.waitStage(t, ref, workflows.StageCompleted)
}

// raw sends one request with extra headers and returns the answer as is.
func (s *stack) raw(t *testing.T, method, path string, body any, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.api.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := testenv.CheckedClient(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}
