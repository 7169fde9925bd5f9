package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// printTable writes the result for people: targets beside the figures.
func printTable(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(name, value, target string) { fmt.Fprintf(tw, "%s\t%s\t%s\n", name, value, target) }
	row("measure", "value", "target")
	row("-------", "-----", "------")
	row("bills/s", fmt.Sprintf("%.2f (%d bills, %d clients, %.1fs)", r.BillsPerSecond, r.Bills, r.Concurrency, r.BillsSeconds), "")
	row("baseline wf/s", fmt.Sprintf("%.2f (%.1fs)", r.BaselinePerSecond, r.BaselineSeconds), "")
	row("ratio", fmt.Sprintf("%.3f", r.Ratio), "≥ 0.9")
	for _, name := range []string{"startToUrl", "pushToBound", "approve", "voucher"} {
		s := r.Latency[name]
		target := ""
		if name == "pushToBound" {
			target = "p99 ≤ 250 ms"
		}
		row(name+" ms", fmt.Sprintf("p50 %.1f  p95 %.1f  p99 %.1f  max %.1f", s.P50, s.P95, s.P99, s.Max), target)
	}
	row("cloud calls/bill", formatMap(r.CloudCallsPerBill), "the minimum for the options")
	row("token fetches", fmt.Sprintf("%d (rejections %d)", r.TokenFetches, r.TokenRejections), "≤ 1 per token lifetime per worker")
	row("cpu s/bill", fmt.Sprintf("%.4f (worker %.4f, server+sim+clients %.4f; baseline %.4f)",
		r.CPUSecondsPerBill, r.WorkerCPUPerBill, r.ServerCPUPerBill, r.BaselineCPUPerWf), "")
	row("worker peak RSS", fmt.Sprintf("%.1f MB", r.WorkerPeakRssMB), "")
	row("server peak RSS", fmt.Sprintf("%.1f MB", r.ServerPeakRssMB), "")
	if r.Waiting > 0 {
		row("waiting bills", fmt.Sprintf("%d parked in %.1fs", r.WaitingParked, r.WaitingParkSeconds), "")
		row("waiting worker RSS", fmt.Sprintf("%.1f MB (server %.1f MB)", r.WaitingWorkerRssMB, r.WaitingServerRssMB), "≤ 512 MB at 5,000")
		row("drain", fmt.Sprintf("%.1fs (%.2f bills/s)", r.DrainSeconds, r.DrainPerSecond), "")
	}
	row("completed / failed", fmt.Sprintf("%d / %d (ledger ok: %v)", r.Completed, r.Failed, r.LedgerOK), "failed = 0")
	_ = tw.Flush()
	for _, e := range r.Errors {
		fmt.Fprintln(w, "error:", e)
	}
}

func formatMap(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.2f", k, m[k])
	}
	return strings.Join(parts, ", ")
}
