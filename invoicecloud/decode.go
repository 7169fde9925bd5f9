package invoicecloud

import (
	"bytes"
	"encoding/json"
	"errors"

	"rimflow/invoicecloud/flex"
)

// Poll answer codes (standard-edition shape, [assumed] for the ultimate edition).
const (
	PollCodeOK     = "0000"
	PollCodeNoData = "1307"
)

// DecodeMessage decodes one socket payload {"invoiceData":[…],"attachData":[…]} (the same shape
// the ERP forwards from a browser socket). It fails only when b is not a JSON object (or a JSON
// string holding one, as some gateways double-encode); entries that are not objects are skipped,
// and a message without invoices (a handshake answer) decodes to an empty Message.
func DecodeMessage(b []byte) (Message, error) {
	b = unquoteJSON(bytes.TrimSpace(b))
	if len(b) == 0 || b[0] != '{' {
		return Message{}, errors.New("invoicecloud: a message must be a JSON object")
	}
	var env struct {
		InvoiceData json.RawMessage `json:"invoiceData"`
		AttachData  json.RawMessage `json:"attachData"`
		MsgID       flex.String     `json:"msgId"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return Message{}, errors.New("invoicecloud: a message must be a JSON object: " + err.Error())
	}
	return Message{
		InvoiceData: decodeInvoices(env.InvoiceData),
		AttachData:  decodeAttaches(env.AttachData),
		MsgID:       string(env.MsgID),
	}, nil
}

// decodeInvoices decodes an array (or a JSON string holding one) of invoice objects, skipping
// entries that are not objects.
func decodeInvoices(raw json.RawMessage) []Invoice {
	var items []json.RawMessage
	if json.Unmarshal(unquoteJSON(bytes.TrimSpace(raw)), &items) != nil {
		return nil
	}
	out := make([]Invoice, 0, len(items))
	for _, it := range items {
		var inv Invoice
		if inv.UnmarshalJSON(it) == nil {
			out = append(out, inv)
		}
	}
	return out
}

func decodeAttaches(raw json.RawMessage) []Attach {
	var items []json.RawMessage
	if json.Unmarshal(unquoteJSON(bytes.TrimSpace(raw)), &items) != nil {
		return nil
	}
	var out []Attach
	for _, it := range items {
		var w struct {
			AttachURL  flex.String `json:"attachUrl"`
			AttachType flex.String `json:"attachType"`
			AttachNo   flex.String `json:"attachNo"`
			AttachName flex.String `json:"attachName"`
		}
		if b := bytes.TrimSpace(it); len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &w) == nil {
			out = append(out, Attach{AttachURL: string(w.AttachURL), AttachType: string(w.AttachType),
				AttachNo: string(w.AttachNo), AttachName: string(w.AttachName)})
		}
	}
	return out
}

// unquoteJSON returns the content of a JSON string literal that itself holds JSON; other input
// is returned unchanged.
func unquoteJSON(b []byte) []byte {
	if len(b) == 0 || b[0] != '"' {
		return b
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		return b
	}
	return bytes.TrimSpace([]byte(s))
}

// DecodePoll decodes a long-poll answer: (nil, nil) for errcode 1307 (nothing arrived), the
// invoices normalised to a Message (Via "poll", MsgID for the receipt) for 0000, an *Error for
// any other code. The invoices sit at data.data.data.data in the standard edition's shape.
func DecodePoll(b []byte) (*Message, error) {
	var env struct {
		Errcode     flex.String     `json:"errcode"`
		ErrorCode   flex.String     `json:"errorCode"`
		Description flex.String     `json:"description"`
		Message     flex.String     `json:"message"`
		Data        json.RawMessage `json:"data"`
	}
	b = unquoteJSON(bytes.TrimSpace(b))
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &env) != nil {
		// A proxy page or a cut-off answer: the next poll will likely be fine.
		return nil, &Error{MessageType: "poll", Message: "answer is not the poll shape", Retryable: true}
	}
	code := string(flex.First(env.Errcode, env.ErrorCode))
	switch code {
	case PollCodeNoData:
		return nil, nil
	case PollCodeOK:
	default:
		msg := string(flex.First(env.Description, env.Message))
		if msg == "" {
			msg = "poll refused"
		}
		return nil, &Error{MessageType: "poll", Code: code, Message: Redact(msg)}
	}
	// Walk data → data → data → data one level at a time, so an odd shape at one level
	// (a string, null) yields an empty message instead of an error.
	var outer struct {
		MsgID flex.String     `json:"msgId"`
		Data  json.RawMessage `json:"data"`
	}
	var event struct {
		EventType flex.String     `json:"eventType"`
		Data      json.RawMessage `json:"data"`
	}
	var payload struct {
		Data       json.RawMessage `json:"data"`
		AttachData json.RawMessage `json:"attachData"`
	}
	_ = json.Unmarshal(unquoteJSON(bytes.TrimSpace(env.Data)), &outer)
	_ = json.Unmarshal(unquoteJSON(bytes.TrimSpace(outer.Data)), &event)
	_ = json.Unmarshal(unquoteJSON(bytes.TrimSpace(event.Data)), &payload)
	return &Message{
		InvoiceData: decodeInvoices(payload.Data),
		AttachData:  decodeAttaches(payload.AttachData),
		MsgID:       string(outer.MsgID),
		Via:         "poll",
	}, nil
}
