package invoicecloud

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/shopspring/decimal"
)

// The cloud is inconsistent about JSON types: codes, flags, amounts and timestamps arrive as
// strings in one answer and numbers in the next. These types accept either and never fail,
// so one odd field cannot make a whole delivery undecodable (the raw bytes are kept elsewhere).

// flexString accepts a string, number or boolean and keeps its text; anything else is "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if json.Unmarshal(b, &s) == nil {
			*f = flexString(s)
		}
	case 't', 'f':
		*f = flexString(b) // true / false
	case 'n', '{', '[':
		// null, objects and arrays carry no scalar value
	default:
		*f = flexString(b) // a number: keep its literal text (0.13 stays "0.13")
	}
	return nil
}

// flexBool accepts true/false, "true"/"false", 1/0 and "1"/"0".
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	var s flexString
	_ = s.UnmarshalJSON(b)
	v, err := strconv.ParseBool(string(s))
	*f = flexBool(err == nil && v)
	return nil
}

// flexInt accepts an integer as a number or a string (e.g. ms epochs); otherwise 0.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	_ = s.UnmarshalJSON(b)
	if v, err := strconv.ParseInt(string(s), 10, 64); err == nil {
		*f = flexInt(v)
	} else if d, err := decimal.NewFromString(string(s)); err == nil && d.Exponent() >= -maxAmountExponent && d.Exponent() <= maxAmountExponent {
		*f = flexInt(d.IntPart())
	}
	return nil
}

// flexDecimal accepts an amount as a number or a string; "", null and garbage leave it nil.
type flexDecimal struct{ d *decimal.Decimal }

func (f *flexDecimal) UnmarshalJSON(b []byte) error {
	var s flexString
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
