package webhooks

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func noFiles(string) ([]byte, error) { return nil, errors.New("no files here") }

func TestParseNamesEachProblem(t *testing.T) {
	yml := `
resources:
  OA:
    urls: ["ftp://erp.example.com/x", "http://erp.example.com/events"]
    secret: "s3cr3t-inline-value-long-enough"
  SAP:
    urls: []
    secret: env:SAP_SECRET
  HR:
    urls: ["https://hr.example.com/hook"]
    secret: env:SHORT
`
	_, err := Parse([]byte(yml), env(map[string]string{"SHORT": "short"}), noFiles)
	if err == nil {
		t.Fatal("a broken registry was accepted")
	}
	for _, want := range []string{
		"resources.OA.urls[0]: want an http(s) URL",
		"resources.OA.urls[1]: events are signed but not sealed",
		"resources.OA.secret: a secret is given by reference only",
		"resources.SAP.urls: at least one URL",
		"resources.SAP.secret: SAP_SECRET is empty or unset",
		"resources.HR.secret: at least 16 bytes",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "short") {
		t.Errorf("the error repeats a secret: %v", err)
	}
	if _, err := Parse([]byte("resource:\n  OA: {}\n"), env(nil), noFiles); err == nil || !strings.Contains(err.Error(), "resource") {
		t.Errorf("a misspelt key was accepted: %v", err)
	}
}

func TestParseSecretFromFile(t *testing.T) {
	r, err := Parse([]byte("resources:\n  OA:\n    urls: [\"https://erp.example.com/h\"]\n    secret: file:/run/secrets/oa\n"), env(nil),
		func(p string) ([]byte, error) {
			if p == "/run/secrets/oa" {
				return []byte("0123456789abcdef-from-file\n"), nil
			}
			return nil, errors.New("missing")
		})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Has("OA") || r.Has("SAP") {
		t.Fatalf("Has: OA %v SAP %v", r.Has("OA"), r.Has("SAP"))
	}
	if got := string(r.byResource["OA"].secret); got != "0123456789abcdef-from-file" {
		t.Errorf("secret %q: the trailing newline should be trimmed", got)
	}
}

func TestSignAndVerify(t *testing.T) {
	secret := []byte("0123456789abcdef")
	body := []byte(`{"id":"r-1","seq":1}`)
	now := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	h.Set(HeaderTimestamp, "1800000000")
	h.Set(HeaderSignature, Sign(secret, now, body))
	if err := Verify(secret, h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("a good delivery: %v", err)
	}
	if err := Verify(secret, h, []byte(`{"id":"r-1","seq":2}`), now, 5*time.Minute); err == nil {
		t.Error("a changed body verified")
	}
	if err := Verify([]byte("another-secret-16"), h, body, now, 5*time.Minute); err == nil {
		t.Error("another secret verified")
	}
	if err := Verify(secret, h, body, now.Add(10*time.Minute), 5*time.Minute); err == nil || !strings.Contains(err.Error(), "tolerance") {
		t.Errorf("a replay ten minutes later: %v", err)
	}
	h.Set(HeaderTimestamp, "1800000001") // the timestamp is signed too
	if err := Verify(secret, h, body, now, 5*time.Minute); err == nil {
		t.Error("a moved timestamp verified")
	}
}

func registryFor(t *testing.T, urls ...string) *Registry {
	t.Helper()
	y := "resources:\n  OA:\n    urls: ["
	for i, u := range urls {
		if i > 0 {
			y += ", "
		}
		y += `"` + u + `"`
	}
	y += "]\n    secret: env:S\n"
	r, err := Parse([]byte(y), env(map[string]string{"S": "0123456789abcdef"}), noFiles)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDeliverSignsAndReportsRefusals(t *testing.T) {
	var got atomic.Int32
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := Verify([]byte("0123456789abcdef"), r.Header, body, time.Now(), time.Minute); err != nil || r.Header.Get(HeaderEventID) != "ev-1" {
			http.Error(w, "bad", http.StatusUnauthorized)
			return
		}
		got.Add(1)
	}))
	defer ok.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()

	if err := registryFor(t, ok.URL).Deliver(context.Background(), "OA", "ev-1", []byte(`{}`)); err != nil || got.Load() != 1 {
		t.Fatalf("deliver: %v, received %d", err, got.Load())
	}
	err := registryFor(t, ok.URL, down.URL+"/hook?token=tkn-secret").Deliver(context.Background(), "OA", "ev-1", []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("a refusing URL: %v", err)
	}
	if strings.Contains(err.Error(), "tkn-secret") {
		t.Errorf("the error carries the URL's query: %v", err)
	}
	if err := registryFor(t, ok.URL).Deliver(context.Background(), "SAP", "ev-1", []byte(`{}`)); err != nil {
		t.Errorf("a resource without webhooks: %v", err)
	}
}

func TestDeliverFollowsNoRedirect(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	err := registryFor(t, redirect.URL).Deliver(context.Background(), "OA", "ev-1", []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "HTTP 307") {
		t.Errorf("a redirect: %v", err)
	}
	if elsewhere.Load() != 0 {
		t.Error("the event was re-posted to where the redirect pointed")
	}
}
