package invoicecloud

import (
	"encoding/json"
	"errors"
	"slices"

	"rimflow/invoicecloud/flex"
)

// ErrNotJSON is the error of an answer that does not decode: usually a wrong baseURL or path.
func ErrNotJSON(name string, status int) *Error {
	return &Error{MessageType: name, HTTPStatus: status, Message: "answer is not JSON (check baseURL and paths)"}
}

// BusinessAnswer is a 2xx business answer reduced to what every envelope says (the ultimate
// edition's {success, errorCode, message, data}, the standard edition's {errcode, description, data}).
type BusinessAnswer struct {
	OK        bool
	Code, Msg string
	Data      json.RawMessage
}

// Result is nil (out decoded from Data) for a success, else a non-retryable business refusal:
// the same request will be refused again. Its Field is the configuration field fieldOf (may be
// nil) knows for the code, else the field the answer's data names (encryptKey, not encrypt_key).
func (a BusinessAnswer) Result(name string, status int, out any, fieldOf map[string]string) error {
	if !a.OK {
		msg := a.Msg
		if msg == "" {
			msg = "refused by Invoice Cloud"
		}
		field := fieldOf[a.Code]
		if field == "" {
			field = answerField(a.Data)
		}
		return &Error{MessageType: name, HTTPStatus: status, Code: a.Code, Message: Redact(msg), Field: field}
	}
	if out != nil && len(a.Data) > 0 && string(a.Data) != "null" {
		if err := json.Unmarshal(a.Data, out); err != nil {
			return &Error{MessageType: name, HTTPStatus: status, Message: "cannot decode answer data: " + err.Error()}
		}
	}
	return nil
}

// answerField reads the field a refusal is about when the answer's data names one
// ({"field":"invoiceData[0].serialNo"}, as the simulator does); "" otherwise.
func answerField(data json.RawMessage) string {
	var d struct {
		Field flex.String `json:"field"`
	}
	_ = json.Unmarshal(data, &d)
	return string(d.Field)
}

// NothingBoundIsDone: an unbind the cloud answers "nothing bound to that bill" (one of codes) has
// nothing left to do, which is what the caller wanted.
func NothingBoundIsDone(err error, codes []string) error {
	var e *Error
	if errors.As(err, &e) && !e.Retryable && slices.Contains(codes, e.Code) {
		return nil
	}
	return err
}
