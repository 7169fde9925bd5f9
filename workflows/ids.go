package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// messageID derives a request id from the run and the step: "<step>-<32 hex>" (at most 64 chars).
// Hashing keeps it short and free of the bill's business key.
func messageID(workflowID, runID, step string, seq int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%s/%d", workflowID, runID, step, seq))
	prefix := step
	if len(prefix) > 24 {
		prefix = prefix[:24]
	}
	return prefix + "-" + hex.EncodeToString(sum[:16])
}
