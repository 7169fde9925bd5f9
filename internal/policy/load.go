package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"rimflow/workflows"
)

// EnvPolicyFile names the policy file (YAML, or JSON); unset = the built-in default.
const EnvPolicyFile = "RIMFLOW_POLICY_FILE"

// The file's shape. Every field of a rule is optional: what a rule leaves out it inherits from
// `default`, which inherits from the built-in default. Pointers tell "absent" from "empty"
// (approvals: [] is a bill without approvals; no approvals key inherits the chain).
type fileFields struct {
	Approvals          *[]string       `yaml:"approvals"`
	ImageMode          *string         `yaml:"imageMode"`
	Deduction          *string         `yaml:"deduction"`
	SLA                *fileSLA        `yaml:"sla"`
	OnDeadline         *string         `yaml:"onDeadline"`
	AutoSubmit         *bool           `yaml:"autoSubmit"`
	AllowCallerOptions *[]string       `yaml:"allowCallerOptions"`
	Duties             *fileDuties     `yaml:"duties"`
	WebSignals         *fileWebSignals `yaml:"webSignals"`
}

type fileSLA struct {
	Collect  *string           `yaml:"collect"`
	Approval *string           `yaml:"approval"`
	ByRole   map[string]string `yaml:"byRole"`
	Voucher  *string           `yaml:"voucher"`
	Hard     *string           `yaml:"hard"`
}

type fileDuties struct {
	SubmitterMayApprove   *bool   `yaml:"submitterMayApprove"`
	OnePersonOneRole      *bool   `yaml:"onePersonOneRole"`
	AcknowledgeUnverified *string `yaml:"acknowledgeUnverified"`
	// VerifiedTypes [assumed in part]: the invoiceType codes the cloud verifies (default
	// workflows.VerifiedTypes); the acknowledging role acknowledges the others.
	VerifiedTypes *[]string `yaml:"verifiedTypes"`
}

// invoiceTypeCode is the vendor's invoiceType: a number of at most three digits.
var invoiceTypeCode = regexp.MustCompile(`^[0-9]{1,3}$`)

type fileWebSignals struct {
	Allow   *bool     `yaml:"allow"`
	Signals *[]string `yaml:"signals"`
	Roles   *[]string `yaml:"roles"`
}

type fileRule struct {
	Name       string    `yaml:"name"`
	Match      fileMatch `yaml:"match"`
	fileFields `yaml:",inline"`
}

type fileMatch struct {
	BillType string `yaml:"billType"`
	Resource string `yaml:"resource"`
}

type policyFile struct {
	Default *fileFields `yaml:"default"`
	Rules   []fileRule  `yaml:"rules"`
}

// LoadEnv reads the policy file named by RIMFLOW_POLICY_FILE, or the built-in default when unset.
func LoadEnv(getenv func(string) string) (*Policy, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	path := strings.TrimSpace(getenv(EnvPolicyFile))
	if path == "" {
		return Default(), nil
	}
	return Load(path)
}

// Load reads a policy file.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read policy file %q: %w", EnvPolicyFile, path, errors.Unwrap(err))
	}
	p, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy file %q: %w", path, err)
	}
	p.source = path
	return p, nil
}

// Parse reads a policy file's content. Unknown fields are refused: a misspelt rule must not
// silently fall back to the defaults. Every problem is named ("rules[1].imageMode: …").
func Parse(data []byte) (*Policy, error) {
	p, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p.source = "policy"
	return p, nil
}

func parse(data []byte) (*Policy, error) {
	var f policyFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty (remove it to use the built-in default)")
		}
		return nil, err
	}
	var problems []string
	bad := func(field, format string, args ...any) {
		problems = append(problems, field+": "+fmt.Sprintf(format, args...))
	}

	p := &Policy{def: builtIn()}
	if f.Default != nil {
		p.def = derive(p.def, DefaultRuleName, *f.Default, "default", bad)
		if len(problems) > 0 {
			// Every rule inherits from the default: its problems would repeat under each rule.
			return nil, errors.New(strings.Join(problems, "; "))
		}
	}
	names := map[string]string{DefaultRuleName: "default"}
	matches := map[fileMatch]string{}
	for i, fr := range f.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		name := strings.TrimSpace(fr.Name)
		switch prev, dup := names[name]; {
		case name == "":
			bad(field+".name", "required (it is recorded with every bill the rule decides)")
		case dup:
			bad(field+".name", "%q is also the name of %s", name, prev)
		default:
			names[name] = field
		}
		m := fileMatch{BillType: strings.TrimSpace(fr.Match.BillType), Resource: strings.TrimSpace(fr.Match.Resource)}
		if m == (fileMatch{}) {
			bad(field+".match", "needs billType, resource or both (the default rule is `default`)")
		} else if prev, dup := matches[m]; dup {
			bad(field+".match", "matches the same bills as %s", prev)
		} else {
			matches[m] = field
		}
		r := derive(p.def, name, fr.fileFields, field, bad)
		r.billType, r.resource = m.BillType, m.Resource
		p.rules = append(p.rules, r)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return p, nil
}

// derive is base with the file's fields laid over it, validated; problems are reported through bad
// under field (the rule's path in the file).
func derive(base *rule, name string, f fileFields, field string, bad func(string, string, ...any)) *rule {
	r := &rule{
		name:       name,
		options:    cloneOptions(base.options),
		callerMay:  maps.Clone(base.callerMay),
		duties:     base.duties,
		webSignals: base.webSignals.Clone(),
	}
	o := &r.options
	if f.Approvals != nil {
		o.Approvals = slices.Clone(*f.Approvals)
		if o.Approvals == nil {
			o.Approvals = []string{}
		}
	}
	setString := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setString(&o.ImageMode, f.ImageMode)
	setString(&o.Deduction, f.Deduction)
	setString(&o.OnDeadline, f.OnDeadline)
	if f.AutoSubmit != nil {
		v := *f.AutoSubmit
		o.AutoSubmit = &v
	}
	if s := f.SLA; s != nil {
		duration := func(name string, v *string, dst *workflows.Duration) {
			if v == nil {
				return
			}
			d, err := time.ParseDuration(strings.TrimSpace(*v))
			if err != nil {
				bad(field+".sla."+name, "not a duration like \"48h\" or \"30m\": %q", *v)
				return
			}
			*dst = workflows.Duration(d)
		}
		duration("collect", s.Collect, &o.SLA.Collect)
		duration("approval", s.Approval, &o.SLA.Approval)
		duration("voucher", s.Voucher, &o.SLA.Voucher)
		duration("hard", s.Hard, &o.SLA.Hard)
		if s.ByRole != nil {
			o.SLA.ByRole = map[string]workflows.Duration{}
			for _, role := range slices.Sorted(maps.Keys(s.ByRole)) {
				v := s.ByRole[role]
				var d workflows.Duration
				duration("byRole."+role, &v, &d)
				o.SLA.ByRole[strings.ToLower(strings.TrimSpace(role))] = d
			}
		}
	}
	if f.Approvals != nil && (f.SLA == nil || f.SLA.ByRole == nil) {
		dropSLAsOfOtherRoles(o) // inherited per-role SLAs of roles this rule's own chain lacks
	}
	if f.AllowCallerOptions != nil {
		r.callerMay = map[string]bool{}
		for i, opt := range *f.AllowCallerOptions {
			opt = strings.TrimSpace(opt)
			switch {
			case opt == "*":
				r.callerMay = allOptions()
			case slices.Contains(CallerOptions, opt):
				r.callerMay[opt] = true
			default:
				bad(fmt.Sprintf("%s.allowCallerOptions[%d]", field, i), "unknown option %q (options: %s, or \"*\")", opt, strings.Join(CallerOptions, ", "))
			}
		}
	}
	if d := f.Duties; d != nil {
		if d.SubmitterMayApprove != nil {
			r.duties.SubmitterMayApprove = *d.SubmitterMayApprove
		}
		if d.OnePersonOneRole != nil {
			r.duties.OnePersonOneRole = *d.OnePersonOneRole
		}
		if d.AcknowledgeUnverified != nil {
			// The role whose approval acknowledges the invoices the cloud does not verify ("" none).
			role := strings.ToLower(strings.TrimSpace(*d.AcknowledgeUnverified))
			if role != "" && !slices.Contains(r.options.Approvals, role) {
				bad(field+".duties.acknowledgeUnverified", "%q is not one of the rule's approvals (%s)", role, strings.Join(r.options.Approvals, ", "))
			}
			r.duties.AcknowledgeUnverified = role
		}
		if d.VerifiedTypes != nil {
			codes := []string{}
			for i, c := range *d.VerifiedTypes {
				c = strings.TrimSpace(c)
				if !invoiceTypeCode.MatchString(c) || slices.Contains(codes, c) {
					bad(fmt.Sprintf("%s.duties.verifiedTypes[%d]", field, i), "want an invoiceType code (1 to 3 digits) once, got %q", c)
				}
				codes = append(codes, c)
			}
			if len(codes) == 0 {
				bad(field+".duties.verifiedTypes", "empty: leave it out for the default list (%s)", strings.Join(workflows.VerifiedTypes, ", "))
			}
			r.duties.VerifiedTypes = codes
		}
	}
	if w := f.WebSignals; w != nil {
		if w.Allow != nil {
			r.webSignals.Allow = *w.Allow
		}
		if w.Signals != nil {
			r.webSignals.Signals = nil
			for i, s := range *w.Signals {
				if s = strings.TrimSpace(s); !slices.Contains(workflows.WebSignalNames, s) {
					bad(fmt.Sprintf("%s.webSignals.signals[%d]", field, i), "unknown signal %q (signals: %s)", s, strings.Join(workflows.WebSignalNames, ", "))
				}
				r.webSignals.Signals = append(r.webSignals.Signals, s)
			}
		}
		if w.Roles != nil {
			r.webSignals.Roles = nil
			for _, role := range *w.Roles {
				r.webSignals.Roles = append(r.webSignals.Roles, strings.ToLower(strings.TrimSpace(role)))
			}
		}
	}
	validateOptions(r, field, bad)
	// A web-signal role outside a fixed chain can never match: a typo, most likely. Inherited roles
	// are not checked: outside this rule's chain they only refuse (the strict side).
	if f.WebSignals != nil && f.WebSignals.Roles != nil && !r.callerMay[OptApprovals] {
		for i, role := range r.webSignals.Roles {
			if !slices.Contains(r.options.Approvals, role) {
				bad(fmt.Sprintf("%s.webSignals.roles[%d]", field, i), "%q is not one of this rule's approvals %v", role, r.options.Approvals)
			}
		}
	}
	return r
}

// validateOptions checks a rule's options with the workflow's own validation (the rule's values
// are what a caller could send), normalising them the same way, and names fields in the file.
func validateOptions(r *rule, field string, bad func(string, string, ...any)) {
	in := workflows.BillInput{BillID: "policy", BillNo: "policy", BillType: "policy", Resource: "policy",
		BillTaxNo: "policy", UserID: "policy", Options: r.options}
	in.Normalize()
	r.options = in.Options
	if verr := in.Validate(); verr != nil {
		for _, k := range slices.Sorted(maps.Keys(verr.Fields)) {
			bad(field+"."+strings.TrimPrefix(k, "options."), "%s", verr.Fields[k])
		}
	}
}
