package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rimflow/workflows"
)

func TestErrorFromMapsEveryKind(t *testing.T) {
	cloud := temporal.NewNonRetryableApplicationError("billSave: invoice already bound", "InvoiceCloud.1102", nil)
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"api error kept", ValidationFailed(map[string]string{"billId": "required"}), 400, CodeValidation},
		{"workflow validation", &workflows.ValidationError{Fields: map[string]string{"role": "unknown"}}, 400, CodeValidation},
		{"validator rejection", temporal.NewApplicationError("bill is awaiting_finance, not awaiting_supervisor", "Rejected"), 409, CodeConflict},
		{"plain go error from a validator", temporal.NewApplicationError("already decided", ""), 409, CodeConflict},
		{"cloud refusal", cloud, 502, CodeCloudRefused},
		{"cloud refusal under an update failure", temporal.NewApplicationErrorWithCause("update failed", "UpdateFailed", cloud), 502, CodeCloudRefused},
		{"cloud refusal wrapped", fmt.Errorf("approve: %w", cloud), 502, CodeCloudRefused},
		{"validation app error with fields", temporal.NewApplicationError("bad voucher", "ValidationError",
			map[string]string{"accountDate": "must be yyyy-MM-dd"}), 400, CodeValidation},
		{"not found", serviceerror.NewNotFound("workflow not found"), 404, CodeNotFound},
		{"already started (closed bill)", serviceerror.NewWorkflowExecutionAlreadyStarted("closed", "", ""), 409, CodeAlreadyFinished},
		{"unavailable", serviceerror.NewUnavailable("connection refused"), 503, CodeUnavailable},
		{"deadline", serviceerror.NewDeadlineExceeded("slow"), 503, CodeUnavailable},
		{"grpc status", status.Error(codes.Unavailable, "no route"), 503, CodeUnavailable},
		{"context deadline: the bill did not answer", fmt.Errorf("query: %w", context.DeadlineExceeded), 504, CodeTimeout},
		{"anything else", errors.New("boom"), 500, CodeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := ErrorFrom(tc.err)
			if e.Status != tc.status || e.Code != tc.code {
				t.Errorf("got %d %s, want %d %s (%s)", e.Status, e.Code, tc.status, tc.code, e.Message)
			}
			if e.Message == "" {
				t.Error("empty message")
			}
		})
	}
	if e := ErrorFrom(temporal.NewApplicationError("bad voucher", "ValidationError",
		map[string]string{"accountDate": "must be yyyy-MM-dd"})); e.Fields["accountDate"] == "" {
		t.Errorf("fields of a ValidationError application error are lost: %v", e.Fields)
	}
	// A ValidationError without details still answers 400, with the message.
	if e := ErrorFrom(temporal.NewApplicationError("invalid input: role: unknown", "ValidationError")); e.Status != 400 {
		t.Errorf("a ValidationError without details: %d", e.Status)
	}
	if e := ErrorFrom(errors.New("secret detail")); e.Message != "internal error" || e.Status != http.StatusInternalServerError {
		t.Errorf("an unknown error leaks its text: %q", e.Message)
	}
}

// Every refusal the bill's validators make today gets its sub-code; a typed refusal
// ("Conflict.<sub>") names its own.
func TestConflictSubCodes(t *testing.T) {
	for msg, want := range map[string]string{
		"the bill is in stage collecting, not awaiting supervisor":                                    SubWrongStage,
		"the bill is awaiting finance, not supervisor":                                                SubWrongStage,
		"not applied: the bill moved on to stage awaiting_finance":                                    SubWrongStage,
		"the bill is in stage collecting, not failed: there is nothing to retry":                      SubWrongStage,
		"supervisor has already decided in this round (approve by a at 2026-01-01T00:00:00Z)":         SubAlreadyDecided,
		"the voucher 记-1 is already saved":                                                            SubAlreadyDecided,
		"a decision for finance is already being applied":                                             SubInProgress,
		"the bill is already being submitted":                                                         SubInProgress,
		"the bill has ended (completed)":                                                              SubFinished,
		"the bill is failed (step bindInvoices: refused); retry or cancel it first":                   SubBillFailed,
		"the voucher is saved (or being saved): a bill cannot be cancelled after its voucher":         SubVoucherSaved,
		"no invoice is bound to the bill yet: collect invoices before submitting":                     SubNoInvoices,
		"the submitter may not approve their own bill: \"u1\" submitted this bill (segregation of …)": SubPolicy,
		"something new": SubRefused,
	} {
		e := ErrorFrom(temporal.NewApplicationError(msg, "*errors.errorString"))
		if e.Status != 409 || e.SubCode != want {
			t.Errorf("%q: %d %s, want 409 %s", msg, e.Status, e.SubCode, want)
		}
		if want == SubFinished && e.Code != CodeAlreadyFinished || want != SubFinished && e.Code != CodeConflict {
			t.Errorf("%q: code %s", msg, e.Code)
		}
	}
	if e := ErrorFrom(temporal.NewApplicationError("whatever the text", "Conflict.in_progress")); e.SubCode != SubInProgress {
		t.Errorf("typed refusal: %s", e.SubCode)
	}
}

// A cloud refusal answers the cloud's code, the step and the field as data, not only in the text.
func TestCloudRefusalFields(t *testing.T) {
	err := temporal.NewNonRetryableApplicationError("bindInvoices failed: billSave: invoiceData[0].serialNo: bound to another bill (code 2003)",
		"InvoiceCloud.2003", nil, map[string]string{"field": "invoiceData[0].serialNo"})
	e := ErrorFrom(err)
	if e.Status != 502 || e.CloudCode != "2003" || e.Field != "invoiceData[0].serialNo" || e.Step != "bindInvoices" {
		t.Errorf("got %+v", e)
	}
}
