package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"rimflow/api"
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
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return 0, &api.Error{Status: http.StatusServiceUnavailable, Code: "api_unreachable",
			Message: fmt.Sprintf("cannot reach the rimflow API at %s", h.base.Redacted())}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		var eb api.ErrorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Error != nil {
			eb.Error.Status = resp.StatusCode
			return resp.StatusCode, eb.Error
		}
		return resp.StatusCode, &api.Error{Status: resp.StatusCode, Code: "http_" + fmt.Sprint(resp.StatusCode),
			Message: fmt.Sprintf("the API answered %s", resp.Status)}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("the API's answer is not the expected JSON: %w", err)
		}
	}
	return resp.StatusCode, nil
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
