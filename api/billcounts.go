package api

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"rimflow/workflows"
)

// DefaultCountBillsEvery is how often CountBills asks Temporal's visibility store, when
// BillCountOptions.Every is 0. A minute keeps the gauges fresh for alerts that wait 10–15
// minutes, at (enterprises+1) × (open stages+1) count queries and two short lists a minute.
const DefaultCountBillsEvery = time.Minute

// maxListed bounds the overdue and needs-attention bills one count lists: they are the
// exceptions, and past this the gauges say "at least" (rimflow_bill_counts_truncated 1).
const maxListed = 10000

// BillCountOptions configure CountBills.
type BillCountOptions struct {
	Client    client.Client
	Namespace string
	Registry  prometheus.Registerer
	// Enterprises lists the tax numbers of the enterprise registry, the values of the enterprise
	// label; nil (one enterprise from RIMFLOW_CLOUD_*) counts every bill under enterprise "*".
	Enterprises func() []string
	Roles       []string // the policy's approval roles: their awaiting_<role> stages are counted
	Every       time.Duration
	// Gap is the least time between two of its visibility calls (default DefaultCountGap).
	Gap    time.Duration
	Logger *slog.Logger
}

// DefaultCountGap paces the counts: a count is one visibility call per enterprise and stage, and
// the namespace's visibility rate (10 a second by default) is shared with Temporal Web, the API's
// list and ops; at 2 a second the gauges never crowd them out (CI saw Web's list refused, 429,
// when a count went out as a burst).
const DefaultCountGap = 500 * time.Millisecond

// CountBills exports gauges of the open bills from Temporal's visibility store, counted again
// every opts.Every until ctx ends (the first count at once), so they are right across restarts and
// whatever process moved the bill:
//   - rimflow_bills{stage,enterprise}: running bills by stage (stage "other": an awaiting stage
//     of a role the policy does not know);
//   - rimflow_bills_overdue{stage,enterprise}: those marked Overdue;
//   - rimflow_bills_needing_attention{kind,failed_step,enterprise}: NeedsAttention (kind bill:
//     a failed bill, by FailedStep; kind deduction_batch: a batch the cloud refused);
//   - rimflow_bill_counts_last_success_timestamp_seconds, rimflow_bill_count_errors_total.
//
// Every API process counts the same bills: aggregate across them with max, not sum.
func CountBills(ctx context.Context, opts BillCountOptions) {
	bc := newBillCounter(opts)
	t := time.NewTicker(cmp.Or(opts.Every, DefaultCountBillsEvery))
	defer t.Stop()
	for {
		if err := bc.count(ctx); err != nil && ctx.Err() == nil {
			bc.errors.Inc()
			bc.logger.Warn("counting bills", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type billCounter struct {
	opts     BillCountOptions
	logger   *slog.Logger
	lastCall time.Time         // of the last visibility call (pace); counts run one at a time
	stages   []workflows.Stage // the open stages counted one by one
	stageOf  func(workflows.Stage) string
	errors   prometheus.Counter

	mu       sync.Mutex
	snapshot []prometheus.Metric // the last good count, what a scrape sees

	billsD, overdueD, attnD, lastD, truncD *prometheus.Desc
}

func newBillCounter(opts BillCountOptions) *billCounter {
	m := &apiMetrics{awaiting: map[workflows.Stage]bool{}}
	stages := []workflows.Stage{workflows.StageCollecting, workflows.StageImageReview, workflows.StageAwaitingVoucher,
		workflows.StageDeducting, workflows.StageFailed}
	for _, role := range append(slices.Clone(workflows.DefaultApprovals), opts.Roles...) {
		s := workflows.AwaitingStage(role)
		if !m.awaiting[s] && awaitingStage.MatchString(string(s)) {
			m.awaiting[s] = true
			stages = append(stages, s)
		}
	}
	bc := &billCounter{
		opts: opts, logger: cmp.Or(opts.Logger, slog.Default()), stages: stages,
		stageOf: func(s workflows.Stage) string {
			if l := m.stageLabel(s); l != "awaiting_other" && l != "" {
				return l
			}
			return "other"
		},
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rimflow_bill_count_errors_total", Help: "Counts of bills in Temporal's visibility store that failed (the gauges keep the last good count).",
		}),
		billsD: prometheus.NewDesc("rimflow_bills", "Running bills by stage and enterprise (tax number), from Temporal's visibility store.",
			[]string{"stage", "enterprise"}, nil),
		overdueD: prometheus.NewDesc("rimflow_bills_overdue", "Running bills past their stage's soft SLA (search attribute Overdue), by stage and enterprise.",
			[]string{"stage", "enterprise"}, nil),
		attnD: prometheus.NewDesc("rimflow_bills_needing_attention",
			"Workflows that need ops (NeedsAttention): kind bill (a failed bill, by FailedStep) or deduction_batch (refused by the cloud), by enterprise.",
			[]string{"kind", "failed_step", "enterprise"}, nil),
		lastD:  prometheus.NewDesc("rimflow_bill_counts_last_success_timestamp_seconds", "When the bill gauges were last counted (Unix seconds).", nil, nil),
		truncD: prometheus.NewDesc("rimflow_bill_counts_truncated", "1 when the overdue or needs-attention bills were too many to list: their gauges are lower bounds.", nil, nil),
	}
	register(opts.Registry, bc.errors)
	if err := opts.Registry.Register(bc); err != nil {
		bc.logger.Warn("bill counts not exported", "error", err.Error())
	}
	return bc
}

func (bc *billCounter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{bc.billsD, bc.overdueD, bc.attnD, bc.lastD, bc.truncD} {
		ch <- d
	}
}

func (bc *billCounter) Collect(ch chan<- prometheus.Metric) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	for _, m := range bc.snapshot {
		ch <- m
	}
}

// enterpriseLabels are the enterprise label's values, and the label of a bill's tax number.
func (bc *billCounter) enterpriseLabels() ([]string, func(string) string) {
	if bc.opts.Enterprises == nil {
		return []string{"*"}, func(string) string { return "*" }
	}
	known := slices.Sorted(slices.Values(bc.opts.Enterprises()))
	return known, func(taxNo string) string {
		if _, ok := slices.BinarySearch(known, taxNo); ok {
			return taxNo
		}
		return "other" // dropped from the registry since the bill started
	}
}

var quotable = regexp.MustCompile(`^[A-Za-z0-9_:.-]*$`)

func (bc *billCounter) count(ctx context.Context) error {
	ents, entOf := bc.enterpriseLabels()
	var out []prometheus.Metric
	open := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", workflows.BillWorkflowName)
	type scope struct{ label, where string }
	scopes := []scope{{"*", open}}
	if bc.opts.Enterprises != nil {
		scopes = scopes[:0]
		for _, e := range ents {
			if !quotable.MatchString(e) {
				continue // not a tax number: never put it in a query
			}
			scopes = append(scopes, scope{e, fmt.Sprintf("%s AND %s = '%s'", open, workflows.SABillTaxNo.GetName(), e)})
		}
		scopes = append(scopes, scope{"other", open})
	}
	var knownTotal int64 // the bills of the registry's enterprises, for "other"
	for _, sc := range scopes {
		total, err := bc.countWhere(ctx, sc.where)
		if err != nil {
			return err
		}
		if sc.label == "other" { // every open bill: those of no enterprise the registry knows
			out = append(out, prometheus.MustNewConstMetric(bc.billsD, prometheus.GaugeValue, float64(max(total-knownTotal, 0)), "other", "other"))
			continue
		}
		knownTotal += total
		var byStage int64
		for _, s := range bc.stages {
			n, err := bc.countWhere(ctx, fmt.Sprintf("%s AND %s = '%s'", sc.where, workflows.SABillStage.GetName(), s))
			if err != nil {
				return err
			}
			byStage += n
			out = append(out, prometheus.MustNewConstMetric(bc.billsD, prometheus.GaugeValue, float64(n), string(s), sc.label))
		}
		out = append(out, prometheus.MustNewConstMetric(bc.billsD, prometheus.GaugeValue, float64(max(total-byStage, 0)), "other", sc.label))
	}

	// The exceptions, listed and grouped by their search attributes.
	overdue := map[[2]string]int{}
	for _, e := range ents {
		for _, s := range bc.stages {
			overdue[[2]string{bc.stageOf(s), e}] = 0 // every series exists, at 0
		}
	}
	truncated := false
	more, err := bc.list(ctx, open+" AND "+workflows.SAOverdue.GetName()+" = true", func(sa map[string]*commonpb.Payload) {
		overdue[[2]string{bc.stageOf(workflows.Stage(keyword(sa, workflows.SABillStage.GetName()))), entOf(keyword(sa, workflows.SABillTaxNo.GetName()))}]++
	})
	if err != nil {
		return err
	}
	truncated = truncated || more
	attention := map[[3]string]int{}
	for _, e := range ents {
		attention[[3]string{"bill", "", e}] = 0
	}
	more, err = bc.list(ctx, workflows.SANeedsAttention.GetName()+" = true AND ExecutionStatus = 'Running'", func(sa map[string]*commonpb.Payload) {
		kind, step := "deduction_batch", ""
		if _, ok := sa[workflows.SABillStage.GetName()]; ok {
			kind, step = "bill", keyword(sa, workflows.SAFailedStep.GetName())
			if !stepName.MatchString(step) {
				step = "other"
			}
		}
		attention[[3]string{kind, step, entOf(keyword(sa, workflows.SABillTaxNo.GetName()))}]++
	})
	if err != nil {
		return err
	}
	truncated = truncated || more
	for k, n := range overdue {
		out = append(out, prometheus.MustNewConstMetric(bc.overdueD, prometheus.GaugeValue, float64(n), k[0], k[1]))
	}
	for k, n := range attention {
		out = append(out, prometheus.MustNewConstMetric(bc.attnD, prometheus.GaugeValue, float64(n), k[0], k[1], k[2]))
	}
	trunc := 0.0
	if truncated {
		trunc = 1
	}
	now := time.Now()
	out = append(out, prometheus.MustNewConstMetric(bc.lastD, prometheus.GaugeValue, float64(now.Unix())),
		prometheus.MustNewConstMetric(bc.truncD, prometheus.GaugeValue, trunc))
	bc.mu.Lock()
	bc.snapshot = out
	bc.mu.Unlock()
	return nil
}

// stepName is what a FailedStep label may hold: the workflow's step names.
var stepName = regexp.MustCompile(`^[A-Za-z:]{0,40}$`)

// pace waits until Gap has passed since the previous visibility call.
func (bc *billCounter) pace(ctx context.Context) error {
	if wait := time.Until(bc.lastCall.Add(cmp.Or(bc.opts.Gap, DefaultCountGap))); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	bc.lastCall = time.Now()
	return nil
}

func (bc *billCounter) countWhere(ctx context.Context, query string) (int64, error) {
	if err := bc.pace(ctx); err != nil {
		return 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := bc.opts.Client.CountWorkflow(cctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: bc.opts.Namespace, Query: query})
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", query, err)
	}
	return resp.GetCount(), nil
}

// list hands the search attributes of every workflow query matches to each, up to maxListed;
// more is true when there were more.
func (bc *billCounter) list(ctx context.Context, query string, each func(map[string]*commonpb.Payload)) (more bool, err error) {
	var token []byte
	seen := 0
	for {
		if err := bc.pace(ctx); err != nil {
			return false, err
		}
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := bc.opts.Client.ListWorkflow(lctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: bc.opts.Namespace, Query: query, PageSize: 1000, NextPageToken: token})
		cancel()
		if err != nil {
			return false, fmt.Errorf("list %q: %w", query, err)
		}
		for _, ex := range resp.GetExecutions() {
			if seen == maxListed {
				return true, nil
			}
			seen++
			each(ex.GetSearchAttributes().GetIndexedFields())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return false, nil
		}
	}
}

// keyword decodes a Keyword search attribute ("" when absent). Search attributes are plain JSON,
// never sealed by the payload codec.
func keyword(sa map[string]*commonpb.Payload, name string) string {
	p, ok := sa[name]
	if !ok {
		return ""
	}
	var v string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil {
		return ""
	}
	return strings.TrimSpace(v)
}
