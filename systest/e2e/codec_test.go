package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rimflow/devstack/harness"
)

// webWiredToCodec: the devstack encrypts by default with the key file it made on first start
// (mode 0600 in its data dir), and its Temporal Web is wired to the API's codec server. The suite's
// sealed-payloads case then decodes a history from Web's origin as the browser does.
func (e *e2e) webWiredToCodec(t *testing.T) {
	info, err := os.Stat(filepath.Join(e.dir, harness.CodecKeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file in the data dir: %v %v", info, err)
	}
	var settings struct {
		Codec struct {
			Endpoint           string
			IncludeCredentials bool
		}
		WorkflowTerminateDisabled, WorkflowResetDisabled, BatchActionsDisabled bool
	}
	e.call(t, "GET", e.stack.UIURL()+"/api/v1/settings", nil, &settings)
	if settings.Codec.Endpoint != e.stack.CodecURL() {
		t.Fatalf("Temporal Web's codec endpoint is %q, want the API's %q", settings.Codec.Endpoint, e.stack.CodecURL())
	}
	// No action that skips the saga or re-runs cloud calls: terminate, reset, batches.
	if !settings.WorkflowTerminateDisabled || !settings.WorkflowResetDisabled || !settings.BatchActionsDisabled {
		t.Fatalf("Temporal Web offers terminate %v, reset %v, batch actions %v (want none)",
			!settings.WorkflowTerminateDisabled, !settings.WorkflowResetDisabled, !settings.BatchActionsDisabled)
	}
}

// An open API (no token, no clients) only listens on loopback: ":0" is every interface.
func TestOpenAPIOffLoopbackRefused(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0"} {
		opts := harness.Options{DataDir: t.TempDir(), TemporalAddr: "127.0.0.1:0", DisableUI: true, CloudAddr: "127.0.0.1:0", APIAddr: addr}
		if s, err := harness.Start(t.Context(), opts); err == nil {
			s.Close()
			t.Fatalf("an open API started on %s", addr)
		} else if !strings.Contains(err.Error(), "refuses to listen") || !strings.Contains(err.Error(), addr) {
			t.Fatalf("%s: error %v", addr, err)
		}
	}
}

// The open devstack API (no token, no clients, loopback only) answers loopback host names only: a
// web page that rebinds its DNS name to 127.0.0.1 (DNS rebinding) reaches it with that name as
// Host and is refused, before anything reaches a bill.
func TestOpenDevstackAPIRefusesForeignHost(t *testing.T) {
	opts := harness.Options{DataDir: t.TempDir(), TemporalAddr: "127.0.0.1:0", DisableUI: true, CloudAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0"}
	s, err := harness.Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for host, want := range map[string]int{"": http.StatusOK, "rebound.evil.example": http.StatusForbidden} {
		req, err := http.NewRequestWithContext(t.Context(), "GET", s.APIURL()+"/v1/enterprises", nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
}
