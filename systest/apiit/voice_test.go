package apiit

import (
	"net/http"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"rimflow/internal/codec"
	"rimflow/internal/voice"
	"rimflow/workflows"
)

// An update sent through Temporal with the ERP's actor in its payload (what `temporal workflow
// update execute --name approve` sends) is not the ERP: unsigned, it is the ops path, and the
// policy's webSignals (approve only for finance here) refuse a supervisor approval. Signed with
// another deployment's key it is no better. The API's own decision, signed, is recorded as the
// ERP's; an unsigned approval the policy allows is recorded as the ops path.
func TestTemporalSideUpdateCannotForgeTheAPI(t *testing.T) {
	ring, _ := newKeyring(t, "k1")
	s := newSecuredStack(t, ring)
	s.startAndImport(t, securedBill("FORGE-1", "er_tripreimbursebill"), nil, workflows.AwaitingStage("supervisor"))
	id := workflows.BillWorkflowID("OA", "FORGE-1")
	forged := workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: "alice", Actor: &workflows.Actor{Client: "erp-oa", User: "alice"}}
	send := func(sig *voice.Keys, updateID string, req workflows.ApproveRequest) error {
		ctx := t.Context()
		if sig != nil {
			p, err := sig.Sign(id, workflows.UpdateApprove, updateID, req)
			if err != nil {
				t.Fatal(err)
			}
			ctx = voice.WithSignature(ctx, p)
		}
		h, err := s.sealed.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateID: updateID,
			UpdateName: workflows.UpdateApprove, Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	}
	if err := send(nil, "forged-1", forged); err == nil || !strings.Contains(err.Error(), "refused by policy") {
		t.Fatalf("an unsigned update with the ERP's actor: %v", err)
	}
	other, _ := newKeyring(t, "k1") // the same key ID, another deployment's key
	if err := send(codec.New(other).Voice(), "forged-2", forged); err == nil || !strings.Contains(err.Error(), "refused by policy") {
		t.Fatalf("an update signed with another key: %v", err)
	}

	var st workflows.BillState
	if code, raw := s.as(t, erpToken, "alice", "POST", "/v1/bills/OA/FORGE-1/approvals", workflows.ApproveRequest{Role: "supervisor", Decision: "approve"}, &st); code != http.StatusOK {
		t.Fatalf("the API's approval: %d %s", code, raw)
	}
	if err := send(nil, "forged-3", workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: "ops-olga",
		Actor: &workflows.Actor{Client: "erp-oa", User: "bob"}}); err != nil {
		t.Fatalf("an unsigned finance approval the policy allows: %v", err)
	}
	st = s.waitStage(t, "OA/FORGE-1", workflows.AwaitingStage("cfo"))
	if a := st.Approvals; len(a) != 2 || a[0].Client != "erp-oa" || a[0].User != "alice" || a[1].Client != workflows.OpsPath || a[1].User != "ops-olga" {
		t.Errorf("approvals %+v: want alice through the ERP, then ops-olga through the ops path", a)
	}
}
