package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// Link is one issued eventCode: the linkKey the cloud delivers on and the pages it opens.
type Link struct {
	LinkKey   string             `json:"linkKey"`
	EventCode string             `json:"eventCode"`
	Pages     invoicecloud.Pages `json:"pages"`
	ExpiresAt time.Time          `json:"expiresAt"`
	// Delivered: a delivery came on this linkKey. A strict cloud consumes a linkKey once, so the
	// next collect URL the ERP asks for gets a fresh eventCode and linkKey.
	Delivered bool `json:"delivered,omitempty"`
	// Forwarded: the ERP forwarded invoices while this was the current eventCode. They came from
	// its page, so a strict cloud has consumed the linkKey though no watcher saw the message (a
	// worker died holding it): with forwardSpendsLink the next collect URL is a fresh one too.
	Forwarded bool `json:"forwarded,omitempty"`
}

// show puts an eventCode's pages in the state.
func (l Link) show(v *BillState) {
	exp := l.ExpiresAt
	v.EventCode = l.EventCode
	v.Collect = URLs{PC: l.Pages.CollectPC, Mobile: l.Pages.CollectMobile, ExpiresAt: &exp}
	v.View = URLs{PC: l.Pages.ViewPC, Mobile: l.Pages.ViewMobile, ExpiresAt: &exp}
}

// linkBook is the eventCodes the bill issued: those whose pages live (watched while collecting)
// and the one issued only to open the view page.
type linkBook struct {
	Links []Link `json:"links,omitempty"` // eventCodes issued and still live, newest last
	// ViewLink is an eventCode issued only to open the view page (nobody watches it).
	ViewLink *Link `json:"viewLink,omitempty"`
	// ViewOwn: past collecting the view page is always ViewLink's (viewOwnEventCode), never the
	// collect eventCode's, which may still live: its collect page imports into the bill.
	ViewOwn bool `json:"viewOwn,omitempty"`
}

// viewOwnEventCode: past collecting, the view URL has an eventCode of its own; bills of earlier
// releases hand out the collect eventCode's view page while it lives. While collecting it is the
// collect eventCode's in both (a cloud delivers to the bill's latest linkKey [assumed]: a second
// eventCode would take the imports from the watched one), so the API gives it only to a client
// that may collect.
const viewOwnEventCode = "view-url-own-eventcode"

// current is the newest eventCode while its pages live, nil otherwise.
func (k *linkBook) current(now time.Time) *Link {
	if n := len(k.Links); n > 0 && now.Before(k.Links[n-1].ExpiresAt) {
		return &k.Links[n-1]
	}
	return nil
}

// fresh: the current eventCode lives at least margin longer and its linkKey has not delivered
// yet (a strict cloud consumes a linkKey once).
func (k *linkBook) fresh(now time.Time, margin time.Duration) bool {
	l := k.current(now)
	return l != nil && !l.Delivered && now.Add(margin).Before(l.ExpiresAt)
}

// add keeps a new eventCode, forgetting those whose pages have died and the oldest beyond
// liveLinksCap; evicted are the live linkKeys dropped (their watchers stop).
func (k *linkBook) add(now time.Time, l Link) (evicted []string) {
	live := k.Links[:0]
	for _, old := range k.Links {
		if now.Before(old.ExpiresAt) {
			live = append(live, old)
		}
	}
	for len(live) >= liveLinksCap {
		evicted = append(evicted, live[0].LinkKey)
		live = live[1:]
	}
	k.Links = append(live, l)
	return evicted
}

// delivered marks the link a delivery came on.
func (k *linkBook) delivered(linkKey string) {
	for i := range k.Links {
		if linkKey != "" && k.Links[i].LinkKey == linkKey {
			k.Links[i].Delivered = true
		}
	}
}

// forwarded marks the current eventCode as the one the ERP's forwarded invoices came from.
func (k *linkBook) forwarded(now time.Time) {
	if l := k.current(now); l != nil {
		l.Forwarded = true
	}
}

// forwardSpendsLink: a forward spends the current eventCode as a watcher's delivery does
// (Link.Forwarded); bills of earlier releases handed the same eventCode out again.
const forwardSpendsLink = "forward-spends-link"

// spentByForward: the current eventCode is otherwise fresh, but the ERP forwarded invoices from
// its page, and the bill runs a release where that spends it.
func (k *linkBook) spentByForward(ctx workflow.Context) bool {
	l := k.current(workflow.Now(ctx))
	return l != nil && l.Forwarded && !l.Delivered &&
		workflow.GetVersion(ctx, forwardSpendsLink, workflow.DefaultVersion, 1) >= 1
}

// viewLive: a view page lives, the current eventCode's (while collecting, or without ViewOwn) or
// the view-only one's (for margin longer).
func (k *linkBook) viewLive(now time.Time, margin time.Duration, collecting bool) bool {
	return (collecting || !k.ViewOwn) && k.current(now) != nil || k.ViewLink != nil && now.Add(margin).Before(k.ViewLink.ExpiresAt)
}

func (k *linkBook) collectURL(now time.Time, client string) CollectURLResponse {
	l := k.current(now)
	if l == nil {
		return CollectURLResponse{}
	}
	url := l.Pages.CollectPC
	if client == "mobile" {
		url = l.Pages.CollectMobile
	}
	return CollectURLResponse{URL: url, EventCode: l.EventCode, ExpiresAt: l.ExpiresAt}
}

// viewURL is the live view page (the current eventCode's while collecting or without ViewOwn,
// else the view-only one).
func (k *linkBook) viewURL(now time.Time, client string, collecting bool) ViewURLResponse {
	var l *Link
	if collecting || !k.ViewOwn {
		l = k.current(now)
	}
	if l == nil {
		l = k.ViewLink
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

// watchOwnBillOnly: a watcher is told its bill's first run, so a watcher still running for a bill
// that ended never delivers into a bill started again under the same key.
const watchOwnBillOnly = "watch-own-bill-only"

// watchHeartbeatLonger: a watcher's heartbeat timeout is WatchHeartbeatTimeout (5 minutes), not
// the 2 minutes of bills started before: idle watchers heartbeat 2.5 times less often.
const watchHeartbeatLonger = "watch-heartbeat-5m"

// watchers are the running watcher activities of this run, by linkKey. A watcher listens on its
// linkKey until the pages die (plus the worker's grace), signalling each message to the bill; it
// runs on the watchers' own task queue, so sockets never take a slot a cloud call needs.
type watchers map[string]workflow.CancelFunc

// start runs a watcher for every live link that has none, in root (not a stage's context: a
// watcher outlives the step that started it); ended hears of one that ended by itself.
func (w watchers) start(root workflow.Context, now time.Time, links []Link, in BillInput, ended func(*event)) {
	for _, l := range links {
		if _, on := w[l.LinkKey]; on || !now.Before(l.ExpiresAt) {
			continue
		}
		wctx, cancel := workflow.WithCancel(root)
		w[l.LinkKey] = cancel
		req := calls.WatchInput{TaxNo: in.BillTaxNo, LinkKey: l.LinkKey, PushType: in.PushType, Until: l.ExpiresAt}
		if workflow.GetVersion(root, watchOwnBillOnly, workflow.DefaultVersion, 1) >= 1 {
			req.FirstRunID = workflow.GetInfo(root).FirstRunID
		}
		heartbeat := watchHeartbeatTimeoutBefore
		if workflow.GetVersion(root, watchHeartbeatLonger, workflow.DefaultVersion, 1) >= 1 {
			heartbeat = WatchHeartbeatTimeout
		}
		linkKey, lives := l.LinkKey, l.ExpiresAt.Sub(now)
		workflow.Go(wctx, func(gctx workflow.Context) {
			err := callNoResult(watchOptions(gctx, lives, heartbeat), acts.WatchInvoices, req)
			if gctx.Err() != nil {
				return // stopped: collecting ended, or the bill ended
			}
			ended(&event{kind: evWatchEnded, linkKey: linkKey, watchErr: err})
		})
	}
}

// stop cancels the watcher of each linkKey that has one.
func (w watchers) stop(linkKeys ...string) {
	for _, k := range linkKeys {
		if cancel, ok := w[k]; ok {
			cancel()
			delete(w, k)
		}
	}
}

// until is when the last running watcher's pages die (nil: none runs).
func (w watchers) until(links []Link) *time.Time {
	var until *time.Time
	for _, l := range links {
		if _, on := w[l.LinkKey]; on && (until == nil || l.ExpiresAt.After(*until)) {
			t := l.ExpiresAt
			until = &t
		}
	}
	return until
}
