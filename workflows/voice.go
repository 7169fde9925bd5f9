package workflows

import (
	"go.temporal.io/sdk/workflow"

	"rimflow/internal/voice"
)

// The API's voice: an update the API signed (internal/voice; the worker's interceptor checks it)
// carries the actor the API vouches for. Any other update (Temporal Web, `temporal workflow
// update`) is the ops path, as a signal is: held to the policy's webSignals and recorded as
// OpsPath with the person its payload names, whatever actor it claims.

// changeVoice versions the handlers' side of it: an update recorded by an older release was
// never signed (the API did not sign then) and keeps the actor it carried when it replays. The
// validators, which do not run on replay, hold every bill to it at once.
const changeVoice = "api-voice-signed"

// vouchingOn reports whether this run records an unsigned update as the ops path (asked once, from
// an update handler: never a validator).
func (b *bill) vouchingOn(ctx workflow.Context) bool {
	if !b.voice.asked {
		b.voice.asked = true
		b.voice.on = workflow.GetVersion(ctx, changeVoice, workflow.DefaultVersion, 1) >= 1
	}
	return b.voice.on
}

// voiceRules is the version answer for changeVoice.
type voiceRules struct{ asked, on bool }

// opsPathPermits holds an update the API did not sign to the policy for the ops path.
func (b *bill) opsPathPermits(ctx workflow.Context, name, role string) error {
	if voice.Vouched(ctx) {
		return nil
	}
	return b.in.Policy.WebSignals.Permits(name, role)
}
