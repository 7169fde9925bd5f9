// Package flex holds the JSON scalar types that read the cloud's answers whatever type a field
// arrives as. The cloud is inconsistent: codes, flags, amounts and timestamps arrive as strings in
// one answer and numbers in the next. These types accept either and never fail, so one odd field
// cannot make a whole delivery undecodable (the raw bytes are kept elsewhere). Every edition's
// client decodes its answers with them.
package flex

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/shopspring/decimal"
)

// String accepts a string, number or boolean and keeps its text; anything else is "".
type String string

func (f *String) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if json.Unmarshal(b, &s) == nil {
			*f = String(s)
		}
	case 't', 'f':
		*f = String(b) // true / false
	case 'n', '{', '[':
		// null, objects and arrays carry no scalar value
	default:
		*f = String(b) // a number: keep its literal text (0.13 stays "0.13")
	}
	return nil
}

// First is the first non-empty value ("" when all are).
func First(v ...String) String {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// Bool accepts true/false, "true"/"false", 1/0 and "1"/"0".
type Bool bool

func (f *Bool) UnmarshalJSON(b []byte) error {
	var s String
	_ = s.UnmarshalJSON(b)
	v, err := strconv.ParseBool(string(s))
	*f = Bool(err == nil && v)
	return nil
}

// Int accepts an integer as a number or a string (e.g. ms epochs); otherwise 0.
type Int int64

func (f *Int) UnmarshalJSON(b []byte) error {
	var s String
	_ = s.UnmarshalJSON(b)
	if v, err := strconv.ParseInt(string(s), 10, 64); err == nil {
		*f = Int(v)
	} else if d, err := decimal.NewFromString(string(s)); err == nil && d.Exponent() >= -maxAmountExponent && d.Exponent() <= maxAmountExponent {
		*f = Int(d.IntPart())
	}
	return nil
}

// Decimal accepts an amount as a number or a string; "", null and garbage leave it nil.
type Decimal struct{ d *decimal.Decimal }

// Value is the amount read (nil when there was none).
func (f Decimal) Value() *decimal.Decimal { return f.d }

func (f *Decimal) UnmarshalJSON(b []byte) error {
	var s String
	_ = s.UnmarshalJSON(b)
	if s == "" {
		return nil
	}
	d, err := decimal.NewFromString(string(s))
	// An absurd exponent ("1e999999999") is not money and would explode when printed.
	if err == nil && d.Exponent() >= -maxAmountExponent && d.Exponent() <= maxAmountExponent {
		f.d = &d
	}
	return nil
}

const maxAmountExponent = 40
