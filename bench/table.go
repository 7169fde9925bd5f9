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
		target := map[string]string{"startToUrl": "p99 ≤ 1.5 s", "pushToBound": "p99 ≤ 250 ms", "approve": "p99 ≤ 500 ms"}[name]
		row(name+" ms", fmt.Sprintf("p50 %.1f  p95 %.1f  p99 %.1f  max %.1f", s.P50, s.P95, s.P99, s.Max), target)
	}
	row("cloud calls/bill", formatMap(r.CloudCallsPerBill), "the minimum for the options")
	row("token fetches", fmt.Sprintf("%d (rejections %d)", r.TokenFetches, r.TokenRejections), "≤ 1 per token lifetime per worker")
	row("cpu s/bill", fmt.Sprintf("%.4f (worker %.4f, server+sim+clients %.4f; baseline %.4f)",
		r.CPUSecondsPerBill, r.WorkerCPUPerBill, r.ServerCPUPerBill, r.BaselineCPUPerWf), "")
	if h, base := r.HistoryPerBill, r.BaselineHistoryPerWf; h != nil && base != nil {
		row("history/bill", fmt.Sprintf("%.1f events, %.1f upserts (+%.1f TemporalChangeVersion), %.1f visibility writes, %.0f B (updates' answers %.0f B); baseline %.1f, %.1f (+%.1f), %.1f, %.0f B",
			h.Events, h.Upserts, h.VersionUpserts, h.VisibilityWrites, h.HistoryBytes, h.UpdateResultBytes,
			base.Events, base.Upserts, base.VersionUpserts, base.VisibilityWrites, base.HistoryBytes), "")
	}
	row("worker peak RSS", fmt.Sprintf("%.1f MB", r.WorkerPeakRssMB), "")
	row("server peak RSS", fmt.Sprintf("%.1f MB", r.ServerPeakRssMB), "")
	if r.Waiting > 0 {
		row("waiting bills", fmt.Sprintf("%d parked in %.1fs", r.WaitingParked, r.WaitingParkSeconds), "")
		row("waiting worker RSS", fmt.Sprintf("%.1f MB (server %.1f MB)", r.WaitingWorkerRssMB, r.WaitingServerRssMB), "≤ 512 MB at 5,000")
		row("drain", fmt.Sprintf("%.1fs (%.2f bills/s)", r.DrainSeconds, r.DrainPerSecond), "")
	}
	if r.CollectingBills > 0 {
		collectingRows(row, r)
	}
	for _, s := range r.Skipped {
		row("skipped", s, "")
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

// collectingRows are the collecting scenario's figures.
func collectingRows(row func(name, value, target string), r *Result) {
	if len(r.AloneLatency) > 0 {
		row("control: bills alone", fmt.Sprintf("%.2f bills/s, ratio %.3f", r.AloneBillsPerSecond, r.AloneRatio), "")
		for _, name := range []string{"startToUrl", "pushToBound", "approve"} {
			s := r.AloneLatency[name]
			row("  "+name+" ms alone", fmt.Sprintf("p50 %.1f  p95 %.1f  p99 %.1f  max %.1f", s.P50, s.P95, s.P99, s.Max), "")
		}
	}
	row("collecting bills", fmt.Sprintf("%d started in %.1fs (start→URL p50 %.0f, p99 %.0f ms); eventCode TTL %.0fs, watch grace %.0fs",
		r.CollectingParked, r.CollectingParkSeconds, r.CollectingStartToURL.P50, r.CollectingStartToURL.P99, r.EventCodeTTLSec, r.WatchGraceSec), "")
	if r.WorkerBinary != "" {
		row("worker program", r.WorkerBinary, "")
	}
	w := r.WatchersLive
	row("while live", fmt.Sprintf("%d watcher activities running, %d scheduled; %d sockets open, %d polls held (peak sockets %d)",
		w.Running, w.Scheduled, r.SocketsLive, r.PollsHeldLive, r.PeakSocketsOpen), "")
	if p := r.StartProbes; p != nil {
		row("POST /v1/bills beside them", fmt.Sprintf("%d of %d started; %v; p50 %.0f, max %.0f ms", p.Started, p.Count, p.Statuses, p.Latency.P50, p.Latency.Max), "all start")
	}
	for _, name := range []string{"none", "watchers", "noneAfterExpiry"} {
		if c, ok := r.IdleCPU[name]; ok {
			row("quiet "+name, fmt.Sprintf("server %.3f + worker %.3f cores (simulator %.3f) over %.0fs; %d polls, %d handshakes",
				c.ServerCores, c.WorkerCores, c.SimulatorCores, c.Seconds, c.Polls, c.Handshakes), "")
		}
	}
	if r.WatcherIdleReference != "" {
		row("idle watchers cost", fmt.Sprintf("%.3f cores (server %.3f, worker %.3f; simulator %.3f more) vs %s",
			r.WatcherIdleCores, r.WatcherIdleServerCores, r.WatcherIdleWorkerCores, r.WatcherIdleSimulatorCores, r.WatcherIdleReference), "≤ 0.25 core at 5,000")
		row("per idle watcher", fmt.Sprintf("%.2f ms CPU per minute; heartbeat every %.1fs (%d gaps seen), %.1f/s; %.1f polls/s",
			r.WatcherCPUMsPerMinute, r.HeartbeatIntervalSeconds, r.HeartbeatSamples, r.HeartbeatsPerSecond, r.PollsPerSecond), "")
	}
	row("worker RSS with them", fmt.Sprintf("%.1f MB (server %.1f MB)", r.CollectingWorkerRssMB, r.CollectingServerRssMB), "≤ 512 MB")
	a := r.WatchersAfterExpiry
	zero := "not reached"
	if r.ZeroAfterExpirySeconds >= 0 {
		zero = fmt.Sprintf("all gone %.0fs after the last expiry", r.ZeroAfterExpirySeconds)
	}
	row("after expiry", fmt.Sprintf("%d watcher activities running, %d scheduled; %d sockets, %d polls held; %s",
		a.Running, a.Scheduled, r.SocketsAfterExpiry, r.PollsHeldAfterExpiry, zero), "all 0")
}
