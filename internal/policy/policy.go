// Package policy is the server's say over a bill: per billType and resource, the approval chain,
// image mode, deduction, SLAs, what happens at the deadline, auto-submit, segregation of duties and
// which signals Temporal Web (the ops path) may send. A caller may choose an option only where the
// rule allows it; Resolve freezes the result when the bill starts.
//
// The options' vocabulary is workflows.Options itself (this package imports workflows, never the
// reverse), so a policy value is exactly what a caller could have sent.
package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"rimflow/workflows"
)

// Options a caller may be allowed to choose (allowCallerOptions); the names are workflows.Options' JSON names.
const (
	OptApprovals  = "approvals"
	OptImageMode  = "imageMode"
	OptDeduction  = "deduction"
	OptSLA        = "sla"
	OptOnDeadline = "onDeadline"
	OptAutoSubmit = "autoSubmit"
	// The bill's mechanics: a rule cannot set them (the built-in defaults, the enterprise's
	// scanning point apply), but a caller's value changes how the bill runs (a historyLimit of 1
	// continues as new at every quiet point; a scan poll every second asks the image system 3,600
	// times an hour), so a caller may set them only where the rule allows it, within bounds.
	OptHistoryLimit  = "historyLimit"
	OptScanPoint     = "scanPoint"
	OptScanPollEvery = "scanPollEvery"
	// OptReversalWindow keeps a completed bill open for a voucher reversal (反记账); a caller may
	// set it where the rule allows it, within workflows.MaxReversalWindow.
	OptReversalWindow = "reversalWindow"
)

// Bounds of the mechanics a caller may set (where allowed).
const (
	MinHistoryLimit   = 100
	MaxHistoryLimit   = 10000 // Temporal warns of a run's history past 10,240 events
	MaxScanPollEvery  = workflows.Duration(time.Hour)
	MaxScanPointBytes = 64
)

// CallerOptions lists every option name, in documentation order.
var CallerOptions = []string{OptApprovals, OptImageMode, OptDeduction, OptSLA, OptOnDeadline, OptAutoSubmit,
	OptHistoryLimit, OptScanPoint, OptScanPollEvery, OptReversalWindow}

// DefaultRuleName names the rule that applies when no other matches.
const DefaultRuleName = "default"

// Decision is what the policy fixes for one bill at its start.
// The enforcement types live with the workflow, which checks every decision (workflows/duties.go).
type (
	Duties     = workflows.Duties
	WebSignals = workflows.WebSignals
)

type Decision struct {
	Rule       string            `json:"rule"`    // the rule that matched: recorded with the bill for audit
	Options    workflows.Options `json:"options"` // complete: every option set (Normalize changes nothing)
	Duties     Duties            `json:"duties"`
	WebSignals WebSignals        `json:"webSignals"`
}

// rule is one validated, complete rule (inherited fields filled in).
type rule struct {
	name       string
	billType   string // "" = any
	resource   string // "" = any
	options    workflows.Options
	callerMay  map[string]bool
	duties     Duties
	webSignals WebSignals
}

// specificity orders matching rules: billType and resource > billType > resource > default.
func (r *rule) specificity() int {
	s := 0
	if r.billType != "" {
		s += 2
	}
	if r.resource != "" {
		s++
	}
	return s
}

func (r *rule) matches(billType, resource string) bool {
	return (r.billType == "" || r.billType == billType) && (r.resource == "" || r.resource == resource)
}

// Policy is a loaded policy: a default rule and the specific rules.
type Policy struct {
	def    *rule
	rules  []*rule
	source string
}

// Source says where the policy came from ("built-in default" or the file).
func (p *Policy) Source() string { return p.source }

// RuleNames lists the rules, the default first.
func (p *Policy) RuleNames() []string {
	names := []string{p.def.name}
	for _, r := range p.rules {
		names = append(names, r.name)
	}
	return names
}

// builtIn is the policy without a file: today's defaults, and the caller may choose every option,
// so existing callers behave as before until an operator writes a policy. Segregation of duties is
// on; Temporal Web may send every signal.
func builtIn() *rule {
	autoSubmit := true
	return &rule{
		name: DefaultRuleName,
		options: workflows.Options{
			AutoSubmit: &autoSubmit,
			Approvals:  slices.Clone(workflows.DefaultApprovals),
			ImageMode:  workflows.ImageNone,
			Deduction:  workflows.DeductionNone,
			OnDeadline: workflows.DeadlineRemind,
		},
		callerMay:  allOptions(),
		duties:     Duties{SubmitterMayApprove: false, OnePersonOneRole: true},
		webSignals: WebSignals{Allow: true},
	}
}

func allOptions() map[string]bool {
	m := map[string]bool{}
	for _, o := range CallerOptions {
		m[o] = true
	}
	return m
}

// Default is the built-in policy (no policy file).
func Default() *Policy { return &Policy{def: builtIn(), source: "built-in default"} }

// match is the most specific rule for a bill (rules of equal specificity cannot both match: Parse refuses them).
func (p *Policy) match(billType, resource string) *rule {
	best := p.def
	for _, r := range p.rules {
		if r.matches(billType, resource) && (best == p.def || r.specificity() > best.specificity()) {
			best = r
		}
	}
	return best
}

// Roles lists every approval role a rule of this policy can put in a bill's chain, sorted: the
// server's own vocabulary (a role a caller chose, where a rule lets it, is not among them).
func (p *Policy) Roles() []string {
	seen := map[string]bool{}
	for _, r := range append([]*rule{p.def}, p.rules...) {
		for _, role := range r.options.Approvals {
			seen[role] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// RuleFor names the rule that applies to a bill.
func (p *Policy) RuleFor(billType, resource string) string {
	return p.match(strings.TrimSpace(billType), strings.TrimSpace(resource)).name
}

// Resolve fixes a bill's options: the matching rule's, with the caller's requested options where
// the rule lets the caller choose them. A requested option equal to the rule's value is no choice
// and always accepted. Asking for what the rule does not allow is a *workflows.ValidationError
// naming every such field ("options.imageMode"). Values the caller may choose are not checked here:
// BillInput.Validate checks the frozen options as it checks any input.
//
// When the caller chooses the approval chain, per-role SLAs of roles no longer in it are dropped.
func (p *Policy) Resolve(billType, resource string, requested workflows.Options) (Decision, error) {
	r := p.match(strings.TrimSpace(billType), strings.TrimSpace(resource))
	eff := cloneOptions(r.options)
	fields := map[string]string{}
	choose := func(option, field string, differs bool, apply func()) {
		if !differs {
			return
		}
		if !r.callerMay[option] {
			fields[field] = fmt.Sprintf("the policy (rule %q) sets %s; this bill's caller may not choose it", r.name, option)
			return
		}
		apply()
	}

	if requested.Approvals != nil {
		want := make([]string, len(requested.Approvals))
		for i, role := range requested.Approvals {
			want[i] = strings.ToLower(strings.TrimSpace(role))
		}
		choose(OptApprovals, "options.approvals", !slices.Equal(want, eff.Approvals), func() {
			eff.Approvals = want
			dropSLAsOfOtherRoles(&eff)
		})
	}
	chooseString := func(option, v string, dst *string) {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
			choose(option, "options."+option, v != *dst, func() { *dst = v })
		}
	}
	chooseString(OptImageMode, requested.ImageMode, &eff.ImageMode)
	chooseString(OptDeduction, requested.Deduction, &eff.Deduction)
	chooseString(OptOnDeadline, requested.OnDeadline, &eff.OnDeadline)
	if requested.AutoSubmit != nil {
		v := *requested.AutoSubmit
		choose(OptAutoSubmit, "options.autoSubmit", v != *eff.AutoSubmit, func() { eff.AutoSubmit = &v })
	}

	chooseDuration := func(name string, v workflows.Duration, dst *workflows.Duration) {
		if v != 0 {
			choose(OptSLA, "options.sla."+name, v != *dst, func() { *dst = v })
		}
	}
	chooseDuration("collect", requested.SLA.Collect, &eff.SLA.Collect)
	chooseDuration("approval", requested.SLA.Approval, &eff.SLA.Approval)
	chooseDuration("voucher", requested.SLA.Voucher, &eff.SLA.Voucher)
	chooseDuration("hard", requested.SLA.Hard, &eff.SLA.Hard)
	for _, role := range slices.Sorted(maps.Keys(requested.SLA.ByRole)) {
		v := requested.SLA.ByRole[role]
		have, ok := eff.SLA.ByRole[role]
		choose(OptSLA, "options.sla.byRole."+role, !ok || v != have, func() {
			if eff.SLA.ByRole == nil {
				eff.SLA.ByRole = map[string]workflows.Duration{}
			}
			eff.SLA.ByRole[role] = v
		})
	}

	if v := requested.HistoryLimit; v != 0 {
		choose(OptHistoryLimit, "options.historyLimit", true, func() {
			if v < MinHistoryLimit || v > MaxHistoryLimit {
				fields["options.historyLimit"] = fmt.Sprintf("between %d and %d events when set, got %d", MinHistoryLimit, MaxHistoryLimit, v)
			}
			eff.HistoryLimit = v
		})
	}
	if v := strings.TrimSpace(requested.ScanPoint); v != "" {
		choose(OptScanPoint, "options.scanPoint", true, func() {
			if len(v) > MaxScanPointBytes || strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) {
				fields["options.scanPoint"] = fmt.Sprintf("at most %d bytes of printable characters", MaxScanPointBytes)
			}
			eff.ScanPoint = v
		})
	}
	if v := requested.ScanPollEvery; v != 0 {
		choose(OptScanPollEvery, "options.scanPollEvery", true, func() {
			if v < workflows.MinScanPollEvery || v > MaxScanPollEvery {
				fields["options.scanPollEvery"] = fmt.Sprintf("between %s and %s when set, got %s",
					time.Duration(workflows.MinScanPollEvery), time.Duration(MaxScanPollEvery), time.Duration(v))
			}
			eff.ScanPollEvery = v
		})
	}
	if v := requested.ReversalWindow; v != 0 {
		choose(OptReversalWindow, "options.reversalWindow", true, func() {
			if v < 0 || v > workflows.MaxReversalWindow {
				fields["options.reversalWindow"] = fmt.Sprintf("between 0s and %s when set, got %s", time.Duration(workflows.MaxReversalWindow), time.Duration(v))
			}
			eff.ReversalWindow = v
		})
	}

	if len(fields) > 0 {
		return Decision{}, &workflows.ValidationError{Fields: fields}
	}
	return Decision{Rule: r.name, Options: eff, Duties: r.duties, WebSignals: r.webSignals.Clone()}, nil
}

// dropSLAsOfOtherRoles removes per-role SLAs of roles the chain no longer has (after the chain was
// replaced): they could never apply, and workflows' validation refuses them.
func dropSLAsOfOtherRoles(o *workflows.Options) {
	for role := range o.SLA.ByRole {
		if !slices.Contains(o.Approvals, role) {
			delete(o.SLA.ByRole, role)
		}
	}
}

func cloneOptions(o workflows.Options) workflows.Options {
	c := o
	c.Approvals = slices.Clone(o.Approvals)
	if c.Approvals == nil {
		c.Approvals = []string{} // never nil: nil would mean "the default chain" to Normalize
	}
	if o.AutoSubmit != nil {
		v := *o.AutoSubmit
		c.AutoSubmit = &v
	}
	c.SLA.ByRole = maps.Clone(o.SLA.ByRole)
	return c
}
