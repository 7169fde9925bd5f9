package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The contract check: every request a test sends to a rimflow API through this package (Do,
// CheckedClient) and every answer it gets are validated against the OpenAPI document that API
// serves (GET /v1/openapi.json), with kin-openapi's request and response filters. An answer is
// always checked: its status must be one the document lists for the operation, its JSON body must
// match the documented schema. A request is checked when the server accepted it (2xx): a request
// the server took must be one the document allows (the tests send bad requests on purpose, and a
// refusal is the server's to make). A violation fails the test, naming the operation and the field.
// Hosts that serve no document (the simulator, webhook receivers) are not checked.

// contracts caches, per scheme://host, the served document's router (nil: the host serves none).
var contracts sync.Map

type contract struct {
	router routers.Router
}

// contractOf loads the document base serves, once per base. The fetch itself is not checked.
func contractOf(ctx context.Context, base string) (*contract, error) {
	if c, ok := contracts.Load(base); ok {
		return c.(*contract), nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/openapi.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the served OpenAPI document: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the served OpenAPI document: %w", err)
	}
	var c *contract
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(raw)
		if err != nil {
			return nil, fmt.Errorf("the served OpenAPI document does not load: %w", err)
		}
		if !strings.Contains(string(raw), `"openapi"`) {
			doc = nil
		}
		if doc != nil {
			// The document's server is "/" (the API's own origin): routes are matched on this one.
			doc.Servers = openapi3.Servers{{URL: base}}
			router, err := gorillamux.NewRouter(doc)
			if err != nil {
				return nil, fmt.Errorf("route the served OpenAPI document: %w", err)
			}
			c = &contract{router: router}
		}
	}
	actual, _ := contracts.LoadOrStore(base, c)
	return actual.(*contract), nil
}

// checkExchange validates one request (its body as sent) and its answer against the document
// the request's host serves; it returns the violations, each naming the operation.
func checkExchange(ctx context.Context, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) []string {
	if req.URL.Path == "/v1/openapi.json" {
		return nil
	}
	base := req.URL.Scheme + "://" + req.URL.Host
	c, err := contractOf(ctx, base)
	if err != nil {
		return []string{err.Error()}
	}
	if c == nil {
		return nil
	}
	// The route is found on a copy: the router reads the URL, the filters the body.
	probe := req.Clone(context.WithoutCancel(ctx))
	probe.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(probe)
	if err != nil && status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		// The document is cached per address, and a test server's port is reused once it closes
		// (a simulator may now answer on an API's old port): ask the address again before judging.
		contracts.Delete(base)
		if c, err = contractOf(ctx, base); err != nil {
			return []string{err.Error()}
		}
		if c == nil {
			return nil
		}
		route, params, err = c.router.FindRoute(probe)
	}
	if err != nil {
		// Not a documented operation: only an unknown path (404), a wrong method (405) or a hidden
		// route (the codec server's sign-in and preflights) may answer it.
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed || strings.HasPrefix(req.URL.Path, "/v1/codec/") {
			return nil
		}
		return []string{fmt.Sprintf("%s %s answered %d but is no operation of the served document: %v", req.Method, req.URL.Path, status, err)}
	}
	name := route.Operation.OperationID + " (" + req.Method + " " + route.Path + ")"
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		MultiError:            true,
		IncludeResponseStatus: true,
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts}
	var out []string
	if status/100 == 2 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			out = append(out, fmt.Sprintf("%s: the server accepted (%d) a request the document refuses: %s", name, status, explain(err)))
		}
	}
	resp := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: opts}
	if err := openapi3filter.ValidateResponse(ctx, resp); err != nil {
		out = append(out, fmt.Sprintf("%s: the answer (%d) breaks the document: %s: %.300s", name, status, explain(err), body))
	}
	return out
}

// explain lists a validation error's problems, each with the field it is about.
func explain(err error) string {
	var multi openapi3.MultiError
	if errors.As(err, &multi) {
		parts := make([]string, 0, len(multi))
		for _, e := range multi {
			parts = append(parts, explain(e))
		}
		return strings.Join(parts, "; ")
	}
	var schema *openapi3.SchemaError
	if errors.As(err, &schema) {
		field := strings.Join(schema.JSONPointer(), ".")
		if field == "" {
			field = "(the whole body)"
		}
		return fmt.Sprintf("field %s: %s", field, schema.Reason)
	}
	var reqErr *openapi3filter.RequestError
	if errors.As(err, &reqErr) && reqErr.Parameter != nil {
		return fmt.Sprintf("%s parameter %s: %v", reqErr.Parameter.In, reqErr.Parameter.Name, reqErr.Err)
	}
	return err.Error()
}

// checkedTransport validates every exchange it carries (checkExchange) and reports violations to
// the test.
type checkedTransport struct {
	tb   testing.TB
	next http.RoundTripper
}

func (t checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return resp, nil // the caller reads what there was and sees the error's effect
	}
	for _, v := range checkExchange(req.Context(), req, reqBody, resp.StatusCode, resp.Header, body) {
		t.tb.Errorf("OpenAPI contract: %s", v)
	}
	return resp, nil
}

// CheckedClient is an HTTP client whose every exchange with a rimflow API is checked against the
// document that API serves; a violation fails tb. Tests that build their own requests use it.
func CheckedClient(tb testing.TB) *http.Client {
	return &http.Client{Timeout: httpClient.Timeout, Transport: checkedTransport{tb: tb, next: http.DefaultTransport}}
}
