package workflows

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// Stage 1, collecting: the eventCode and its URLs, the watcher that receives what the user
// imports, and binding every import to the bill at once.

// collect is the collecting stage: issue an eventCode, watch for invoices (and accept the
// invoices signal), bind every import at once, until submit (or the first import with autoSubmit).
func (b *bill) collect(ctx workflow.Context) (Stage, error) {
	b.enter(ctx, StageCollecting, "")
	b.s.Submitted = false
	if !b.codeFresh() {
		if err := b.runOrPark(ctx, "getEventCode", nil, b.issueEventCode); err != nil {
			return "", err
		}
	}
	b.startWatcher(ctx)
	defer b.stopWatcher()

	for {
		ev, err := b.next(ctx)
		if err != nil {
			return "", err
		}
		imported, restartWatcher := false, false
		switch ev.kind {
		case evInvoices:
			if err := b.importInvoices(ctx, ev); err != nil {
				return "", err
			}
			imported = true
		case evWatch:
			if ev.watcherGen != b.watcherGen {
				continue // a watcher replaced by a newer linkKey
			}
			if ev.watchErr != nil {
				if err := b.park(ctx, "watchInvoices", nil, ev.watchErr); err != nil {
					return "", err
				}
				b.startWatcher(ctx)
				continue
			}
			// The cloud queues what is collected for a linkKey until someone listens, so the next
			// watcher can start after the bind: with autoSubmit the import usually ends collecting,
			// and a watcher started before it would be a wasted socket and activity per bill.
			afterBind := workflow.GetVersion(ctx, versionWatcherAfterBind, workflow.DefaultVersion, 1) == 1
			if !afterBind {
				b.startWatcher(ctx)
			}
			if m := ev.watch.Message; m != nil {
				sig := InvoicesSignal{InvoiceData: m.InvoiceData, AttachData: m.AttachData}
				imp := &event{kind: evInvoices, invoices: &sig, via: orStr(m.Via, "socket"), linkKey: ev.watch.LinkKey, msgID: m.MsgID}
				if err := b.importInvoices(ctx, imp); err != nil {
					return "", err
				}
				imported = true
			}
			restartWatcher = afterBind
		case evSubmit:
			b.note(StageCollecting, fmt.Sprintf("submitted by %s with %d invoice(s)", orStr(ev.submit.By, "the submitter"), len(b.invoices)))
			b.s.Submitted = true
			return b.advance(ctx, ev)
		case evCollectURL:
			if !b.codeFresh() {
				if err := b.runOrPark(ctx, "getEventCode", ev, b.issueEventCode); err != nil {
					return "", err
				}
				b.startWatcher(ctx) // the new linkKey
			}
			b.reply(ev, nil)
			continue
		default:
			if next, done, err := b.common(ctx, ev); done || err != nil {
				return next, err
			}
			continue
		}
		// autoSubmit: the import itself is the user's "done" (the page's 导入单据).
		if imported && *b.in.Options.AutoSubmit && len(b.invoices) > 0 && !b.replaceOnNextImport && b.s.Stage == StageCollecting {
			b.note(StageCollecting, fmt.Sprintf("submitted automatically with %d invoice(s)", len(b.invoices)))
			b.s.Submitted = true
			return b.advance(ctx, nil)
		}
		if restartWatcher {
			b.startWatcher(ctx)
		}
	}
}

// versionWatcherAfterBind marks bills that restart their watcher after binding a message, not
// before (histories recorded before it replay on the old path).
const versionWatcherAfterBind = "watcher-after-bind"

// codeFresh: an eventCode exists and lives at least ReissueMargin longer.
func (b *bill) codeFresh() bool {
	return b.s.EventCode != "" && workflow.Now(b.ctx).Add(ReissueMargin).Before(b.codeExpires)
}

// issueEventCode asks for an eventCode with a fresh linkKey.
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
	in := b.in
	req := calls.EventCodeInput{
		MessageID: b.msgID("getEventCode"),
		Request: invoicecloud.EventCodeRequest{
			BillID: in.BillID, Resource: in.Resource, BillNo: in.BillNo, BillType: in.BillType,
			BillTaxNo: in.BillTaxNo, OrgNumber: in.OrgNumber, PushType: in.PushType, UserID: in.UserID,
			LinkKey: linkKey, CompanyInfo: in.CompanyInfo,
		},
	}
	res, err := call(cloudCallOptions(ctx), acts.GetEventCode, req)
	if err != nil {
		return err
	}
	b.linkKey = linkKey
	b.pages = res.Pages
	b.codeExpires = res.ExpiresAt
	b.s.EventCode = res.EventCode
	exp := res.ExpiresAt
	b.s.Collect = URLs{PC: res.Pages.CollectPC, Mobile: res.Pages.CollectMobile, ExpiresAt: &exp}
	b.s.View = URLs{PC: res.Pages.ViewPC, Mobile: res.Pages.ViewMobile, ExpiresAt: &exp}
	b.note(b.s.Stage, "eventCode issued, valid until "+exp.UTC().Format("15:04:05Z"))
	b.publish()
	return nil
}

func (b *bill) collectURL(client string) CollectURLResponse {
	url := b.pages.CollectPC
	if client == "mobile" {
		url = b.pages.CollectMobile
	}
	return CollectURLResponse{URL: url, EventCode: b.s.EventCode, ExpiresAt: b.codeExpires}
}

// startWatcher (re)starts the WatchInvoices activity for the current linkKey; its result comes
// back as an evWatch event. A newer watcher makes older results stale.
func (b *bill) startWatcher(ctx workflow.Context) {
	b.stopWatcher()
	b.watcherGen++
	gen := b.watcherGen
	wctx, cancel := workflow.WithCancel(ctx)
	b.watchCancel = cancel
	in := calls.WatchInput{LinkKey: b.linkKey, PushType: b.in.PushType}
	workflow.Go(wctx, func(gctx workflow.Context) {
		res, err := call(watchOptions(gctx), acts.WatchInvoices, in)
		if gctx.Err() != nil {
			return // cancelled: the stage ended or a new linkKey replaced this watcher
		}
		b.push(&event{kind: evWatch, watcherGen: gen, watch: &res, watchErr: err})
	})
}

func (b *bill) stopWatcher() {
	if b.watchCancel != nil {
		b.watchCancel()
		b.watchCancel = nil
	}
}

// importInvoices binds an import. Invoices already bound are not bound again (deliveries are
// at least once); the first import after a return to collecting REPLACES the set, since the
// user re-collected the bill: the cloud releases the invoices left out.
func (b *bill) importInvoices(ctx workflow.Context, ev *event) error {
	incoming := ev.invoices.InvoiceData
	var set []invoicecloud.Invoice
	if b.replaceOnNextImport {
		set = mergeInvoices(nil, incoming)
	} else {
		set = mergeInvoices(b.invoices, incoming)
	}
	if sameSerialSet(set, b.invoices) {
		b.replaceOnNextImport = false
		b.note(StageCollecting, fmt.Sprintf("%d invoice(s) from %s already bound: nothing to do", len(incoming), ev.via))
	} else {
		err := b.runOrPark(ctx, "bindInvoices", nil, func(ctx workflow.Context) error {
			in := calls.BillSaveInput{MessageID: b.msgID("bindInvoices"), Request: b.billSave(invoicecloud.StatusInUse, set)}
			return callNoResult(cloudCallOptions(ctx), acts.BindInvoices, in)
		})
		if err != nil {
			return err
		}
		released := len(b.invoices) + len(set) - 2*overlap(b.invoices, set)
		b.invoices = set
		b.status = invoicecloud.StatusInUse
		b.replaceOnNextImport = false
		b.refreshInvoiceViews()
		b.registerCompensation(compensateUnbind)
		note := fmt.Sprintf("bound %d invoice(s) via %s (billSave 30), total %s", len(set), ev.via, b.s.TotalAmount)
		if released > 0 && released != len(set) {
			note += fmt.Sprintf("; set changed by %d invoice(s)", released)
		}
		b.note(StageCollecting, note)
		b.publish()
	}
	if ev.via == "poll" && ev.msgID != "" {
		// Acknowledge only after binding, so a crash in between redelivers instead of losing.
		rin := calls.ReceiptInput{LinkKey: ev.linkKey, MsgID: ev.msgID}
		if err := callNoResult(cloudCallOptions(ctx), acts.PollReceipt, rin); err != nil {
			if ctx.Err() != nil {
				return err
			}
			b.note(StageCollecting, "poll receipt failed (the message may be delivered again): "+err.Error())
		}
	}
	return nil
}

func (b *bill) refreshInvoiceViews() {
	views := make([]InvoiceView, len(b.invoices))
	total := dec(nil)
	for i, inv := range b.invoices {
		views[i] = viewOf(inv, b.status)
		total = total.Add(totalOf(inv))
	}
	b.s.Invoices = views
	b.s.InvoiceCount = len(views)
	b.s.TotalAmount = total.StringFixed(2)
}
