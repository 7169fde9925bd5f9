package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"
)

// The validators of the bill's updates and signals: read-only, no blocking; messages a person
// understands. A refused update never enters the history (bill_inbox.go).

func (b *bill) stageErr(want string) error {
	if b.View.Stage.Final() {
		return fmt.Errorf("the bill has ended (%s)", b.View.Stage)
	}
	if b.View.Stage == StageFailed {
		return fmt.Errorf("the bill is failed (step %s: %s); retry or cancel it first", b.View.Error.Step, b.View.Error.Reason)
	}
	return fmt.Errorf("the bill is in stage %s, %s", b.View.Stage, want)
}

// requireAll notes in f, with why, each of the fields (name, value) that is blank.
func requireAll(f map[string]string, why string, fields ...[2]string) {
	for _, fv := range fields {
		if strings.TrimSpace(fv[1]) == "" {
			f[fv[0]] = why
		}
	}
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
	if err := b.checkStart(req); err != nil {
		return err
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
	if b.inbox.submitQueued {
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
		if person != "" && !b.sameActingUser(person, req.Actor.User) {
			return fieldErr(map[string]string{"approver": fmt.Sprintf("must be the acting user %q the client vouches for", req.Actor.User)})
		}
		person = req.Actor.User
	}
	if err := b.checkAcknowledged(req); err != nil {
		return err
	}
	if req.Decision == DecisionApprove {
		if err := b.in.Policy.Duties.checkApproval(b.samePerson, b.submitters(), person, req.Role, b.approvalRound.approvers(b.View.Approvals)); err != nil {
			return err
		}
	}
	if b.Decided[req.Role] {
		return b.approvalRound.decidedErr(b.View.Approvals, req.Role)
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
	CheckUploads(f, req.Uploads, b.in.Limits)
	if len(req.Uploads) > 0 && !(b.in.Options.ImageMode == ImageSubmitter && b.in.Options.usesImageSystem()) {
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
	if b.inbox.imagesQueued {
		return fmt.Errorf("the scanned images are already being applied")
	}
	return nil
}

func (b *bill) validateVoucher(req VoucherRequest) error {
	f := map[string]string{}
	requireAll(f, "required", [2]string{"vouchId", req.VouchID}, [2]string{"vouchNo", req.VouchNo}, [2]string{"resource", req.Resource})
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
	if b.inbox.voucherQueued {
		return fmt.Errorf("a voucher is already being saved")
	}
	if set := b.heldBySet(); set != "" {
		return fmt.Errorf("a voucher is already being saved (voucher set %s)", set)
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
	if b.View.Voucher != nil && b.View.Voucher.SavedAt != nil || b.inbox.voucherQueued || b.heldBySet() != "" {
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
	if f := map[string]string{}; len(req.Lines) > 0 {
		CheckLines(f, "lines", req.Lines, b.boundInvoice, b.in.Limits)
		if err := fieldErr(f); err != nil {
			return err
		}
	}
	if req.linesOnly() {
		// The ERP's line fields and cover: while collecting, or failed before the invoices were
		// marked used (lines.go).
		if (b.View.Stage == StageCollecting || b.View.Stage == StageFailed) && !b.MarkedUsed {
			return nil
		}
		return fmt.Errorf("the line fields and the cover are amended while the bill collects (or has failed before its invoices were marked used); it is in stage %s", b.View.Stage)
	}
	if b.View.Stage != StageFailed || len(b.Invoices) > 0 || b.MarkedUsed {
		return fmt.Errorf("only a failed bill with nothing bound yet can be amended (stage %s, %d invoice(s) bound); cancel it instead", b.View.Stage, len(b.Invoices))
	}
	return nil
}

func (b *bill) validateRemove(req RemoveInvoiceRequest) error {
	f := map[string]string{}
	requireAll(f, "required", [2]string{"serialNo", req.SerialNo}, [2]string{"reason", req.Reason})
	if err := fieldErr(f); err != nil {
		return err
	}
	if b.View.Stage != StageCollecting && b.View.Stage != StageFailed || b.MarkedUsed {
		return b.stageErr("an invoice can be removed only while collecting or failed")
	}
	if !b.ledger.holds()[req.SerialNo] {
		return fieldErr(map[string]string{"serialNo": fmt.Sprintf("%s is not on this bill (bound or pending)", req.SerialNo)})
	}
	return nil
}

func (b *bill) validateResolve(req ResolveRequest) error {
	f := map[string]string{}
	requireAll(f, "required: resolving by hand is audited (who, why, what was done)",
		[2]string{"by", req.By}, [2]string{"reason", req.Reason}, [2]string{"done", req.Done})
	if err := fieldErr(f); err != nil {
		return err
	}
	if b.View.Stage != StageFailed || !strings.HasPrefix(b.View.Error.Step, compensatePrefix) {
		return fmt.Errorf("the bill is in stage %s with no failed compensation: only a failed compensation is resolved by hand (a failed step is retried or the bill cancelled)", b.View.Stage)
	}
	return nil
}

// repeatsVoucher: this voucher is the one saved.
func (b *bill) repeatsVoucher(req VoucherRequest) bool {
	v := b.View.Voucher
	return v != nil && v.SavedAt != nil && v.VouchID == req.VouchID && v.VouchNo == req.VouchNo
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
	CheckForwardLines(f, sig.Lines, sig.InvoiceData, b.in.Limits)
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
