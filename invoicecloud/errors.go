package invoicecloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
)

// Error is the one error type every call returns for remote or validation failures.
// Use errors.As to get it; Retryable says whether the same request may succeed later.
type Error struct {
	MessageType string // getEventCode, billSave, auth, poll, ...
	HTTPStatus  int
	Code        string // the cloud's errorCode / errcode / error_code
	Message     string
	Field       string // for validation and configuration errors: the offending field
	Retryable   bool

	// cause is kept only for context errors, so errors.Is(err, context.Canceled) works;
	// transport errors are flattened into Message (redacted) because they carry URLs.
	cause error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.MessageType)
	b.WriteString(": ")
	if e.Field != "" && !strings.HasPrefix(e.Message, e.Field+": ") {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Code != "" {
		b.WriteString(" (code ")
		b.WriteString(e.Code)
		b.WriteString(")")
	}
	if e.HTTPStatus != 0 && e.HTTPStatus/100 != 2 {
		fmt.Fprintf(&b, " [HTTP %d]", e.HTTPStatus)
	}
	return b.String()
}

// Unwrap exposes context.Canceled / context.DeadlineExceeded when a call ended with its context.
func (e *Error) Unwrap() error { return e.cause }

// IsRetryable reports whether err is an *Error marked retryable (false for any other error).
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// FieldError is a validation or configuration failure: never retryable, never sent.
func FieldError(messageType, field, format string, args ...any) *Error {
	return &Error{MessageType: messageType, Field: field, Message: fmt.Sprintf(format, args...)}
}

// transportError wraps a failure to get any HTTP answer. The text is redacted because
// net/http and resty put the full URL (with ?access_token=) into their errors.
func transportError(messageType string, err error) *Error {
	e := &Error{MessageType: messageType, Retryable: true, Message: Redact(err.Error())}
	switch {
	case errors.Is(err, context.Canceled):
		// The caller gave up; retrying is the caller's decision, not ours.
		e.Retryable, e.cause, e.Message = false, context.Canceled, "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		e.cause, e.Message = context.DeadlineExceeded, "timed out: "+e.Message
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			e.Message = "timed out: " + e.Message
		}
	}
	return e
}

// httpRetryable: 5xx, 429 and 408 are the cloud's (or a gateway's) way of saying "later".
func httpRetryable(status int) bool { return status >= 500 || status == 429 || status == 408 }

var (
	redactQuery = regexp.MustCompile(`(?i)([?&;](?:access_?token|app_?token|refresh_token|token|key|client_secret|appsecuret|appsecret|sign|encrypt_?key)=)[^&#\s"'<>]*`)
	redactJSON  = regexp.MustCompile(`(?i)("(?:access_?token|app_?token|refresh_token|token|client_secret|appsecuret|appsecret|sign|encrypt_?key)"\s*:\s*)"(?:[^"\\]|\\.)*"`)
	redactHead  = regexp.MustCompile(`(?i)(\b(?:access_?token|authorization)\s*[:=]\s*)(?:bearer\s+)?[^\s,;"'&]+`)
)

// Redact removes secrets from a string meant for a log line or an error: the values of
// access_token/token/key (and other credential: secrets, sign, encrypt_key) query parameters, JSON
// fields and headers.
func Redact(s string) string {
	s = redactQuery.ReplaceAllString(s, "${1}REDACTED")
	s = redactJSON.ReplaceAllString(s, `${1}"REDACTED"`)
	s = redactHead.ReplaceAllString(s, "${1}REDACTED")
	return s
}
