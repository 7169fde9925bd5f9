package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
)

// Push relay bounds: an idle relay ends after pushRelayIdle (the next push starts it again), and
// a busy one continues as new after pushRelayContinueAfter pushes to keep its history short.
const (
	pushRelayIdle          = time.Hour
	pushRelayContinueAfter = 200
	// pushRelayMaxInterval caps the wait between attempts of one push: an image system back from
	// an outage gets the bill's pushes within this.
	pushRelayMaxInterval = time.Minute
)

// PushRelayState is the relay's `state` query answer.
type PushRelayState struct {
	Pending []string `json:"pending"` // msgIds still to send, oldest first
	Relayed int      `json:"relayed"`
}

// PushRelayWorkflow relays one bill's recorded pushes to its enterprise's image system (the
// RelayPush activity): at least once (each is retried until the image system answers success, with
// no limit: a failing relay shows as the activity's last failure and in rimflow_push_relays_total),
// and in order (one at a time, in the order the API signalled them, which is the order they were
// recorded in the bill).
func PushRelayWorkflow(ctx workflow.Context, in calls.PushRelayInput) error {
	st := &in
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryState, func() (PushRelayState, error) {
		ids := make([]string, len(st.Pending))
		for i, p := range st.Pending {
			ids[i] = p.MsgID
		}
		return PushRelayState{Pending: ids, Relayed: st.Relayed}, nil
	}, workflow.QueryHandlerOptions{Description: "The pushes still to relay (msgIds) and how many were relayed."}); err != nil {
		return err
	}
	pushes := workflow.GetSignalChannelWithOptions(ctx, calls.SignalRelayPush, workflow.SignalChannelOptions{
		Description: "A push recorded in the bill, to relay to the image system: {taxNo, msgId, push}.",
	})
	take := func(p calls.RelayPush) {
		// The API signalled it again (the cloud pushed it again): queued and sent once.
		if slices.Contains(st.Recent, p.MsgID) || slices.ContainsFunc(st.Pending, func(q calls.RelayPush) bool { return q.MsgID == p.MsgID }) {
			return
		}
		st.Pending = append(st.Pending, p)
	}
	drain := func() {
		for {
			var p calls.RelayPush
			if !pushes.ReceiveAsync(&p) {
				return
			}
			take(p)
		}
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: pushRelayMaxInterval}, // no MaximumAttempts: at least once
	})
	sent := 0
	for {
		drain()
		for len(st.Pending) > 0 {
			if err := workflow.ExecuteActivity(actx, acts.RelayPush, st.Pending[0]).Get(ctx, nil); err != nil {
				return err // only a non-retryable refusal (no such enterprise, not a relay): the bill's pushes stay recorded
			}
			st.Recent = append(st.Recent, st.Pending[0].MsgID)
			if len(st.Recent) > calls.PushRelayRecent {
				st.Recent = st.Recent[len(st.Recent)-calls.PushRelayRecent:]
			}
			st.Pending = st.Pending[1:]
			st.Relayed++
			sent++
			drain()
			if sent >= pushRelayContinueAfter || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				return workflow.NewContinueAsNewError(ctx, calls.PushRelayWorkflowName, *st)
			}
		}
		idle := false
		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(pushes, func(c workflow.ReceiveChannel, _ bool) {
			var p calls.RelayPush
			c.Receive(ctx, &p)
			take(p)
		})
		sel.AddFuture(workflow.NewTimer(tctx, pushRelayIdle), func(workflow.Future) { idle = true })
		sel.Select(ctx)
		cancel()
		if idle {
			drain() // a push signalled meanwhile is relayed, not lost by ending
			if len(st.Pending) == 0 {
				return nil
			}
		}
	}
}
