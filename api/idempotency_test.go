package api

import (
	"testing"

	"rimflow/workflows"
)

// The same request, spaced and ordered otherwise, has one fingerprint; another body, route or
// method has another; the update id carries the key and the fingerprint and reads back.
func TestFingerprintNamesOneRequest(t *testing.T) {
	a := Fingerprint("POST", "/v1/bills/OA/B-1/approvals", []byte(`{"role":"finance","decision":"approve"}`))
	same := Fingerprint("POST", "/v1/bills/OA/B-1/approvals", []byte("{ \"decision\": \"approve\",\n \"role\": \"finance\" }"))
	if a != same || len(a) != 16 {
		t.Fatalf("the same request: %q and %q", a, same)
	}
	for name, other := range map[string]string{
		"another body":   Fingerprint("POST", "/v1/bills/OA/B-1/approvals", []byte(`{"role":"finance","decision":"reject"}`)),
		"another route":  Fingerprint("POST", "/v1/bills/OA/B-1/cancel", []byte(`{"role":"finance","decision":"approve"}`)),
		"another bill":   Fingerprint("POST", "/v1/bills/OA/B-2/approvals", []byte(`{"role":"finance","decision":"approve"}`)),
		"a number typed": Fingerprint("POST", "/v1/bills/OA/B-1/approvals", []byte(`{"role":"finance","decision":"approve","n":1.0}`)),
	} {
		if other == a {
			t.Errorf("%s has the first request's fingerprint", name)
		}
	}
	// Numbers count as written: 1.0 and 1 are other requests (an amount's scale is the ERP's).
	if Fingerprint("POST", "/p", []byte(`{"n":1.0}`)) == Fingerprint("POST", "/p", []byte(`{"n":1}`)) {
		t.Error("1.0 and 1 have one fingerprint")
	}

	id := workflows.IdempotentUpdateID("k#1", a)
	if k, fp, ok := workflows.SplitUpdateID(id); !ok || k != "k#1" || fp != a {
		t.Fatalf("SplitUpdateID(%q) = %q %q %t", id, k, fp, ok)
	}
	for _, plain := range []string{"k", "key#xyz", "#0123456789abcdef", "0f1c4a7e-3b52-4c9e-8f3e-6b5c1d2e3f40"} {
		if _, _, ok := workflows.SplitUpdateID(plain); ok {
			t.Errorf("%q read as a key with a fingerprint", plain)
		}
	}
	if got := workflows.IdempotentUpdateID("k", ""); got != "k" {
		t.Errorf("a key without a fingerprint (the CLI) = %q, want the key", got)
	}
	if !sameStart("k#1", id) || sameStart("k", id) || !sameStart(id, id) || sameStart(workflows.IdempotentUpdateID("k#1", "0000000000000000"), id) {
		t.Error("sameStart")
	}
	if !startReused(workflows.IdempotentUpdateID("k#1", "0000000000000000"), id) || startReused(id, id) || startReused("k#1", id) {
		t.Error("startReused")
	}
}
