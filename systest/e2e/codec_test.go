package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rimflow/internal/codec"
	"rimflow/internal/devstack"
	"rimflow/workflows"
)

// webDecodesThroughCodec: the devstack encrypts by default with the key file it made on first
// start, and its Temporal Web is wired to the API's codec server. Doing what the browser does —
// read a bill's history through Web's API, send its payloads to the codec endpoint from Web's
// origin — gives the bill back in clear.
func (e *e2e) webDecodesThroughCodec(t *testing.T) {
	info, err := os.Stat(filepath.Join(e.dir, devstack.CodecKeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file in the data dir: %v %v", info, err)
	}

	var settings struct {
		Codec struct {
			Endpoint           string
			IncludeCredentials bool
		}
	}
	e.call(t, "GET", e.stack.UIURL()+"/api/v1/settings", nil, &settings)
	if settings.Codec.Endpoint != e.stack.CodecURL() {
		t.Fatalf("Temporal Web's codec endpoint is %q, want the API's %q", settings.Codec.Endpoint, e.stack.CodecURL())
	}

	// The history as Web's API serves it: the start input is sealed.
	id := workflows.BillWorkflowID("OA", "E2E-HAPPY-ULT")
	var hist struct {
		History struct {
			Events []struct {
				Attrs *struct {
					Input struct {
						Payloads []json.RawMessage `json:"payloads"`
					} `json:"input"`
				} `json:"workflowExecutionStartedEventAttributes"`
			} `json:"events"`
		} `json:"history"`
	}
	e.call(t, "GET", e.stack.UIURL()+"/api/v1/namespaces/default/workflows/"+url.PathEscape(id)+"/history", nil, &hist)
	if len(hist.History.Events) == 0 || hist.History.Events[0].Attrs == nil || len(hist.History.Events[0].Attrs.Input.Payloads) != 1 {
		t.Fatalf("no start event with one input payload in the history Web serves")
	}
	input := hist.History.Events[0].Attrs.Input.Payloads[0]
	var sealed struct {
		Metadata map[string]string `json:"metadata"`
		Data     string            `json:"data"`
	}
	if err := json.Unmarshal(input, &sealed); err != nil {
		t.Fatal(err)
	}
	if enc, _ := base64.StdEncoding.DecodeString(sealed.Metadata["encoding"]); string(enc) != codec.EncodingEncrypted {
		t.Fatalf("the start input is stored as %q, not encrypted", enc)
	}

	// The browser's call: POST …/decode from Web's origin, with the namespace.
	origin := e.stack.UIURL()
	body, _ := json.Marshal(map[string]any{"payloads": []json.RawMessage{input}})
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodPost, e.stack.CodecURL()+"/decode", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin)
	req.Header.Set(codec.HeaderNamespace, "default")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("decode from Web's origin: HTTP %d, CORS %q: %s", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), raw)
	}
	var decoded struct {
		Payloads []struct {
			Data string `json:"data"`
		} `json:"payloads"`
	}
	if err := json.Unmarshal(raw, &decoded); err != nil || len(decoded.Payloads) != 1 {
		t.Fatalf("decode answer: %v %s", err, raw)
	}
	plain, _ := base64.StdEncoding.DecodeString(decoded.Payloads[0].Data)
	var in workflows.BillInput
	if err := json.Unmarshal(plain, &in); err != nil || in.BillID != "E2E-HAPPY-ULT" || len(in.CompanyInfo) != 1 ||
		!strings.Contains(in.CompanyInfo[0].Name, "示例科技") {
		t.Fatalf("decoded input: %v %s", err, plain)
	}
}

// An open API (no token, no clients) only listens on loopback: ":0" is every interface.
func TestOpenAPIOffLoopbackRefused(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0"} {
		opts := devstack.Options{DataDir: t.TempDir(), TemporalAddr: "127.0.0.1:0", DisableUI: true, CloudAddr: "127.0.0.1:0", APIAddr: addr}
		if s, err := devstack.Start(t.Context(), opts); err == nil {
			s.Close()
			t.Fatalf("an open API started on %s", addr)
		} else if !strings.Contains(err.Error(), "refuses to listen") || !strings.Contains(err.Error(), addr) {
			t.Fatalf("%s: error %v", addr, err)
		}
	}
}
