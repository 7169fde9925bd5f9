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
		{"submitter in full-width letters", on, "u1", "Ｕ１", "supervisor", nil, workflows.ErrSubmitterApproves},
		{"submitter with a zero-width space", on, "alice", "al​ice", "supervisor", nil, workflows.ErrSubmitterApproves},
		{"second role by the same person, full-width", on, "u1", "ａｌｉｃｅ", "finance", map[string]string{"supervisor": "Alice"}, workflows.ErrOnePersonTwoRoles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.duties.CheckApproval([]string{tt.submitter}, tt.approver, tt.role, tt.earlier)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	err := on.CheckApproval([]string{"u1"}, "alice", "finance", map[string]string{"supervisor": "alice"})
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

// Identities are compared after NFKC and case folding, with invisible characters dropped: every
// way of writing one name is one person, and different names stay different.
func TestPersonKeyNormalizesUnicode(t *testing.T) {
	same := [][2]string{
		{"alice", "ALICE"},
		{"alice", "ａｌｉｃｅ"},        // full-width (a Chinese input method's)
		{"alice", " alice\u3000"}, // ideographic space around it
		{"alice", "al\u200bice"},  // zero-width space
		{"alice", "alice\u200d"},  // zero-width joiner
		{"alice", "\ufeffalice"},  // byte order mark
		{"alice", "ali\u00adce"},  // soft hyphen
		{"alice", "alice\ufe0f"},  // variation selector
		{"alice", "alice\u3164"},  // Hangul filler
		{"strasse", "STRASSE"},
		{"straße", "STRASSE"},     // full case folding: ß is ss
		{"ὀδυσσεύς", "ὈΔΥΣΣΕΎΣ"},  // final sigma
		{"ﬁnance-1", "finance-1"}, // ligature
		{"é", "e\u0301"},          // composed and decomposed
		{"张三", "张三"},
	}
	for _, p := range same {
		if !workflows.SamePerson(p[0], p[1]) {
			t.Errorf("%q and %q are one person: keys %q and %q", p[0], p[1], workflows.PersonKey(p[0]), workflows.PersonKey(p[1]))
		}
	}
	differ := [][2]string{{"alice", "alicia"}, {"alice", "аlice"} /* Cyrillic а: another name */, {"张三", "张叁"}, {"", ""}, {"\u200b", "\u200b"}}
	for _, p := range differ {
		if workflows.SamePerson(p[0], p[1]) {
			t.Errorf("%q and %q are not one person", p[0], p[1])
		}
	}
}

// A user id may not hold control or invisible characters; visible Unicode (Chinese, accents,
// spaces) is fine.
func TestUserIDProblemRefusesInvisibleCharacters(t *testing.T) {
	for _, bad := range []string{"al\u200bice", "alice\u200d", "\ufeffalice", "ali\u00adce", "alice\ufe0f", "alice\u3164", "a\u202eb", "a\x00b", "a\tb", "a\nb", "\xff"} {
		if workflows.UserIDProblem(bad) == "" {
			t.Errorf("%q accepted as a user id", bad)
		}
	}
	for _, good := range []string{"alice", "张三", "José Müller", "ａｌｉｃｅ", "o'brien@example.com"} {
		if p := workflows.UserIDProblem(good); p != "" {
			t.Errorf("%q refused: %s", good, p)
		}
	}
}
