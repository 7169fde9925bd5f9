package workflows_test

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"rimflow/internal/voice"
	"rimflow/workflows"
)

// The keys the harness's worker checks with (as a worker derives them from its payload keys), and
// another deployment's.
var (
	testVoice  = voiceKeys("k1")
	otherVoice = voiceKeys("k9")
)

func voiceKeys(id string) *voice.Keys {
	key := sha256.Sum256([]byte("test voice key " + id))
	return voice.NewKeys(id, map[string][]byte{id: key[:]})
}

// Update ids that say where an update comes from: the API signs every other update.
const (
	forgedPrefix   = "forged-"   // sent from Temporal itself: no signature
	otherKeyPrefix = "otherkey-" // signed with another deployment's key
)

// apiSigner stands in for Temporal's transport of the API's header, which the test environment
// does not carry: it signs each update as api.Bills does (the same voice.Keys.Sign), before the
// worker's own interceptor (voice.WorkerInterceptor, the thing under test) checks it.
type apiSigner struct {
	interceptor.WorkerInterceptorBase
}

func (*apiSigner) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &apiSignerInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

type apiSignerInbound struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (i *apiSignerInbound) sign(ctx workflow.Context, in *interceptor.UpdateInput) {
	id := workflow.GetCurrentUpdateInfo(ctx).ID
	keys := testVoice
	switch {
	case strings.HasPrefix(id, forgedPrefix):
		return
	case strings.HasPrefix(id, otherKeyPrefix):
		keys = otherVoice
	}
	// The test stands in for the API, which signs outside any workflow: nothing here is replayed.
	//workflowcheck:ignore the API's side, not workflow code
	p, err := keys.Sign(workflow.GetInfo(ctx).WorkflowExecution.ID, in.Name, id, in.Args[0])
	if err == nil {
		interceptor.WorkflowHeader(ctx)[voice.HeaderKey] = p
	}
}

func (i *apiSignerInbound) ValidateUpdate(ctx workflow.Context, in *interceptor.UpdateInput) error {
	i.sign(ctx, in)
	return i.Next.ValidateUpdate(ctx, in)
}

func (i *apiSignerInbound) ExecuteUpdate(ctx workflow.Context, in *interceptor.UpdateInput) (any, error) {
	i.sign(ctx, in)
	return i.Next.ExecuteUpdate(ctx, in)
}

// An update the API did not sign is the ops path: a forged actor is not believed, the policy for
// the ops path holds it (an approval its webSignals do not allow is refused), and what it may do is
// recorded as the ops path with the person its payload names. A signature by another key is no
// signature. The API's own updates keep their actor.
func TestUnsignedUpdateIsTheOpsPath(t *testing.T) {
	h := newHarness(t)
	in := bill(workflows.Options{})
	in.Policy = &workflows.BillPolicy{Rule: "ops-finance-only", Duties: workflows.Duties{OnePersonOneRole: true},
		WebSignals: workflows.WebSignals{Allow: true, Signals: []string{workflows.SignalApprove, workflows.SignalCancel, workflows.SignalRetry}, Roles: []string{"finance"}}}
	forged := workflows.ApproveRequest{Role: "supervisor", Decision: "approve", Approver: "alice", Actor: &workflows.Actor{Client: "erp-oa", User: "alice"}}
	var unsigned, otherKey, unsignedVoucher *updateResult
	h.script(
		func() { h.deliver(workflows.ViaSocket, inv("S1", "001", "10", "1", false)) },
		func() {
			unsigned = h.updateAs(forgedPrefix, workflows.UpdateApprove, forged)
			otherKey = h.updateAs(otherKeyPrefix, workflows.UpdateApprove, forged)
		},
		func() { h.update(workflows.UpdateApprove, forged) }, // the API's
		func() {
			h.updateAs(forgedPrefix, workflows.UpdateApprove, workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: "olga",
				Actor: &workflows.Actor{Client: "erp-oa", User: "bob"}})
		},
		func() {
			unsignedVoucher = h.updateAs(forgedPrefix, workflows.UpdateVoucher, voucher())
		},
		func() { h.update(workflows.UpdateVoucher, voucher()) },
	)
	h.run(in)
	s, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*updateResult{"unsigned": unsigned, "signed by another key": otherKey} {
		if r.rejected == nil || !strings.Contains(r.rejected.Error(), "refused by policy") {
			t.Errorf("%s approval of a role the ops path may not decide: %+v", name, r)
		}
	}
	if unsignedVoucher.rejected == nil || !strings.Contains(unsignedVoucher.rejected.Error(), `signal "voucher" is not accepted`) {
		t.Errorf("unsigned voucher: %+v", unsignedVoucher)
	}
	eq(t, "final", s.Stage, workflows.StageCompleted)
	eq(t, "the API's approval: client", s.Approvals[0].Client, "erp-oa")
	eq(t, "the API's approval: person", s.Approvals[0].User, "alice")
	eq(t, "the unsigned approval: client", s.Approvals[1].Client, workflows.OpsPath)
	eq(t, "the unsigned approval: the person it names, not the actor it claims", s.Approvals[1].User, "olga")
}

// Signatures bind the update: another workflow, name, id or argument (the actor among them) is
// not vouched for, nor is anything under a key the worker does not hold.
func TestVoiceSignatureBindsTheUpdate(t *testing.T) {
	arg := workflows.ApproveRequest{Role: "finance", Decision: "approve", Approver: "bob", Actor: &workflows.Actor{Client: "erp-oa", User: "bob"}}
	p, err := testVoice.Sign("bill:OA:B-1", workflows.UpdateApprove, "u-1", arg)
	if err != nil {
		t.Fatal(err)
	}
	if !testVoice.Verify("bill:OA:B-1", workflows.UpdateApprove, "u-1", arg, p) {
		t.Fatal("the signed update is not vouched for")
	}
	// The worker decodes the payload as raw JSON: the same bytes in another key order verify.
	raw := []byte(`{"actor":{"user":"bob","client":"erp-oa"},"approver":"bob","decision":"approve","role":"finance"}`)
	if !testVoice.Verify("bill:OA:B-1", workflows.UpdateApprove, "u-1", json.RawMessage(raw), p) {
		t.Error("the same request as the worker decodes it is not vouched for")
	}
	claimed := arg
	claimed.Actor = &workflows.Actor{Client: "erp-oa", User: "mallory"}
	for name, ok := range map[string]bool{
		"another workflow": testVoice.Verify("bill:OA:B-2", workflows.UpdateApprove, "u-1", arg, p),
		"another update":   testVoice.Verify("bill:OA:B-1", workflows.UpdateCancel, "u-1", arg, p),
		"another id":       testVoice.Verify("bill:OA:B-1", workflows.UpdateApprove, "u-2", arg, p),
		"another actor":    testVoice.Verify("bill:OA:B-1", workflows.UpdateApprove, "u-1", claimed, p),
		"another key":      otherVoice.Verify("bill:OA:B-1", workflows.UpdateApprove, "u-1", arg, p),
		"no signature":     testVoice.Verify("bill:OA:B-1", workflows.UpdateApprove, "u-1", arg, nil),
	} {
		if ok {
			t.Errorf("%s: vouched for", name)
		}
	}
}
