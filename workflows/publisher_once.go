package workflows

import (
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Search attributes once per workflow task. Every upsert is an event in the bill's history and a
// write of its visibility record, so a bill gathers what its publishes show during a workflow task
// and upserts it once, when the task's work is done: only the values that differ from what the run
// holds (the start's own, set by the API, to begin with), so a value set and set back within the
// task is never written. A run an older release began keeps its upserts as they were
// (changeSearchAttributesOncePerTask).

// changeSearchAttributesOncePerTask: the bill's search attributes are upserted at most once per
// workflow task, only what changed since the run's own values (the start's to begin with), and
// PendingInvoices counts only the invoices that wait for a next collecting (none while collecting:
// those are being bound).
const changeSearchAttributesOncePerTask = "search-attributes-once-per-task"

// oncePerTask is the publisher's state for gathered upserts.
type oncePerTask struct {
	asked, on bool
	staged    []stagedValue // the values shown since the last upsert, in a fixed order
	at        map[string]int
	dirty     bool // something was staged since the last upsert
	gen, seen int  // publishes counted, and the count the flusher saw last
}

// stagedValue is a search attribute's latest value and the update that sets it.
type stagedValue struct {
	key   string
	value any
	upd   temporal.SearchAttributeUpdate
}

// oncePerTask reports whether this run gathers its upserts, asking the version once, at the run's
// first publish; then it seeds what the run holds and starts the flusher.
func (p *publisher) oncePerTask() bool {
	if p.once.asked {
		return p.once.on
	}
	p.once.asked = true
	p.once.on = workflow.GetVersion(p.ctx, changeSearchAttributesOncePerTask, workflow.DefaultVersion, 1) >= 1
	if !p.once.on {
		return false
	}
	p.once.at = map[string]int{}
	p.seed()
	// Disconnected: a bill cancelled through Temporal still shows its saga's stages.
	flusherCtx, _ := workflow.NewDisconnectedContext(p.ctx)
	workflow.Go(flusherCtx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, p.settled); err != nil {
				return
			}
			p.flush()
		}
	})
	return true
}

// seed takes the run's search attributes as already shown: the start's (BillStage, BillNo,
// BillResource, BillTaxNo, set by the API), or those a continued run carries.
func (p *publisher) seed() {
	sa := workflow.GetTypedSearchAttributes(p.ctx)
	for _, k := range []temporal.SearchAttributeKeyKeyword{SABillStage, SABillNo, SABillResource, SABillTaxNo, SAAwaitingRole,
		SAFailedStep, SAStartedBuildID, SARunningBuildID} {
		if v, ok := sa.GetKeyword(k); ok {
			p.published[k.GetName()] = v
		}
	}
	// Not set is shown as unset: nothing to unset.
	for _, k := range []temporal.SearchAttributeKeyKeyword{SAAwaitingRole, SAFailedStep} {
		if _, ok := p.published[k.GetName()]; !ok {
			p.published[k.GetName()] = ""
		}
	}
	for _, k := range []temporal.SearchAttributeKeyBool{SAOverdue, SANeedsAttention} {
		if v, ok := sa.GetBool(k); ok {
			p.published[k.GetName()] = v
		}
	}
	for _, k := range []temporal.SearchAttributeKeyInt64{SAInvoiceCount, SAPendingInvoices} {
		if v, ok := sa.GetInt64(k); ok {
			p.published[k.GetName()] = v
		}
	}
	if v, ok := sa.GetKeywordList(SABillTags); ok { // carried over a continue-as-new (tags.go)
		p.published[SABillTags.GetName()] = strings.Join(v, "\n")
	}
	if v, ok := sa.GetFloat64(SATotalAmount); ok {
		p.published[SATotalAmount.GetName()] = v
	}
	if v, ok := sa.GetTime(SABillUpdatedAt); ok {
		p.published[SABillUpdatedAt.GetName()] = v.UnixNano()
	}
}

// shown is a search attribute's value as last staged, else as last upserted.
func (p *publisher) shown(key string) (any, bool) {
	if i, ok := p.once.at[key]; ok {
		return p.once.staged[i].value, true
	}
	v, ok := p.published[key]
	return v, ok
}

// stage records what the bill shows now; the flusher upserts it once the task's work is done.
// UpdatedAt moves at once (the state an update answers in this task carries it).
func (p *publisher) stage(v *BillState, in BillInput, pending int) {
	shownPending := pending
	if v.Stage == StageCollecting {
		shownPending = 0 // being bound now, not waiting for a next collecting
	}
	changed := false
	for _, w := range p.wanted(v, in, shownPending) {
		if old, ok := p.shown(w.key); ok && old == w.value {
			continue
		}
		p.put(w.key, w.value, w.upd())
		changed = changed || !w.quiet
	}
	if changed {
		// Something ops or the ERP filter on changed: the bill is updated (updatedSince).
		v.UpdatedAt = workflow.Now(p.ctx).UTC()
		p.put(SABillUpdatedAt.GetName(), v.UpdatedAt.UnixNano(), SABillUpdatedAt.ValueSet(v.UpdatedAt))
	}
	p.once.gen++
	workflow.SetCurrentDetails(p.ctx, details(*v, in, pending))
}

func (p *publisher) put(key string, value any, upd temporal.SearchAttributeUpdate) {
	p.once.dirty = true
	if i, ok := p.once.at[key]; ok {
		p.once.staged[i] = stagedValue{key, value, upd}
		return
	}
	p.once.at[key] = len(p.once.staged)
	p.once.staged = append(p.once.staged, stagedValue{key, value, upd})
}

// settled is the flusher's condition: something is staged and a whole round of the workflow's
// coroutines went by without a publish, so this task's work is done (the coroutines run in turn,
// and this condition is asked once per round).
func (p *publisher) settled() bool {
	if p.once.gen != p.once.seen {
		p.once.seen = p.once.gen
		return false
	}
	return p.once.dirty
}

// flush upserts the staged values that differ from what the run holds, in one command.
func (p *publisher) flush() {
	if !p.once.dirty {
		return
	}
	var updates []temporal.SearchAttributeUpdate
	for _, s := range p.once.staged {
		if old, ok := p.published[s.key]; ok && old == s.value {
			continue // set and set back within the task
		}
		p.published[s.key] = s.value
		updates = append(updates, s.upd)
	}
	p.once.staged, p.once.dirty = p.once.staged[:0], false
	clear(p.once.at)
	if len(updates) > 0 {
		if err := workflow.UpsertTypedSearchAttributes(p.ctx, updates...); err != nil {
			workflow.GetLogger(p.ctx).Warn("upsert search attributes", "error", err)
		}
	}
}

// flushNow upserts what is staged before the run ends (completes, fails or continues as new):
// the flusher would not run again.
func (p *publisher) flushNow() {
	if p.once.on {
		p.flush()
	}
}
