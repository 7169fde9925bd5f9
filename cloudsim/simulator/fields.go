package simulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// apiError is a business answer that is not success: errorCode, message, and the field at fault.
type apiError struct {
	code  string
	field string
	msg   string
}

func (e *apiError) Error() string { return e.msg }

func badParam(field, reason string) *apiError {
	return &apiError{code: codeBadParam, field: field, msg: field + ": " + reason}
}

func businessError(code, field, msg string) *apiError {
	if field != "" {
		msg = field + ": " + msg
	}
	return &apiError{code: code, field: field, msg: msg}
}

// fields reads a JSON object field by field so every error names its path (e.g. invoiceData[2].serialNo).
type fields struct {
	prefix string
	m      map[string]json.RawMessage
}

func parseFields(prefix string, raw json.RawMessage) (fields, *apiError) {
	f := fields{prefix: prefix}
	name := prefix
	if name == "" {
		name = "data"
	}
	if len(raw) == 0 || string(raw) == "null" {
		return f, badParam(name, "必填 (required object)")
	}
	if err := json.Unmarshal(raw, &f.m); err != nil {
		return f, badParam(name, "must be a JSON object")
	}
	return f, nil
}

func (f fields) path(name string) string {
	if f.prefix == "" {
		return name
	}
	return f.prefix + "." + name
}

func (f fields) has(name string) bool {
	v, ok := f.m[name]
	return ok && string(v) != "null"
}

// str reads a string (a number is accepted as written); required means non-empty.
func (f fields) str(name string, required bool, maxLen int) (string, *apiError) {
	v, ok := f.m[name]
	if !ok || string(v) == "null" {
		if required {
			reason := "必填 (required)"
			if _, spaced := f.m[name+" "]; spaced {
				reason += fmt.Sprintf(`; the body has the key "%s " with a trailing space`, name)
			}
			return "", badParam(f.path(name), reason)
		}
		return "", nil
	}
	var s flexString
	if err := json.Unmarshal(v, &s); err != nil {
		return "", badParam(f.path(name), "must be a string")
	}
	out := s.trim()
	if required && out == "" {
		return "", badParam(f.path(name), "必填，不能为空 (required)")
	}
	if maxLen > 0 && utf8.RuneCountInString(out) > maxLen {
		return "", badParam(f.path(name), fmt.Sprintf("最长%d位 (at most %d characters)", maxLen, maxLen))
	}
	return out, nil
}

func (f fields) oneOf(name string, required bool, allowed ...string) (string, *apiError) {
	v, err := f.str(name, required, 0)
	if err != nil || v == "" {
		return v, err
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", badParam(f.path(name), "must be one of "+strings.Join(allowed, ", "))
}

// dec reads an optional non-negative decimal (string or number).
func (f fields) dec(name string) (*decimal.Decimal, *apiError) {
	v, ok := f.m[name]
	if !ok || string(v) == "null" || string(v) == `""` {
		return nil, nil
	}
	var d decimal.Decimal
	if err := d.UnmarshalJSON(v); err != nil {
		return nil, badParam(f.path(name), "must be a decimal amount")
	}
	if reason := moneyProblem(d); reason != "" {
		return nil, badParam(f.path(name), reason)
	}
	if d.IsNegative() {
		return nil, badParam(f.path(name), "must not be negative")
	}
	return &d, nil
}

var maxMoney = decimal.New(1, 15)

// moneyProblem checks an amount: at most two decimals (trailing zeros aside) and below 10^15.
// The exponent is checked first so hostile input such as 1e999999999 never gets expanded.
func moneyProblem(d decimal.Decimal) string {
	if e := d.Exponent(); e < -20 || e > 20 {
		return "out of range for an amount"
	}
	if d.Abs().GreaterThanOrEqual(maxMoney) {
		return "too large for an amount"
	}
	if !d.Equal(d.Round(2)) {
		return "at most two decimals"
	}
	return ""
}

func (f fields) obj(name string) (fields, bool, *apiError) {
	if !f.has(name) {
		return fields{}, false, nil
	}
	sub, err := parseFields(f.path(name), f.m[name])
	return sub, true, err
}

// requiredObj reads a nested object that must be there.
func (f fields) requiredObj(name string) (fields, *apiError) {
	if !f.has(name) {
		return fields{}, badParam(f.path(name), "必填 (required object)")
	}
	return parseFields(f.path(name), f.m[name])
}

// list reads an array of objects; required means the key must be present (it may be empty).
func (f fields) list(name string, required bool) ([]fields, *apiError) {
	if !f.has(name) {
		if required {
			return nil, badParam(f.path(name), "必填 (required array)")
		}
		return nil, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(f.m[name], &raws); err != nil {
		return nil, badParam(f.path(name), "must be an array")
	}
	out := make([]fields, 0, len(raws))
	for i, raw := range raws {
		sub, err := parseFields(fmt.Sprintf("%s[%d]", f.path(name), i), raw)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, nil
}

// strList reads a required non-empty array of non-empty strings.
func (f fields) strList(name string) ([]string, *apiError) {
	if !f.has(name) {
		return nil, badParam(f.path(name), "必填 (required array)")
	}
	var raws []flexString
	if err := json.Unmarshal(f.m[name], &raws); err != nil {
		return nil, badParam(f.path(name), "must be an array of strings")
	}
	if len(raws) == 0 {
		return nil, badParam(f.path(name), "must not be empty")
	}
	out := make([]string, 0, len(raws))
	for i, r := range raws {
		if r.trim() == "" {
			return nil, badParam(fmt.Sprintf("%s[%d]", f.path(name), i), "must not be empty")
		}
		out = append(out, r.trim())
	}
	return out, nil
}
