// Package webhooks tells the ERP what happens to its bills: per resource, the URLs that receive
// signed JSON events, and the signature both sides compute.
//
// A delivery is a POST of the event's JSON with the headers
//
//	X-Rimflow-Event-Id:  <event id>         (a redelivery keeps it: drop repeats)
//	X-Rimflow-Timestamp: <unix seconds>
//	X-Rimflow-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//	X-Rimflow-Sequence:  <the resource's sequence> (webhooks registered through the API only;
//	                     the body's "sequence" is the signed copy)
//
// A receiver checks the signature (Verify) and refuses a timestamp older than it tolerates.
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"rimflow/internal/secretref"
)

// Header names of a delivery.
const (
	HeaderEventID   = "X-Rimflow-Event-Id"
	HeaderTimestamp = "X-Rimflow-Timestamp"
	HeaderSignature = "X-Rimflow-Signature"
)

// Target is where one resource's events go.
type Target struct {
	URLs   []string
	secret []byte
}

// Registry maps a resource (the ERP's source system) to its target.
type Registry struct {
	byResource map[string]Target
	client     *http.Client
}

// file is the YAML (or JSON) registry:
//
//	resources:
//	  OA:
//	    urls: [https://erp.example.com/rimflow/events]
//	    secret: env:RIMFLOW_OA_WEBHOOK_SECRET      # or file:/run/secrets/oa-webhook
type file struct {
	Resources map[string]struct {
		URLs   []string `yaml:"urls"`
		Secret string   `yaml:"secret"`
	} `yaml:"resources"`
}

// Parse reads a registry; secrets only by reference (env:NAME or file:PATH), resolved with
// getenv and readFile. Every problem names its place (resources.OA.urls[0]).
func Parse(data []byte, getenv func(string) string, readFile func(string) ([]byte, error)) (*Registry, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("webhooks: %v", err)
	}
	r := &Registry{byResource: map[string]Target{}, client: &http.Client{
		Timeout: 15 * time.Second,
		// A redirect would re-POST the event elsewhere: refuse it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	names := make([]string, 0, len(f.Resources))
	for name := range f.Resources {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		res := f.Resources[name]
		where := "resources." + name
		if len(res.URLs) == 0 {
			bad("%s.urls: at least one URL", where)
		}
		for i, raw := range res.URLs {
			if err := CheckURL(raw); err != nil {
				bad("%s.urls[%d]: %v", where, i, err)
			}
		}
		secret, err := secretref.Resolve(res.Secret, getenv, readFile)
		if err != nil {
			bad("%s.secret: %v", where, err)
		} else if len(secret) < 16 {
			bad("%s.secret: at least 16 bytes", where)
		}
		r.byResource[name] = Target{URLs: res.URLs, secret: secret}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// Load reads the registry file at path ("" = no webhooks).
func Load(path string, getenv func(string) string) (*Registry, error) {
	if path == "" {
		return &Registry{byResource: map[string]Target{}}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("webhooks file %q: %w", path, err)
	}
	r, err := Parse(data, getenv, os.ReadFile)
	if err != nil {
		return nil, fmt.Errorf("webhooks file %q: %w", path, err)
	}
	return r, nil
}

// CheckURL is the rule for a webhook's URL, in the file and through the API alike: http(s) with a
// host, and https outside loopback (events are signed, not sealed).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("want an http(s) URL")
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return errors.New("events are signed but not sealed: use https outside loopback")
	}
	return nil
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Has reports whether events of resource go anywhere.
func (r *Registry) Has(resource string) bool {
	if r == nil {
		return false
	}
	_, ok := r.byResource[resource]
	return ok
}

// Sign is the signature header's value for a body sent at ts.
func Sign(secret []byte, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "%d.", ts.Unix())
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a delivery's signature and that its timestamp is within tolerance of now.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("no timestamp")
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return fmt.Errorf("timestamp %s outside the tolerance of %s", ts.UTC().Format(time.RFC3339), tolerance)
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return errors.New("bad signature")
	}
	return nil
}

// Deliver POSTs one event (already JSON) to every URL of resource. A URL that does not answer 2xx
// makes it fail, to be retried (every URL again: receivers drop repeats by event id). A resource
// without a target is nothing to do.
func (r *Registry) Deliver(ctx context.Context, resource, eventID string, body []byte) error {
	if r == nil {
		return nil
	}
	t, ok := r.byResource[resource]
	if !ok {
		return nil
	}
	var errs []error
	for _, u := range t.URLs {
		now := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderEventID, eventID)
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		req.Header.Set(HeaderSignature, Sign(t.secret, now, body))
		resp, err := r.client.Do(req)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", redact(u), unwrapURL(err)))
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			errs = append(errs, fmt.Errorf("%s: HTTP %d", redact(u), resp.StatusCode))
		}
	}
	return errors.Join(errs...)
}

// redact keeps a URL's scheme, host and path (a query may carry a token).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "webhook"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
