package main

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"rimflow/bench/kit"
	"rimflow/workflows"
)

// HistoryCost is what one happy bill (or baseline workflow) leaves in Temporal, averaged over a
// sample of the completed ones: its history events, its search-attribute upserts (the workflow's
// own, and the SDK's TemporalChangeVersion one per version marker) and the visibility writes they
// make (the start, each upsert, the close).
type HistoryCost struct {
	Sampled           int     `json:"sampled"`
	Events            float64 `json:"events"`
	Upserts           float64 `json:"upserts"`
	VersionUpserts    float64 `json:"versionUpserts"`
	VisibilityWrites  float64 `json:"visibilityWrites"`
	HistoryBytes      float64 `json:"historyBytes"`
	UpdateResultBytes float64 `json:"updateResultBytes"`
}

// historySample is how many completed bills (and baseline workflows) are read.
const historySample = 10

func (b *bench) historyCosts(ctx context.Context) error {
	bills, err := historyCost(ctx, b.env.Client, (&kit.Driver{}).Ref("").Resource, "bill-%d", b.cfg.Bills)
	if err != nil {
		return err
	}
	base, err := historyCost(ctx, b.env.Client, "BASE", "base-%d", b.cfg.Bills)
	if err != nil {
		return err
	}
	b.res.HistoryPerBill, b.res.BaselineHistoryPerWf = bills, base
	return nil
}

func historyCost(ctx context.Context, c client.Client, resource, format string, n int) (*HistoryCost, error) {
	out := &HistoryCost{}
	for i := 0; i < min(n, historySample); i++ {
		id := workflows.BillWorkflowID(resource, fmt.Sprintf(format, i))
		iter := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", id, err)
			}
			out.Events++
			out.HistoryBytes += float64(proto.Size(ev))
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
				f := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
				if _, ok := f["TemporalChangeVersion"]; ok && len(f) == 1 {
					out.VersionUpserts++
				} else {
					out.Upserts++
				}
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
				for _, p := range ev.GetWorkflowExecutionUpdateCompletedEventAttributes().GetOutcome().GetSuccess().GetPayloads() {
					out.UpdateResultBytes += float64(len(p.GetData()))
				}
			}
		}
		out.Sampled++
	}
	if out.Sampled == 0 {
		return out, nil
	}
	k := float64(out.Sampled)
	out.Events, out.Upserts, out.VersionUpserts = out.Events/k, out.Upserts/k, out.VersionUpserts/k
	out.HistoryBytes, out.UpdateResultBytes = round1(out.HistoryBytes/k), round1(out.UpdateResultBytes/k)
	out.VisibilityWrites = 2 + out.Upserts + out.VersionUpserts
	return out, nil
}
