package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// MaxBodyBytes caps every request body: bills and forwarded invoice payloads are far smaller.
const MaxBodyBytes = 1 << 20

// MaxImagesBodyBytes caps the images route's body instead: the submitter's images (at most
// invoicecloud.CeilingLimits.UploadBytes of files, a third more as Base64) fit, and a body well above that
// limit still reaches the check that names uploads.
const MaxImagesBodyBytes = 8 << 20

// DecodeStart turns a POST /v1/bills body into a validated BillInput. It is pure (no Temporal
// call), so the HTTP handler, the CLI and the fuzz target share it; a non-nil *Error means nothing
// may be started. The bill's own fields come back normalised; its options come back as the caller
// asked for them (validated once normalised), because the policy decides at Bills.Start which of
// them the caller may choose, and a default filled in here would look like a choice. The body may
// not carry `policy` or `limits`: the server sets them. The bounds an enterprise may set
// (invoicecloud.Limits) are checked at the ceiling here and at the enterprise's own in Bills.Start.
func DecodeStart(body []byte) (workflows.BillInput, *Error) {
	if e := refuseServerFields(body, "policy", "limits"); e != nil {
		return workflows.BillInput{}, e
	}
	var in workflows.BillInput
	if err := decodeStrict(body, &in); err != nil {
		return workflows.BillInput{}, err
	}
	requested := in.Options
	requested.Approvals = slices.Clone(in.Options.Approvals) // Normalize lower-cases in place
	ceiling := invoicecloud.CeilingLimits
	in.Limits = &ceiling
	if err := checkBill(&in); err != nil {
		return workflows.BillInput{}, err
	}
	in.Options, in.Policy, in.Limits = requested, nil, nil
	return in, nil
}

// checkDigits names every tax number of the bill (already upper-cased) whose GB 32100 check
// character does not verify, unless the field is named already. The API checks it, not the
// workflow: a bill started or amended before this check still replays.
func checkDigits(in workflows.BillInput, fields map[string]string) {
	set := func(name, taxNo string) {
		if _, bad := fields[name]; !bad {
			if p := invoicecloud.CreditCodeProblem(taxNo); p != "" {
				fields[name] = p
			}
		}
	}
	set("billTaxNo", in.BillTaxNo)
	for i, c := range in.CompanyInfo {
		set(fmt.Sprintf("companyInfo[%d].taxNo", i), c.TaxNo)
	}
}

// checkBill applies the workflow's own normalisation and a new bill's rules
// (workflows.BillInput.ValidateAtStart), so the API refuses what the workflow or the cloud would
// refuse, naming the field, before anything starts; and what Temporal's visibility could not
// store: the workflow ID and the keyword search attributes set at start fit in MaxIDLen bytes.
func checkBill(in *workflows.BillInput) *Error {
	in.Normalize()
	fields := map[string]string{}
	if verr := in.ValidateAtStart(); verr != nil {
		fields = verr.Fields
	}
	checkDigits(*in, fields)
	if _, bad := fields["billId"]; !bad && in.Resource != "" {
		if n := len(workflows.BillWorkflowID(in.Resource, in.BillID)); n > MaxIDLen {
			fields["billId"] = idTooLong(n)
		}
	}
	// The bill's userId is its submitter to segregation of duties: no invisible character may make
	// it look like another person's id.
	if _, bad := fields["userId"]; !bad {
		if p := workflows.UserIDProblem(in.UserID); p != "" {
			fields["userId"] = p
		}
	}
	for name, v := range map[string]string{"billNo": in.BillNo, "billTaxNo": in.BillTaxNo, "userId": in.UserID} {
		if _, bad := fields[name]; !bad && len(v) > MaxIDLen {
			fields[name] = fmt.Sprintf("at most %d bytes (what Temporal's visibility stores), got %d", MaxIDLen, len(v))
		}
	}
	if len(fields) > 0 {
		return ValidationFailed(fields)
	}
	return nil
}

func idTooLong(n int) string {
	return fmt.Sprintf("too long: the workflow ID bill:<resource>:<billId> would be %d bytes, at most %d (what Temporal's visibility stores)", n, MaxIDLen)
}

// refuseServerFields refuses a body whose top-level object carries a field only the server sets
// (in any letter case: JSON decoding matches names without regard to case). Naming it is clearer
// than letting it through to be overwritten.
func refuseServerFields(body []byte, names ...string) *Error {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return nil // not an object: decodeStrict says what is wrong
	}
	fields := map[string]string{}
	for k := range top {
		for _, n := range names {
			if strings.EqualFold(k, n) {
				fields[k] = serverSets(n)
			}
		}
	}
	if len(fields) > 0 {
		return ValidationFailed(fields)
	}
	return nil
}

// serverSets explains a field a request may not carry.
func serverSets(what string) string {
	switch what {
	case "actor":
		return "set by the server (the authenticated client and the " + HeaderActingUser + " header); a request may not carry it"
	case "policy":
		return "set by the server from its policy file; a request may not carry it"
	case "limits":
		return "set by the server from the bill's enterprise (its limits in the enterprises file); a request may not carry it"
	}
	return "set by the server from " + what + "; a request may not carry it"
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
	if e := checkUTF8(body); e != nil {
		return e
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		e := jsonError(err)
		if path := locate(reflect.TypeOf(v).Elem(), body, ""); path != "" {
			e.renameField(path)
		}
		return e
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
			Message: "request body has data after the JSON value",
			Fields:  map[string]string{"body": "must be a single JSON value"}}
	}
	return nil
}

// renameField names the field a decode error is about by its whole path (options.approval,
// companyInfo[0].address, amounts.123): encoding/json names an unknown field by its own name only
// and a field's own decoder (durations, amounts) not at all.
func (e *Error) renameField(path string) {
	if len(e.Fields) != 1 {
		return
	}
	for old, problem := range e.Fields {
		if old == path {
			return
		}
		delete(e.Fields, old)
		e.Fields[path] = problem
		if old == "body" {
			e.Message = "field " + path + ": " + e.Message
		} else {
			e.Message = strings.Replace(e.Message, strconv.Quote(old), strconv.Quote(path), 1)
		}
	}
}

// locate finds the deepest value of raw that does not decode strictly into t, by its JSON path
// ("" when raw decodes, or when the problem is raw itself at the top). It decodes each member
// on its own, so it is only called once a decode failed.
func locate(t reflect.Type, raw []byte, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if strictDecodes(t, raw) {
		return ""
	}
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	switch t.Kind() {
	case reflect.Struct:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return path
		}
		fields := jsonMembers(t)
		for _, name := range sortedNames(members) {
			ft, known := fields[strings.ToLower(name)]
			if !known {
				return join(name)
			}
			if p := locate(ft, members[name], join(name)); p != "" {
				return p
			}
		}
	case reflect.Map:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return path
		}
		for _, name := range sortedNames(members) {
			if p := locate(t.Elem(), members[name], join(name)); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return path
		}
		for i, item := range items {
			if p := locate(t.Elem(), item, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return path
}

func strictDecodes(t reflect.Type, raw []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(reflect.New(t).Interface()) == nil
}

func sortedNames(m map[string]json.RawMessage) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// jsonMembers are a struct's JSON members by lower-cased name (encoding/json matches names
// without regard to case), embedded structs flattened.
func jsonMembers(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonMembers(ft) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[strings.ToLower(name)] = f.Type
	}
	return out
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

// readBody reads a request body up to its route's limit (MaxBodyBytes).
func readBody(r *http.Request) ([]byte, *Error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
				Message: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit),
				Fields:  map[string]string{"body": "too large"}}
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "could not read the request body"}
	}
	if e := checkUTF8(b); e != nil {
		return nil, e
	}
	return b, nil
}

// checkUTF8 refuses a body that is not UTF-8 (JSON's only encoding between systems, RFC 8259 §8.1):
// Go's decoder would turn each bad byte into U+FFFD and a GBK-encoded 差旅 would reach the cloud as
// "����". The error names the encoding and the first bad byte.
func checkUTF8(b []byte) *Error {
	if utf8.Valid(b) {
		return nil
	}
	at := 0
	for at < len(b) {
		r, n := utf8.DecodeRune(b[at:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		at += n
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
		Message: fmt.Sprintf("request body is not UTF-8 (invalid byte 0x%02x at byte %d): send JSON encoded in UTF-8, not GBK or another encoding", b[at], at),
		Fields:  map[string]string{"body": fmt.Sprintf("must be UTF-8 encoded: invalid byte at %d", at)}}
}

// decodeBody reads and strictly decodes an optional body: an empty body leaves v as is. A
// decision's body may not carry `actor`: the server sets it.
func decodeBody(r *http.Request, v any, required bool) *Error {
	b, e := readBody(r)
	if e != nil {
		return e
	}
	if !required && len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return DecodeDecision(b, v)
}

// DecodeDecision strictly decodes a decision's body (approve, submit, voucher…), refusing `actor`,
// which the server sets: the HTTP routes and the CLI's --file share it.
func DecodeDecision(body []byte, v any) *Error {
	if e := refuseServerFields(body, "actor"); e != nil {
		return e
	}
	return decodeStrict(body, v)
}
