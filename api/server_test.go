package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// unreachableClient is a real SDK client pointed at a port nobody listens on: any handler path
// that reaches Temporal fails with 503 instead of answering 4xx, which lets these tests prove
// that refusals happen before anything is sent to Temporal.
func unreachableClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testServer(t *testing.T, token string, logs io.Writer) *server {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	s, err := newServer(Options{
		Client:         unreachableClient(t),
		Token:          token,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RequestTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func do(t *testing.T, h http.Handler, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v\n%s", method, path, err, raw)
		}
	}
	return resp, out
}

func errorOf(t *testing.T, body map[string]any) (code string, fields map[string]any) {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %v", body)
	}
	f, _ := e["fields"].(map[string]any)
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error without a message: %v", e)
	}
	return e["code"].(string), f
}

func TestOpenAPIDocumentsEveryServedRoute(t *testing.T) {
	s := testServer(t, "", nil)
	paths := s.doc["paths"].(map[string]any)

	documented := 0
	for p, item := range paths {
		for method := range item.(map[string]any) {
			documented++
			// Every documented operation is served by exactly its own pattern.
			concrete := strings.NewReplacer("{resource}", "OA", "{billId}", "B-1").Replace(p)
			req := httptest.NewRequest(strings.ToUpper(method), concrete, nil)
			if _, pattern := s.mux.Handler(req); pattern != strings.ToUpper(method)+" "+p {
				t.Errorf("documented %s %s is served by %q", strings.ToUpper(method), p, pattern)
			}
		}
	}
	// And every served route is documented, with its path parameters.
	hidden := 0
	for _, rt := range s.routes {
		if rt.Hidden {
			hidden++
			continue
		}
		item, ok := paths[rt.Path].(map[string]any)
		if !ok {
			t.Errorf("route %s %s is not in the document", rt.Method, rt.Path)
			continue
		}
		op, ok := item[strings.ToLower(rt.Method)].(map[string]any)
		if !ok {
			t.Errorf("route %s %s is not in the document", rt.Method, rt.Path)
			continue
		}
		if strings.Contains(rt.Path, "{billId}") && len(op["parameters"].([]any)) < 2 {
			t.Errorf("%s %s: path parameters missing", rt.Method, rt.Path)
		}
		if rt.Body != nil && op["requestBody"] == nil {
			t.Errorf("%s %s: request body missing", rt.Method, rt.Path)
		}
	}
	if documented != len(s.routes)-hidden {
		t.Errorf("document has %d operations, the table %d routes", documented, len(s.routes))
	}
	// Every $ref resolves.
	raw, _ := json.Marshal(s.doc)
	schemas := s.doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, part := range strings.Split(string(raw), `"$ref":"#/components/schemas/`)[1:] {
		name := part[:strings.Index(part, `"`)]
		if _, ok := schemas[name]; !ok {
			t.Errorf("dangling $ref %s", name)
		}
	}
	for _, want := range []string{"BillInput", "BillState", "StartResponse", "ErrorBody", "ApproveRequest", "ListResponse"} {
		if _, ok := schemas[want]; !ok {
			t.Errorf("schema %s missing", want)
		}
	}
	// Documented required fields exist in their schema.
	for name, schema := range schemas {
		obj := schema.(map[string]any)
		req, _ := obj["required"].([]string)
		for _, f := range req {
			if _, ok := obj["properties"].(map[string]any)[f]; !ok {
				t.Errorf("schema %s requires %s, which it does not have", name, f)
			}
		}
	}
	// Amounts are documented as decimal strings, never numbers.
	inv := schemas["InvoiceView"].(map[string]any)["properties"].(map[string]any)
	if inv["totalAmount"].(map[string]any)["type"] != "string" {
		t.Errorf("totalAmount is not a string: %v", inv["totalAmount"])
	}
}

func TestOpenAPIServed(t *testing.T) {
	s := testServer(t, "secret-token", nil)
	resp, body := do(t, s, "GET", "/v1/openapi.json", "", "")
	if resp.StatusCode != 200 || body["openapi"] != "3.0.3" {
		t.Fatalf("status %d, body %v", resp.StatusCode, body["openapi"])
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	s := testServer(t, "", nil)
	resp, body := do(t, s, "GET", "/v1/nothing", "", "")
	if code, _ := errorOf(t, body); resp.StatusCode != 404 || code != CodeNotFound {
		t.Errorf("unknown route: %d %s", resp.StatusCode, code)
	}
	if resp.Header.Get(HeaderRequestID) == "" {
		t.Error("a 404 carries no X-Request-Id")
	}
	resp, body = do(t, s, "PUT", "/v1/bills/OA/B-1", "", "")
	if code, _ := errorOf(t, body); resp.StatusCode != 405 || code != CodeMethodNotAllowed {
		t.Errorf("wrong method: %d %s", resp.StatusCode, code)
	}
	if allow := resp.Header.Get("Allow"); allow != "GET, PATCH" {
		t.Errorf("Allow = %q", allow)
	}
}

func TestStartRefusesBadInputNamingEveryField(t *testing.T) {
	s := testServer(t, "", nil)
	cases := []struct {
		name, body string
		code       string
		fields     []string
	}{
		{"empty object", `{}`, CodeValidation, []string{"billId", "billNo", "billType", "resource", "userId", "billTaxNo"}},
		{"empty body", ``, CodeInvalidJSON, []string{"body"}},
		{"syntax", `{"billId":`, CodeInvalidJSON, []string{"body"}},
		{"unknown field", `{"billId":"B-1","colour":"red"}`, CodeInvalidJSON, []string{"colour"}},
		{"wrong type", `{"billId":7}`, CodeInvalidJSON, []string{"billId"}},
		{"two values", `{} {}`, CodeInvalidJSON, []string{"body"}},
		{"typo in the tax number", `{"billId":"B-1","billNo":"N","billType":"t","resource":"OA","userId":"u","billTaxNo":"bad-tax",
			"companyInfo":[{"taxNo":"123","name":"x"}]}`, CodeValidation, []string{"billTaxNo", "companyInfo[0].taxNo"}},
		{"control character in the key", `{"billId":"B\u0007","billNo":"N","billType":"t","resource":"办公","userId":"u","billTaxNo":"91330100MA2B3C4D5N"}`,
			CodeValidation, []string{"billId"}},
		{"bad options", `{"billId":"B-1","billNo":"N","billType":"t","resource":"OA","userId":"u","billTaxNo":"91330100MA2B3C4D5N",
			"options":{"imageMode":"laser","approvals":["supervisor","supervisor"]}}`,
			CodeValidation, []string{"options.imageMode", "options.approvals[1]"}},
		{"resource too long", `{"billId":"B-1","billNo":"N","billType":"t","resource":"ABCDEFGHIJKL","userId":"u","billTaxNo":"91330100MA2B3C4D5N"}`,
			CodeValidation, []string{"resource"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, s, "POST", "/v1/bills", "", tc.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d (a 503 would mean it reached Temporal), body %v", resp.StatusCode, body)
			}
			code, fields := errorOf(t, body)
			if code != tc.code {
				t.Errorf("code %q, want %q", code, tc.code)
			}
			for _, f := range tc.fields {
				if _, ok := fields[f]; !ok {
					t.Errorf("field %q not named in %v", f, fields)
				}
			}
			if tc.code == CodeValidation && len(fields) != len(tc.fields) {
				t.Errorf("fields %v, want exactly %v", fields, tc.fields)
			}
		})
	}
}

func TestOperationBodiesAreStrict(t *testing.T) {
	s := testServer(t, "", nil)
	for _, tc := range []struct{ path, body, field string }{
		{"/v1/bills/OA/B-1/approvals", `{"role":"finance","decision":"approve","approvr":"x"}`, "approvr"},
		{"/v1/bills/OA/B-1/approvals", ``, "body"},
		{"/v1/bills/OA/B-1/cancel", `{"reason":3}`, "reason"},
		{"/v1/bills/OA/B-1/voucher", `[]`, "body"},
		{"/v1/bills/OA/B-1/invoices", `[1,2]`, "body"},
		{"/v1/bills/OA/B-1/invoices", `{"invoiceData":[{"invoiceNo":"1"}]}`, "invoiceData[0].serialNo"},
		{"/v1/bills/OA/B-1/invoices", `{"invoiceData":[]}`, "invoiceData"},
	} {
		resp, body := do(t, s, "POST", tc.path, "", tc.body)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %s: status %d, want 400", tc.path, tc.body, resp.StatusCode)
			continue
		}
		if _, fields := errorOf(t, body); fields[tc.field] == nil {
			t.Errorf("%s %s: field %q not named in %v", tc.path, tc.body, tc.field, fields)
		}
	}
	resp, body := do(t, s, "GET", "/v1/bills/OA/B-1/collect-url?client=fax", "", "")
	if _, fields := errorOf(t, body); resp.StatusCode != 400 || fields["client"] == nil {
		t.Errorf("collect-url client=fax: %d %v", resp.StatusCode, fields)
	}
}

// TestEmptyBodyFollowsTheTable: a route whose body the table calls optional accepts none (and goes
// on to Temporal, unreachable here: 503); every other route with a body refuses none, naming it.
func TestEmptyBodyFollowsTheTable(t *testing.T) {
	s := testServer(t, "", nil)
	for _, rt := range routes() {
		if rt.Body == nil || rt.raw != nil {
			continue
		}
		path := strings.NewReplacer("{resource}", "OA", "{billId}", "B-1").Replace(rt.Path)
		resp, body := do(t, s, rt.Method, path, "", "")
		_, fields := errorOf(t, body)
		switch {
		case rt.BodyOpt && resp.StatusCode != http.StatusServiceUnavailable:
			t.Errorf("%s %s (optional body) without one: status %d %v, want 503", rt.Method, path, resp.StatusCode, fields)
		case !rt.BodyOpt && (resp.StatusCode != http.StatusBadRequest || fields["body"] == nil):
			t.Errorf("%s %s without a body: status %d %v, want 400 naming the body", rt.Method, path, resp.StatusCode, fields)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	s := testServer(t, "", nil)
	big := `{"billId":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	resp, body := do(t, s, "POST", "/v1/bills", "", big)
	if code, _ := errorOf(t, body); resp.StatusCode != http.StatusRequestEntityTooLarge || code != CodeBodyTooLarge {
		t.Errorf("status %d code %s", resp.StatusCode, code)
	}
}

func TestBearerAuth(t *testing.T) {
	const token = "s3cr3t-T0ken-value"
	var logs bytes.Buffer
	s := testServer(t, token, &logs)

	for _, tc := range []struct{ name, auth string }{{"missing", ""}, {"wrong", "nope"}, {"prefix", token[:5]}} {
		resp, body := do(t, s, "POST", "/v1/bills", tc.auth, `{}`)
		if code, _ := errorOf(t, body); resp.StatusCode != 401 || code != CodeUnauthorized {
			t.Errorf("%s token: %d %s", tc.name, resp.StatusCode, code)
		}
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s token: no WWW-Authenticate", tc.name)
		}
	}
	// The right token gets through to validation.
	if resp, _ := do(t, s, "POST", "/v1/bills", token, `{}`); resp.StatusCode != 400 {
		t.Errorf("right token: %d, want 400", resp.StatusCode)
	}
	// Open routes stay open (healthz answers 503: Temporal is unreachable here, but not 401);
	// /metrics wants a client (TestMetricsClosedByDefault).
	for p, want := range map[string]int{"/metrics": 401, "/v1/openapi.json": 200, "/healthz": 503} {
		if resp, _ := do(t, s, "GET", p, "", ""); resp.StatusCode != want {
			t.Errorf("%s without token: %d", p, resp.StatusCode)
		}
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), "Authorization") {
		t.Errorf("the token or the Authorization header reached the logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "status=401") {
		t.Errorf("requests are not logged:\n%s", logs.String())
	}
}

func TestTemporalUnreachableIs503(t *testing.T) {
	s := testServer(t, "", nil)
	resp, body := do(t, s, "GET", "/v1/bills/OA/B-1", "", "")
	if code, _ := errorOf(t, body); resp.StatusCode != 503 || code != CodeUnavailable {
		t.Errorf("status %d code %s", resp.StatusCode, code)
	}
}

func TestListRefusesBadFilters(t *testing.T) {
	s := testServer(t, "", nil)
	resp, body := do(t, s, "GET", "/v1/bills?stage=flying&overdue=maybe&pageSize=0&awaitingRole=Boss%27", "", "")
	if resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	_, fields := errorOf(t, body)
	for _, f := range []string{"stage", "overdue", "pageSize", "awaitingRole"} {
		if fields[f] == nil {
			t.Errorf("%s not named in %v", f, fields)
		}
	}
}

func TestMetricsCountRequests(t *testing.T) {
	s := testServer(t, "", nil)
	do(t, s, "POST", "/v1/bills", "", `{}`)
	do(t, s, "POST", "/v1/bills", "", `{}`)
	resp, err := http.Get(httptest.NewServer(s).URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`rimflow_api_requests_total{method="POST",route="/v1/bills",status="400"} 2`,
		`rimflow_api_bill_starts_total{outcome="refused"} 2`,
		`rimflow_api_request_duration_seconds_bucket{method="POST",route="/v1/bills",le="+Inf"} 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestStageTrackerCountsChangesOnly(t *testing.T) {
	tr := newStageTracker(2)
	if from, changed := tr.see("a", "collecting"); !changed || from != "" {
		t.Errorf("first sight: %q %v", from, changed)
	}
	if _, changed := tr.see("a", "collecting"); changed {
		t.Error("same stage counted as a change")
	}
	if from, changed := tr.see("a", "awaiting_supervisor"); !changed || from != "collecting" {
		t.Errorf("change: %q %v", from, changed)
	}
	tr.see("b", "collecting")
	tr.see("c", "collecting") // full: forgets, stays bounded
	if len(tr.last) > 2 {
		t.Errorf("tracker grew to %d", len(tr.last))
	}
}

// Every answer carries an X-Request-Id (the caller's when usable), error bodies repeat it, and the
// request's log line names it.
func TestRequestID(t *testing.T) {
	var logs bytes.Buffer
	s := testServer(t, "", &logs)
	srv := httptest.NewServer(s)
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/bills", strings.NewReader(`{}`))
	req.Header.Set(HeaderRequestID, "erp-req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.Header.Get(HeaderRequestID) != "erp-req-42" || body.Error == nil || body.Error.RequestID != "erp-req-42" {
		t.Errorf("caller's id not kept: header %q body %+v", resp.Header.Get(HeaderRequestID), body.Error)
	}
	if !strings.Contains(logs.String(), "requestId=erp-req-42") {
		t.Errorf("the log line does not name the request id:\n%s", logs.String())
	}
	for _, bad := range []string{"", "with space", strings.Repeat("x", 201)} {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/openapi.json", nil)
		req.Header.Set(HeaderRequestID, bad)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get(HeaderRequestID); got == "" || got == bad {
			t.Errorf("id %q: answered %q, want a new one", bad, got)
		}
	}
}

// A query parameter a route does not take is refused, naming it, before anything reaches Temporal.
func TestUnknownQueryParameters(t *testing.T) {
	s := testServer(t, "", nil)
	for _, path := range []string{"/v1/bills?stauts=failed", "/v1/bills/OA/B-1?verbose=1", "/v1/bills/OA/B-1/collect-url?clinet=pc", "/healthz?x=1"} {
		resp, body := do(t, s, "GET", path, "", "")
		_, fields := errorOf(t, body)
		if resp.StatusCode != 400 || len(fields) != 1 {
			t.Errorf("%s: %d %v", path, resp.StatusCode, fields)
		}
	}
}

// Keys in paths are percent-encoded UTF-8; a control character is refused before Temporal.
func TestPathKeys(t *testing.T) {
	s := testServer(t, "", nil)
	resp, body := do(t, s, "GET", "/v1/bills/%E5%8A%9E%E5%85%AC/B%07", "", "")
	if _, fields := errorOf(t, body); resp.StatusCode != 400 || fields["billId"] == nil {
		t.Errorf("control character: %d %v", resp.StatusCode, fields)
	}
	resp, body = do(t, s, "DELETE", "/v1/bills/OA/B-1/invoices/S1", "", "")
	if _, fields := errorOf(t, body); resp.StatusCode != 400 || fields["reason"] == nil {
		t.Errorf("removal without a reason: %d %v", resp.StatusCode, fields)
	}
	// A Chinese key reaches Temporal (unreachable here: 503), it is not refused.
	if resp, _ := do(t, s, "GET", "/v1/bills/%E5%8A%9E%E5%85%AC/%E6%8A%A5%E9%94%80%E5%8D%95-%E5%8D%81%E5%9B%9B", "", ""); resp.StatusCode != 503 {
		t.Errorf("Chinese key: %d, want 503 (reached Temporal)", resp.StatusCode)
	}
}
