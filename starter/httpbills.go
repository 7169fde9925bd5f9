package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"rimflow/api"
	"rimflow/internal/jsonhttp"
	"rimflow/workflows"
)

// httpBills drives a running rimflow API (--api URL) with the same operations as api.Bills.
type httpBills struct {
	base  *url.URL
	token string
	http  *http.Client
}

func newHTTPBills(rawURL, token string) (*httpBills, error) {
	u, err := url.Parse(strings.TrimRight(rawURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError("--api", fmt.Sprintf("must be an http(s) URL like http://127.0.0.1:8080, got %q", rawURL))
	}
	return &httpBills{base: u, token: token, http: &http.Client{}}, nil
}

// do sends one request; a non-2xx answer comes back as the API's own *api.Error.
func (h *httpBills) do(ctx context.Context, method, path string, query url.Values, body, out any) (int, error) {
	u := *h.base
	u.Path += path
	u.RawPath = ""
	if query != nil {
		u.RawQuery = query.Encode()
	}
	status, raw, err := jsonhttp.Do(ctx, h.http, method, u.String(), h.token, body)
	if status == 0 && err != nil {
		return 0, &api.Error{Status: http.StatusServiceUnavailable, Code: "api_unreachable",
			Message: fmt.Sprintf("cannot reach the rimflow API at %s", h.base.Redacted())}
	}
	if err != nil {
		return status, err
	}
	if status >= 300 {
		var eb api.ErrorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Error != nil {
			eb.Error.Status = status
			return status, eb.Error
		}
		return status, &api.Error{Status: status, Code: "http_" + fmt.Sprint(status),
			Message: fmt.Sprintf("the API answered HTTP %d", status)}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return status, fmt.Errorf("the API's answer is not the expected JSON: %w", err)
		}
	}
	return status, nil
}

func billPath(ref api.BillRef, suffix string) string {
	return "/v1/bills/" + url.PathEscape(ref.Resource) + "/" + url.PathEscape(ref.BillID) + suffix
}

func (h *httpBills) Start(ctx context.Context, in workflows.BillInput) (api.StartResponse, bool, error) {
	var resp api.StartResponse
	status, err := h.do(ctx, "POST", "/v1/bills", nil, in, &resp)
	return resp, status == http.StatusCreated, err
}

func (h *httpBills) State(ctx context.Context, ref api.BillRef) (workflows.BillState, error) {
	var st workflows.BillState
	_, err := h.do(ctx, "GET", billPath(ref, ""), nil, nil, &st)
	return st, err
}

func (h *httpBills) CollectURL(ctx context.Context, ref api.BillRef, kind string) (workflows.CollectURLResponse, error) {
	var resp workflows.CollectURLResponse
	_, err := h.do(ctx, "GET", billPath(ref, "/collect-url"), url.Values{"client": {kind}}, nil, &resp)
	return resp, err
}

func (h *httpBills) Invoices(ctx context.Context, ref api.BillRef, msg workflows.InvoicesSignal) error {
	_, err := h.do(ctx, "POST", billPath(ref, "/invoices"), nil, msg, nil)
	return err
}

func (h *httpBills) post(ctx context.Context, ref api.BillRef, suffix string, body any) (workflows.BillState, error) {
	var st workflows.BillState
	_, err := h.do(ctx, "POST", billPath(ref, suffix), nil, body, &st)
	return st, err
}

func (h *httpBills) Submit(ctx context.Context, ref api.BillRef, req workflows.SubmitRequest) (workflows.BillState, error) {
	return h.post(ctx, ref, "/submit", req)
}

func (h *httpBills) Approve(ctx context.Context, ref api.BillRef, req workflows.ApproveRequest) (workflows.BillState, error) {
	return h.post(ctx, ref, "/approvals", req)
}

func (h *httpBills) Images(ctx context.Context, ref api.BillRef, req workflows.ImagesRequest) (workflows.BillState, error) {
	return h.post(ctx, ref, "/images", req)
}

func (h *httpBills) Voucher(ctx context.Context, ref api.BillRef, req workflows.VoucherRequest) (workflows.BillState, error) {
	return h.post(ctx, ref, "/voucher", req)
}

func (h *httpBills) Cancel(ctx context.Context, ref api.BillRef, req workflows.CancelRequest) (workflows.BillState, error) {
	return h.post(ctx, ref, "/cancel", req)
}

func (h *httpBills) Retry(ctx context.Context, ref api.BillRef, req workflows.RetryRequest) (workflows.BillState, error) {
	return h.post(ctx, ref, "/retry", req)
}

func (h *httpBills) List(ctx context.Context, f api.ListFilter) (api.ListResponse, error) {
	q := url.Values{}
	for k, v := range map[string]string{"stage": f.Stage, "taxNo": f.TaxNo, "awaitingRole": f.AwaitingRole,
		"billNo": f.BillNo, "resource": f.Resource, "pageToken": f.PageToken} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Overdue != nil {
		q.Set("overdue", fmt.Sprint(*f.Overdue))
	}
	if f.PageSize > 0 {
		q.Set("pageSize", fmt.Sprint(f.PageSize))
	}
	var resp api.ListResponse
	_, err := h.do(ctx, "GET", "/v1/bills", q, nil, &resp)
	return resp, err
}
