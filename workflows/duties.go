package workflows

// Who may decide what, as the bill enforces it: segregation of duties and what the ops path may
// send. The checks run in the workflow, where every decision arrives (a signal from Temporal Web
// reaches the bill without passing the API); server-side policy (internal/policy) fills them in
// the bill's input at start.

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Duties is segregation of duties for one bill.
type Duties struct {
	// SubmitterMayApprove lets the bill's submitter (its userId) approve it. Default false.
	SubmitterMayApprove bool `json:"submitterMayApprove"`
	// OnePersonOneRole stops one person approving two roles in the same round. Default true.
	OnePersonOneRole bool `json:"onePersonOneRole"`
}

// Errors of CheckApproval, for errors.Is.
var (
	ErrSubmitterApproves = errors.New("the submitter may not approve their own bill")
	ErrOnePersonTwoRoles = errors.New("one person may not approve two roles in the same round")
)

// CheckApproval says whether approver may approve role. approvedThisRound maps each role already
// approved in the current round to its approver. Only approvals are checked: anyone entitled to
// the role may reject or return. People are compared without regard to case or surrounding space.
func (d Duties) CheckApproval(submitter, approver, role string, approvedThisRound map[string]string) error {
	if !d.SubmitterMayApprove && samePerson(submitter, approver) {
		return fmt.Errorf("%w: %q submitted this bill (segregation of duties)", ErrSubmitterApproves, strings.TrimSpace(approver))
	}
	if d.OnePersonOneRole {
		roles := make([]string, 0, len(approvedThisRound))
		//workflowcheck:ignore the roles are sorted below
		for r := range approvedThisRound {
			roles = append(roles, r)
		}
		sort.Strings(roles) // deterministic message
		for _, r := range roles {
			if r != role && samePerson(approvedThisRound[r], approver) {
				return fmt.Errorf("%w: %q already approved role %q in this round", ErrOnePersonTwoRoles, strings.TrimSpace(approver), r)
			}
		}
	}
	return nil
}

func samePerson(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	return a != "" && strings.EqualFold(a, b)
}

// WebSignalNames are the signals WebSignals governs: those an operator may send from Temporal Web
// or the `temporal` CLI. The "invoices" signal is the delivery path (watchers, the API) and is never refused.
var WebSignalNames = []string{SignalSubmit, SignalApprove, SignalImages,
	SignalVoucher, SignalCancel, SignalRetry, SignalResolve, SignalCollectURL}

// WebSignals is what the ops path may do: signals sent to a bill from Temporal Web or the CLI
// (the API uses updates, so a signal is always that path).
type WebSignals struct {
	// Allow accepts signals at all.
	Allow bool `json:"allow"`
	// Signals, when not empty, are the only signals accepted (names of WebSignalNames).
	Signals []string `json:"signals,omitempty"`
	// Roles, when not empty, are the only approval roles an approve signal may decide.
	Roles []string `json:"roles,omitempty"`
}

// ErrWebSignalRefused is returned by Permits.
var ErrWebSignalRefused = errors.New("refused by policy for signals from Temporal Web or the temporal CLI")

// Permits says whether a signal (and, for approve, its role) is accepted through the ops path.
func (w WebSignals) Permits(signal, role string) error {
	switch {
	case signal == SignalInvoices:
		return nil
	case !w.Allow:
		return fmt.Errorf("%w: no signal is accepted for this bill; use the API", ErrWebSignalRefused)
	case len(w.Signals) > 0 && !slices.Contains(w.Signals, signal):
		return fmt.Errorf("%w: signal %q is not accepted (accepted: %s)", ErrWebSignalRefused, signal, strings.Join(w.Signals, ", "))
	case signal == SignalApprove && len(w.Roles) > 0 && !slices.Contains(w.Roles, role):
		return fmt.Errorf("%w: role %q may not be decided this way (roles: %s)", ErrWebSignalRefused, role, strings.Join(w.Roles, ", "))
	}
	return nil
}

// Clone is a deep copy.
func (w WebSignals) Clone() WebSignals {
	w.Signals = slices.Clone(w.Signals)
	w.Roles = slices.Clone(w.Roles)
	return w
}

// BillPolicy is the server-side policy a bill was started under, frozen in its input: the rule
// that matched (for audit), segregation of duties and the ops path.
type BillPolicy struct {
	Rule       string     `json:"rule,omitempty"`
	Duties     Duties     `json:"duties"`
	WebSignals WebSignals `json:"webSignals"`
}

// DefaultBillPolicy holds when no policy was given (a bill started from Temporal Web or an older
// API): segregation of duties on, every signal accepted through the ops path.
func DefaultBillPolicy() BillPolicy {
	return BillPolicy{Rule: "default", Duties: Duties{OnePersonOneRole: true}, WebSignals: WebSignals{Allow: true}}
}

// Actor is who made a decision: the API client that sent it and the person the client vouches for.
// The API sets it from the authenticated client and the acting user's header, never from the
// body; a decision without one came through the ops path (a signal from Temporal Web or the CLI).
type Actor struct {
	Client string `json:"client,omitempty"`
	User   string `json:"user,omitempty"`
}

// OpsPath is the client recorded for a decision sent as a signal (Temporal Web, the temporal CLI).
const OpsPath = "temporal-signal"
