package ultimate

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"rimflow/invoicecloud"
	"rimflow/invoicecloud/flex"
)

// messageAnswer is the envelope of /kapi/app/rim/message.
type messageAnswer struct {
	Data      json.RawMessage `json:"data"`
	Success   flex.String     `json:"success"` // "true" | "false" (sometimes a JSON boolean)
	ErrorCode flex.String     `json:"errorCode"`
	Message   flex.String     `json:"message"`
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

func decodeMessageAnswer(messageType string, status int, b []byte, out any) error {
	if status/100 != 2 {
		return invoicecloud.StatusError(messageType, status, b)
	}
	var a messageAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return invoicecloud.ErrNotJSON(messageType, status)
	}
	ok := strings.EqualFold(string(a.Success), "true") && (a.ErrorCode == "" || a.ErrorCode == "0000" || a.ErrorCode == "0")
	return invoicecloud.BusinessAnswer{OK: ok, Code: string(a.ErrorCode), Msg: string(a.Message), Data: a.Data}.Result(messageType, status, out, nil)
}

// GetEventCode issues the eventCode (valid 10 minutes) that opens the invoice assistant for a bill,
// with the pages it opens.
func (c *Client) GetEventCode(ctx context.Context, messageID string, req invoicecloud.EventCodeRequest) (invoicecloud.EventCodeResponse, error) {
	mt := c.cfg.MessageTypes.GetEventCode
	if err := invoicecloud.ValidateEventCode(mt, messageID, req); err != nil {
		return invoicecloud.EventCodeResponse{}, err
	}
	var out struct {
		EventCode flex.String `json:"eventCode"`
	}
	if err := c.message(ctx, mt, messageID, req, &out); err != nil {
		return invoicecloud.EventCodeResponse{}, err
	}
	if out.EventCode == "" {
		return invoicecloud.EventCodeResponse{}, &invoicecloud.Error{MessageType: mt, Message: "answer carries no eventCode", Retryable: true}
	}
	return invoicecloud.EventCodeResponse{EventCode: string(out.EventCode), LinkKey: req.LinkKey, Pages: c.Pages(string(out.EventCode)),
		ValidFor: EventCodeLifetime}, nil
}

// Pages builds the invoice-assistant URLs for an eventCode (no remote call).
func (c *Client) Pages(eventCode string) invoicecloud.Pages {
	ec := url.QueryEscape(eventCode)
	return invoicecloud.Pages{
		CollectPC:     c.t.Base() + "/index.html?formId=rim_fpzs_main&eventCode=" + ec,
		CollectMobile: c.t.Base() + "/mobile.html?form=rim_mobile_index&eventCode=" + ec,
		ViewPC:        c.t.Base() + "/index.html?formId=rim_view_invoice&eventCode=" + ec,
		ViewMobile:    c.t.Base() + "/mobile.html?form=rim_invoice_list_mobile&eventCode=" + ec,
	}
}

// BillSave binds invoiceData to the bill with the given status (1 release, 30 in use, 60 used).
func (c *Client) BillSave(ctx context.Context, messageID string, req invoicecloud.BillSaveRequest) error {
	mt := c.cfg.MessageTypes.BillSave
	if err := invoicecloud.ValidateBillSave(mt, messageID, req); err != nil {
		return err
	}
	return c.message(ctx, mt, messageID, req, nil)
}

// VoucherSave writes the accounting voucher back to the invoice pool.
func (c *Client) VoucherSave(ctx context.Context, messageID string, req invoicecloud.VoucherSaveRequest) error {
	mt := c.cfg.MessageTypes.VoucherSave
	if err := invoicecloud.ValidateVoucherSave(mt, messageID, req); err != nil {
		return err
	}
	return c.message(ctx, mt, messageID, req, nil)
}

// VoucherReverse takes the voucher off its bills ([assumed] messageType voucherDelete): the
// invoices stay bound at 60.
func (c *Client) VoucherReverse(ctx context.Context, messageID string, req invoicecloud.VoucherReverseRequest) error {
	mt := c.cfg.MessageTypes.VoucherReverse
	if err := invoicecloud.ValidateVoucherReverse(mt, messageID, req); err != nil {
		return err
	}
	return c.message(ctx, mt, messageID, req, nil)
}

// Unbind releases every invoice of the bill ([assumed] messageType billDelete).
func (c *Client) Unbind(ctx context.Context, messageID string, req invoicecloud.UnbindRequest) error {
	mt := c.cfg.MessageTypes.Unbind
	if err := invoicecloud.ValidateUnbind(mt, messageID, req); err != nil {
		return err
	}
	return invoicecloud.NothingBoundIsDone(c.message(ctx, mt, messageID, req, nil), c.cfg.NothingBoundCodes)
}

// Deduction selects (authenticateFlag 1) or unselects (0) invoices for input-VAT deduction.
func (c *Client) Deduction(ctx context.Context, requestID string, req invoicecloud.DeductionRequest) (invoicecloud.DeductionResult, error) {
	const name = "deduction"
	if err := invoicecloud.ValidateDeduction(name, requestID, req); err != nil {
		return invoicecloud.DeductionResult{}, err
	}
	body := struct {
		BusinessSystemCode string                        `json:"businessSystemCode"`
		InterfaceCode      string                        `json:"interfaceCode"`
		RequestID          string                        `json:"requestId"`
		Data               invoicecloud.DeductionRequest `json:"data"`
	}{c.cfg.BusinessSystemCode, "invoiceSelect", requestID, req}
	var res invoicecloud.DeductionResult
	err := c.t.RoundTrip(ctx, invoicecloud.Request{Name: name, Method: http.MethodPost, Path: c.cfg.Paths.Deduction, Body: body},
		func(status int, b []byte) (err error) {
			res, err = decodeDeductionAnswer(name, status, b)
			return err
		})
	return res, err
}

func decodeDeductionAnswer(name string, status int, b []byte) (invoicecloud.DeductionResult, error) {
	if status/100 != 2 {
		return invoicecloud.DeductionResult{}, invoicecloud.StatusError(name, status, b)
	}
	var a struct {
		ErrorCode flex.String `json:"errorCode"`
		Message   flex.String `json:"message"`
		Success   flex.String `json:"success"`
		Data      struct {
			AsyncFlag flex.String     `json:"asyncFlag"`
			TaskNo    flex.String     `json:"taskNo"`
			Success   json.RawMessage `json:"success"`
		} `json:"data"`
	}
	var raw struct {
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(b, &raw)
	if err := json.Unmarshal(b, &a); err != nil {
		return invoicecloud.DeductionResult{}, invoicecloud.ErrNotJSON(name, status)
	}
	ok := (a.ErrorCode == "0000" || a.ErrorCode == "0" || a.ErrorCode == "") && !strings.EqualFold(string(a.Success), "false")
	if err := (invoicecloud.BusinessAnswer{OK: ok, Code: string(a.ErrorCode), Msg: string(a.Message), Data: raw.Data}).Result(name, status, nil, nil); err != nil {
		return invoicecloud.DeductionResult{}, err
	}
	res := invoicecloud.DeductionResult{AsyncFlag: string(a.Data.AsyncFlag), TaskNo: string(a.Data.TaskNo)}
	// success[] lists the invoices the tax bureau accepted; keep each entry as received.
	_ = json.Unmarshal(a.Data.Success, &res.Success)
	return res, nil
}
