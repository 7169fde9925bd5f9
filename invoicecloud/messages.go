package invoicecloud

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
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
	start := time.Now()
	status, b, err := c.authorized(ctx, request{name: messageType, method: http.MethodPost,
		path: c.cfg.Paths.Message, body: body, timeout: c.cfg.Timeout}, false)
	if err == nil {
		err = decodeMessageAnswer(messageType, status, b, out)
		c.observe(messageType, start, err)
	}
	return err
}

func decodeMessageAnswer(messageType string, status int, b []byte, out any) error {
	if status/100 != 2 {
		return statusError(messageType, status, b)
	}
	var a messageAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return &Error{MessageType: messageType, HTTPStatus: status, Message: "answer is not JSON (check baseURL and paths)"}
	}
	ok := strings.EqualFold(string(a.Success), "true") && (a.ErrorCode == "" || a.ErrorCode == "0000" || a.ErrorCode == "0")
	if !ok {
		// A business refusal: the same request will be refused again.
		msg := string(a.Message)
		if msg == "" {
			msg = "refused by Invoice Cloud"
		}
		return &Error{MessageType: messageType, HTTPStatus: status, Code: string(a.ErrorCode), Message: Redact(msg),
			Field: answerField(a.Data)}
	}
	if out != nil && len(a.Data) > 0 && string(a.Data) != "null" {
		if err := json.Unmarshal(a.Data, out); err != nil {
			return &Error{MessageType: messageType, HTTPStatus: status, Message: "cannot decode answer data: " + err.Error()}
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
	return EventCodeResponse{EventCode: string(out.EventCode), Pages: c.Pages(string(out.EventCode))}, nil
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
	return c.message(ctx, mt, messageID, req, nil)
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
	start := time.Now()
	status, b, err := c.authorized(ctx, request{name: name, method: http.MethodPost,
		path: c.cfg.Paths.Deduction, body: body, timeout: c.cfg.Timeout}, false)
	if err != nil {
		return DeductionResult{}, err
	}
	res, err := decodeDeductionAnswer(name, status, b)
	c.observe(name, start, err)
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
		return DeductionResult{}, &Error{MessageType: name, HTTPStatus: status, Message: "answer is not JSON (check baseURL and paths)"}
	}
	ok := (a.ErrorCode == "0000" || a.ErrorCode == "0" || a.ErrorCode == "") && !strings.EqualFold(string(a.Success), "false")
	if !ok {
		msg := string(a.Message)
		if msg == "" {
			msg = "refused by Invoice Cloud"
		}
		return DeductionResult{}, &Error{MessageType: name, HTTPStatus: status, Code: string(a.ErrorCode), Message: Redact(msg),
			Field: answerField(raw.Data)}
	}
	res := DeductionResult{AsyncFlag: string(a.Data.AsyncFlag), TaskNo: string(a.Data.TaskNo)}
	// success[] lists the invoices the tax bureau accepted; keep each entry as received.
	_ = json.Unmarshal(a.Data.Success, &res.Success)
	return res, nil
}
