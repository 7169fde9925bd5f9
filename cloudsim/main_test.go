package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
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
