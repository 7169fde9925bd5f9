package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startRun runs the command with args on a free port and answers its startup line and base URL;
// the command is stopped (and must return nil) when the test ends.
func startRun(t *testing.T, args ...string) (line, base string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), w, io.Discard) }()
	lines := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		lines <- l
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the command did not stop within 10s")
		}
		w.Close()
	})
	select {
	case line = <-lines:
	case <-time.After(10 * time.Second):
		t.Fatal("no startup line within 10s")
	}
	m := regexp.MustCompile(`^cloudsim listening on (http://127\.0\.0\.1:\d+) `).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("startup line: %q", line)
	}
	return line, m[1]
}

func getStats(t *testing.T, base string) map[string]any {
	t.Helper()
	resp, err := http.Get(base + "/__sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil || stats["endpoints"] == nil {
		t.Fatalf("stats: %v %v", stats, err)
	}
	return stats
}

// The command prints its URL and credentials, serves the simulator, and stops cleanly.
func TestRunServesAndStops(t *testing.T) {
	line, base := startRun(t, "-seed", "5")
	if !regexp.MustCompile(`appId=CASHINV appSecuret=12345678 tenantid=devbiz accountId=1534920374578620490 user=13825207590 .*client_id=CASHINV.* mode: strict=false assume-idempotency=true assume-billsave-replaces=true assume-poll-redelivery=true assume-poll-key-md5=true receipt-timeout=1m0s handshake-window=1m0s`).MatchString(line) {
		t.Fatalf("startup line: %q", line)
	}
	if mode := getStats(t, base)["mode"].(map[string]any); mode["strict"] != false || mode["idempotentMessageId"] != true {
		t.Fatalf("default mode: %v", mode)
	}
}

// -strict and the -assume-* switches reach the simulator.
func TestRunStrictAndAssumptionFlags(t *testing.T) {
	line, base := startRun(t, "-strict", "-assume-idempotency=false", "-assume-billsave-replaces=false",
		"-assume-poll-redelivery=false", "-assume-poll-key-md5=false", "-receipt-timeout", "5s", "-handshake-window", "30s")
	if !regexp.MustCompile(`mode: strict=true assume-idempotency=false assume-billsave-replaces=false assume-poll-redelivery=false assume-poll-key-md5=false receipt-timeout=5s handshake-window=30s`).MatchString(line) {
		t.Fatalf("startup line: %q", line)
	}
	want := map[string]any{"strict": true, "idempotentMessageId": false, "billSaveReplacesSet": false, "pollRedelivery": false, "receiptTimeoutMs": float64(5000),
		"pollKeyMd5": false, "handshakeWindowMs": float64(30000)}
	mode := getStats(t, base)["mode"].(map[string]any)
	for k, v := range want {
		if mode[k] != v {
			t.Fatalf("mode %s = %v, want %v (%v)", k, mode[k], v, mode)
		}
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-token-ttl", "soon"}, {"-assume-idempotency=maybe"}, {"-receipt-timeout", "later"},
		{"-name", "nope=/x"}, {"-name", "pollData"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Fatalf("%v should fail", args)
		}
	}
}

// -standard and -tenants add standard-edition tenants; each is printed with its credentials
// and served.
func TestRunAddsStandardTenants(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tenants.json")
	body := `{"standard":[{"name":"上海浦东示范贸易有限公司","taxNo":"91310115MA1K4QXN5A","clientId":"FILE-1",
		"clientSecret":"file-secret","encryptKey":"0123456789abcdef","userKeyTTL":"3h",
		"push":[{"name":"影像","taxNo":"91310115MA1K4QXN5A","clientId":"FILE-1","url":"http://127.0.0.1:9/push"}]}]}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-tenants", file, "-standard", "91110108MA01ABCD2H=北京示例科技有限公司"}, w, io.Discard)
	}()
	rd := bufio.NewReader(out)
	first, _ := rd.ReadString('\n')
	base := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(first)
	fileLine, _ := rd.ReadString('\n')
	flagLine, _ := rd.ReadString('\n')
	if base == nil || !strings.Contains(fileLine, `taxNo=91310115MA1K4QXN5A client_id=FILE-1 client_secret=file-secret encrypt_key=0123456789abcdef push=1`) {
		t.Fatalf("startup: %q %q", first, fileLine)
	}
	m := regexp.MustCompile(`taxNo=91110108MA01ABCD2H client_id=(STD\w+) client_secret=(\w{16}) encrypt_key=(\w{16}) push=0`).FindStringSubmatch(flagLine)
	if m == nil {
		t.Fatalf("flag tenant line: %q", flagLine)
	}
	go io.Copy(io.Discard, rd)
	resp, err := http.Get(base[1] + "/__sim/tenants")
	if err != nil {
		t.Fatal(err)
	}
	var tenants struct {
		Tenants []struct {
			Edition, TaxNo, ClientID, UserKeyTTL string
		} `json:"tenants"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tenants)
	resp.Body.Close()
	if len(tenants.Tenants) != 3 || tenants.Tenants[1].ClientID != "FILE-1" || tenants.Tenants[1].UserKeyTTL != "3h0m0s" || tenants.Tenants[2].ClientID != m[1] {
		t.Fatalf("tenants: %+v", tenants)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run returned %v", err)
	}
}

func TestRunRejectsBadTenants(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown field": `{"standard":[{"nmae":"x"}]}`,
		"short key":     `{"standard":[{"name":"x","taxNo":"91310115MA1K4QXN5A","clientId":"c","clientSecret":"s","encryptKey":"short"}]}`,
		"bad ttl":       `{"standard":[{"name":"x","taxNo":"91310115MA1K4QXN5A","clientId":"c","clientSecret":"s","encryptKey":"0123456789abcdef","userKeyTTL":"soon"}]}`,
	} {
		file := filepath.Join(dir, "t.json")
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-tenants", file}, io.Discard, io.Discard); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
	if err := run(context.Background(), []string{"-standard", "no-name"}, io.Discard, io.Discard); err == nil {
		t.Fatal("-standard without =NAME accepted")
	}
}

// -name sets an [assumed] path as a deployment sets its cloud's: the long poll answers at the new
// path only.
func TestRunNamesAssumedPaths(t *testing.T) {
	_, base := startRun(t, "-name", "pollData=/poll/v3", "-name", "unbind=billRemove")
	for path, served := range map[string]bool{"/poll/v3": true, "/polling/fpzs/invoice/data/v2": false} {
		resp, err := http.Get(base + path + "?key=x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if (resp.StatusCode != http.StatusNotFound) != served {
			t.Errorf("%s: HTTP %d, served %t", path, resp.StatusCode, served)
		}
	}
}
