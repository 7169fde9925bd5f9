// Package voice lets the bill tell the API's updates from anyone else's. The API signs what it
// vouches for (an update's workflow, name, id and arguments, the actor among them) with a key only
// the API and the worker hold; the worker checks the signature before the bill sees the update.
// An update without a good signature (sent from Temporal Web or `temporal workflow update`) is the
// ops path: the bill holds it to its policy's webSignals and records it as such, whatever actor its
// payload claims.
//
// The keys are derived from the payload keys (internal/codec), one per payload key ID: every
// program that may seal a bill holds them, nobody else does, and a worker that can read a bill's
// history (which needs its payload keys) can check its signatures again when it replays.
package voice

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"rimflow/internal/callheader"
)

// HeaderKey is the Temporal header that carries an update's signature (in clear: a MAC names its
// key and says nothing of the payload).
const HeaderKey = "rimflow-voice"

// Purpose is what the payload keys are derived for (codec.Keyring.Derive).
const Purpose = "rimflow api voice v1"

// Keys sign with the newest key and check with any.
type Keys struct {
	current string
	keys    map[string][]byte
}

// NewKeys takes the derived keys by ID and the ID that signs. Nil when there is none.
func NewKeys(current string, keys map[string][]byte) *Keys {
	if len(keys) == 0 || keys[current] == nil {
		return nil
	}
	return &Keys{current: current, keys: keys}
}

// signature is the header's value.
type signature struct {
	KeyID string `json:"keyId"`
	MAC   []byte `json:"mac"`
}

// mac is the HMAC-SHA256 of the update's workflow ID, name, ID and canonical arguments, each
// length-prefixed so no field can spill into the next.
func mac(key []byte, workflowID, name, updateID string, arg any) ([]byte, error) {
	args, err := canonical(arg)
	if err != nil {
		return nil, err
	}
	h := hmac.New(sha256.New, key)
	for _, part := range [][]byte{[]byte(workflowID), []byte(name), []byte(updateID), args} {
		h.Write(binary.AppendUvarint(nil, uint64(len(part))))
		h.Write(part)
	}
	return h.Sum(nil), nil
}

// canonical is arg's JSON with sorted keys and no spaces, numbers as written: the API signs the
// request it marshals, the worker checks the payload it decoded, and both come to the same bytes.
func canonical(arg any) ([]byte, error) {
	raw, err := json.Marshal(arg)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// Sign is the header payload that vouches for one update. A nil Keys signs nothing (nil, nil).
func (k *Keys) Sign(workflowID, name, updateID string, arg any) (*commonpb.Payload, error) {
	if k == nil {
		return nil, nil
	}
	m, err := mac(k.keys[k.current], workflowID, name, updateID, arg)
	if err != nil {
		return nil, fmt.Errorf("sign update %s: %w", name, err)
	}
	return converter.GetDefaultDataConverter().ToPayload(signature{KeyID: k.current, MAC: m})
}

// Verify reports whether p is a good signature of the update by one of the keys.
func (k *Keys) Verify(workflowID, name, updateID string, arg any, p *commonpb.Payload) bool {
	if k == nil || p == nil {
		return false
	}
	var s signature
	if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
		return false
	}
	key := k.keys[s.KeyID]
	if key == nil {
		return false
	}
	want, err := mac(key, workflowID, name, updateID, arg)
	return err == nil && hmac.Equal(want, s.MAC)
}

// The client side: the API puts the signature in the call's context (WithSignature), and the
// client's header interceptor (internal/callheader, which codec.Apply installs on every sealed
// client) writes it into the update's header.

// WithSignature carries an update's signature to the client interceptor.
func WithSignature(ctx context.Context, p *commonpb.Payload) context.Context {
	return callheader.With(ctx, HeaderKey, p)
}

// The worker side: an interceptor checks each update's signature (in its validator and again in
// its handler, which also runs on replay, from the header the history keeps) and tells the bill
// through the update's context (Vouched).

type vouchedKey struct{}

// Vouched reports whether the update ctx belongs to carries a good signature: the API vouches for
// it. False outside an update, and for every update on a worker without keys.
func Vouched(ctx workflow.Context) bool {
	v, _ := ctx.Value(vouchedKey{}).(bool)
	return v
}

// WorkerInterceptor checks updates with keys (nil: no update is vouched for).
func WorkerInterceptor(keys *Keys) interceptor.WorkerInterceptor {
	return &workerInterceptor{keys: keys}
}

type workerInterceptor struct {
	interceptor.WorkerInterceptorBase
	keys *Keys
}

func (w *workerInterceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &workflowInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, keys: w.keys}
}

type workflowInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	keys *Keys
}

// judged is ctx with the verdict on its update.
func (i *workflowInbound) judged(ctx workflow.Context, in *interceptor.UpdateInput) workflow.Context {
	ok := false
	if len(in.Args) == 1 {
		ok = i.keys.Verify(workflow.GetInfo(ctx).WorkflowExecution.ID, in.Name, workflow.GetCurrentUpdateInfo(ctx).ID,
			in.Args[0], interceptor.WorkflowHeader(ctx)[HeaderKey])
	}
	return workflow.WithValue(ctx, vouchedKey{}, ok)
}

func (i *workflowInbound) ValidateUpdate(ctx workflow.Context, in *interceptor.UpdateInput) error {
	return i.Next.ValidateUpdate(i.judged(ctx, in), in)
}

func (i *workflowInbound) ExecuteUpdate(ctx workflow.Context, in *interceptor.UpdateInput) (any, error) {
	return i.Next.ExecuteUpdate(i.judged(ctx, in), in)
}
