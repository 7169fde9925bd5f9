package workflows

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// Stage 1, collecting: the eventCode and its URLs, the watchers that receive what the user
// imports, and binding every import to the bill at once.

// collect is the collecting stage: issue an eventCode, watch its linkKey while its pages live,
// bind every delivery at once, until submit (or the first import with autoSubmit). Deliveries
// that waited (Pending) are bound on entry, without submitting: the user has not acted yet.
func (b *bill) collect(ctx workflow.Context) (Stage, error) {
	b.enter(ctx, StageCollecting, "")
	b.View.Submitted = false
	if b.linkBook.current(workflow.Now(ctx)) == nil {
		if err := b.runOrPark(ctx, "getEventCode", nil, b.issueEventCode); err != nil {
			return "", err
		}
	}
	defer b.stopWatching()
	b.watch(ctx)
	if err := b.bindPending(ctx); err != nil {
		return "", err
	}

	for {
		ev, err := b.wait(ctx)
		if err != nil {
			return "", err
		}
		switch ev.kind {
		case evDelivery:
			if err := b.bindPending(ctx); err != nil {
				return "", err
			}
			// autoSubmit: the import itself is the user's "done" (the page's 导入单据).
			if *b.in.Options.AutoSubmit && len(b.Invoices) > 0 && b.View.Stage == StageCollecting && b.imagesReady() {
				b.note(StageCollecting, fmt.Sprintf("submitted automatically with %d invoice(s)", len(b.Invoices)))
				b.View.Submitted = true
				return b.advance(ctx, nil)
			}
		case evWatchEnded:
			delete(b.watchers, ev.linkKey)
			var app *temporal.ApplicationError
			switch {
			case errors.As(ev.watchErr, &app) && app.NonRetryable():
				// A watcher refused for good (credentials, a refused linkKey) parks the bill: nobody
				// would hear the user's imports. retry watches the live links again.
				retry, err := b.park(ctx, "watchInvoices", nil, ev.watchErr)
				if err != nil {
					return "", err
				}
				b.watch(ctx)
				b.reply(retry, nil)
				if err := b.bindPending(ctx); err != nil {
					return "", err
				}
			case ev.watchErr != nil:
				// Gave up retrying (the cloud or every worker unreachable until the eventCode died):
				// the next collect URL the ERP asks for watches again.
				b.note(StageCollecting, "watcher ended: "+ev.watchErr.Error())
				b.View.WatchingUntil = b.watchers.until(b.Links)
				b.publish()
			default:
				b.View.WatchingUntil = b.watchers.until(b.Links)
			}
		case evSubmit:
			who := ev.submit.By
			if b.identitiesOn() {
				b.SubmittedBy = submitterOf(*ev.submit) // who actually submitted, not who the payload says
				who = b.SubmittedBy
			}
			b.note(StageCollecting, fmt.Sprintf("submitted by %s with %d invoice(s)", orStr(who, "the submitter"), len(b.Invoices)))
			b.View.Submitted = true
			return b.advance(ctx, ev)
		case evImages: // submitter mode: the submitter's images, sent with the scan task at submit
			b.takeUploads(ev)
			if *b.in.Options.AutoSubmit && len(b.Invoices) > 0 {
				b.note(StageCollecting, fmt.Sprintf("submitted automatically with %d invoice(s) and the submitter's images", len(b.Invoices)))
				b.View.Submitted = true
				return b.advance(ctx, nil)
			}
		case evRemove:
			b.reply(ev, b.removeInvoice(ctx, *ev.remove))
		case evAmend: // only the line fields and the cover reach collecting (validateAmend)
			if err := b.amendLines(ctx, ev); err != nil {
				return "", err
			}
		case evCollectURL:
			if !b.linkBook.fresh(workflow.Now(ctx), b.in.Options.reissueMargin()) || b.linkBook.spentByForward(ctx) {
				if err := b.runOrPark(ctx, "getEventCode", ev, b.issueEventCode); err != nil {
					return "", err
				}
			}
			b.watch(ctx) // the new linkKey, or the current one again if its watch had ended
			b.reply(ev, nil)
		default:
			if next, done, err := b.common(ctx, ev); done || err != nil {
				return next, err
			}
		}
	}
}

// newLinkKey draws the socket/poll key of a new eventCode: random (unguessable), recorded once in
// history.
func newLinkKey(ctx workflow.Context) (string, error) {
	var linkKey string
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		buf := make([]byte, 16)
		_, _ = rand.Read(buf)
		return hex.EncodeToString(buf)
	}).Get(&linkKey)
	return linkKey, err
}

// issueEventCode asks for an eventCode with a fresh linkKey and starts watching it.
func (b *bill) issueEventCode(ctx workflow.Context) error {
	linkKey, err := newLinkKey(ctx)
	if err != nil {
		return err
	}
	req := calls.EventCodeInput{MessageID: b.msgID("getEventCode"), Request: b.in.eventCodeRequest(linkKey)}
	res, err := call(cloudCallOptions(ctx), acts.GetEventCode, req)
	if err != nil {
		return err
	}
	l := Link{LinkKey: linkKey, EventCode: res.EventCode, Pages: res.Pages, ExpiresAt: res.ExpiresAt}
	b.watchers.stop(b.linkBook.add(workflow.Now(b.ctx), l)...)
	l.show(&b.View)
	b.note(b.View.Stage, "eventCode issued, valid until "+res.ExpiresAt.UTC().Format("15:04:05Z"))
	b.publish()
	return nil
}

// watch starts a watcher for every live eventCode that has none (links.go).
func (b *bill) watch(ctx workflow.Context) {
	b.watchers.start(b.ctx, workflow.Now(ctx), b.Links, b.in, b.inbox.push)
	b.View.WatchingUntil = b.watchers.until(b.Links)
}

// stopWatching cancels every running watcher (collecting ended, or the run ends).
func (b *bill) stopWatching() {
	for _, l := range b.Links {
		b.watchers.stop(l.LinkKey)
	}
	b.View.WatchingUntil = b.watchers.until(b.Links)
}

// bindPending binds the delivered invoices that wait (Pending) together with the bound set
// (billSave 30 of the whole set). A retry after a failure binds whatever is pending by then.
func (b *bill) bindPending(ctx workflow.Context) error {
	if len(b.Pending) == 0 {
		return nil
	}
	var bound []invoicecloud.Invoice
	nothing := false // the set was emptied while the bill was failed: nothing to bind
	// Registered before the call: if its answer is lost the cloud may have bound them anyway.
	b.saga.register(compensateUnbind)
	err := b.runOrPark(ctx, "bindInvoices", nil, func(ctx workflow.Context) error {
		set := b.ledger.toBind()
		if len(set) == 0 && workflow.GetVersion(ctx, bindNothingLeft, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
			// The ERP removed every invoice of a failed bind (a bad forward): the cloud holds
			// nothing for the bill (the refused bind applied nothing), and billSave needs an invoice.
			nothing = true
			return nil
		}
		in := calls.BillSaveInput{MessageID: b.msgID("bindInvoices"), Request: b.in.billSave(invoicecloud.StatusInUse, set)}
		if err := callNoResult(cloudCallOptions(ctx), acts.BindInvoices, in); err != nil {
			return err
		}
		bound = set
		return nil
	})
	if err != nil {
		return err
	}
	if nothing {
		b.note(StageCollecting, "nothing left to bind: collecting again")
		b.publish()
		return nil
	}
	added := b.ledger.bound(bound)
	b.ledger.show(&b.View)
	b.markDeliveries(deliveryBound)
	b.note(StageCollecting, fmt.Sprintf("bound %d invoice(s) (billSave 30): %d now, total %s", added, len(bound), b.View.TotalAmount))
	b.emit(calls.EventInvoicesBound, map[string]any{"invoices": b.View.Invoices, "totalAmount": b.View.TotalAmount})
	b.publish()
	return nil
}

// What became of a delivery (DeliveryView.Outcome).
const (
	deliveryBound     = "bound"     // its new invoices are bound to the bill
	deliveryPending   = "pending"   // kept in Pending until the bill next collects
	deliveryDuplicate = "duplicate" // nothing new: a redelivery, or invoices the bill already has
)

// record keeps a delivery the moment it arrives, in any stage (it runs in the signal handler):
// a redelivery (same digest) and invoices the bill already holds are dropped, the rest wait in
// Pending, and run binds them at once while collecting. Nothing the cloud delivered is lost.
func (b *bill) record(d calls.Delivery) {
	b.takeAttachments(d) // attachments.go
	digest := d.Digest
	if digest == "" {
		digest = deliveryDigest(d)
	}
	b.linkBook.delivered(d.LinkKey)
	view := DeliveryView{At: workflow.Now(b.ctx).UTC(), Via: orStr(d.Via, ViaSocket), Invoices: len(d.InvoiceData), Outcome: deliveryDuplicate}
	fresh, added, full := b.ledger.take(digest, d.InvoiceData)
	if full {
		b.note(b.View.Stage, fmt.Sprintf("delivery via %s: over the limit of %d invoices per bill; the rest is not kept", view.Via, MaxInvoicesPerBill))
	}
	view.New = added
	if view.New > 0 {
		view.Outcome = deliveryPending
	}
	countDelivery(b.ctx, view.Via, view.Outcome == deliveryDuplicate)
	b.View.Deliveries = append(b.View.Deliveries, view)
	if over := len(b.View.Deliveries) - DeliveryCap; over > 0 {
		b.View.Deliveries = slices.Clone(b.View.Deliveries[over:])
	}
	b.note(b.View.Stage, fmt.Sprintf("delivery via %s: %d invoice(s), %d new", view.Via, view.Invoices, view.New))
	b.ledger.show(&b.View)
	b.publish()
	if view.Outcome != deliveryDuplicate || fresh {
		// Even with nothing new, a fresh message is the user clicking 「导入单据」 again: with
		// autoSubmit that submits the bill (after a return, say).
		b.inbox.push(&event{kind: evDelivery})
	}
}

// markDeliveries settles the deliveries still pending (their invoices were just bound).
func (b *bill) markDeliveries(outcome string) {
	for i := range b.View.Deliveries {
		if b.View.Deliveries[i].Outcome == deliveryPending {
			b.View.Deliveries[i].Outcome = outcome
		}
	}
}

// deliveryDigest identifies a delivery's content when its sender gave no digest (the ERP's
// forwarded payloads): the hash of its invoices' records.
func deliveryDigest(d calls.Delivery) string {
	return invoicecloud.Message{InvoiceData: d.InvoiceData}.Digest()
}

// Corrections the ERP may make while nothing is final: take an invoice off, fix a failed header.

// removeInvoice takes one invoice off the bill: a pending one is dropped, a bound one released at
// the cloud (billSave 1 of that invoice alone: it does not depend on billSave replacing the set).
func (b *bill) removeInvoice(ctx workflow.Context, req RemoveInvoiceRequest) error {
	if b.ledger.dropPending(req.SerialNo) {
		b.noteRemoved(req, "pending")
		return nil
	}
	i := b.ledger.boundAt(req.SerialNo)
	if i < 0 {
		return fmt.Errorf("%s is not on this bill", req.SerialNo)
	}
	if workflow.GetVersion(ctx, removeToNextSet, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		in := calls.BillSaveInput{MessageID: b.msgID("removeInvoice"), Request: b.in.billSave(invoicecloud.StatusUnused, b.Invoices[i:i+1])}
		if err := callNoResult(cloudCallOptions(ctx), acts.ReleaseInvoices, in); err != nil {
			return failureForCaller("removeInvoice", err)
		}
		b.ledger.unbound(i)
		b.noteRemoved(req, "released at the cloud (billSave 1)")
		return nil
	}
	// The cloud goes to the bill's next set in one call (RemoveInvoices picks it by the cloud's
	// reading of billSave): the invoices that stay are never free, whatever the reading.
	keep := slices.Delete(slices.Clone(b.Invoices), i, i+1)
	id := b.msgID("removeInvoice")
	in := calls.RemoveInput{
		Keep:    calls.BillSaveInput{MessageID: id, Request: b.in.billSave(invoicecloud.StatusInUse, keep)},
		Release: calls.BillSaveInput{MessageID: id, Request: b.in.billSave(invoicecloud.StatusUnused, b.Invoices[i:i+1])},
		Unbind:  calls.UnbindInput{MessageID: id, TaxNo: b.in.BillTaxNo, Request: b.in.unbindRequest()},
	}
	if err := callNoResult(cloudCallOptions(ctx), acts.RemoveInvoices, in); err != nil {
		return failureForCaller("removeInvoice", err)
	}
	b.ledger.unbound(i)
	how := fmt.Sprintf("released at the cloud; %d invoice(s) stay bound", len(keep))
	if len(keep) == 0 {
		how = "released at the cloud with the bill's set (billDelete)"
	}
	b.noteRemoved(req, how)
	return nil
}

// bindNothingLeft versions bindPending's retry of a set the ERP emptied meanwhile: no billSave
// (the cloud refuses one without invoices), the bill collects again.
const bindNothingLeft = "bind-nothing-left"

// removeToNextSet versions removeInvoice: one call that leaves the cloud holding the invoices
// that stay (before it, billSave 1 of the removed invoice alone, which a cloud that reads billSave
// as replacing the set took as freeing the others).
const removeToNextSet = "remove-invoice-next-set"

func (b *bill) noteRemoved(req RemoveInvoiceRequest, how string) {
	b.ledger.show(&b.View)
	b.note(b.View.Stage, fmt.Sprintf("invoice %s removed (%s) by %s: %s", req.SerialNo, how, actorName(req.Actor), req.Reason))
	b.publish()
}

// amend applies a correction to a failed bill's header (validated: nothing is bound yet).
func (b *bill) amend(req AmendRequest) {
	b.in, _ = b.in.Amend(req) // validated: it applies
	b.View.Bill = b.in
	b.note(b.View.Stage, fmt.Sprintf("header amended by %s: %s; retry to run %s again", actorName(req.Actor), req.Reason, b.View.Error.Step))
	b.publish()
}

func actorName(a *Actor) string {
	switch {
	case a == nil:
		return "the ERP"
	case a.User != "":
		return a.User + " (" + a.Client + ")"
	}
	return a.Client
}

// prepareViewURL makes sure a view page is live: while collecting the current eventCode's; past
// collecting one for viewing only, whose linkKey nobody watches (viewOwnEventCode; in bills of
// earlier releases the current eventCode's while it lives).
func (b *bill) prepareViewURL(ctx workflow.Context) error {
	if !b.linkBook.ViewOwn && workflow.GetVersion(ctx, viewOwnEventCode, workflow.DefaultVersion, 1) >= 1 {
		b.linkBook.ViewOwn = true
	}
	collecting := b.View.Stage == StageCollecting
	if b.linkBook.viewLive(workflow.Now(ctx), b.in.Options.reissueMargin(), collecting) {
		return nil
	}
	if collecting {
		if err := b.issueEventCode(ctx); err != nil {
			return failureForCaller("getEventCode", err)
		}
		b.watch(ctx)
		return nil
	}
	linkKey, err := newLinkKey(ctx)
	if err != nil {
		return err
	}
	res, err := call(cloudCallOptions(ctx), acts.GetEventCode, calls.EventCodeInput{MessageID: b.msgID("viewEventCode"), Request: b.in.eventCodeRequest(linkKey)})
	if err != nil {
		return failureForCaller("getEventCode", err)
	}
	b.ViewLink = &Link{LinkKey: linkKey, EventCode: res.EventCode, Pages: res.Pages, ExpiresAt: res.ExpiresAt}
	return nil
}
