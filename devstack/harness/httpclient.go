package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// jsonClient calls the API and the simulator's /__sim/ interface the way an ERP or a test
// would: plain HTTP and JSON, nothing in process.
type jsonClient struct {
	http  *http.Client
	token string // bearer token of the API; never printed
}

// newJSONClient calls with hc (nil: a plain client with a 60 s timeout).
func newJSONClient(token string, hc *http.Client) *jsonClient {
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &jsonClient{http: hc, token: token}
}

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 16 << 20

// do sends body (nil = none) as JSON and decodes a 2xx answer into out (nil = ignore). A non-2xx
// answer is an *httpError carrying the status and body.
func (c *jsonClient) do(ctx context.Context, method, url string, body, out any) (int, error) {
	status, raw, err := c.send(ctx, method, url, body)
	if err != nil {
		return status, fmt.Errorf("%s %s: %w", method, redactQuery(url), err)
	}
	if status/100 != 2 {
		return status, &httpError{Method: method, URL: redactQuery(url), Status: status, Body: string(raw)}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return status, fmt.Errorf("%s %s: answer is not the expected JSON: %w", method, redactQuery(url), err)
		}
	}
	return status, nil
}

// send makes one request and returns the status and the raw answer. The token travels only in
// the Authorization header, so no error here can carry it.
func (c *jsonClient) send(ctx context.Context, method, url string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil || method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json") // the API refuses a POST without it
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, raw, nil
}

type httpError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *httpError) Error() string {
	body := e.Body
	if len(body) > 500 {
		body = body[:500] + "…"
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Status, body)
}

// redactQuery drops a URL's query string: collect URLs carry eventCodes and tokens travel there.
func redactQuery(u string) string {
	if i := bytes.IndexByte([]byte(u), '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}
