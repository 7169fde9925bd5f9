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
		{"context deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 503, CodeUnavailable},
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
