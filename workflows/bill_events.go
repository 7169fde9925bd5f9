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
// travels across continue-as-new, and the bill ends only once it is empty (or EventPatience is up).

// EventPatience bounds how long an event is retried (an ERP down for days loses nothing sooner),
// and how long an ended bill waits for its last events.
const EventPatience = 7 * 24 * time.Hour

// emit queues an event (nothing when the bill does not notify).
func (b *bill) emit(typ string, data any) {
	if !b.in.Options.Notify {
		return
	}
	b.EventSeq++
	raw, _ := json.Marshal(data) //workflowcheck:ignore encoding/json only caches type info
	b.Outbox = append(b.Outbox, calls.Event{
		// The first run's ID, not the workflow ID: a key started again after a cancel is a new bill.
		ID: fmt.Sprintf("%s-%d", workflow.GetInfo(b.ctx).FirstRunID, b.EventSeq), Seq: b.EventSeq, Type: typ,
		At: workflow.Now(b.ctx).UTC(), Resource: b.in.Resource, BillID: b.in.BillID, BillNo: b.in.BillNo,
		Stage: string(b.View.Stage), Data: raw,
	})
}

// deliverEvents runs for the whole run: it sends the oldest queued event until none is left.
func (b *bill) deliverEvents(ctx workflow.Context) {
	if !b.in.Options.Notify {
		return
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		opts := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout:    ActivityStartToClose,
			ScheduleToCloseTimeout: EventPatience,
			RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
		})
		for {
			if err := workflow.Await(ctx, func() bool { return len(b.Outbox) > 0 }); err != nil {
				return
			}
			ev := b.Outbox[0]
			if err := callNoResult(opts, acts.DeliverEvent, calls.EventInput{Event: ev}); err != nil {
				if ctx.Err() != nil {
					return
				}
				b.note(b.View.Stage, fmt.Sprintf("event %s (%s) not delivered: %v", ev.ID, ev.Type, err))
			}
			b.Outbox = b.Outbox[1:]
		}
	})
}

// eventsDelivered waits (bounded) until the last events have gone out.
func (b *bill) eventsDelivered(ctx workflow.Context) {
	if len(b.Outbox) == 0 {
		return
	}
	_, _ = workflow.AwaitWithTimeout(ctx, EventPatience, func() bool { return len(b.Outbox) == 0 })
}
