package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"rimflow/workflows"
)

// MaxBodyBytes caps every request body: bills and forwarded invoice payloads are far smaller.
const MaxBodyBytes = 1 << 20

// DecodeStart turns a POST /v1/bills body into a normalised, validated BillInput. It is pure
// (no Temporal call), so the HTTP handler, the CLI and the fuzz target share it; a non-nil
// *Error means nothing may be started.
func DecodeStart(body []byte) (workflows.BillInput, *Error) {
	var in workflows.BillInput
	if err := decodeStrict(body, &in); err != nil {
		return workflows.BillInput{}, err
	}
	if err := checkBill(&in); err != nil {
		return workflows.BillInput{}, err
	}
	return in, nil
}

// checkBill applies the workflow's own normalisation and a new bill's rules
// (workflows.BillInput.ValidateAtStart), so the API refuses what the workflow or the cloud would
// refuse, naming the field, before anything starts.
func checkBill(in *workflows.BillInput) *Error {
	in.Normalize()
	if verr := in.ValidateAtStart(); verr != nil && len(verr.Fields) > 0 {
		return ValidationFailed(verr.Fields)
	}
	return nil
}

// DecodeJSON strictly decodes one JSON value (unknown fields and trailing data refused, the
// offending field named): the rule for every request body, shared with the CLI's --file.
func DecodeJSON(body []byte, v any) *Error { return decodeStrict(body, v) }

// decodeStrict decodes one JSON value, refusing unknown fields and trailing data, and names the
// offending field in the error.
func decodeStrict(body []byte, v any) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "request body is empty",
			Fields: map[string]string{"body": "required"}}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
			Message: "request body has data after the JSON value",
			Fields:  map[string]string{"body": "must be a single JSON value"}}
	}
	return nil
}

// jsonError explains a decode failure with the field it concerns.
func jsonError(err error) *Error {
	bad := func(field, problem, msg string) *Error {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: msg,
			Fields: map[string]string{field: problem}}
	}
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return bad("body", "invalid JSON", fmt.Sprintf("invalid JSON at byte %d: %s", syntax.Offset, syntax.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("body", "invalid JSON", "invalid JSON: the body ends too early")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return bad(field, "must be "+jsonKind(typeErr.Type.Kind().String()),
			fmt.Sprintf("field %s: a JSON %s cannot go here", field, typeErr.Value))
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return bad(name, "unknown field", fmt.Sprintf("unknown field %q", name))
	}
	// A field's own decoder refused the value (durations, amounts): its message says why.
	return bad("body", msg, "invalid value: "+msg)
}

func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64", "float32":
		return "a number"
	}
	return "a " + kind
}

// readBody reads a request body up to MaxBodyBytes.
func readBody(r *http.Request) ([]byte, *Error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
				Message: fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes),
				Fields:  map[string]string{"body": "too large"}}
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "could not read the request body"}
	}
	return b, nil
}

// decodeBody reads and strictly decodes an optional body: an empty body leaves v as is.
func decodeBody(r *http.Request, v any, required bool) *Error {
	b, e := readBody(r)
	if e != nil {
		return e
	}
	if !required && len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decodeStrict(b, v)
}
