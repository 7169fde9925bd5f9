package policy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"rimflow/workflows"
)

// examplePolicy is the documented example (README of the package): a default for everyone, travel
// bills with a third approver and image matching, OA's bills without deduction choice.
const examplePolicy = `
default:
  approvals: [supervisor, finance]
  imageMode: basic
  sla: {collect: 72h, approval: 48h, byRole: {finance: 24h}, voucher: 120h}
  allowCallerOptions: [autoSubmit, sla]
  webSignals: {allow: true, signals: [approve, retry, cancel], roles: [finance]}
rules:
  - name: travel
    match: {billType: er_tripreimbursebill}
    approvals: [supervisor, finance, cfo]
    imageMode: match
    sla: {byRole: {cfo: 72h}, hard: 240h}
    onDeadline: cancel
  - name: oa
    match: {resource: OA}
    deduction: batch
    allowCallerOptions: [autoSubmit, sla, imageMode]
    duties: {onePersonOneRole: false}
  - name: oa-travel
    match: {billType: er_tripreimbursebill, resource: OA}
    approvals: []
    imageMode: submitter
    webSignals: {allow: false}
`

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func d(s string) workflows.Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return workflows.Duration(v)
}

func boolp(b bool) *bool { return &b }

func TestBuiltInDefaultKeepsTodaysBehaviour(t *testing.T) {
	p := Default()
	dec, err := p.Resolve("er_dailyreimbursebill", "OA", workflows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := workflows.Options{AutoSubmit: boolp(true), Approvals: []string{"supervisor", "finance"},
		ImageMode: "none", Deduction: "none", OnDeadline: "remind"}
	if !reflect.DeepEqual(dec.Options, want) || dec.Rule != "default" {
		t.Fatalf("built-in = %s %+v", dec.Rule, dec.Options)
	}
	if !reflect.DeepEqual(dec.Duties, Duties{SubmitterMayApprove: false, OnePersonOneRole: true}) {
		t.Fatalf("duties = %+v", dec.Duties)
	}
	if !dec.WebSignals.Allow || dec.WebSignals.Permits("approve", "finance") != nil {
		t.Fatalf("web signals = %+v", dec.WebSignals)
	}
	// The caller may choose everything, as before any policy.
	asked := workflows.Options{AutoSubmit: boolp(false), Approvals: []string{" Finance "}, ImageMode: "MATCH",
		Deduction: "immediate", OnDeadline: "cancel", SLA: workflows.SLAs{Hard: d("24h"), ByRole: map[string]workflows.Duration{"finance": d("8h")}}}
	dec, err = p.Resolve("x", "OA", asked)
	if err != nil {
		t.Fatalf("caller's options refused by the built-in default: %v", err)
	}
	if *dec.Options.AutoSubmit || !reflect.DeepEqual(dec.Options.Approvals, []string{"finance"}) || dec.Options.ImageMode != "match" ||
		dec.Options.Deduction != "immediate" || dec.Options.OnDeadline != "cancel" || dec.Options.SLA.Hard != d("24h") ||
		dec.Options.SLA.ByRole["finance"] != d("8h") {
		t.Fatalf("resolved = %+v", dec.Options)
	}
	if p.Source() != "built-in default" {
		t.Fatalf("source = %s", p.Source())
	}
}

func TestMostSpecificRuleWins(t *testing.T) {
	p := mustParse(t, examplePolicy)
	if got := strings.Join(p.RuleNames(), ","); got != "default,travel,oa,oa-travel" {
		t.Fatalf("rules = %s", got)
	}
	tests := []struct {
		billType, resource string
		rule               string
		approvals          []string
		imageMode          string
		deduction          string
	}{
		{"er_dailyreimbursebill", "SAP", "default", []string{"supervisor", "finance"}, "basic", "none"},
		{"er_tripreimbursebill", "SAP", "travel", []string{"supervisor", "finance", "cfo"}, "match", "none"},
		{"er_dailyreimbursebill", "OA", "oa", []string{"supervisor", "finance"}, "basic", "batch"},
		// billType and resource beat either alone; a rule inherits from default only, not from "oa".
		{"er_tripreimbursebill", "OA", "oa-travel", []string{}, "submitter", "none"},
		{" er_tripreimbursebill ", "OA", "oa-travel", []string{}, "submitter", "none"},
		{"ER_TRIPREIMBURSEBILL", "oa", "default", []string{"supervisor", "finance"}, "basic", "none"}, // exact match, case counts
	}
	for _, tt := range tests {
		t.Run(tt.billType+"/"+tt.resource, func(t *testing.T) {
			dec, err := p.Resolve(tt.billType, tt.resource, workflows.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if dec.Rule != tt.rule || p.RuleFor(tt.billType, tt.resource) != tt.rule {
				t.Fatalf("rule = %s, want %s", dec.Rule, tt.rule)
			}
			if !reflect.DeepEqual(dec.Options.Approvals, tt.approvals) || dec.Options.ImageMode != tt.imageMode || dec.Options.Deduction != tt.deduction {
				t.Fatalf("options = %+v", dec.Options)
			}
		})
	}

	t.Run("inheritance", func(t *testing.T) {
		travel, _ := p.Resolve("er_tripreimbursebill", "SAP", workflows.Options{})
		// sla: byRole replaced, other SLAs inherited from default, hard added.
		want := workflows.SLAs{Collect: d("72h"), Approval: d("48h"), Voucher: d("120h"), Hard: d("240h"),
			ByRole: map[string]workflows.Duration{"cfo": d("72h")}}
		if !reflect.DeepEqual(travel.Options.SLA, want) || travel.Options.OnDeadline != "cancel" {
			t.Fatalf("travel sla = %+v, onDeadline %s", travel.Options.SLA, travel.Options.OnDeadline)
		}
		if travel.WebSignals.Permits("approve", "finance") != nil || travel.WebSignals.Permits("approve", "cfo") == nil {
			t.Fatalf("travel web signals = %+v", travel.WebSignals)
		}
		oa, _ := p.Resolve("x", "OA", workflows.Options{})
		if !reflect.DeepEqual(oa.Duties, Duties{SubmitterMayApprove: false, OnePersonOneRole: false}) {
			t.Fatalf("oa duties = %+v", oa.Duties)
		}
		// An inherited web role outside the rule's own chain only refuses (never widens to every role).
		narrowed := mustParse(t, "default:\n  webSignals: {roles: [finance]}\nrules:\n  - {name: r, match: {resource: OA}, approvals: [supervisor, cfo]}\n")
		r, _ := narrowed.Resolve("x", "OA", workflows.Options{})
		if r.WebSignals.Permits("approve", "supervisor") == nil || r.WebSignals.Permits("approve", "cfo") == nil {
			t.Fatalf("inherited roles widened: %+v", r.WebSignals)
		}
		oaTravel, _ := p.Resolve("er_tripreimbursebill", "OA", workflows.Options{})
		if oaTravel.WebSignals.Allow || oaTravel.WebSignals.Permits("retry", "") == nil {
			t.Fatalf("oa-travel web signals = %+v", oaTravel.WebSignals)
		}
	})
}

func TestResolveRefusesWhatThePolicyFixes(t *testing.T) {
	p := mustParse(t, examplePolicy)
	tests := []struct {
		name               string
		billType, resource string
		asked              workflows.Options
		wantFields         []string // every refused field; none = accepted
		check              func(t *testing.T, dec Decision)
	}{
		{name: "image mode fixed by default", billType: "x", resource: "SAP", asked: workflows.Options{ImageMode: "none"},
			wantFields: []string{"options.imageMode"}},
		{name: "image mode equal to the policy's is no choice", billType: "x", resource: "SAP", asked: workflows.Options{ImageMode: " Basic "},
			check: func(t *testing.T, dec Decision) {
				if dec.Options.ImageMode != "basic" {
					t.Fatal(dec.Options.ImageMode)
				}
			}},
		{name: "oa lets the caller choose the image mode", billType: "x", resource: "OA", asked: workflows.Options{ImageMode: "match"},
			check: func(t *testing.T, dec Decision) {
				if dec.Options.ImageMode != "match" {
					t.Fatal(dec.Options.ImageMode)
				}
			}},
		{name: "every refused field named", billType: "er_tripreimbursebill", resource: "SAP",
			asked:      workflows.Options{Approvals: []string{"supervisor"}, Deduction: "immediate", OnDeadline: "remind", ImageMode: "basic"},
			wantFields: []string{"options.approvals", "options.deduction", "options.imageMode", "options.onDeadline"}},
		{name: "an empty chain is a choice too", billType: "x", resource: "SAP", asked: workflows.Options{Approvals: []string{}},
			wantFields: []string{"options.approvals"}},
		{name: "the same chain is accepted", billType: "x", resource: "SAP", asked: workflows.Options{Approvals: []string{"Supervisor", "finance"}}},
		{name: "sla may be chosen field by field", billType: "x", resource: "SAP",
			asked: workflows.Options{AutoSubmit: boolp(false), SLA: workflows.SLAs{Collect: d("1h"), ByRole: map[string]workflows.Duration{"supervisor": d("2h")}}},
			check: func(t *testing.T, dec Decision) {
				s := dec.Options.SLA
				if s.Collect != d("1h") || s.Approval != d("48h") || s.ByRole["supervisor"] != d("2h") || s.ByRole["finance"] != d("24h") || *dec.Options.AutoSubmit {
					t.Fatalf("%+v", dec.Options)
				}
			}},
		{name: "a hard deadline may be chosen where sla is allowed", billType: "x", resource: "SAP", asked: workflows.Options{SLA: workflows.SLAs{Hard: d("1h")}},
			check: func(t *testing.T, dec Decision) {
				if dec.Options.SLA.Hard != d("1h") {
					t.Fatal(dec.Options.SLA)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, err := p.Resolve(tt.billType, tt.resource, tt.asked)
			if len(tt.wantFields) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if tt.check != nil {
					tt.check(t, dec)
				}
				return
			}
			var verr *workflows.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if len(verr.Fields) != len(tt.wantFields) {
				t.Fatalf("fields = %v, want %v", verr.Fields, tt.wantFields)
			}
			for _, f := range tt.wantFields {
				if !strings.Contains(verr.Fields[f], "the policy (rule ") {
					t.Fatalf("field %s = %q", f, verr.Fields[f])
				}
			}
		})
	}

	strict := mustParse(t, "default:\n  allowCallerOptions: []\n")
	_, err := strict.Resolve("x", "y", workflows.Options{SLA: workflows.SLAs{Hard: d("1h"), ByRole: map[string]workflows.Duration{"finance": d("1h")}}, AutoSubmit: boolp(false)})
	var verr *workflows.ValidationError
	if !errors.As(err, &verr) || verr.Fields["options.sla.hard"] == "" || verr.Fields["options.sla.byRole.finance"] == "" ||
		verr.Fields["options.autoSubmit"] == "" || len(verr.Fields) != 3 {
		t.Fatalf("strict policy: %v", err)
	}
	if _, err := strict.Resolve("x", "y", workflows.Options{AutoSubmit: boolp(true)}); err != nil {
		t.Fatalf("asking for the policy's own autoSubmit: %v", err)
	}
}

func TestChosenChainDropsSLAsOfRemovedRoles(t *testing.T) {
	p := mustParse(t, "default:\n  sla: {byRole: {finance: 24h, supervisor: 8h}}\n")
	dec, err := p.Resolve("x", "y", workflows.Options{Approvals: []string{"supervisor"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dec.Options.SLA.ByRole, map[string]workflows.Duration{"supervisor": d("8h")}) {
		t.Fatalf("byRole = %v", dec.Options.SLA.ByRole)
	}
}

func TestDecisionIsFrozenAndComplete(t *testing.T) {
	p := mustParse(t, examplePolicy)
	dec, err := p.Resolve("er_tripreimbursebill", "SAP", workflows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// What the API will do with it: Normalize (must change nothing) and Validate (must pass).
	in := workflows.BillInput{BillID: "B-1", BillNo: "BX-1", BillType: "er_tripreimbursebill", Resource: "SAP",
		BillTaxNo: "91440300MA5G9GK78Y", UserID: "u1", Options: cloneOptions(dec.Options)}
	in.Normalize()
	if !reflect.DeepEqual(in.Options, dec.Options) {
		t.Fatalf("Normalize changed the decision:\n%+v\n%+v", in.Options, dec.Options)
	}
	if verr := in.Validate(); verr != nil {
		t.Fatalf("decision does not validate: %v", verr)
	}
	// Changing a decision does not change the policy.
	dec.Options.Approvals[0] = "mallory"
	dec.Options.SLA.ByRole["cfo"] = 0
	*dec.Options.AutoSubmit = false
	dec.WebSignals.Roles[0] = "mallory"
	again, _ := p.Resolve("er_tripreimbursebill", "SAP", workflows.Options{})
	if again.Options.Approvals[0] != "supervisor" || again.Options.SLA.ByRole["cfo"] != d("72h") || !*again.Options.AutoSubmit ||
		again.WebSignals.Roles[0] != "finance" {
		t.Fatalf("the policy changed through a decision: %+v", again)
	}
}

func TestParseRefusesBadPolicies(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"empty", "", []string{"the file is empty"}},
		{"unknown field", "default:\n  imagemode: basic\n", []string{"field imagemode not found"}},
		{"bad image mode in default", "default:\n  imageMode: photo\n", []string{`default.imageMode: must be one of none|basic|match|submitter, got "photo"`}},
		{"bad role", "rules:\n  - {name: r, match: {resource: OA}, approvals: [supervisor, Fin Ance]}\n",
			[]string{"rules[0].approvals[1]: role \"fin ance\" must be lower-case"}},
		{"role twice", "rules:\n  - {name: r, match: {resource: OA}, approvals: [finance, finance]}\n", []string{`rules[0].approvals[1]: role "finance" appears twice`}},
		{"byRole outside the chain", "rules:\n  - {name: r, match: {resource: OA}, approvals: [finance], sla: {byRole: {cfo: 1h}}}\n",
			[]string{`rules[0].sla.byRole.cfo: "cfo" is not one of options.approvals`}},
		{"bad duration", "default:\n  sla: {collect: 3 days}\n", []string{`default.sla.collect: not a duration like "48h" or "30m": "3 days"`}},
		{"negative duration", "default:\n  sla: {voucher: -1h}\n", []string{"default.sla.voucher: must not be negative"}},
		{"cancel without hard", "rules:\n  - {name: r, match: {resource: OA}, onDeadline: cancel}\n", []string{`rules[0].sla.hard: required when options.onDeadline is "cancel"`}},
		{"bad deduction", "rules:\n  - {name: r, match: {resource: OA}, deduction: later}\n", []string{"rules[0].deduction: must be one of none|immediate|batch"}},
		{"unknown caller option", "default:\n  allowCallerOptions: [sla, colour]\n", []string{`default.allowCallerOptions[1]: unknown option "colour"`}},
		{"unknown signal", "default:\n  webSignals: {signals: [approve, invoices]}\n", []string{`default.webSignals.signals[1]: unknown signal "invoices"`}},
		{"web role outside a fixed chain", "default:\n  allowCallerOptions: []\n  webSignals: {roles: [cfo]}\n",
			[]string{`default.webSignals.roles[0]: "cfo" is not one of this rule's approvals [supervisor finance]`}},
		{"acknowledging role outside the chain", "default:\n  duties: {acknowledgeUnverified: cfo}\n",
			[]string{`default.duties.acknowledgeUnverified: "cfo" is not one of the rule's approvals (supervisor, finance)`}},
		{"rule without name", "rules:\n  - {match: {resource: OA}}\n", []string{"rules[0].name: required"}},
		{"rule named default", "rules:\n  - {name: default, match: {resource: OA}}\n", []string{`rules[0].name: "default" is also the name of default`}},
		{"two rules, one name", "rules:\n  - {name: a, match: {resource: OA}}\n  - {name: a, match: {resource: HR}}\n", []string{`rules[1].name: "a" is also the name of rules[0]`}},
		{"rule without match", "rules:\n  - {name: a, imageMode: basic}\n", []string{"rules[0].match: needs billType, resource or both"}},
		{"two rules, same bills", "rules:\n  - {name: a, match: {resource: OA}}\n  - {name: b, match: {resource: ' OA '}}\n", []string{"rules[1].match: matches the same bills as rules[0]"}},
		{"problems in rules all named", "rules:\n  - {name: a, match: {resource: OA}, imageMode: x}\n  - {name: b, match: {resource: HR}, deduction: y}\n",
			[]string{"rules[0].imageMode", "rules[1].deduction"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.src))
			if err == nil {
				t.Fatalf("accepted: %v", p.RuleNames())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
	t.Run("default's problems are not repeated under every rule", func(t *testing.T) {
		_, err := Parse([]byte("default:\n  imageMode: photo\nrules:\n  - {name: a, match: {resource: OA}}\n"))
		if err == nil || strings.Count(err.Error(), "imageMode") != 1 {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestJSONPolicyAndLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.json")
	src := `{"default":{"approvals":["finance"],"allowCallerOptions":["*"]},"rules":[{"name":"hr","match":{"resource":"HR"},"approvals":[]}]}`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadEnv(func(k string) string { return map[string]string{EnvPolicyFile: path}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if p.Source() != path {
		t.Fatalf("source = %s", p.Source())
	}
	dec, _ := p.Resolve("x", "HR", workflows.Options{})
	if dec.Options.Approvals == nil || len(dec.Options.Approvals) != 0 {
		t.Fatalf("approvals: [] must stay an empty chain, got %#v", dec.Options.Approvals)
	}
	dec, err = p.Resolve("x", "SAP", workflows.Options{ImageMode: "match"})
	if err != nil || dec.Options.ImageMode != "match" || !reflect.DeepEqual(dec.Options.Approvals, []string{"finance"}) {
		t.Fatalf("\"*\" lets the caller choose: %v %+v", err, dec.Options)
	}

	if p, err := LoadEnv(func(string) string { return "" }); err != nil || p.Source() != "built-in default" {
		t.Fatalf("no file: %v %v", p, err)
	}
	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), EnvPolicyFile+": cannot read policy file") {
		t.Fatalf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("default: {imageMode: x}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.HasPrefix(err.Error(), `policy file "`+bad+`": default.imageMode`) {
		t.Fatalf("bad file: %v", err)
	}
}

// The documented example file must stay valid and mean what its comments say.
func TestDocumentedExample(t *testing.T) {
	p, err := Load(filepath.Join("..", "..", "docs", "examples", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := p.Resolve("er_tripreimbursebill", "OA", workflows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if dec.Rule != "oa-travel" || !reflect.DeepEqual(dec.Options.Approvals, []string{"finance"}) || dec.WebSignals.Allow {
		t.Fatalf("oa-travel = %+v", dec)
	}
	if _, err := p.Resolve("er_dailyreimbursebill", "SAP", workflows.Options{ImageMode: "none"}); err == nil {
		t.Fatal("the default lets the caller choose imageMode")
	}
}

// Roles are the server's approval roles: every rule's chain, the inherited ones included.
func TestRolesAreEveryRulesChain(t *testing.T) {
	p, err := Parse([]byte("default:\n  approvals: [supervisor, finance]\nrules:\n  - name: travel\n    match: {billType: trip}\n    approvals: [finance, cfo]\n  - name: none\n    match: {resource: HR}\n    approvals: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Roles(), ","); got != "cfo,finance,supervisor" {
		t.Errorf("Roles() = %s", got)
	}
	if got := strings.Join(Default().Roles(), ","); got != "finance,supervisor" {
		t.Errorf("built-in Roles() = %s", got)
	}
}

// duties.acknowledgeUnverified names a role of the chain; a rule inherits it, and the decision
// carries it into the bill.
func TestAcknowledgeUnverifiedDuty(t *testing.T) {
	p := mustParse(t, "default:\n  duties: {acknowledgeUnverified: ' Finance '}\nrules:\n  - {name: hr, match: {resource: HR}}\n")
	for _, res := range []string{"OA", "HR"} {
		dec, err := p.Resolve("expense", res, workflows.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if dec.Duties.AcknowledgeUnverified != "finance" {
			t.Errorf("%s: duties %+v", res, dec.Duties)
		}
	}
	dec, err := mustParse(t, "default:\n  imageMode: none\n").Resolve("expense", "OA", workflows.Options{})
	if err != nil || dec.Duties.AcknowledgeUnverified != "" {
		t.Errorf("without the duty: %+v %v", dec.Duties, err)
	}
}

// duties.verifiedTypes [assumed in part] replaces the default list of the invoiceType codes the
// cloud verifies; a rule inherits it; a code that is not 1 to 3 digits, a repeat, or an empty list
// is refused naming its place.
func TestVerifiedTypesDuty(t *testing.T) {
	p := mustParse(t, "default:\n  duties: {verifiedTypes: ['4', ' 27 ']}\nrules:\n  - {name: hr, match: {resource: HR}}\n")
	for _, res := range []string{"OA", "HR"} {
		dec, err := p.Resolve("expense", res, workflows.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(dec.Duties.VerifiedTypes, []string{"4", "27"}) {
			t.Errorf("%s: duties %+v", res, dec.Duties)
		}
	}
	if dec, err := mustParse(t, "default:\n  imageMode: none\n").Resolve("expense", "OA", workflows.Options{}); err != nil || dec.Duties.VerifiedTypes != nil {
		t.Errorf("without the list (the default applies): %+v %v", dec.Duties, err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"default:\n  duties: {verifiedTypes: ['4', 'x']}\n", "default.duties.verifiedTypes[1]"},
		{"default:\n  duties: {verifiedTypes: ['4', '4']}\n", "default.duties.verifiedTypes[1]"},
		{"default:\n  duties: {verifiedTypes: []}\n", "default.duties.verifiedTypes"},
	} {
		if _, err := Parse([]byte(c.yaml)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error naming %s", c.yaml, err, c.want)
		}
	}
}
