package testenv

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"rimflow/api"
)

// recorder is a test that records what the contract check reports instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

// A server that drifts from the document it serves is caught, the operation and the field named:
// a wrong type in an answer, an undocumented status, a request it accepted with a field the
// document says only the server sets. An answer that keeps to the document is not reported.
func TestContractCheckNamesTheOperationAndTheField(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(api.OpenAPI())
	})
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	mux.HandleFunc("GET /healthz", answer(200, `{"status":5}`))
	mux.HandleFunc("GET /v1/enterprises", answer(200, `{"enterprises":[],"anyTaxNo":true}`))
	mux.HandleFunc("GET /v1/bills/{resource}/{billId}", answer(http.StatusTeapot, `{}`))
	mux.HandleFunc("POST /v1/bills/{resource}/{billId}/cancel", answer(200, `{}`))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, c := range []struct {
		method, path string
		body         any
		want         []string // in the one report; none: no report
	}{
		{"GET", "/healthz", nil, []string{"health (GET /healthz)", "field status"}},
		{"GET", "/v1/enterprises", nil, nil},
		{"GET", "/v1/bills/OA/B-1", nil, []string{"getBill", "418"}},
		{"POST", "/v1/bills/OA/B-1/cancel", map[string]any{"reason": "r", "actor": map[string]any{"client": "x"}},
			[]string{"cancelBill", "accepted (200) a request the document refuses", "actor"}},
	} {
		rec := &recorder{TB: t}
		Do(rec, t.Context(), c.method, srv.URL+c.path, "", c.body)
		if len(c.want) == 0 {
			if len(rec.errors) > 0 {
				t.Errorf("%s %s: reported %v", c.method, c.path, rec.errors)
			}
			continue
		}
		all := strings.Join(rec.errors, "\n")
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s %s: report %q does not name %q", c.method, c.path, all, w)
			}
		}
	}
}

// A test server's port is reused once it closes: a simulator answering on an API's old address
// is not held to that API's document, and an undocumented route of the API itself still is.
func TestContractCheckAsksAReusedAddressAgain(t *testing.T) {
	apiMux := http.NewServeMux()
	apiMux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(api.OpenAPI())
	})
	apiMux.HandleFunc("POST /__undocumented", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) })
	apiSrv := httptest.NewServer(apiMux)
	rec := &recorder{TB: t}
	Do(rec, t.Context(), "POST", apiSrv.URL+"/__undocumented", "", map[string]any{})
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "no operation of the served document") {
		t.Fatalf("an undocumented route of the API: %v", rec.errors)
	}
	addr := apiSrv.Listener.Addr().String()
	apiSrv.Close()

	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the closed server's address %s was taken meanwhile: %v", addr, err)
	}
	sim := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/openapi.json" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	})}}
	sim.Start()
	defer sim.Close()
	rec = &recorder{TB: t}
	Do(rec, t.Context(), "POST", sim.URL+"/__undocumented", "", map[string]any{})
	if len(rec.errors) != 0 {
		t.Errorf("the simulator on the API's old address was held to the API's document: %v", rec.errors)
	}
}
