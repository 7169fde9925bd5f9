package workflows

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
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
	evScanned // the image system's task has an outcome (or its query failed for good)
)

// event is one thing run reacts to: a validated update or signal, a delivery, a watcher's end, a timer.
type event struct {
	kind  eventKind
	epoch int // for timers: the stage generation that armed them

	linkKey  string // evWatchEnded: whose watcher
	watchErr error

	scan    *invoicecloud.ScanResult // evScanned (epoch: which wait)
	scanErr error

	submit  *SubmitRequest
	approve *ApproveRequest
	images  *ImagesRequest
	voucher *VoucherRequest
	cancel  *CancelRequest
	retry   *RetryRequest
	resolve *ResolveRequest
	amend   *AmendRequest
	remove  *RemoveInvoiceRequest
	url     *CollectURLRequest

	updateID string // the update's id (the API's Idempotency-Key): an applied one is answered again, not re-applied

	fromSignal bool // nobody waits for the answer: problems are noted in the history
	// Set when run has applied it; an update handler waits for this.
	done bool
	err  error
}

// setup registers the query, the updates (validated) and the signals (same names and payloads).
func (b *bill) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryState, func() (BillState, error) {
		return b.snapshot(), nil
	}, workflow.QueryHandlerOptions{Description: "The whole bill: stage, invoices (decimal strings), approvals, voucher, URLs, overdue, error, recent history."}); err != nil {
		return err
	}

	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCollectURL,
		func(ctx workflow.Context, req CollectURLRequest) (CollectURLResponse, error) {
			ev := &event{kind: evCollectURL, url: &req}
			if err := b.await(ctx, ev); err != nil {
				return CollectURLResponse{}, err
			}
			return b.collectURL(req.Client), nil
		},
		workflow.UpdateHandlerOptions{
			Validator:   func(req CollectURLRequest) error { return b.validateCollectURL(req) },
			Description: "Return a collect URL (client pc|mobile) valid now; re-issues the eventCode when it has expired or expires within 2 minutes.",
		}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateViewURL,
		func(ctx workflow.Context, req ViewURLRequest) (ViewURLResponse, error) {
			ev := &event{kind: evViewURL}
			if err := b.await(ctx, ev); err != nil {
				return ViewURLResponse{}, err
			}
			return b.viewURL(req.Client), nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(req ViewURLRequest) error {
				if c := req.Client; c != "" && c != "pc" && c != "mobile" {
					return fieldErr(map[string]string{"client": fmt.Sprintf("must be pc or mobile, got %q", c)})
				}
				if b.View.Stage.Final() {
					return b.stageErr("")
				}
				return nil
			},
			Description: "Return a view page URL (client pc|mobile) valid now, in any stage: approvers see the bill's invoices.",
		}); err != nil {
		return err
	}
	type spec struct {
		name, desc string
		kind       eventKind
		decode     func(json.RawMessage) (*event, error)
		validate   func(*event) error
		// repeats reports a request identical to one already applied (same role, approver and
		// decision…): it is answered with the current state instead of an error. Nil: none is.
		repeats func(*event) bool
	}
	specs := []spec{
		{UpdateSubmit, "Submit the collected invoices for approval (refused while no invoice is bound).", evSubmit,
			decoder(func(r SubmitRequest) *event { return &event{kind: evSubmit, submit: &r} }),
			func(ev *event) error { return b.validateSubmit() }, func(*event) bool { return b.repeatsSubmit() }},
		{UpdateApprove, "Decide for an approval role: {role, decision: approve|reject|return, approver, comment}.", evApprove,
			decoder(func(r ApproveRequest) *event { return &event{kind: evApprove, approve: &r} }),
			func(ev *event) error { return b.validateApprove(*ev.approve) }, func(ev *event) bool { return b.repeatsApprove(*ev.approve) }},
		{UpdateImages, "The scanning station's 'scanned' message: {scanBillNo, invoiceNos, amounts, files}; match mode compares them with the bound invoices.", evImages,
			decoder(func(r ImagesRequest) *event { return &event{kind: evImages, images: &r} }),
			func(ev *event) error { return b.validateImages(*ev.images) }, nil},
		{UpdateVoucher, "Write the voucher back: {vouchId, vouchNo, accountDate, accountTime, businessDate (yyyy-MM-dd), resource}.", evVoucher,
			decoder(func(r VoucherRequest) *event { return &event{kind: evVoucher, voucher: &r} }),
			func(ev *event) error { return b.validateVoucher(*ev.voucher) }, func(ev *event) bool { return b.repeatsVoucher(*ev.voucher) }},
		{UpdateCancel, "Cancel the bill {reason}: undo what was done (unbind, release) and end cancelled. Refused once the voucher is saved.", evCancel,
			decoder(func(r CancelRequest) *event { return &event{kind: evCancel, cancel: &r} }),
			func(ev *event) error { return b.validateCancel(*ev.cancel) }, func(ev *event) bool { return b.repeatsCancel(*ev.cancel) }},
		{UpdateRetry, "Re-run the step that failed (only in stage failed), once its cause is fixed.", evRetry,
			decoder(func(r RetryRequest) *event { return &event{kind: evRetry, retry: &r} }),
			func(ev *event) error { return b.validateRetry() }, nil},
		{UpdateAmend, "Correct the header of a bill that failed before anything was bound (only the fields given change), then retry: {billTaxNo, companyInfo, …, reason}.", evAmend,
			decoder(func(r AmendRequest) *event { return &event{kind: evAmend, amend: &r} }),
			func(ev *event) error { return b.validateAmend(*ev.amend) }, nil},
		{UpdateRemove, "Take an invoice off a collecting or failed bill: {serialNo, reason}; a bound one is released at the cloud (billSave 1).", evRemove,
			decoder(func(r RemoveInvoiceRequest) *event { return &event{kind: evRemove, remove: &r} }),
			func(ev *event) error { return b.validateRemove(*ev.remove) }, nil},
		{UpdateResolve, "Close a failed compensation by hand (only in stage failed, in a compensate step): {by, reason, done}. Audited in state.resolutions.", evResolve,
			decoder(func(r ResolveRequest) *event { return &event{kind: evResolve, resolve: &r} }),
			func(ev *event) error { return b.validateResolve(*ev.resolve) }, nil},
	}
	for _, sp := range specs {
		sp := sp
		// An update applied before (its id answered, or an identical request) is answered with the
		// current state: an ERP that retries after a timeout gets the first call's outcome.
		applied := func(ctx workflow.Context, ev *event) bool {
			return b.answered(workflow.GetCurrentUpdateInfo(ctx).ID) || sp.repeats != nil && sp.repeats(ev)
		}
		// Update: validated before anything is written; answers the state once run applied it.
		if err := workflow.SetUpdateHandlerWithOptions(ctx, sp.name,
			func(ctx workflow.Context, raw json.RawMessage) (BillState, error) {
				ev, _ := sp.decode(raw) // the validator has decoded it already
				if applied(ctx, ev) {
					return b.snapshot(), nil
				}
				ev.updateID = workflow.GetCurrentUpdateInfo(ctx).ID
				b.markQueued(ev)
				if err := b.await(ctx, ev); err != nil {
					return b.snapshot(), err
				}
				return b.snapshot(), nil
			},
			workflow.UpdateHandlerOptions{
				Validator: func(ctx workflow.Context, raw json.RawMessage) error {
					ev, err := sp.decode(raw)
					if err != nil {
						return err
					}
					if applied(ctx, ev) {
						return nil
					}
					return sp.validate(ev)
				},
				Description: sp.desc,
			}); err != nil {
			return err
		}
		b.listen(ctx, sp.name, sp.desc, func(raw json.RawMessage) error {
			ev, err := sp.decode(raw)
			if err != nil {
				return err
			}
			// The ops path: only what the bill's policy lets Temporal Web and the CLI do, and
			// recorded as such (whatever actor the payload claims).
			if err := b.in.Policy.WebSignals.Permits(sp.name, ev.role()); err != nil {
				return err
			}
			ev.setActor(Actor{Client: OpsPath, User: ev.person()})
			if sp.repeats != nil && sp.repeats(ev) {
				return nil // already applied: nothing to do
			}
			if err := sp.validate(ev); err != nil {
				return err
			}
			b.markQueued(ev)
			ev.fromSignal = true
			b.push(ev)
			return nil
		})
	}
	b.listen(ctx, SignalInvoices, "Invoices the ERP forwards from its browser socket: {invoiceData, attachData}. Recorded at once; bound while collecting, else kept until the bill next collects.",
		func(raw json.RawMessage) error {
			var sig InvoicesSignal
			if err := decodeStrict(raw, &sig); err != nil {
				return err
			}
			if err := b.validateInvoices(sig); err != nil {
				return err
			}
			b.record(calls.Delivery{Via: ViaERP, InvoiceData: sig.InvoiceData, AttachData: sig.AttachData})
			return nil
		})
	b.listen(ctx, SignalDelivery, "A delivery from the cloud (a watcher's socket or poll message): recorded at once; bound while collecting, else kept until the bill next collects.",
		func(raw json.RawMessage) error {
			var d calls.Delivery
			if err := decodeStrict(raw, &d); err != nil {
				return err
			}
			if len(d.InvoiceData) == 0 {
				return fieldErr(map[string]string{"invoiceData": "required: at least one invoice"})
			}
			b.record(d)
			return nil
		})
	b.listen(ctx, SignalCollectURL, "Re-issue the eventCode if it has expired or expires soon (the URL is in the state query).",
		func(raw json.RawMessage) error {
			var req CollectURLRequest
			if err := decodeStrict(raw, &req); err != nil {
				return err
			}
			if err := b.validateCollectURL(req); err != nil {
				return err
			}
			b.push(&event{kind: evCollectURL, url: &req, fromSignal: true})
			return nil
		})
	return nil
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
func (b *bill) listen(ctx workflow.Context, name, desc string, handle func(json.RawMessage) error) {
	ch := workflow.GetSignalChannelWithOptions(ctx, name, workflow.SignalChannelOptions{Description: desc})
	b.signals = append(b.signals, signalListener{name: name, ch: ch, handle: handle})
}

// takeSignals applies every signal received so far, in arrival order per channel. A payload that
// fails decoding or validation is not applied and is recorded in the history as "ignored: <reason>",
// so a mistaken click in Temporal Web is visible.
func (b *bill) takeSignals() {
	for _, l := range b.signals {
		var raw json.RawMessage
		for l.ch.ReceiveAsync(&raw) {
			if err := l.handle(raw); err != nil {
				b.note(b.View.Stage, fmt.Sprintf("ignored: %s signal: %v", l.name, err))
				b.publish()
			}
			raw = nil
		}
	}
}

// signalWaiting reports whether a signal waits to be taken.
func (b *bill) signalWaiting() bool {
	for _, l := range b.signals {
		if l.ch.Len() > 0 {
			return true
		}
	}
	return false
}

// await queues ev for run and waits until run has applied it.
func (b *bill) await(ctx workflow.Context, ev *event) error {
	b.push(ev)
	if err := workflow.Await(ctx, func() bool { return ev.done }); err != nil {
		return err
	}
	return ev.err
}

// actor is who sent the event (the payload's, set by the API), nil for none.
func (ev *event) actor() *Actor {
	switch {
	case ev.submit != nil:
		return ev.submit.Actor
	case ev.approve != nil:
		return ev.approve.Actor
	case ev.images != nil:
		return ev.images.Actor
	case ev.voucher != nil:
		return ev.voucher.Actor
	case ev.cancel != nil:
		return ev.cancel.Actor
	case ev.retry != nil:
		return ev.retry.Actor
	case ev.resolve != nil:
		return ev.resolve.Actor
	case ev.amend != nil:
		return ev.amend.Actor
	case ev.remove != nil:
		return ev.remove.Actor
	}
	return nil
}

func (ev *event) setActor(a Actor) {
	switch {
	case ev.submit != nil:
		ev.submit.Actor = &a
	case ev.approve != nil:
		ev.approve.Actor = &a
	case ev.images != nil:
		ev.images.Actor = &a
	case ev.voucher != nil:
		ev.voucher.Actor = &a
	case ev.cancel != nil:
		ev.cancel.Actor = &a
	case ev.retry != nil:
		ev.retry.Actor = &a
	case ev.resolve != nil:
		ev.resolve.Actor = &a
	case ev.amend != nil:
		ev.amend.Actor = &a
	case ev.remove != nil:
		ev.remove.Actor = &a
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
	}
	return ""
}

// markQueued sets the guards that refuse a second identical request while the first waits in the inbox.
func (b *bill) markQueued(ev *event) {
	switch ev.kind {
	case evSubmit:
		b.submitQueued = true
	case evApprove:
		b.Decided[ev.approve.Role] = true
	case evImages:
		b.imagesQueued = true
	case evVoucher:
		b.voucherQueued = true
	}
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

// ---- validators: read-only, no blocking; messages a person understands ----

func (b *bill) stageErr(want string) error {
	if b.View.Stage.Final() {
		return fmt.Errorf("the bill has ended (%s)", b.View.Stage)
	}
	if b.View.Stage == StageFailed {
		return fmt.Errorf("the bill is failed (step %s: %s); retry or cancel it first", b.View.Error.Step, b.View.Error.Reason)
	}
	return fmt.Errorf("the bill is in stage %s, %s", b.View.Stage, want)
}

// fieldErr refuses a bad payload. The fields travel as the error's details so a caller (the API's
// 400 error.fields) reads them as data, not by parsing the message.
func fieldErr(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	verr := &ValidationError{Fields: fields}
	return temporal.NewApplicationError(verr.Error(), "ValidationError", fields)
}

func (b *bill) validateCollectURL(req CollectURLRequest) error {
	if c := req.Client; c != "" && c != "pc" && c != "mobile" {
		return fieldErr(map[string]string{"client": fmt.Sprintf("must be pc or mobile, got %q", c)})
	}
	if b.View.Stage != StageCollecting {
		return b.stageErr("a collect URL is only available while collecting")
	}
	return nil
}

func (b *bill) validateSubmit() error {
	if b.View.Stage != StageCollecting {
		return b.stageErr("not collecting: nothing to submit")
	}
	if b.submitQueued {
		return fmt.Errorf("the bill is already being submitted")
	}
	if len(b.Invoices) == 0 {
		return fmt.Errorf("no invoice is bound to the bill yet: collect invoices before submitting")
	}
	if !b.imagesReady() {
		return fmt.Errorf("submitter mode: send the submitter's images (the images update, with uploads) before submitting")
	}
	return nil
}

func (b *bill) validateApprove(req ApproveRequest) error {
	f := map[string]string{}
	if req.Role == "" {
		f["role"] = "required"
	} else if !slices.Contains(b.in.Options.Approvals, req.Role) {
		f["role"] = fmt.Sprintf("unknown role %q; this bill's approvals are %s", req.Role, listOrNone(b.in.Options.Approvals))
	}
	switch req.Decision {
	case DecisionApprove, DecisionReject, DecisionReturn:
	case "":
		f["decision"] = "required (approve, reject or return)"
	default:
		f["decision"] = fmt.Sprintf("must be approve, reject or return, got %q", req.Decision)
	}
	if strings.TrimSpace(req.Approver) == "" {
		f["approver"] = "required"
	}
	if err := fieldErr(f); err != nil {
		return err
	}
	person := strings.TrimSpace(req.Approver)
	if req.Actor != nil && req.Actor.User != "" {
		if person != "" && !strings.EqualFold(person, req.Actor.User) {
			return fieldErr(map[string]string{"approver": fmt.Sprintf("must be the acting user %q the client vouches for", req.Actor.User)})
		}
		person = req.Actor.User
	}
	if req.Decision == DecisionApprove {
		if err := b.in.Policy.Duties.CheckApproval(b.in.UserID, person, req.Role, b.approvedThisRound()); err != nil {
			return err
		}
	}
	if b.Decided[req.Role] {
		for _, a := range b.View.Approvals {
			if a.Round == b.Round && a.Role == req.Role {
				return fmt.Errorf("%s has already decided in this round (%s by %s at %s)", req.Role, a.Decision, a.Approver, a.At.Format(time.RFC3339))
			}
		}
		return fmt.Errorf("a decision for %s is already being applied", req.Role)
	}
	if b.View.Stage != AwaitingStage(req.Role) {
		return b.stageErr(fmt.Sprintf("not awaiting %s", req.Role))
	}
	return nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func (b *bill) validateImages(req ImagesRequest) error {
	f := map[string]string{}
	if strings.TrimSpace(req.ScanBillNo) == "" {
		f["scanBillNo"] = "required"
	}
	if b.in.Options.ImageMode == ImageMatch && len(req.InvoiceNos) == 0 {
		f["invoiceNos"] = "required in match mode: the scanned invoice numbers"
	}
	for i, n := range req.InvoiceNos {
		if strings.TrimSpace(n) == "" {
			f[fmt.Sprintf("invoiceNos[%d]", i)] = "must not be empty"
		}
	}
	//workflowcheck:ignore only fills a map: order does not matter
	for no, amt := range req.Amounts {
		if _, err := decimal.NewFromString(amt); err != nil {
			f["amounts."+no] = fmt.Sprintf("not a decimal amount: %q", amt)
		} else if !slices.Contains(req.InvoiceNos, no) {
			f["amounts."+no] = "invoice number not in invoiceNos"
		}
	}
	total := 0
	for i, u := range req.Uploads {
		p := fmt.Sprintf("uploads[%d].", i)
		if strings.TrimSpace(u.Name) == "" {
			f[p+"fileName"] = "required"
		}
		if !slices.Contains([]string{"pdf", "jpg", "jpeg", "png"}, strings.ToLower(u.Type)) {
			f[p+"fileType"] = "one of pdf, jpg, jpeg, png"
		}
		if _, err := base64.StdEncoding.DecodeString(u.Base64); err != nil || u.Base64 == "" {
			f[p+"base64"] = "the file's content in standard Base64"
		}
		total += len(u.Base64)
	}
	if total > MaxUploadBytes {
		f["uploads"] = fmt.Sprintf("%d bytes of Base64 in all; at most %d (send large originals through the image system's own upload)", total, MaxUploadBytes)
	}
	if len(req.Uploads) > 0 && !(b.in.Options.ImageMode == ImageSubmitter && b.usesImageSystem()) {
		f["uploads"] = "only in submitter mode with the image system (options.scanPoint)"
	}
	if err := fieldErr(f); err != nil {
		return err
	}
	if b.in.Options.ImageMode == ImageSubmitter {
		if b.View.Stage != StageCollecting {
			return b.stageErr("submitter mode: the submitter's images come while collecting")
		}
	} else if b.View.Stage != StageImageReview {
		return b.stageErr("not in image review")
	}
	if b.imagesQueued {
		return fmt.Errorf("the scanned images are already being applied")
	}
	return nil
}

func (b *bill) validateVoucher(req VoucherRequest) error {
	f := map[string]string{}
	for _, fv := range [][2]string{{"vouchId", req.VouchID}, {"vouchNo", req.VouchNo}, {"resource", req.Resource}} {
		if strings.TrimSpace(fv[1]) == "" {
			f[fv[0]] = "required"
		}
	}
	for _, fv := range [][2]string{{"accountDate", req.AccountDate}, {"accountTime", req.AccountTime}, {"businessDate", req.BusinessDate}} {
		if fv[1] == "" {
			f[fv[0]] = "required (yyyy-MM-dd)"
		} else if _, err := time.Parse(time.DateOnly, fv[1]); err != nil {
			f[fv[0]] = fmt.Sprintf("must be a date yyyy-MM-dd, got %q", fv[1])
		}
	}
	if err := fieldErr(f); err != nil {
		return err
	}
	if b.View.Voucher != nil && b.View.Voucher.SavedAt != nil {
		return fmt.Errorf("the voucher %s is already saved", b.View.Voucher.VouchNo)
	}
	if b.View.Stage != StageAwaitingVoucher {
		return b.stageErr("not awaiting the voucher")
	}
	if b.voucherQueued {
		return fmt.Errorf("a voucher is already being saved")
	}
	return nil
}

func (b *bill) validateCancel(req CancelRequest) error {
	if strings.TrimSpace(req.Reason) == "" {
		return fieldErr(map[string]string{"reason": "required"})
	}
	if c := b.View.Cancel; c != nil {
		return fmt.Errorf("the bill is already being cancelled (%s); a failed compensation is retried or resolved, not cancelled again", c.Reason)
	}
	if b.View.Voucher != nil && b.View.Voucher.SavedAt != nil || b.voucherQueued {
		return fmt.Errorf("the voucher is saved (or being saved): a bill cannot be cancelled after its voucher; reverse the voucher in the ERP instead")
	}
	if b.View.Stage.Final() {
		return fmt.Errorf("the bill has ended (%s)", b.View.Stage)
	}
	return nil
}

func (b *bill) validateAmend(req AmendRequest) error {
	if _, verr := b.in.Amend(req); verr != nil {
		return temporal.NewApplicationError(verr.Error(), "ValidationError", verr.Fields)
	}
	if b.View.Stage != StageFailed || len(b.Invoices) > 0 || b.MarkedUsed {
		return fmt.Errorf("only a failed bill with nothing bound yet can be amended (stage %s, %d invoice(s) bound); cancel it instead", b.View.Stage, len(b.Invoices))
	}
	return nil
}

func (b *bill) validateRemove(req RemoveInvoiceRequest) error {
	f := map[string]string{}
	if strings.TrimSpace(req.SerialNo) == "" {
		f["serialNo"] = "required"
	}
	if strings.TrimSpace(req.Reason) == "" {
		f["reason"] = "required"
	}
	if err := fieldErr(f); err != nil {
		return err
	}
	if b.View.Stage != StageCollecting && b.View.Stage != StageFailed || b.MarkedUsed {
		return b.stageErr("an invoice can be removed only while collecting or failed")
	}
	if !serialSet(b.Invoices, b.Pending)[req.SerialNo] {
		return fieldErr(map[string]string{"serialNo": fmt.Sprintf("%s is not on this bill (bound or pending)", req.SerialNo)})
	}
	return nil
}

func (b *bill) validateResolve(req ResolveRequest) error {
	f := map[string]string{}
	for _, fv := range [][2]string{{"by", req.By}, {"reason", req.Reason}, {"done", req.Done}} {
		if strings.TrimSpace(fv[1]) == "" {
			f[fv[0]] = "required: resolving by hand is audited (who, why, what was done)"
		}
	}
	if err := fieldErr(f); err != nil {
		return err
	}
	if b.View.Stage != StageFailed || !strings.HasPrefix(b.View.Error.Step, compensatePrefix) {
		return fmt.Errorf("the bill is in stage %s with no failed compensation: only a failed compensation is resolved by hand (a failed step is retried or the bill cancelled)", b.View.Stage)
	}
	return nil
}

// repeatsApprove: the bill's last decision is this one, by the same role and person, in this
// round (or a return whose bill has not been submitted again).
func (b *bill) repeatsApprove(req ApproveRequest) bool {
	n := len(b.View.Approvals)
	if n == 0 {
		return false
	}
	last := b.View.Approvals[n-1]
	// A return opened the next round; until the bill is submitted again, a repeat of it is the same.
	sameRound := last.Round == b.Round || last.Decision == DecisionReturn && last.Round == b.Round-1 && b.View.Stage == StageCollecting
	return sameRound && last.Role == req.Role && last.Decision == req.Decision && last.Approver == strings.TrimSpace(req.Approver)
}

// repeatsVoucher: this voucher is the one saved.
func (b *bill) repeatsVoucher(req VoucherRequest) bool {
	v := b.View.Voucher
	return v != nil && v.SavedAt != nil && v.VouchID == req.VouchID && v.VouchNo == req.VouchNo
}

// approvedThisRound maps each role approved in this round to the person who approved it.
func (b *bill) approvedThisRound() map[string]string {
	m := map[string]string{}
	for _, a := range b.View.Approvals {
		if a.Round == b.Round && a.Decision == DecisionApprove {
			m[a.Role] = orStr(a.User, a.Approver)
		}
	}
	return m
}

// repeatsCancel: the cancel under way is this one.
func (b *bill) repeatsCancel(req CancelRequest) bool {
	return b.View.Cancel != nil && b.View.Cancel.Reason == strings.TrimSpace(req.Reason)
}

// repeatsSubmit: the bill was submitted in this round and has moved on.
func (b *bill) repeatsSubmit() bool {
	return b.View.Submitted && b.View.Stage != StageCollecting && !b.View.Stage.Final() && b.View.Stage != StageFailed
}

// answered reports an update id already applied (carried across continue-as-new, bounded).
func (b *bill) answered(id string) bool { return id != "" && slices.Contains(b.Answered, id) }

func (b *bill) validateRetry() error {
	if b.View.Stage != StageFailed {
		return fmt.Errorf("the bill is in stage %s, not failed: there is nothing to retry", b.View.Stage)
	}
	return nil
}

func (b *bill) validateInvoices(sig InvoicesSignal) error {
	f := map[string]string{}
	if len(sig.InvoiceData) == 0 {
		f["invoiceData"] = "required: at least one invoice"
	}
	for i, inv := range sig.InvoiceData {
		if strings.TrimSpace(inv.SerialNo) == "" {
			f[fmt.Sprintf("invoiceData[%d].serialNo", i)] = "required"
		}
	}
	if err := fieldErr(f); err != nil {
		return err
	}
	if b.View.Stage.Final() {
		return b.stageErr("")
	}
	return nil
}

// errContinueAsNew ends a run at a quiet point so the bill continues as new (BillWorkflow).
var errContinueAsNew = errors.New("continue as new")

// wait is how a stage waits: the next event, or errContinueAsNew when the run's history is long
// and the bill is quiet — no step in flight (a stage waits), nothing queued, every signal taken and
// every update handler finished, so nothing is lost across it.
func (b *bill) wait(ctx workflow.Context) (*event, error) { return b.nextEvent(ctx, true) }

// next is the same where the bill must not continue as new (a failed step waits for retry).
func (b *bill) next(ctx workflow.Context) (*event, error) { return b.nextEvent(ctx, false) }

func (b *bill) nextEvent(ctx workflow.Context, mayContinue bool) (*event, error) {
	for {
		b.takeSignals()
		if len(b.inbox) > 0 {
			return b.take(), nil
		}
		if mayContinue && b.timeToContinue() {
			return nil, errContinueAsNew
		}
		if err := workflow.Await(ctx, func() bool {
			return len(b.inbox) > 0 || b.signalWaiting() || mayContinue && b.timeToContinue()
		}); err != nil {
			return nil, err
		}
	}
}

// timeToContinue: the run's history is long (or the server suggests it) and no update handler is
// running (signals are taken by the caller first).
func (b *bill) timeToContinue() bool {
	info := workflow.GetInfo(b.ctx)
	limit := b.in.Options.HistoryLimit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	if !info.GetContinueAsNewSuggested() && info.GetCurrentHistoryLength() < limit {
		return false
	}
	return workflow.AllHandlersFinished(b.ctx) && !b.signalWaiting()
}

func (b *bill) take() *event {
	ev := b.inbox[0]
	b.inbox = b.inbox[1:]
	return ev
}

func (b *bill) push(ev *event) { b.inbox = append(b.inbox, ev) }

// reply completes an event an update handler waits on (no-op for signals and internal events).
func (b *bill) reply(ev *event, err error) {
	if ev == nil || ev.done {
		return
	}
	ev.done = true
	ev.err = err
	b.unqueue(ev, err)
	if err == nil && ev.updateID != "" {
		b.Answered = append(b.Answered, ev.updateID)
		if over := len(b.Answered) - AnsweredCap; over > 0 {
			b.Answered = slices.Clone(b.Answered[over:])
		}
	}
	if err != nil && ev.fromSignal {
		b.note(b.View.Stage, "ignored: signal: "+err.Error())
	}
}

// unqueue clears the "already queued" guards the validators use.
func (b *bill) unqueue(ev *event, err error) {
	switch ev.kind {
	case evApprove:
		if err != nil && b.View.Stage != StageFailed {
			// Not applied: the role may decide again. (If the decision was recorded and only the
			// following step failed, the record stands and a retry continues from it.)
			b.forgetDecision(ev.approve.Role)
		}
	case evSubmit:
		b.submitQueued = false
	case evImages:
		b.imagesQueued = false
	case evVoucher:
		b.voucherQueued = false
	}
}

// forgetDecision lets a role decide again when its queued decision was not recorded.
func (b *bill) forgetDecision(role string) {
	for _, a := range b.View.Approvals {
		if a.Round == b.Round && a.Role == role {
			return
		}
	}
	delete(b.Decided, role)
}
