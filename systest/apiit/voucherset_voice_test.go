package apiit

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"rimflow/api"
	"rimflow/workflows"
)

// The policy here lets the ops path approve for finance and nothing else. A voucher set still
// holds and books its bills, because the worker signs the hold and the outcome it sends them as
// the API signs its own updates; the same hold sent from Temporal is refused, and an outcome
// signal sent from Temporal to a held bill changes nothing (only the set's signed update does).
func TestVoucherSetIsSignedTheOpsPathIsNot(t *testing.T) {
	ring, _ := newKeyring(t, "k1")
	s := newSecuredStack(t, ring)
	ids := []string{"VSIG-1", "VSIG-2"}
	for _, id := range ids {
		s.startAndImport(t, securedBill(id, "er_dailyreimbursebill"), nil, workflows.AwaitingStage("finance"))
		var st workflows.BillState
		if code, raw := s.as(t, erpToken, "fiona", "POST", "/v1/bills/OA/"+id+"/approvals", workflows.ApproveRequest{Role: "finance", Decision: "approve"}, &st); code != http.StatusOK {
			t.Fatalf("finance approval of %s: %d %s", id, code, raw)
		}
		s.waitStage(t, "OA/"+id, workflows.StageAwaitingVoucher)
	}
	today := time.Now().Format("2006-01-02")
	v := workflows.VoucherRequest{VouchID: "V-SIG-1", VouchNo: "记-0901", AccountDate: today, AccountTime: today, BusinessDate: today, Resource: "SAP"}
	setID := workflows.VoucherClaimID(v.Resource, v.VouchID)

	// From Temporal, no signature: the hold is the ops path, which the policy closes to it.
	first := workflows.BillWorkflowID("OA", ids[0])
	h, err := s.sealed.UpdateWorkflow(t.Context(), client.UpdateWorkflowOptions{WorkflowID: first, UpdateName: workflows.UpdateVoucherHold,
		Args: []any{workflows.VoucherHoldRequest{Set: setID, Voucher: v}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(t.Context(), nil)
	}
	if err == nil || !strings.Contains(err.Error(), "refused by policy") {
		t.Fatalf("a voucher hold sent from Temporal: %v, want refused by policy", err)
	}

	// Through the API: the set's worker-signed hold and outcome pass.
	req := api.VoucherSetRequest{VoucherRequest: v}
	for _, id := range ids {
		req.Bills = append(req.Bills, workflows.BillKey{Resource: "OA", BillID: id})
	}
	var saved api.VoucherSetResponse
	if code, raw := s.as(t, erpToken, "fiona", "POST", "/v1/vouchers", req, &saved); code != http.StatusOK {
		t.Fatalf("voucher set: %d %s", code, raw)
	}
	if len(saved.Bills) != 2 || saved.Set != setID {
		t.Fatalf("saved: %+v", saved)
	}
	for _, id := range ids {
		st := s.waitStage(t, "OA/"+id, workflows.StageCompleted)
		if st.Voucher == nil || st.Voucher.SavedAt == nil || st.Voucher.Set != setID {
			t.Errorf("%s: voucher %+v, want saved by set %s", id, st.Voucher, setID)
		}
	}
}
