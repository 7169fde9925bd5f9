package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"rimflow/internal/metrics"
)

// The comparison reads a worker's Go runtime from the /metrics a worker serves (the same registry).
func TestReadGoRuntimeFromAWorkersMetrics(t *testing.T) {
	srv := httptest.NewServer(metrics.Handler(metrics.NewRegistry()))
	defer srv.Close()
	g := readGoRuntime(context.Background(), strings.TrimPrefix(srv.URL, "http://"))
	if g.Goroutines < 1 || g.HeapInuseMB <= 0 || g.HeapAllocMB <= 0 || g.StackMB <= 0 || g.SysMB < g.HeapInuseMB {
		t.Errorf("read %+v, want every figure of a running process", g)
	}
	if none := readGoRuntime(context.Background(), "127.0.0.1:1"); none != (GoRuntime{}) {
		t.Errorf("nothing listening: read %+v, want the zero value", none)
	}
}
