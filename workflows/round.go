package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// approvalRound is where the bill is on its route (Options.Route) and who has decided in this
// round. A return or an image mismatch starts the next round; marking used ends the route.
type approvalRound struct {
	RouteIdx   int             `json:"routeIdx"`
	Round      int             `json:"round"`             // +1 after each return to collecting
	Decided    map[string]bool `json:"decided,omitempty"` // role -> decided in this round
	MarkedUsed bool            `json:"markedUsed,omitempty"`
	// SubmittedBy is who actually submitted in this round (the person the submit's actor names,
	// else its by): segregation of duties keeps them from approving, as it keeps the bill's userId.
	// Empty for an automatic submit (the userId's own import) and in bills of earlier releases.
	SubmittedBy string `json:"submittedBy,omitempty"`
}

// restart opens the next round: its decisions are void, the route starts again.
func (r *approvalRound) restart() {
	r.Round++
	r.Decided = map[string]bool{}
	r.RouteIdx = 0
	r.SubmittedBy = ""
}

// record appends a decision of this round to the bounded approval records.
func (r *approvalRound) record(ctx workflow.Context, v *BillState, role string, req ApproveRequest) {
	rec := ApprovalRecord{Round: r.Round, Role: role, Decision: req.Decision, Approver: req.Approver, Comment: req.Comment, At: workflow.Now(ctx).UTC()}
	if a := req.Actor; a != nil {
		rec.Client, rec.User = a.Client, a.User
	}
	v.Approvals = append(v.Approvals, rec)
	if over := len(v.Approvals) - approvalCap; over > 0 {
		v.Approvals = slices.Clone(v.Approvals[over:])
	}
}

// decision is the role's recorded decision in this round (nil: none yet).
func (r *approvalRound) decision(approvals []ApprovalRecord, role string) *ApprovalRecord {
	for i, a := range approvals {
		if a.Round == r.Round && a.Role == role {
			return &approvals[i]
		}
	}
	return nil
}

// forget lets a role decide again when its queued decision was not recorded.
func (r *approvalRound) forget(approvals []ApprovalRecord, role string) {
	if r.decision(approvals, role) == nil {
		delete(r.Decided, role)
	}
}

// approvers maps each role approved in this round to the person who approved it.
func (r *approvalRound) approvers(approvals []ApprovalRecord) map[string]string {
	m := map[string]string{}
	for _, a := range approvals {
		if a.Round == r.Round && a.Decision == DecisionApprove {
			m[a.Role] = orStr(a.User, a.Approver)
		}
	}
	return m
}

// repeats: the bill's last decision is req, by the same role and person, in this round (or a
// return whose bill has not been submitted again: until then a repeat of it is the same).
func (r *approvalRound) repeats(approvals []ApprovalRecord, stage Stage, req ApproveRequest) bool {
	n := len(approvals)
	if n == 0 {
		return false
	}
	last := approvals[n-1]
	sameRound := last.Round == r.Round || last.Decision == DecisionReturn && last.Round == r.Round-1 && stage == StageCollecting
	return sameRound && last.Role == req.Role && last.Decision == req.Decision && last.Approver == strings.TrimSpace(req.Approver)
}

// decidedErr explains why a role's second decision in this round is refused.
func (r *approvalRound) decidedErr(approvals []ApprovalRecord, role string) error {
	if a := r.decision(approvals, role); a != nil {
		return fmt.Errorf("%s has already decided in this round (%s by %s at %s)", role, a.Decision, a.Approver, a.At.Format(time.RFC3339))
	}
	return fmt.Errorf("a decision for %s is already being applied", role)
}
