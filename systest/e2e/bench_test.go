package e2e

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"rimflow/devstack/harness"
)

// BenchmarkBillLifecycle measures one bill's whole life (start → collect → bound → two approvals
// → voucher → completed) through the HTTP API on the embedded stack: SQLite persistence, one
// worker, the simulator. The parallel variant shows how far concurrent bills overlap on one
// SQLite connection; compare the two as a ratio (ns/op of serial ÷ ns/op of parallel).
//
//	go test -run '^$' -bench BillLifecycle -benchtime 20x ./systest/e2e
func BenchmarkBillLifecycle(b *testing.B) {
	stack := benchStack(b)
	var n atomic.Int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runBenchBill(b, stack, fmt.Sprintf("BENCH-S-%d", n.Add(1)))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "bills/s")
}

func BenchmarkBillLifecycleParallel(b *testing.B) {
	stack := benchStack(b)
	var n atomic.Int64
	b.SetParallelism(4) // 4×GOMAXPROCS concurrent bills: the ERP side is I/O bound
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			runBenchBill(b, stack, fmt.Sprintf("BENCH-P-%d", n.Add(1)))
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "bills/s")
}

func benchStack(b *testing.B) *harness.Stack {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := harness.Start(ctx, harness.Options{
		DataDir: b.TempDir(), TemporalAddr: "127.0.0.1:0", DisableUI: true,
		CloudAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Seed: 3,
	})
	if err != nil {
		b.Fatalf("start stack: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func runBenchBill(b *testing.B, s *harness.Stack, id string) {
	_, err := harness.Demo{APIURL: s.APIURL(), CloudURL: s.CloudURL(), BillID: id, Wait: time.Minute}.Run(context.Background(), io.Discard)
	if err != nil {
		b.Error(err)
	}
}
