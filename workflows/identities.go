package workflows

import (
	"strings"

	"go.temporal.io/sdk/workflow"
)

// How the bill tells people apart for segregation of duties (duties.go): user ids compared after
// Unicode normalization (PersonKey), invisible characters refused in an approver, the person who
// actually submitted kept from approving, and an amend that may not change the bill's userId.

// changeIdentities versions those rules where the workflow itself judges them on replay: a
// signal's validation (signals are validated in run, so a replayed signal of an older release
// must be judged as that release did) and the submitter recorded at submit. Update validators do
// not run on replay, so they apply the rules to every bill at once.
const changeIdentities = "duties-unicode-identities"

// identitiesOn reports whether this run applies the rules on its own path, asking the version
// once, from run (never from a validator or a query).
func (b *bill) identitiesOn() bool {
	if !b.identities.asked {
		b.identities.asked = true
		b.identities.on = workflow.GetVersion(b.ctx, changeIdentities, workflow.DefaultVersion, 1) >= 1
	}
	return b.identities.on
}

// identityRules is the version answer, and whether the validation under way judges a replayed
// signal of an older release (before: compare as it did, refuse nothing new).
type identityRules struct {
	asked, on bool
	before    bool
}

// samePerson is the comparison the current validation uses.
func (b *bill) samePerson(a, c string) bool {
	if b.identities.before {
		return samePersonBefore(a, c)
	}
	return SamePerson(a, c)
}

// sameActingUser: the approver a payload names is the acting user its actor names.
func (b *bill) sameActingUser(approver, user string) bool {
	if b.identities.before {
		return strings.EqualFold(approver, user)
	}
	return SamePerson(approver, user)
}

// submitters are the people segregation of duties keeps from approving: the bill's userId and
// whoever actually submitted it in this round.
func (b *bill) submitters() []string {
	if b.identities.before {
		return []string{b.in.UserID}
	}
	return []string{b.in.UserID, b.SubmittedBy}
}

// submitterOf is who actually sent a submit: the person its actor names (the API's acting user,
// or on the ops path the person the payload names), else its by.
func submitterOf(req SubmitRequest) string {
	if req.Actor != nil && strings.TrimSpace(req.Actor.User) != "" {
		return strings.TrimSpace(req.Actor.User)
	}
	return strings.TrimSpace(req.By)
}

// validateIdentities refuses what the rules refuse in an update or signal, naming the field: an
// approver with invisible characters, an amend of the bill's submitter.
func (b *bill) validateIdentities(ev *event) error {
	if b.identities.before {
		return nil
	}
	f := map[string]string{}
	if ev.approve != nil {
		if p := UserIDProblem(ev.approve.Approver); p != "" {
			f["approver"] = p
		}
	}
	if by := ev.byField(); by != nil {
		if p := UserIDProblem(*by); p != "" {
			f["by"] = p
		}
	}
	if ev.amend != nil && ev.amend.UserID != nil && !SamePerson(*ev.amend.UserID, b.in.UserID) {
		f["userId"] = "the bill's submitter cannot be amended (segregation of duties): cancel the bill and start it again for another user"
	}
	return fieldErr(f)
}

// byField is the decision's by, if it has one.
func (ev *event) byField() *string {
	switch {
	case ev.submit != nil:
		return &ev.submit.By
	case ev.cancel != nil:
		return &ev.cancel.By
	case ev.retry != nil:
		return &ev.retry.By
	case ev.resolve != nil:
		return &ev.resolve.By
	}
	return nil
}
