package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	CodeInternal             = "internal"
)

// Error is the one error shape of the API and the CLI:
// {"error":{"code":"…","message":"…","fields":{"billId":"required"}}}.
type Error struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
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

	// The workflow answered: an update failed or was rejected by its validator.
	if app := findApplicationError(err, func(a *temporal.ApplicationError) bool {
		return strings.HasPrefix(a.Type(), appErrCloudPrefix)
	}); app != nil {
		return newError(http.StatusBadGateway, CodeCloudRefused, "Invoice Cloud refused: %s", app.Message())
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
		return newError(http.StatusConflict, CodeConflict, "%s", app.Message())
	}
	var queryRejected *temporal.QueryRejectedError
	if errors.As(err, &queryRejected) {
		return newError(http.StatusConflict, CodeConflict, "the bill refused the query: %s", queryRejected.Error())
	}

	// Temporal itself.
	var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
	if errors.As(err, &timeout) || errors.Is(err, context.DeadlineExceeded) {
		return newError(http.StatusServiceUnavailable, CodeUnavailable,
			"no answer from Temporal or the bill's worker in time (is a worker running?)")
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return newError(http.StatusNotFound, CodeNotFound, "no such bill")
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return newError(http.StatusConflict, CodeAlreadyFinished,
			"this bill has already finished; a bill key (resource + billId) lives once")
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
