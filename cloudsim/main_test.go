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
)

// The command prints its URL and credentials, serves the simulator, and stops cleanly.
func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-seed", "5"}, w, io.Discard) }()

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^cloudsim listening on (http://127\.0\.0\.1:\d+) .*appId=CASHINV appSecuret=12345678 tenantid=devbiz accountId=1534920374578620490 user=13825207590 .*client_id=CASHINV`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("startup line: %q", line)
	}
	resp, err := http.Get(m[1] + "/__sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil || stats["endpoints"] == nil {
		t.Fatalf("stats: %v %v", stats, err)
	}
	resp.Body.Close()
	go io.Copy(io.Discard, out)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run returned %v", err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"-token-ttl", "soon"}, io.Discard, io.Discard); err == nil {
		t.Fatal("a bad flag should fail")
	}
}

// -standard and -tenants add standard-edition tenants; each is printed with its credentials
// and served.
func TestRunAddsStandardTenants(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tenants.json")
	body := `{"standard":[{"name":"上海浦东示范贸易有限公司","taxNo":"91310115MA1K4QXN5R","clientId":"FILE-1",
		"clientSecret":"file-secret","encryptKey":"0123456789abcdef","userKeyTTL":"3h",
		"push":[{"name":"影像","taxNo":"91310115MA1K4QXN5R","clientId":"FILE-1","url":"http://127.0.0.1:9/push"}]}]}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-tenants", file, "-standard", "91110108MA01ABCD2X=北京示例科技有限公司"}, w, io.Discard)
	}()
	rd := bufio.NewReader(out)
	first, _ := rd.ReadString('\n')
	base := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(first)
	fileLine, _ := rd.ReadString('\n')
	flagLine, _ := rd.ReadString('\n')
	if base == nil || !strings.Contains(fileLine, `taxNo=91310115MA1K4QXN5R client_id=FILE-1 client_secret=file-secret encrypt_key=0123456789abcdef push=1`) {
		t.Fatalf("startup: %q %q", first, fileLine)
	}
	m := regexp.MustCompile(`taxNo=91110108MA01ABCD2X client_id=(STD\w+) client_secret=(\w{16}) encrypt_key=(\w{16}) push=0`).FindStringSubmatch(flagLine)
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
		"short key":     `{"standard":[{"name":"x","taxNo":"91310115MA1K4QXN5R","clientId":"c","clientSecret":"s","encryptKey":"short"}]}`,
		"bad ttl":       `{"standard":[{"name":"x","taxNo":"91310115MA1K4QXN5R","clientId":"c","clientSecret":"s","encryptKey":"0123456789abcdef","userKeyTTL":"soon"}]}`,
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
