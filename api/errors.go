package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rimflow/workflows"
)

// Error codes of the JSON error body. Callers branch on Code; Message is for people.
const (
	CodeInvalidJSON          = "invalid_json"
	CodeValidation           = "validation_failed"
	CodeBodyTooLarge         = "body_too_large"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodeAlreadyFinished      = "bill_finished"
	CodeCloudRefused         = "cloud_refused"
	CodeUnavailable          = "temporal_unavailable"
	CodeTimeout              = "timeout"
	CodeInternal             = "internal"
	CodeTooManyRequests      = "too_many_requests" // too many wrong tokens from the caller's address
)

// Sub-codes of a 409 (error.subCode): why the bill refused, for an ERP to branch on.
const (
	SubWrongStage     = "wrong_stage"     // the bill is not in a stage that takes this operation
	SubAlreadyDecided = "already_decided" // the role (or the voucher) has decided already, differently
	SubInProgress     = "in_progress"     // the same kind of operation is being applied now
	SubFinished       = "finished"        // the bill has ended (code bill_finished)
	SubBillFailed     = "bill_failed"     // the bill is failed: retry, amend or cancel it first
	SubVoucherSaved   = "voucher_saved"   // nothing is undone after the voucher
	SubNoInvoices     = "no_invoices"     // nothing bound yet: nothing to submit
	SubPolicy         = "policy"          // segregation of duties or the ops path refused it
	SubDifferentBody  = "different_body"  // a start for a running bill with other values (fields names them)
	SubRefused        = "refused"         // any other refusal; the message says why
	SubVoucherInUse   = "voucher_in_use"  // the vouchId is booked on another bill (fields.vouchId names it)
	// SubVoucherShared: a reversal of a voucher booked on several bills (fields.vouchId names them).
	SubVoucherShared = "voucher_shared"
	// SubDeductionSelected: a reversal after the bill's invoices were selected for deduction.
	SubDeductionSelected = "deduction_selected"
	SubJournalPruned     = "journal_pruned" // a webhook replay from a sequence the journal no longer keeps (fields.fromSeq names the oldest kept)
	SubNoWebhook         = "no_webhook"     // 404: the client has no webhook for the resource
)

// SubCodes lists every 409 sub-code (the OpenAPI enum).
var SubCodes = []string{SubWrongStage, SubAlreadyDecided, SubInProgress, SubFinished, SubBillFailed,
	SubVoucherSaved, SubNoInvoices, SubPolicy, SubDifferentBody, SubRefused, SubVoucherInUse, SubVoucherShared, SubDeductionSelected, SubJournalPruned, SubNoWebhook}

// Codes lists every error code (the OpenAPI enum, docs/api.md's table).
var Codes = []string{CodeInvalidJSON, CodeValidation, CodeBodyTooLarge, CodeUnauthorized, CodeForbidden, CodeUnsupportedMediaType, CodeNotFound,
	CodeMethodNotAllowed, CodeConflict, CodeAlreadyFinished, CodeCloudRefused, CodeUnavailable, CodeTimeout, CodeInternal, CodeTooManyRequests, CodeKeyReused}

// Error is the one error shape of the API and the CLI:
// {"error":{"code":"…","message":"…","fields":{"billId":"required"}}}. Callers branch on Code,
// SubCode (409), CloudCode and Field (502); Message is for people.
type Error struct {
	Status int    `json:"-"`
	Code   string `json:"code"`
	// BusinessCode is the stable row of docs/errors.md an ERP maps ("RF2001"); set on every answer.
	BusinessCode string `json:"businessCode"`
	SubCode      string `json:"subCode,omitempty"` // 409: SubWrongStage, SubAlreadyDecided…
	Message      string `json:"message"`
	// Fields names every bad input field (400) or every field of a start that differs from the
	// running bill (409 different_body).
	Fields map[string]string `json:"fields,omitempty"`
	// CloudCode is the cloud's own error code (502), e.g. "2003"; "http" for an HTTP failure,
	// "config" for a refusal of the worker's credentials.
	CloudCode string `json:"cloudCode,omitempty"`
	// CloudMessage is the cloud's own text (502), as it answered it (credentials redacted).
	CloudMessage string `json:"cloudMessage,omitempty"`
	Field        string `json:"field,omitempty"` // 502: the field the cloud named, when it named one
	Step         string `json:"step,omitempty"`  // 502: the bill's step the cloud refused (getEventCode, bindInvoices…)
	// RequestID is the X-Request-Id of the answer, also in the server's log lines.
	RequestID string `json:"requestId,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Code + ": " + e.Message
	}
	return e.Code + ": " + e.Message + " (" + (&workflows.ValidationError{Fields: e.Fields}).Error() + ")"
}

// ErrorBody is the envelope every error travels in.
type ErrorBody struct {
	Error *Error `json:"error"`
}

func newError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ValidationFailed is a 400 naming every bad field.
func ValidationFailed(fields map[string]string) *Error {
	return &Error{
		Status:  http.StatusBadRequest,
		Code:    CodeValidation,
		Message: (&workflows.ValidationError{Fields: fields}).Error(),
		Fields:  fields,
	}
}

// Application error types the workflow side uses; the API maps them to statuses.
const (
	appErrCloudPrefix = "InvoiceCloud."
	appErrValidation  = "ValidationError"
)

// ErrorFrom maps any error of the Bills service (Temporal, the workflow's update rejections,
// the cloud's refusals surfacing through an update) to an API error with its HTTP status.
func ErrorFrom(err error) *Error {
	if err == nil {
		return nil
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var verr *workflows.ValidationError
	if errors.As(err, &verr) {
		return ValidationFailed(verr.Fields)
	}
	if e := keyReusedFrom(err); e != nil {
		return e
	}

	// The workflow answered: an update failed or was rejected by its validator.
	if app := findApplicationError(err, func(a *temporal.ApplicationError) bool {
		return strings.HasPrefix(a.Type(), appErrCloudPrefix)
	}); app != nil {
		e := newError(http.StatusBadGateway, CodeCloudRefused, "Invoice Cloud refused: %s", app.Message())
		e.CloudCode = strings.TrimPrefix(app.Type(), appErrCloudPrefix)
		e.Field = detailField(app)
		e.CloudMessage = detail(app, "message")
		if step, _, ok := strings.Cut(app.Message(), " failed: "); ok && !strings.ContainsAny(step, " :") {
			e.Step = step
		}
		return e
	}
	if app := findApplicationError(err, func(a *temporal.ApplicationError) bool {
		return a.Type() == appErrValidation
	}); app != nil {
		if fields := validationFields(app); len(fields) > 0 {
			return ValidationFailed(fields)
		}
		return newError(http.StatusBadRequest, CodeValidation, "%s", app.Message())
	}
	if app := findApplicationError(err, func(*temporal.ApplicationError) bool { return true }); app != nil {
		// Validators reject with a plain error: wrong stage, already decided, cancel after voucher.
		return conflict(subCodeOf(app), app.Message())
	}
	var queryRejected *temporal.QueryRejectedError
	if errors.As(err, &queryRejected) {
		return conflict(SubWrongStage, "the bill refused the query: "+queryRejected.Error())
	}

	// Temporal itself. A call that ran out of time reached Temporal but not the bill's answer
	// (the server turns it into 503 when Temporal itself does not answer its health check).
	var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
	if errors.As(err, &timeout) || errors.Is(err, context.DeadlineExceeded) {
		return newError(http.StatusGatewayTimeout, CodeTimeout,
			"the bill did not answer in time: its worker may be down or busy. The call may still take effect: "+
				"read the bill's state, or send it again with the same Idempotency-Key")
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return newError(http.StatusNotFound, CodeNotFound, "no such bill")
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return conflict(SubFinished, "this bill has already finished; a bill key (resource + billId) lives once")
	}
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	if errors.As(err, &unavailable) || errors.As(err, &deadline) || isGRPCUnavailable(err) {
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "Temporal is unreachable")
	}
	var invalidArg *serviceerror.InvalidArgument
	if errors.As(err, &invalidArg) {
		return newError(http.StatusBadRequest, CodeValidation, "%s", invalidArg.Message)
	}
	return newError(http.StatusInternalServerError, CodeInternal, "internal error")
}

// conflict is a 409 with its sub-code; a finished bill answers code bill_finished.
func conflict(sub, msg string) *Error {
	code := CodeConflict
	if sub == SubFinished {
		code = CodeAlreadyFinished
	}
	return &Error{Status: http.StatusConflict, Code: code, SubCode: sub, Message: msg}
}

// appErrConflictPrefix types a refusal whose sub-code the bill names itself ("Conflict.wrong_stage").
const appErrConflictPrefix = "Conflict."

// subCodeOf classifies a bill's refusal: by the sub-code its error type names, else by the
// validator's message (workflows/bill_inbox.go, bill_failure.go, bill_stages.go, duties.go).
func subCodeOf(app *temporal.ApplicationError) string {
	if sub, ok := strings.CutPrefix(app.Type(), appErrConflictPrefix); ok && slices.Contains(SubCodes, sub) {
		return sub
	}
	msg := app.Message()
	has := func(parts ...string) bool {
		return slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(msg, p) })
	}
	switch {
	case has("has ended"):
		return SubFinished
	case has("segregation of duties", "may not approve", "refused by policy"):
		return SubPolicy
	case has("is failed (", "the bill is failed"):
		return SubBillFailed
	case has("voucher is saved (or being saved)"):
		return SubVoucherSaved
	case has("already decided", "is already saved"):
		return SubAlreadyDecided
	case has("already being"):
		return SubInProgress
	case has("no invoice is bound"):
		return SubNoInvoices
	case has("is in stage", "not awaiting", "is awaiting", "moved on", "not failed", "only available while",
		"with no failed compensation", "only a failed bill"):
		return SubWrongStage
	}
	return SubRefused
}

// detailField reads the field a cloud failure names in its details ({"field": …}).
func detailField(app *temporal.ApplicationError) string { return detail(app, "field") }

// detail reads one entry of a cloud failure's details ({"field": …, "message": …}).
func detail(app *temporal.ApplicationError, key string) string {
	if !app.HasDetails() {
		return ""
	}
	var d map[string]string
	if app.Details(&d) == nil {
		return d[key]
	}
	return ""
}

// findApplicationError walks the whole cause chain (update failure → activity error → cloud error).
func findApplicationError(err error, match func(*temporal.ApplicationError) bool) *temporal.ApplicationError {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if app, ok := e.(*temporal.ApplicationError); ok && match(app) {
			return app
		}
	}
	return nil
}

// validationFields reads the field map a ValidationError application error carries as its details,
// either as a plain map or as a workflows.ValidationError.
func validationFields(app *temporal.ApplicationError) map[string]string {
	if !app.HasDetails() {
		return nil
	}
	var fields map[string]string
	if err := app.Details(&fields); err == nil && len(fields) > 0 {
		return fields
	}
	var verr workflows.ValidationError
	if err := app.Details(&verr); err == nil && len(verr.Fields) > 0 {
		return verr.Fields
	}
	return nil
}

func isGRPCUnavailable(err error) bool {
	s, ok := status.FromError(err)
	if !ok {
		// The SDK sometimes wraps; look through the chain.
		for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
			if s, ok = status.FromError(e); ok {
				break
			}
		}
	}
	return ok && (s.Code() == codes.Unavailable || s.Code() == codes.DeadlineExceeded)
}
