package ultimate

import (
	"context"
	"net/http"

	"rimflow/invoicecloud"
)

// CreateScanTask: POST /kapi/app/bds/erpBillPush.
func (c *Client) CreateScanTask(ctx context.Context, requestID string, req invoicecloud.ScanTaskRequest) (invoicecloud.ScanTask, error) {
	if err := invoicecloud.ValidateScanTask(invoicecloud.CallErpBillPush, requestID, req, false); err != nil {
		return invoicecloud.ScanTask{}, err
	}
	var out invoicecloud.ScanTask
	err := c.kapi(ctx, invoicecloud.CallErpBillPush, c.cfg.Paths.BDSBillPush,
		invoicecloud.ScanTaskBody{RequestID: requestID, ScanTaskRequest: req}, &out)
	return out, err
}

// ScanResult: POST /kapi/app/bds/operate {operateType:"queryBillStatus"}.
func (c *Client) ScanResult(ctx context.Context, requestID string, q invoicecloud.ScanQuery) (invoicecloud.ScanResult, error) {
	if err := invoicecloud.ValidateScanQuery(invoicecloud.CallQueryBillStatus, requestID, q); err != nil {
		return invoicecloud.ScanResult{}, err
	}
	var out invoicecloud.ScanResult
	err := c.kapi(ctx, invoicecloud.CallQueryBillStatus, c.cfg.Paths.BDSOperate,
		invoicecloud.ScanQueryBody{OperateType: "queryBillStatus", RequestID: requestID, Data: q}, &out)
	return out, err
}

// kapi posts a /kapi/ body that is not a rim message and decodes the message-style answer.
func (c *Client) kapi(ctx context.Context, name, path string, body, out any) error {
	return c.t.RoundTrip(ctx, invoicecloud.Request{Name: name, Method: http.MethodPost, Path: path, Body: body},
		func(status int, b []byte) error { return decodeMessageAnswer(name, status, b, out) })
}

// ScanPoints: POST /kapi/app/bds/operate {operateType: Config.ScanPointsOperate} [assumed].
func (c *Client) ScanPoints(ctx context.Context, requestID string) ([]invoicecloud.ScanPoint, error) {
	var out invoicecloud.ScanPointsAnswer
	err := c.kapi(ctx, invoicecloud.CallQueryScanPoints, c.cfg.Paths.BDSOperate,
		invoicecloud.ScanPointsBody{OperateType: c.cfg.ScanPointsOperate, RequestID: requestID}, &out)
	return out.ScanPoints, err
}
