package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
)

// httpClient bounds every request of a test, even one whose context has no deadline.
var httpClient = &http.Client{Timeout: 2 * time.Minute}

// Do sends one HTTP request as an ERP, a browser or ops would: body nil sends none, a string or
// []byte goes as is, anything else as JSON; token, when not empty, travels as a bearer token. It
// returns the status and the whole answer, whatever the status: the caller asserts on it. A
// request that cannot be sent or answered fails the test, and so does an exchange with a rimflow
// API that breaks the OpenAPI document it serves (contract.go).
func Do(tb testing.TB, ctx context.Context, method, url, token string, body any) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		if b != nil {
			rd = bytes.NewReader(b)
		}
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			tb.Fatalf("%s %s: encode body: %v", method, url, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	if rd != nil || method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json") // the API refuses a POST without it
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := CheckedClient(tb).Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read the answer: %v", method, url, err)
	}
	return resp.StatusCode, raw
}

// Collect imports n sample invoices for eventCode through the simulator's /__sim/collect at
// simURL, as a user ticking them on the collect page would, and returns their serialNos. The test
// fails unless the simulator delivered exactly n.
func Collect(tb testing.TB, ctx context.Context, simURL, eventCode string, n int) []string {
	tb.Helper()
	return collect(tb, ctx, simURL, map[string]any{"eventCode": eventCode, "count": n}, n)
}

// CollectOnPage is Collect for the bill whose collect page is pageURL, of either edition.
func CollectOnPage(tb testing.TB, ctx context.Context, simURL, pageURL string, n int) []string {
	tb.Helper()
	return collect(tb, ctx, simURL, map[string]any{"url": pageURL, "count": n}, n)
}

func collect(tb testing.TB, ctx context.Context, simURL string, body map[string]any, n int) []string {
	tb.Helper()
	status, raw := Do(tb, ctx, http.MethodPost, simURL+"/__sim/collect", "", body)
	if status/100 != 2 {
		tb.Fatalf("sim collect: HTTP %d: %.500s", status, raw)
	}
	var res simulator.CollectResult
	if err := json.Unmarshal(raw, &res); err != nil {
		tb.Fatalf("sim collect: answer is not JSON: %v: %.500s", err, raw)
	}
	if len(res.Delivered) != n {
		tb.Fatalf("sim collect delivered %d invoices, want %d", len(res.Delivered), n)
	}
	serials := make([]string, 0, n)
	for _, inv := range res.Delivered {
		serials = append(serials, inv.SerialNo)
	}
	return serials
}
