package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"rimflow/internal/access"
)

const scraperToken = "scraper-token-0123456789abcdef0123"

// metricsServer is an API with an ERP client, a read-only client, a SAP-only admin and a scraper
// (the metrics operation); ops puts /metrics on the ops listener.
func metricsServer(t *testing.T, ops bool) Handlers {
	t.Helper()
	clients, err := access.New(
		access.Spec{Name: "erp-oa", Token: erpToken, Resources: []string{"OA"}, Operations: []string{"start", "read"}},
		access.Spec{Name: "reporting", Token: reportingToken, Operations: []string{"read"}, Resources: []string{"*"}},
		access.Spec{Name: "sap-admin", Token: opsToken, Operations: []string{"admin"}, Resources: []string{"SAP"}},
		access.Spec{Name: "scraper", Token: scraperToken, Operations: []string{access.OpMetrics}, Resources: []string{"*"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	h, err := BuildHandlers(Options{Client: unreachableClient(t), Namespace: "default", Clients: clients,
		RequestTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler), OpsListener: ops})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, path, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

// Closed by default: without an ops listener /metrics on the API answers a stranger, a wrong
// token, a client of bills and a resource-bound admin nothing of the metrics (401/403), and the
// scraper (the metrics operation) gets them. With the ops listener the API answers /metrics as an
// unknown route (404) even to the scraper and leaves it out of its document, while the ops
// listener serves /metrics and /healthz without a token and nothing else. /healthz says up or
// down, nothing more.
func TestMetricsClosedByDefault(t *testing.T) {
	const series = "rimflow_api_requests_total"
	h := metricsServer(t, false)
	if h.Ops != nil {
		t.Fatal("an ops handler without the ops listener")
	}
	for _, c := range []struct {
		who, token string
		want       int
	}{
		{"a stranger", "", http.StatusUnauthorized},
		{"a wrong token", "not-a-token-0123456789abcdef0123", http.StatusUnauthorized},
		{"the ERP", erpToken, http.StatusForbidden},
		{"the read-only client", reportingToken, http.StatusForbidden},
		{"an admin of one resource", opsToken, http.StatusForbidden},
	} {
		code, body := get(t, h.API, "/metrics", c.token)
		if code != c.want || strings.Contains(body, series) || strings.Contains(body, "go_goroutines") {
			t.Errorf("%s: /metrics answers %d (want %d) %.200s", c.who, code, c.want, body)
		}
	}
	if code, body := get(t, h.API, "/metrics", scraperToken); code != http.StatusOK || !strings.Contains(body, series) {
		t.Errorf("the scraper: /metrics answers %d %.200s", code, body)
	}
	assertHealthSaysUpOrDown(t, "the API", h.API)

	h = metricsServer(t, true)
	for _, token := range []string{"", scraperToken} {
		if code, body := get(t, h.API, "/metrics", token); code != http.StatusNotFound || strings.Contains(body, series) {
			t.Errorf("with an ops listener the API answers /metrics (token %t): %d %.200s", token != "", code, body)
		}
	}
	var doc struct {
		Paths map[string]any `json:"paths"`
	}
	if _, body := get(t, h.API, "/v1/openapi.json", ""); json.Unmarshal([]byte(body), &doc) != nil || doc.Paths["/metrics"] != nil || doc.Paths["/healthz"] == nil {
		t.Errorf("with an ops listener the document still lists /metrics, or lost /healthz: %v", slices.Sorted(maps.Keys(doc.Paths)))
	}
	assertHealthSaysUpOrDown(t, "the API", h.API)
	if code, body := get(t, h.Ops, "/metrics", ""); code != http.StatusOK || !strings.Contains(body, series) {
		t.Errorf("the ops listener: /metrics answers %d %.200s", code, body)
	}
	assertHealthSaysUpOrDown(t, "the ops listener", h.Ops)
	for _, p := range []string{"/v1/bills", "/v1/openapi.json", "/v1/codec/decode", "/"} {
		if code, _ := get(t, h.Ops, p, scraperToken); code != http.StatusNotFound {
			t.Errorf("the ops listener serves %s: %d", p, code)
		}
	}
}

// assertHealthSaysUpOrDown: /healthz answers without a token, and only whether Temporal answers
// (here it does not: 503 unavailable), with nothing of the configuration, the version or Temporal.
func assertHealthSaysUpOrDown(t *testing.T, where string, h http.Handler) {
	t.Helper()
	code, body := get(t, h, "/healthz", "")
	var out struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || code != http.StatusServiceUnavailable || out.Error["code"] != CodeUnavailable {
		t.Fatalf("%s: /healthz answers %d %s", where, code, body)
	}
	for k := range out.Error {
		if k != "code" && k != "businessCode" && k != "message" && k != "requestId" {
			t.Errorf("%s: /healthz tells %s: %s", where, k, body)
		}
	}
	if out.Error["message"] != "Temporal is unreachable" {
		t.Errorf("%s: /healthz says %q", where, out.Error["message"])
	}
}
