package workflows_test

import (
	"errors"
	"strings"
	"testing"

	"rimflow/workflows"
)

func TestDutiesCheckApproval(t *testing.T) {
	on := workflows.Duties{SubmitterMayApprove: false, OnePersonOneRole: true}
	off := workflows.Duties{SubmitterMayApprove: true, OnePersonOneRole: false}
	tests := []struct {
		name                      string
		duties                    workflows.Duties
		submitter, approver, role string
		earlier                   map[string]string
		want                      error
	}{
		{"another person approves", on, "u1", "alice", "supervisor", nil, nil},
		{"submitter approves own bill", on, "u1", "u1", "supervisor", nil, workflows.ErrSubmitterApproves},
		{"submitter in other case and spaces", on, "u1", " U1 ", "finance", nil, workflows.ErrSubmitterApproves},
		{"submitter may when allowed", off, "u1", "u1", "supervisor", nil, nil},
		{"second role by the same person", on, "u1", "alice", "finance", map[string]string{"supervisor": "Alice"}, workflows.ErrOnePersonTwoRoles},
		{"second role by another person", on, "u1", "bob", "finance", map[string]string{"supervisor": "alice"}, nil},
		{"same role again is not a second role", on, "u1", "alice", "supervisor", map[string]string{"supervisor": "alice"}, nil},
		{"two roles when allowed", off, "u1", "alice", "finance", map[string]string{"supervisor": "alice"}, nil},
		{"empty submitter never matches", on, "", "", "finance", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.duties.CheckApproval(tt.submitter, tt.approver, tt.role, tt.earlier)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	err := on.CheckApproval("u1", "alice", "finance", map[string]string{"supervisor": "alice"})
	if err == nil || err.Error() != `one person may not approve two roles in the same round: "alice" already approved role "supervisor" in this round` {
		t.Fatalf("message: %v", err)
	}
}

func TestWebSignalsPermits(t *testing.T) {
	tests := []struct {
		name         string
		w            workflows.WebSignals
		signal, role string
		refused      string
	}{
		{"everything allowed", workflows.WebSignals{Allow: true}, "approve", "finance", ""},
		{"off", workflows.WebSignals{Allow: false}, "retry", "", "no signal is accepted for this bill"},
		{"invoices always pass", workflows.WebSignals{Allow: false}, "invoices", "", ""},
		{"signal not listed", workflows.WebSignals{Allow: true, Signals: []string{"retry", "cancel"}}, "approve", "finance", `signal "approve" is not accepted (accepted: retry, cancel)`},
		{"signal listed", workflows.WebSignals{Allow: true, Signals: []string{"retry"}}, "retry", "", ""},
		{"role not listed", workflows.WebSignals{Allow: true, Roles: []string{"finance"}}, "approve", "supervisor", `role "supervisor" may not be decided this way (roles: finance)`},
		{"role listed", workflows.WebSignals{Allow: true, Roles: []string{"finance"}}, "approve", "finance", ""},
		{"roles do not limit other signals", workflows.WebSignals{Allow: true, Roles: []string{"finance"}}, "cancel", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.Permits(tt.signal, tt.role)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, workflows.ErrWebSignalRefused) || !strings.Contains(err.Error(), tt.refused) {
				t.Fatalf("err = %v, want %q", err, tt.refused)
			}
		})
	}
}
