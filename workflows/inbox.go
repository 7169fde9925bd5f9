package workflows

import (
	"encoding/json"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"rimflow/invoicecloud"
)

// The inbox: how updates, signals, watcher results and timers become events that run consumes.
//
// One update, from the ERP's POST …/approvals to its reply:
//  1. Temporal calls the approve validator (setup's Validator): it decodes the payload strictly
//     and checks it against the current state (validateApprove: known role, the stage awaits it,
//     not decided yet). A refusal is answered at once and nothing enters the history.
//  2. The accepted update's handler builds an event, marks the role as decided (markQueued, so a
//     second approval is refused while this one waits) and queues it (await → push), then waits.
//  3. run, blocked in the approval stage on next, takes the event, records the decision and moves
//     the bill (advance: the next stage, or billSave 60 after the last approval).
//  4. The stage calls reply(ev, err): the handler's wait ends and the update answers the state
//     (or the error, e.g. the cloud's refusal of billSave 60).
// A signal with the same name takes the same validation and the same queue; nobody waits for its
// answer, so a refusal is written into the bill's history instead.

type eventKind int

const (
	evDelivery   eventKind = iota + 1 // invoices were recorded in Pending (the handler did it)
	evWatchEnded                      // a watcher's activity ended (its span, or a failure)
	evSubmit
	evApprove
	evImages
	evVoucher
	evCancel
	evRetry
	evResolve
	evAmend
	evRemove
	evViewURL
	evCollectURL
	evSLASoft
	evSLAHard
	evScanned        // the image system's task has an outcome (or its query failed for good)
	evVoucherHold    // a voucher set holds the bill (voucherset.go)
	evVoucherOutcome // the set's outcome for the bill it holds
	evWithdraw       // the ERP withdraws the bill to collecting (withdraw.go)
	evReverse        // the ERP takes the booked voucher back (reversal.go)
	evReversalClosed // the reversal window has ended (reversal.go)
)

// event is one thing run reacts to: a validated update or signal, a delivery, a watcher's end, a timer.
type event struct {
	kind  eventKind
	epoch int // for timers: the stage generation that armed them

	linkKey  string // evWatchEnded: whose watcher
	watchErr error

	scan    *invoicecloud.ScanResult // evScanned (epoch: which wait)
	scanErr error

	submit   *SubmitRequest
	approve  *ApproveRequest
	images   *ImagesRequest
	voucher  *VoucherRequest
	cancel   *CancelRequest
	retry    *RetryRequest
	resolve  *ResolveRequest
	amend    *AmendRequest
	remove   *RemoveInvoiceRequest
	withdraw *WithdrawRequest
	reverse  *VoucherReversalRequest
	url      *CollectURLRequest
	hold     *VoucherHoldRequest
	vouched  bool // a hold the worker signed (voucherset.go)
	outcome  *VoucherSetOutcome

	actor    **Actor // where the payload keeps who sent it (set by the API), nil for an event without one
	updateID string  // the update's id (the API's Idempotency-Key): an applied one is answered again, not re-applied

	fromSignal bool // nobody waits for the answer: problems are noted in the history
	// Set when run has applied it; an update handler waits for this.
	done bool
	err  error
}

// setActor records who sent the event in its payload (as the API does for its callers).
func (ev *event) setActor(a Actor) {
	if ev.actor != nil {
		*ev.actor = &a
	}
}

// role is the approval role an event decides ("" for others).
func (ev *event) role() string {
	if ev.approve != nil {
		return ev.approve.Role
	}
	return ""
}

// person is who the payload names as deciding (approver, by).
func (ev *event) person() string {
	switch {
	case ev.approve != nil:
		return ev.approve.Approver
	case ev.submit != nil:
		return ev.submit.By
	case ev.cancel != nil:
		return ev.cancel.By
	case ev.retry != nil:
		return ev.retry.By
	case ev.resolve != nil:
		return ev.resolve.By
	case ev.reverse != nil:
		return ev.reverse.By
	}
	return ""
}

// inbox is what run consumes, in order: the events queued by handlers, coroutines and timers,
// and the signal channels run takes itself. The guards refuse a second request of a kind while
// the first waits in it.
type inbox struct {
	events        []*event
	signals       []signalListener
	submitQueued  bool
	imagesQueued  bool
	voucherQueued bool
	reverseQueued bool
}

// signalListener is one signal channel and what its payloads become.
type signalListener struct {
	name   string
	ch     workflow.ReceiveChannel
	handle func(json.RawMessage) error
}

// listen registers a signal channel. The run loop itself takes its payloads (takeSignals), never a
// goroutine blocked on the channel: a payload handed to such a goroutine is invisible to the loop
// until that goroutine runs, and a continue-as-new decided in between would lose it.
func (q *inbox) listen(ctx workflow.Context, name, desc string, handle func(json.RawMessage) error) {
	ch := workflow.GetSignalChannelWithOptions(ctx, name, workflow.SignalChannelOptions{Description: desc})
	q.signals = append(q.signals, signalListener{name: name, ch: ch, handle: handle})
}

// receive applies every signal received so far, in arrival order per channel. A payload that
// fails decoding or validation is not applied; ignored hears of it (with the reason).
func (q *inbox) receive(ignored func(string)) {
	for _, l := range q.signals {
		var raw json.RawMessage
		for l.ch.ReceiveAsync(&raw) {
			if err := l.handle(raw); err != nil {
				ignored(fmt.Sprintf("ignored: %s signal: %v", l.name, err))
			}
			raw = nil
		}
	}
}

// signalWaiting reports whether a signal waits to be taken.
func (q *inbox) signalWaiting() bool {
	for _, l := range q.signals {
		if l.ch.Len() > 0 {
			return true
		}
	}
	return false
}

func (q *inbox) push(ev *event) { q.events = append(q.events, ev) }

func (q *inbox) take() *event {
	ev := q.events[0]
	q.events = q.events[1:]
	return ev
}

// guard is the "already queued" flag of a kind (nil: the kind has none here).
func (q *inbox) guard(kind eventKind) *bool {
	return map[eventKind]*bool{evSubmit: &q.submitQueued, evImages: &q.imagesQueued, evVoucher: &q.voucherQueued, evVoucherHold: &q.voucherQueued, evReverse: &q.reverseQueued}[kind]
}

func decoder[T any](mk func(T) *event) func(json.RawMessage) (*event, error) {
	return func(raw json.RawMessage) (*event, error) {
		var v T
		if err := decodeStrict(raw, &v); err != nil {
			return nil, err
		}
		return mk(v), nil
	}
}

// handled is a signal's handler: decode the payload strictly, check it, apply it.
func handled[T any](check func(T) error, apply func(T)) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		var v T
		if err := decodeStrict(raw, &v); err != nil {
			return err
		}
		if err := check(v); err != nil {
			return err
		}
		apply(v)
		return nil
	}
}

// decodeStrict decodes a payload, refusing unknown fields so a typo is reported, not ignored.
func decodeStrict(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	//workflowcheck:ignore encoding/json only caches type info
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad payload: %v", err)
	}
	return nil
}
