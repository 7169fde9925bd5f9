package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
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
	if !regexp.MustCompile(`appId=CASHINV appSecuret=12345678 tenantid=devbiz accountId=1534920374578620490 user=13825207590 .*client_id=CASHINV.* mode: strict=false assume-idempotency=true assume-billsave-replaces=true assume-poll-redelivery=true receipt-timeout=1m0s`).MatchString(line) {
		t.Fatalf("startup line: %q", line)
	}
	if mode := getStats(t, base)["mode"].(map[string]any); mode["strict"] != false || mode["idempotentMessageId"] != true {
		t.Fatalf("default mode: %v", mode)
	}
}

// -strict and the -assume-* switches reach the simulator.
func TestRunStrictAndAssumptionFlags(t *testing.T) {
	line, base := startRun(t, "-strict", "-assume-idempotency=false", "-assume-billsave-replaces=false",
		"-assume-poll-redelivery=false", "-receipt-timeout", "5s")
	if !regexp.MustCompile(`mode: strict=true assume-idempotency=false assume-billsave-replaces=false assume-poll-redelivery=false receipt-timeout=5s`).MatchString(line) {
		t.Fatalf("startup line: %q", line)
	}
	want := map[string]any{"strict": true, "idempotentMessageId": false, "billSaveReplacesSet": false, "pollRedelivery": false, "receiptTimeoutMs": float64(5000)}
	mode := getStats(t, base)["mode"].(map[string]any)
	for k, v := range want {
		if mode[k] != v {
			t.Fatalf("mode %s = %v, want %v (%v)", k, mode[k], v, mode)
		}
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-token-ttl", "soon"}, {"-assume-idempotency=maybe"}, {"-receipt-timeout", "later"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Fatalf("%v should fail", args)
		}
	}
}
