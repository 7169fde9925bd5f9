package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"go.temporal.io/sdk/temporal"

	"rimflow/workflows"
)

// CodeKeyReused answers an Idempotency-Key sent again with another request (422, as the IETF
// httpapi idempotency-key draft says): the first call's outcome is not the second's.
const CodeKeyReused = "idempotency_key_reused"

type fingerprintKey struct{}

// withFingerprint reads the request's body (already bounded) and carries its fingerprint with the
// call: method, path and the body's JSON with its keys sorted, so the same request sent again
// (whatever its spacing and key order) has the same fingerprint and any other request another.
// The body is put back for the route's handler.
func withFingerprint(ctx context.Context, r *http.Request) context.Context {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw), errReader{err}))
		return ctx
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	return context.WithValue(ctx, fingerprintKey{}, Fingerprint(r.Method, r.URL.Path, raw))
}

// Fingerprint is a request's fingerprint (16 hex digits): a JSON body counts by its value, any
// other body by its bytes.
func Fingerprint(method, path string, body []byte) string {
	canon := body
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) == nil && dec.Decode(new(any)) == io.EOF {
		if out, err := json.Marshal(v); err == nil {
			canon = out
		}
	}
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\n"))
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// requestFingerprint is the fingerprint withFingerprint attached ("" = none: no key, or the CLI).
func requestFingerprint(ctx context.Context) string {
	fp, _ := ctx.Value(fingerprintKey{}).(string)
	return fp
}

// updateID is the update id of a call: the caller's key and its request's fingerprint
// (workflows.IdempotentUpdateID), or "" (Temporal makes one) without a key.
func updateID(ctx context.Context) string {
	return workflows.IdempotentUpdateID(IdempotencyKey(ctx), requestFingerprint(ctx))
}

// keyReused is the 422 naming the header.
func keyReused(msg string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeKeyReused, Message: msg,
		Fields: map[string]string{HeaderIdempotencyKey: "already used with another request: a new request needs a new key"}}
}

// keyReusedFrom maps the bill's refusal of a reused key.
func keyReusedFrom(err error) *Error {
	var app *temporal.ApplicationError
	for e := err; e != nil; e = errors.Unwrap(e) {
		if a, ok := e.(*temporal.ApplicationError); ok && a.Type() == workflows.ErrTypeKeyReused {
			app = a
			break
		}
	}
	if app == nil {
		return nil
	}
	return keyReused(app.Message())
}

// startReused: the running bill was started with this key and another request.
func startReused(marker, requestID string) bool {
	mk, mfp, ok1 := workflows.SplitUpdateID(marker)
	k, fp, ok2 := workflows.SplitUpdateID(requestID)
	return ok1 && ok2 && mk == k && mfp != fp
}

// sameStart: the run's marker is this request's (or, for a bill of a release that marked it with
// the key alone, this request's key).
func sameStart(marker, requestID string) bool {
	if marker == requestID {
		return true
	}
	k, _, ok := workflows.SplitUpdateID(requestID)
	return ok && marker == k
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
