package workflows

import (
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
)

// An Idempotency-Key names one request: the same key with another request is refused (the IETF
// httpapi idempotency-key draft: 422), not answered with the first request's outcome as if the
// second had been applied. The API sends the key and the request's fingerprint as the update's id
// (IdempotentUpdateID), so Temporal deduplicates only the very same request; the bill refuses a
// new id whose key it has seen with another fingerprint, applied or in flight.

// ErrTypeKeyReused is the application error type of that refusal (the API answers 422).
const ErrTypeKeyReused = "IdempotencyKeyReused"

// fingerprintLen is the length of a request fingerprint (hex).
const fingerprintLen = 16

// IdempotentUpdateID is the update id of a call with an Idempotency-Key: "<key>#<fingerprint>"
// (the key alone when there is no fingerprint, as the CLI sends it).
func IdempotentUpdateID(key, fingerprint string) string {
	if key == "" || fingerprint == "" {
		return key
	}
	return key + "#" + fingerprint
}

// SplitUpdateID reads IdempotentUpdateID's id back; ok is false for any other id (a key sent
// without a fingerprint, by an earlier release or the CLI; the SDK's own ids).
func SplitUpdateID(id string) (key, fingerprint string, ok bool) {
	i := len(id) - fingerprintLen - 1
	if i < 1 || id[i] != '#' {
		return id, "", false
	}
	fp := id[i+1:]
	if strings.ContainsFunc(fp, func(c rune) bool { return !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') }) {
		return id, "", false
	}
	return id[:i], fp, true
}

// keyReused refuses an update whose key the bill has seen with another request (applied, or
// queued and not answered yet).
func (b *bill) keyReused(id string) error {
	key, fp, ok := SplitUpdateID(id)
	if !ok {
		return nil
	}
	for _, seen := range slices.Concat(b.Answered, b.inflight) {
		if k, f, ok := SplitUpdateID(seen); ok && k == key && f != fp {
			return temporal.NewApplicationError(fmt.Sprintf(
				"Idempotency-Key %q was used with another request to this bill: send a new key for a new request", key),
				ErrTypeKeyReused)
		}
	}
	return nil
}

// answeredLegacy: the key was applied by a release that sent it without a fingerprint; its
// request is not known, so a retry with the key is answered as applied (as it was then).
func (b *bill) answeredLegacy(id string) bool {
	key, _, ok := SplitUpdateID(id)
	return ok && b.answered(key)
}

// flying notes an update id while its request waits in the inbox; landed forgets it.
func (b *bill) flying(id string) { b.inflight = append(b.inflight, id) }

func (b *bill) landed(id string) {
	if i := slices.Index(b.inflight, id); i >= 0 {
		b.inflight = slices.Delete(b.inflight, i, i+1)
	}
}
