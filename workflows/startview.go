package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"
)

// What a start learns from the bill in one call: the API starts a bill with update-with-start of
// collectUrl, and a request that carries StartCheck is answered with the stage and URLs the start
// answers (CollectURLResult.Start), after the bill has compared the start's body with its own.
// A collectUrl without it answers as ever (CollectURLResponse, nothing more).

// MemoStartRequest is the memo field the API marks a run with at start (the start's request id):
// a start that joins a running bill leaves it as it was, so it tells a new bill from a running one.
const MemoStartRequest = "rimflowStartRequest"

// StartCheck is what a start sends with its collectUrl.
type StartCheck struct {
	// Body is BodyDigest of the start's body: a running bill with other values refuses the update
	// (ErrTypeDifferentBody) before anything is done.
	Body string `json:"body"`
}

// ErrTypeDifferentBody types the refusal of a start whose body differs from the running bill's.
const ErrTypeDifferentBody = "DifferentBody"

// CollectURLResult is collectUrl's answer: the URL, and for a start (StartCheck) the start's view.
type CollectURLResult struct {
	CollectURLResponse
	Start *StartView `json:"start,omitempty"`
}

// StartView is what POST /v1/bills answers, from the bill itself.
type StartView struct {
	Stage   Stage `json:"stage"`
	Collect URLs  `json:"collect"`
	View    URLs  `json:"view"`
	// Marker is the run's MemoStartRequest as stored (a serialized payload, sealed like every payload
	// when the codec is on): the API reads it to tell whether its own request started the run.
	Marker []byte `json:"marker,omitempty"`
}

// StartFields flattens a bill input's JSON to the fields a start compares: its top-level fields
// and the options' fields (options.sla.* too); arrays and other objects stay whole. What the
// server sets (policy, notify, reissueMargin) is left out, and so are the ERP's line fields, its
// cover and the attachments: forwards and amends change them as the bill lives, so a start sent again must still join.
func StartFields(in BillInput) map[string]any {
	raw, _ := json.Marshal(in)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	delete(m, "policy")
	delete(m, "limits") // server-set: the enterprise's at start
	delete(m, "lines")
	delete(m, "coverData")
	delete(m, "attachData")
	out := map[string]any{}
	var flatten func(prefix string, m map[string]any)
	flatten = func(prefix string, m map[string]any) {
		//workflowcheck:ignore only fills a map: order does not matter
		for k, v := range m {
			name := prefix + k
			if sub, ok := v.(map[string]any); ok && (name == "options" || name == "options.sla") {
				flatten(name+".", sub)
				continue
			}
			out[name] = v
		}
	}
	flatten("", m)
	delete(out, "options.notify")
	delete(out, "options.reissueMargin") // server-set too, and absent on bills of earlier releases
	return out
}

// BodyDigest identifies a bill input's start fields (normalised): equal inputs, equal digests
// (encoding/json writes a map's keys sorted).
func BodyDigest(in BillInput) string {
	in = in.clone()
	in.Normalize()
	raw, _ := json.Marshal(StartFields(in)) //workflowcheck:ignore encoding/json only caches type info
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// checkStart refuses a start whose body differs from the bill's own (amended) input.
func (b *bill) checkStart(req CollectURLRequest) error {
	if req.Start == nil || req.Start.Body == "" || req.Start.Body == BodyDigest(b.in) {
		return nil
	}
	return temporal.NewApplicationError("the running bill has other values: send the running bill's values, or amend a "+
		"failed bill (PATCH), or cancel it and start again", ErrTypeDifferentBody)
}

// collectURLResult answers collectUrl; a start gets its view too.
func (b *bill) collectURLResult(ctx workflow.Context, req CollectURLRequest) CollectURLResult {
	out := CollectURLResult{CollectURLResponse: b.linkBook.collectURL(workflow.Now(ctx), req.Client)}
	if req.Start != nil {
		v := &StartView{Stage: b.View.Stage, Collect: b.View.Collect, View: b.View.View}
		if p := workflow.GetInfo(ctx).Memo.GetFields()[MemoStartRequest]; p != nil {
			v.Marker, _ = proto.MarshalOptions{Deterministic: true}.Marshal(p)
		}
		out.Start = v
	}
	return out
}
