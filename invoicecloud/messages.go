package invoicecloud

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// messageAnswer is the envelope of /kapi/app/rim/message.
type messageAnswer struct {
	Data      json.RawMessage `json:"data"`
	Success   flexString      `json:"success"` // "true" | "false" (sometimes a JSON boolean)
	ErrorCode flexString      `json:"errorCode"`
	Message   flexString      `json:"message"`
}

// message posts {messageType, messageId, data} and decodes the answer's data into out (may be nil).
func (c *Client) message(ctx context.Context, messageType, messageID string, data, out any) error {
	body := struct {
		MessageType string `json:"messageType"`
		MessageID   string `json:"messageId"`
		Data        any    `json:"data"`
	}{messageType, messageID, data}
	return c.kapi(ctx, messageType, c.cfg.Paths.Message, body, out)
}

// roundTrip performs r with the access token and hands the answer to decode; Observe gets the
// business outcome (token trouble is observed by authorized).
func (c *Client) roundTrip(ctx context.Context, r request, queryToken bool, decode func(status int, b []byte) error) error {
	start := time.Now()
	status, b, err := c.authorized(ctx, r, queryToken)
	if err != nil {
		return err
	}
	err = decode(status, b)
	c.observe(r.name, start, err)
	return err
}

func decodeMessageAnswer(messageType string, status int, b []byte, out any) error {
	if status/100 != 2 {
		return statusError(messageType, status, b)
	}
	var a messageAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return errNotJSON(messageType, status)
	}
	ok := strings.EqualFold(string(a.Success), "true") && (a.ErrorCode == "" || a.ErrorCode == "0000" || a.ErrorCode == "0")
	return businessAnswer{ok: ok, code: string(a.ErrorCode), msg: string(a.Message), data: a.Data}.result(messageType, status, out, nil)
}

func errNotJSON(name string, status int) *Error {
	return &Error{MessageType: name, HTTPStatus: status, Message: "answer is not JSON (check baseURL and paths)"}
}

// businessAnswer is a 2xx business answer reduced to what every envelope says (the ultimate
// edition's {success, errorCode, message, data}, the standard edition's {errcode, description, data}).
type businessAnswer struct {
	ok        bool
	code, msg string
	data      json.RawMessage
}

// result is nil (out decoded from data) for a success, else a non-retryable business refusal:
// the same request will be refused again. Its Field is the configuration field fieldOf (may be
// nil) knows for the code, else the field the answer's data names (encryptKey, not encrypt_key).
func (a businessAnswer) result(name string, status int, out any, fieldOf map[string]string) error {
	if !a.ok {
		msg := a.msg
		if msg == "" {
			msg = "refused by Invoice Cloud"
		}
		field := fieldOf[a.code]
		if field == "" {
			field = answerField(a.data)
		}
		return &Error{MessageType: name, HTTPStatus: status, Code: a.code, Message: Redact(msg), Field: field}
	}
	if out != nil && len(a.data) > 0 && string(a.data) != "null" {
		if err := json.Unmarshal(a.data, out); err != nil {
			return &Error{MessageType: name, HTTPStatus: status, Message: "cannot decode answer data: " + err.Error()}
		}
	}
	return nil
}

// answerField reads the field a refusal is about when the answer's data names one
// ({"field":"invoiceData[0].serialNo"}, as the simulator does); "" otherwise.
func answerField(data json.RawMessage) string {
	var d struct {
		Field flexString `json:"field"`
	}
	_ = json.Unmarshal(data, &d)
	return string(d.Field)
}

// GetEventCode issues the eventCode (valid 10 minutes) that opens the invoice assistant for a bill,
// with the pages it opens.
func (c *Client) GetEventCode(ctx context.Context, messageID string, req EventCodeRequest) (EventCodeResponse, error) {
	mt := c.cfg.MessageTypes.GetEventCode
	if err := validateEventCode(mt, messageID, req); err != nil {
		return EventCodeResponse{}, err
	}
	var out struct {
		EventCode flexString `json:"eventCode"`
	}
	if err := c.message(ctx, mt, messageID, req, &out); err != nil {
		return EventCodeResponse{}, err
	}
	if out.EventCode == "" {
		return EventCodeResponse{}, &Error{MessageType: mt, Message: "answer carries no eventCode", Retryable: true}
	}
	return EventCodeResponse{EventCode: string(out.EventCode), LinkKey: req.LinkKey, Pages: c.Pages(string(out.EventCode)),
		ValidFor: EventCodeLifetime}, nil
}

// Pages builds the invoice-assistant URLs for an eventCode (no remote call).
func (c *Client) Pages(eventCode string) Pages {
	ec := url.QueryEscape(eventCode)
	return Pages{
		CollectPC:     c.base + "/index.html?formId=rim_fpzs_main&eventCode=" + ec,
		CollectMobile: c.base + "/mobile.html?form=rim_mobile_index&eventCode=" + ec,
		ViewPC:        c.base + "/index.html?formId=rim_view_invoice&eventCode=" + ec,
		ViewMobile:    c.base + "/mobile.html?form=rim_invoice_list_mobile&eventCode=" + ec,
	}
}

// BillSave binds invoiceData to the bill with the given status (1 release, 30 in use, 60 used).
func (c *Client) BillSave(ctx context.Context, messageID string, req BillSaveRequest) error {
	mt := c.cfg.MessageTypes.BillSave
	if err := validateBillSave(mt, messageID, req); err != nil {
		return err
	}
	return c.message(ctx, mt, messageID, req, nil)
}

// VoucherSave writes the accounting voucher back to the invoice pool.
func (c *Client) VoucherSave(ctx context.Context, messageID string, req VoucherSaveRequest) error {
	mt := c.cfg.MessageTypes.VoucherSave
	if err := validateVoucherSave(mt, messageID, req); err != nil {
		return err
	}
	return c.message(ctx, mt, messageID, req, nil)
}

// Unbind releases every invoice of the bill ([assumed] messageType billDelete).
func (c *Client) Unbind(ctx context.Context, messageID string, req UnbindRequest) error {
	mt := c.cfg.MessageTypes.Unbind
	if err := validateUnbind(mt, messageID, req); err != nil {
		return err
	}
	return nothingBoundIsDone(c.message(ctx, mt, messageID, req, nil), c.cfg.NothingBoundCodes)
}

// nothingBoundIsDone: an unbind the cloud answers "nothing bound to that bill" has nothing left to
// do, which is what the caller wanted.
func nothingBoundIsDone(err error, codes []string) error {
	var e *Error
	if errors.As(err, &e) && !e.Retryable && slices.Contains(codes, e.Code) {
		return nil
	}
	return err
}

// Deduction selects (authenticateFlag 1) or unselects (0) invoices for input-VAT deduction.
func (c *Client) Deduction(ctx context.Context, requestID string, req DeductionRequest) (DeductionResult, error) {
	const name = "deduction"
	if err := validateDeduction(name, requestID, req); err != nil {
		return DeductionResult{}, err
	}
	body := struct {
		BusinessSystemCode string           `json:"businessSystemCode"`
		InterfaceCode      string           `json:"interfaceCode"`
		RequestID          string           `json:"requestId"`
		Data               DeductionRequest `json:"data"`
	}{c.cfg.BusinessSystemCode, "invoiceSelect", requestID, req}
	var res DeductionResult
	err := c.roundTrip(ctx, request{name: name, method: http.MethodPost, path: c.cfg.Paths.Deduction, body: body,
		timeout: c.cfg.Timeout}, false, func(status int, b []byte) (err error) {
		res, err = decodeDeductionAnswer(name, status, b)
		return err
	})
	return res, err
}

func decodeDeductionAnswer(name string, status int, b []byte) (DeductionResult, error) {
	if status/100 != 2 {
		return DeductionResult{}, statusError(name, status, b)
	}
	var a struct {
		ErrorCode flexString `json:"errorCode"`
		Message   flexString `json:"message"`
		Success   flexString `json:"success"`
		Data      struct {
			AsyncFlag flexString      `json:"asyncFlag"`
			TaskNo    flexString      `json:"taskNo"`
			Success   json.RawMessage `json:"success"`
		} `json:"data"`
	}
	var raw struct {
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(b, &raw)
	if err := json.Unmarshal(b, &a); err != nil {
		return DeductionResult{}, errNotJSON(name, status)
	}
	ok := (a.ErrorCode == "0000" || a.ErrorCode == "0" || a.ErrorCode == "") && !strings.EqualFold(string(a.Success), "false")
	if err := (businessAnswer{ok: ok, code: string(a.ErrorCode), msg: string(a.Message), data: raw.Data}).result(name, status, nil, nil); err != nil {
		return DeductionResult{}, err
	}
	res := DeductionResult{AsyncFlag: string(a.Data.AsyncFlag), TaskNo: string(a.Data.TaskNo)}
	// success[] lists the invoices the tax bureau accepted; keep each entry as received.
	_ = json.Unmarshal(a.Data.Success, &res.Success)
	return res, nil
}
