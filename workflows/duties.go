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
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Duties is segregation of duties for one bill.
type Duties struct {
	// SubmitterMayApprove lets the bill's submitter (its userId) approve it. Default false.
	SubmitterMayApprove bool `json:"submitterMayApprove"`
	// OnePersonOneRole stops one person approving two roles in the same round. Default true.
	OnePersonOneRole bool `json:"onePersonOneRole"`
	// AcknowledgeUnverified names the role whose approval must acknowledge the invoices the cloud
	// does not verify ("" none; verified.go).
	AcknowledgeUnverified string `json:"acknowledgeUnverified,omitempty"`
	// VerifiedTypes are the invoiceType codes the cloud verifies [assumed in part: verified.go];
	// empty: VerifiedTypes. Frozen with the policy at start, so a bill keeps the list it began with.
	VerifiedTypes []string `json:"verifiedTypes,omitempty"`
}

// Errors of CheckApproval, for errors.Is.
var (
	ErrSubmitterApproves = errors.New("the submitter may not approve their own bill")
	ErrOnePersonTwoRoles = errors.New("one person may not approve two roles in the same round")
)

// CheckApproval says whether approver may approve role. submitters are the bill's userId and
// whoever actually submitted it in this round (empty entries are ignored). approvedThisRound maps
// each role already approved in the current round to its approver. Only approvals are checked:
// anyone entitled to the role may reject or return. People are compared as SamePerson does.
func (d Duties) CheckApproval(submitters []string, approver, role string, approvedThisRound map[string]string) error {
	return d.checkApproval(SamePerson, submitters, approver, role, approvedThisRound)
}

// checkApproval is CheckApproval with the comparison of people given (a bill replaying an older
// release's signal compares as that release did: samePersonBefore).
func (d Duties) checkApproval(samePerson func(a, b string) bool, submitters []string, approver, role string, approvedThisRound map[string]string) error {
	if !d.SubmitterMayApprove && slices.ContainsFunc(submitters, func(s string) bool { return samePerson(s, approver) }) {
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

// SamePerson says whether two user ids name the same person: equal after PersonKey, and not empty.
func SamePerson(a, b string) bool {
	ka := PersonKey(a)
	return ka != "" && ka == PersonKey(b)
}

// samePersonBefore is how releases before changeIdentities compared people (case and surrounding
// space only); a replayed signal of such a bill is judged the same way again.
func samePersonBefore(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	return a != "" && strings.EqualFold(a, b)
}

// foldCase is Unicode's full case folding (not lower-casing: folding is what caseless matching
// is defined on, so ß matches SS and the Greek final sigma matches σ).
var foldCase = cases.Fold()

// PersonKey is the form user ids are compared in: NFKC, then case folding, then NFKC again (case
// folding can leave text unnormalized; Unicode's NFKC_Casefold does the same), with the default
// ignorable characters (zero-width spaces and joiners, soft hyphens, variation selectors, Hangul
// fillers) dropped and surrounding space trimmed. NFKC rather than NFC because ERPs and input
// methods in China produce compatibility variants of the same name: full-width "ａｌｉｃｅ" and
// ideographic spaces are "alice" and spaces to a reader, and must be the same person to the rule.
// The API refuses such characters in user ids (UserIDProblem); the key still drops them, so a
// decision that reaches the bill another way cannot slip past the rule with one.
func PersonKey(s string) string {
	s = norm.NFKC.String(s)
	s = foldCase.String(s)
	s = strings.Map(func(r rune) rune {
		if defaultIgnorable(r) {
			return -1
		}
		return r
	}, norm.NFKC.String(s))
	return strings.TrimSpace(s)
}

// defaultIgnorable: Unicode's Default_Ignorable_Code_Point, near enough for names: format
// characters (zero-width space, joiners, bidi controls, soft hyphen), variation selectors and the
// other default ignorables (Hangul fillers, combining grapheme joiner). They show nothing.
func defaultIgnorable(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// UserIDProblem explains why s cannot name a person (a bill's userId, an approver, X-Acting-User,
// a decision's by): invalid UTF-8, a control character, or an invisible one (a default ignorable
// character: U+200B, U+3164…), which would make two ids look alike and differ. "" when fine.
func UserIDProblem(s string) string {
	if p := Unprintable(s); p != "" {
		return p
	}
	for i, r := range s {
		if defaultIgnorable(r) {
			return fmt.Sprintf("must hold visible characters only: %U at byte %d is an invisible character", r, i)
		}
	}
	return ""
}

// WebSignalNames are the signals WebSignals governs: those an operator may send from Temporal Web
// or the `temporal` CLI. The "invoices" signal is the delivery path (watchers, the API) and is never refused.
var WebSignalNames = []string{SignalSubmit, SignalApprove, SignalImages,
	SignalVoucher, SignalCancel, SignalRetry, SignalResolve, SignalCollectURL, SignalReverseVoucher}

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
