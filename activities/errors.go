package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"

	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
)

// classify turns the client's errors into Temporal activity errors: a non-retryable cloud error
// (business or validation failure, bad configuration) fails the activity at once with type
// "InvoiceCloud.<code>", so the bill shows the reason instead of retrying for hours. Retryable ones
// keep their type for visibility and are retried by the activity's retry policy. The client has
// already redacted tokens from messages.
//
// A call interrupted because the activity's context ended (the worker is stopping, or the workflow
// cancelled it) is retryable, never a business failure: another worker (or attempt) carries it
// on under the same request id.
// The reason names the enterprise: one enterprise's bad credentials are told apart from another's.
func classify(ctx context.Context, e *enterprises.Enterprise, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return temporal.NewApplicationErrorWithOptions("interrupted: "+ctx.Err().Error(), "Interrupted",
			temporal.ApplicationErrorOptions{Cause: err})
	}
	var ce *invoicecloud.Error
	if !errors.As(err, &ce) {
		return err
	}
	code := ce.Code
	switch {
	case code != "":
	case ce.Field != "":
		code = "config"
	case ce.HTTPStatus != 0:
		code = "http"
	default:
		code = "error"
	}
	// The details carry the field the cloud named and its own text (the API shows it beside the
	// stable business code: error.cloudMessage).
	details := []any{}
	if ce.Field != "" || ce.Code != "" {
		d := map[string]string{}
		if ce.Field != "" {
			d["field"] = ce.Field
		}
		if ce.Code != "" && ce.Message != "" {
			d["message"] = ce.Message
		}
		details = append(details, d)
	}
	msg := ce.Error()
	if e != nil && e.TaxNo != enterprises.AnyTaxNo { // a registry of one needs no name
		msg = e.Label() + ": " + msg
	}
	if !ce.Retryable {
		return temporal.NewNonRetryableApplicationError(msg, ErrorTypePrefix+code, nil, details...)
	}
	return temporal.NewApplicationError(msg, ErrorTypePrefix+code, details...)
}

// ErrorTypePrefix starts the ApplicationError type of every cloud failure ("InvoiceCloud.1301").
const ErrorTypePrefix = "InvoiceCloud."
