package policy

// The two checks below run where a decision arrives: in the workflow, since a signal from Temporal
// Web reaches the bill without passing the API. They are pure and deterministic (safe in workflow
// code) and use nothing else of this package, so this file can move into workflows (dropping the
// "workflows." qualifiers, leaving type aliases here) when the bill's input carries them.

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"rimflow/workflows"
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
var WebSignalNames = []string{workflows.SignalSubmit, workflows.SignalApprove, workflows.SignalImages,
	workflows.SignalVoucher, workflows.SignalCancel, workflows.SignalRetry, workflows.SignalCollectURL}

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
	case signal == workflows.SignalInvoices:
		return nil
	case !w.Allow:
		return fmt.Errorf("%w: no signal is accepted for this bill; use the API", ErrWebSignalRefused)
	case len(w.Signals) > 0 && !slices.Contains(w.Signals, signal):
		return fmt.Errorf("%w: signal %q is not accepted (accepted: %s)", ErrWebSignalRefused, signal, strings.Join(w.Signals, ", "))
	case signal == workflows.SignalApprove && len(w.Roles) > 0 && !slices.Contains(w.Roles, role):
		return fmt.Errorf("%w: role %q may not be decided this way (roles: %s)", ErrWebSignalRefused, role, strings.Join(w.Roles, ", "))
	}
	return nil
}

func (w WebSignals) clone() WebSignals {
	w.Signals = slices.Clone(w.Signals)
	w.Roles = slices.Clone(w.Roles)
	return w
}
