package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
)

// What the ERP is told: when Options.Notify is on, the bill queues an event for every change the ERP
// cares about (calls.Event*), and one coroutine delivers them in order through the DeliverEvent
// activity, which retries until the ERP's webhook answers. The bill never waits for it; the queue
// travels across continue-as-new, and the bill ends only once it is empty (or eventPatience is up).

// eventPatience bounds how long an event is retried (an ERP down for days loses nothing sooner),
// and how long an ended bill waits for its last events.
const eventPatience = 7 * 24 * time.Hour

// outbox is the events queued for the ERP and how many were ever queued (their sequence).
type outbox struct {
	EventSeq int           `json:"eventSeq,omitempty"` // events emitted so far (webhooks)
	Outbox   []calls.Event `json:"outbox,omitempty"`   // events not delivered yet, oldest first
}

// emit queues an event about the bill in stage (nothing when the bill does not notify).
func (o *outbox) emit(ctx workflow.Context, in BillInput, stage Stage, typ string, data any) {
	if !in.Options.Notify {
		return
	}
	o.EventSeq++
	raw, _ := json.Marshal(data) //workflowcheck:ignore encoding/json only caches type info
	o.Outbox = append(o.Outbox, calls.Event{
		// The first run's ID, not the workflow ID: a key started again after a cancel is a new bill.
		ID: fmt.Sprintf("%s-%d", workflow.GetInfo(ctx).FirstRunID, o.EventSeq), Seq: o.EventSeq, Type: typ,
		At: workflow.Now(ctx).UTC(), Resource: in.Resource, BillID: in.BillID, BillNo: in.BillNo,
		Stage: string(stage), Data: raw,
	})
}

// deliver runs for the whole run: it sends the oldest queued event until none is left; lost
// hears of one the ERP never took. A cancel from Temporal (Web, the CLI) does not stop it: the
// bill's last events (cancelled, or completed when a voucher came) still go out (outlive).
func (o *outbox) deliver(ctx workflow.Context, in BillInput, lost func(calls.Event, error)) {
	if !in.Options.Notify {
		return
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		opts := eventOptions(ctx)
		for {
			if err := workflow.Await(ctx, func() bool { return len(o.Outbox) > 0 }); err != nil {
				if !outlive(&ctx) {
					return
				}
				opts = eventOptions(ctx)
				continue
			}
			ev := o.Outbox[0]
			if err := callNoResult(opts, acts.DeliverEvent, calls.EventInput{Event: ev}); err != nil {
				if ctx.Err() != nil {
					if !outlive(&ctx) {
						return
					}
					// The cancel cut this delivery: send the same event again (same ID, so an
					// ERP that took it already drops the repeat).
					opts = eventOptions(ctx)
					continue
				}
				lost(ev, err)
			}
			o.Outbox = o.Outbox[1:]
		}
	})
}

func eventOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    ActivityStartToClose,
		ScheduleToCloseTimeout: eventPatience,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
}

// outboxOutlivesCancel: the outbox goes on delivering on a disconnected context once the
// workflow is cancelled from Temporal (before, its deliveries stopped with the cancel and the
// bill's final events were never sent).
const outboxOutlivesCancel = "outbox-outlives-cancel"

// outlive moves *ctx, cancelled from Temporal, to a disconnected context when this bill's code
// lets the outbox outlive a cancel; false: stop delivering (bills started before it).
func outlive(ctx *workflow.Context) bool {
	if workflow.GetVersion(*ctx, outboxOutlivesCancel, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return false
	}
	*ctx, _ = workflow.NewDisconnectedContext(*ctx)
	return true
}

// drained waits (bounded) until the last events have gone out.
func (o *outbox) drained(ctx workflow.Context) {
	if len(o.Outbox) == 0 {
		return
	}
	if ctx.Err() != nil {
		outlive(&ctx) // if not, the wait below ends at once, as it always did
	}
	_, _ = workflow.AwaitWithTimeout(ctx, eventPatience, func() bool { return len(o.Outbox) == 0 })
}
