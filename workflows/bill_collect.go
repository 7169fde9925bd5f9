package workflows

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

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
	if b.currentLink() == nil {
		if err := b.runOrPark(ctx, "getEventCode", nil, b.issueEventCode); err != nil {
			return "", err
		}
	}
	defer b.stopWatchers()
	b.watchLiveLinks(ctx)
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
				b.watchLiveLinks(ctx)
				b.reply(retry, nil)
				if err := b.bindPending(ctx); err != nil {
					return "", err
				}
			case ev.watchErr != nil:
				// Gave up retrying (the cloud or every worker unreachable until the eventCode died):
				// the next collect URL the ERP asks for watches again.
				b.note(StageCollecting, "watcher ended: "+ev.watchErr.Error())
				b.showWatching()
				b.publish()
			default:
				b.showWatching()
			}
		case evSubmit:
			b.note(StageCollecting, fmt.Sprintf("submitted by %s with %d invoice(s)", orStr(ev.submit.By, "the submitter"), len(b.Invoices)))
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
		case evCollectURL:
			if !b.codeFresh() {
				if err := b.runOrPark(ctx, "getEventCode", ev, b.issueEventCode); err != nil {
					return "", err
				}
			}
			b.watchLiveLinks(ctx) // the new linkKey, or the current one again if its watch had ended
			b.reply(ev, nil)
		default:
			if next, done, err := b.common(ctx, ev); done || err != nil {
				return next, err
			}
		}
	}
}

// currentLink is the newest eventCode while its pages live, nil otherwise.
func (b *bill) currentLink() *Link {
	if n := len(b.Links); n > 0 && workflow.Now(b.ctx).Before(b.Links[n-1].ExpiresAt) {
		return &b.Links[n-1]
	}
	return nil
}

// codeFresh: the current eventCode lives at least ReissueMargin longer and its linkKey has not
// delivered yet (a strict cloud consumes a linkKey once).
func (b *bill) codeFresh() bool {
	l := b.currentLink()
	return l != nil && !l.Delivered && workflow.Now(b.ctx).Add(ReissueMargin).Before(l.ExpiresAt)
}

// issueEventCode asks for an eventCode with a fresh linkKey and starts watching it.
func (b *bill) issueEventCode(ctx workflow.Context) error {
	var linkKey string
	// The linkKey is the socket/poll key: random (unguessable), recorded once in history.
	if err := workflow.SideEffect(ctx, func(workflow.Context) any {
		buf := make([]byte, 16)
		_, _ = rand.Read(buf)
		return hex.EncodeToString(buf)
	}).Get(&linkKey); err != nil {
		return err
	}
	req := calls.EventCodeInput{MessageID: b.msgID("getEventCode"), Request: b.eventCodeRequest(linkKey)}
	res, err := call(cloudCallOptions(ctx), acts.GetEventCode, req)
	if err != nil {
		return err
	}
	b.dropDeadLinks()
	b.Links = append(b.Links, Link{LinkKey: linkKey, EventCode: res.EventCode, Pages: res.Pages, ExpiresAt: res.ExpiresAt})
	b.showLink(b.Links[len(b.Links)-1])
	b.note(b.View.Stage, "eventCode issued, valid until "+res.ExpiresAt.UTC().Format("15:04:05Z"))
	b.publish()
	return nil
}

// eventCodeRequest is getEventCode's data for the bill with a linkKey.
func (b *bill) eventCodeRequest(linkKey string) invoicecloud.EventCodeRequest {
	in := b.in
	return invoicecloud.EventCodeRequest{
		BillID: in.BillID, Resource: in.Resource, BillNo: in.BillNo, BillType: in.BillType,
		BillTaxNo: in.BillTaxNo, OrgNumber: in.OrgNumber, PushType: in.PushType, UserID: in.UserID,
		LinkKey: linkKey, CompanyInfo: in.CompanyInfo,
	}
}

// dropDeadLinks forgets eventCodes whose pages have died, and the oldest beyond LiveLinksCap.
func (b *bill) dropDeadLinks() {
	now := workflow.Now(b.ctx)
	live := b.Links[:0]
	for _, l := range b.Links {
		if now.Before(l.ExpiresAt) {
			live = append(live, l)
		}
	}
	for len(live) >= LiveLinksCap {
		if cancel, ok := b.watchers[live[0].LinkKey]; ok {
			cancel()
			delete(b.watchers, live[0].LinkKey)
		}
		live = live[1:]
	}
	b.Links = live
}

// showLink puts an eventCode's pages in the state.
func (b *bill) showLink(l Link) {
	exp := l.ExpiresAt
	b.View.EventCode = l.EventCode
	b.View.Collect = URLs{PC: l.Pages.CollectPC, Mobile: l.Pages.CollectMobile, ExpiresAt: &exp}
	b.View.View = URLs{PC: l.Pages.ViewPC, Mobile: l.Pages.ViewMobile, ExpiresAt: &exp}
}

func (b *bill) collectURL(client string) CollectURLResponse {
	l := b.currentLink()
	if l == nil {
		return CollectURLResponse{}
	}
	url := l.Pages.CollectPC
	if client == "mobile" {
		url = l.Pages.CollectMobile
	}
	return CollectURLResponse{URL: url, EventCode: l.EventCode, ExpiresAt: l.ExpiresAt}
}

// watchLiveLinks starts a watcher for every live eventCode that has none. A watcher listens on its
// linkKey until the pages die (plus the worker's grace), signalling each message to the bill; it
// runs on the watchers' own task queue, so sockets never take a slot a cloud call needs.
func (b *bill) watchLiveLinks(ctx workflow.Context) {
	now := workflow.Now(ctx)
	for _, l := range b.Links {
		if _, on := b.watchers[l.LinkKey]; on || !now.Before(l.ExpiresAt) {
			continue
		}
		wctx, cancel := workflow.WithCancel(b.ctx)
		b.watchers[l.LinkKey] = cancel
		in := calls.WatchInput{TaxNo: b.in.BillTaxNo, LinkKey: l.LinkKey, PushType: b.in.PushType, Until: l.ExpiresAt}
		linkKey := l.LinkKey
		workflow.Go(wctx, func(gctx workflow.Context) {
			err := callNoResult(watchOptions(gctx, l.ExpiresAt.Sub(now)), acts.WatchInvoices, in)
			if gctx.Err() != nil {
				return // stopped: collecting ended, or the bill ended
			}
			b.push(&event{kind: evWatchEnded, linkKey: linkKey, watchErr: err})
		})
	}
	b.showWatching()
}

// stopWatchers cancels every running watcher (collecting ended, or the run ends).
func (b *bill) stopWatchers() {
	for _, l := range b.Links {
		if cancel, ok := b.watchers[l.LinkKey]; ok {
			cancel()
			delete(b.watchers, l.LinkKey)
		}
	}
	b.showWatching()
}

// showWatching puts in the state until when the bill listens for deliveries.
func (b *bill) showWatching() {
	var until *time.Time
	for _, l := range b.Links {
		if _, on := b.watchers[l.LinkKey]; on && (until == nil || l.ExpiresAt.After(*until)) {
			t := l.ExpiresAt
			until = &t
		}
	}
	b.View.WatchingUntil = until
}

// bindPending binds the delivered invoices that wait (Pending) together with the bound set
// (billSave 30 of the whole set). A retry after a failure binds whatever is pending by then.
func (b *bill) bindPending(ctx workflow.Context) error {
	if len(b.Pending) == 0 {
		return nil
	}
	var bound []invoicecloud.Invoice
	// Registered before the call: if its answer is lost the cloud may have bound them anyway.
	b.registerCompensation(compensateUnbind)
	err := b.runOrPark(ctx, "bindInvoices", nil, func(ctx workflow.Context) error {
		set := mergeInvoices(b.Invoices, b.Pending)
		in := calls.BillSaveInput{MessageID: b.msgID("bindInvoices"), Request: b.billSave(invoicecloud.StatusInUse, set)}
		if err := callNoResult(cloudCallOptions(ctx), acts.BindInvoices, in); err != nil {
			return err
		}
		bound = set
		return nil
	})
	if err != nil {
		return err
	}
	added := len(bound) - len(b.Invoices)
	b.Invoices = bound
	b.Pending = nil
	b.Status = invoicecloud.StatusInUse
	b.refreshInvoiceViews()
	b.markDeliveries(deliveryBound)
	b.note(StageCollecting, fmt.Sprintf("bound %d invoice(s) (billSave 30): %d now, total %s", added, len(bound), b.View.TotalAmount))
	b.emit(calls.EventInvoicesBound, map[string]any{"invoices": b.View.Invoices, "totalAmount": b.View.TotalAmount})
	b.publish()
	return nil
}

func (b *bill) refreshInvoiceViews() {
	b.View.Invoices = invoiceViews(b.Invoices, b.Status)
	b.View.InvoiceCount = len(b.Invoices)
	b.View.TotalAmount = totalOfAll(b.Invoices).StringFixed(2)
	b.View.PendingInvoices = invoiceViews(b.Pending, invoicecloud.StatusUnused)
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
	digest := d.Digest
	if digest == "" {
		digest = deliveryDigest(d)
	}
	for i := range b.Links {
		if d.LinkKey != "" && b.Links[i].LinkKey == d.LinkKey {
			b.Links[i].Delivered = true
		}
	}
	view := DeliveryView{At: workflow.Now(b.ctx).UTC(), Via: orStr(d.Via, ViaSocket), Invoices: len(d.InvoiceData), Outcome: deliveryDuplicate}
	fresh := !slices.Contains(b.Digests, digest)
	if fresh {
		b.Digests = append(b.Digests, digest)
		if over := len(b.Digests) - DigestCap; over > 0 {
			b.Digests = slices.Clone(b.Digests[over:])
		}
		known := serialSet(b.Invoices, b.Pending)
		for _, inv := range d.InvoiceData {
			if len(known) >= MaxInvoicesPerBill {
				b.note(b.View.Stage, fmt.Sprintf("delivery via %s: over the limit of %d invoices per bill; the rest is not kept", view.Via, MaxInvoicesPerBill))
				break
			}
			if inv.SerialNo != "" && !known[inv.SerialNo] {
				known[inv.SerialNo] = true
				b.Pending = append(b.Pending, inv)
				view.New++
			}
		}
	}
	if view.New > 0 {
		view.Outcome = deliveryPending
	}
	b.View.Deliveries = append(b.View.Deliveries, view)
	if over := len(b.View.Deliveries) - DeliveryCap; over > 0 {
		b.View.Deliveries = slices.Clone(b.View.Deliveries[over:])
	}
	b.note(b.View.Stage, fmt.Sprintf("delivery via %s: %d invoice(s), %d new", view.Via, view.Invoices, view.New))
	b.refreshInvoiceViews()
	b.publish()
	if view.Outcome != deliveryDuplicate || fresh {
		// Even with nothing new, a fresh message is the user clicking 「导入单据」 again: with
		// autoSubmit that submits the bill (after a return, say).
		b.push(&event{kind: evDelivery})
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
	h := sha256.New()
	for _, inv := range d.InvoiceData {
		if len(inv.Raw) > 0 {
			h.Write(inv.Raw)
		} else {
			h.Write([]byte(inv.SerialNo))
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Corrections the ERP may make while nothing is final: take an invoice off, fix a failed header.

// removeInvoice takes one invoice off the bill: a pending one is dropped, a bound one released at
// the cloud (billSave 1 of that invoice alone: it does not depend on billSave replacing the set).
func (b *bill) removeInvoice(ctx workflow.Context, req RemoveInvoiceRequest) error {
	for i, inv := range b.Pending {
		if inv.SerialNo == req.SerialNo {
			b.Pending = slices.Delete(b.Pending, i, i+1)
			b.noteRemoved(req, "pending")
			return nil
		}
	}
	i := slices.IndexFunc(b.Invoices, func(inv invoicecloud.Invoice) bool { return inv.SerialNo == req.SerialNo })
	if i < 0 {
		return fmt.Errorf("%s is not on this bill", req.SerialNo)
	}
	in := calls.BillSaveInput{MessageID: b.msgID("removeInvoice"), Request: b.billSave(invoicecloud.StatusUnused, b.Invoices[i:i+1])}
	if err := callNoResult(cloudCallOptions(ctx), acts.ReleaseInvoices, in); err != nil {
		return failureForCaller("removeInvoice", err)
	}
	b.Invoices = slices.Delete(slices.Clone(b.Invoices), i, i+1)
	b.noteRemoved(req, "released at the cloud (billSave 1)")
	return nil
}

func (b *bill) noteRemoved(req RemoveInvoiceRequest, how string) {
	b.refreshInvoiceViews()
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

// prepareViewURL makes sure a view page is live: the current eventCode's, else (past collecting)
// a fresh one for viewing only, whose linkKey nobody watches.
func (b *bill) prepareViewURL(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	if b.currentLink() != nil || b.ViewLink != nil && now.Add(ReissueMargin).Before(b.ViewLink.ExpiresAt) {
		return nil
	}
	if b.View.Stage == StageCollecting {
		if err := b.issueEventCode(ctx); err != nil {
			return failureForCaller("getEventCode", err)
		}
		b.watchLiveLinks(ctx)
		return nil
	}
	var linkKey string
	if err := workflow.SideEffect(ctx, func(workflow.Context) any {
		buf := make([]byte, 16)
		_, _ = rand.Read(buf)
		return hex.EncodeToString(buf)
	}).Get(&linkKey); err != nil {
		return err
	}
	res, err := call(cloudCallOptions(ctx), acts.GetEventCode, calls.EventCodeInput{MessageID: b.msgID("viewEventCode"), Request: b.eventCodeRequest(linkKey)})
	if err != nil {
		return failureForCaller("getEventCode", err)
	}
	b.ViewLink = &Link{LinkKey: linkKey, EventCode: res.EventCode, Pages: res.Pages, ExpiresAt: res.ExpiresAt}
	return nil
}

// viewURL is the view page prepareViewURL made live.
func (b *bill) viewURL(client string) ViewURLResponse {
	l := b.currentLink()
	if l == nil {
		l = b.ViewLink
	}
	if l == nil {
		return ViewURLResponse{}
	}
	url := l.Pages.ViewPC
	if client == "mobile" {
		url = l.Pages.ViewMobile
	}
	return ViewURLResponse{URL: url, ExpiresAt: l.ExpiresAt}
}
