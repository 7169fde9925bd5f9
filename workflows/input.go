package workflows

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"rimflow/invoicecloud"
)

// DefaultApprovals is the approval chain when Options.Approvals is nil.
var DefaultApprovals = []string{"supervisor", "finance"}

// RoleFinance is the approval role image review is placed in front of (see Options.Route).
const RoleFinance = "finance"

// MaxResourceLen is Invoice Cloud's limit on `resource` (source system code).
const MaxResourceLen = 10

// rolePattern keeps roles usable as stage names, search attribute values and URL segments.
var rolePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// clone is a deep copy (Normalize writes into its slices).
func (in BillInput) clone() BillInput {
	out := in
	out.CompanyInfo = slices.Clone(in.CompanyInfo)
	out.Lines = slices.Clone(in.Lines)
	out.AttachData = slices.Clone(in.AttachData)
	out.Options.Approvals = slices.Clone(in.Options.Approvals)
	if in.Options.AutoSubmit != nil {
		v := *in.Options.AutoSubmit
		out.Options.AutoSubmit = &v
	}
	out.Options.SLA.ByRole = maps.Clone(in.Options.SLA.ByRole)
	if in.Policy != nil {
		p := *in.Policy
		p.WebSignals = p.WebSignals.Clone()
		out.Policy = &p
	}
	if in.Limits != nil {
		l := *in.Limits
		out.Limits = &l
	}
	return out
}

// Normalize trims the input and fills the documented defaults. It is idempotent and never fails;
// call Validate afterwards.
func (in *BillInput) Normalize() {
	in.BillID = strings.TrimSpace(in.BillID)
	in.BillNo = strings.TrimSpace(in.BillNo)
	in.BillType = strings.TrimSpace(in.BillType)
	in.Resource = strings.TrimSpace(in.Resource)
	in.BillTaxNo = normalizeTaxNo(in.BillTaxNo)
	in.OrgNumber = strings.TrimSpace(in.OrgNumber)
	in.UserID = strings.TrimSpace(in.UserID)
	in.PushType = strings.ToLower(strings.TrimSpace(in.PushType))
	if in.PushType == "" {
		in.PushType = PushSocket
	}
	for i := range in.CompanyInfo {
		in.CompanyInfo[i].TaxNo = normalizeTaxNo(in.CompanyInfo[i].TaxNo)
		in.CompanyInfo[i].Name = strings.TrimSpace(in.CompanyInfo[i].Name)
	}
	in.Options.normalize()
	if in.Policy == nil {
		p := DefaultBillPolicy()
		in.Policy = &p
	}
}

func (o *Options) normalize() {
	if o.AutoSubmit == nil {
		t := true
		o.AutoSubmit = &t
	}
	if o.Approvals == nil {
		o.Approvals = append([]string(nil), DefaultApprovals...)
	} else {
		for i, r := range o.Approvals {
			o.Approvals[i] = strings.ToLower(strings.TrimSpace(r))
		}
	}
	o.ImageMode = lowerOr(o.ImageMode, ImageNone)
	o.Deduction = lowerOr(o.Deduction, DeductionNone)
	o.OnDeadline = lowerOr(o.OnDeadline, DeadlineRemind)
}

func lowerOr(s, def string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return def
	}
	return s
}

// Validate names every bad field (JSON paths such as "options.approvals[1]"); nil when the input is good.
// It expects a normalised input: the workflow and the API both call Normalize first.
func (in BillInput) Validate() *ValidationError {
	f := map[string]string{}
	required := func(name, v string) {
		if v == "" {
			f[name] = "required"
		}
	}
	required("billId", in.BillID)
	required("billNo", in.BillNo)
	required("billType", in.BillType)
	required("resource", in.Resource)
	required("userId", in.UserID)
	// billSave requires billTaxNo, so a bill without it could never bind an invoice.
	required("billTaxNo", in.BillTaxNo)
	if n := utf8.RuneCountInString(in.Resource); n > MaxResourceLen {
		f["resource"] = fmt.Sprintf("at most %d characters (Invoice Cloud's limit), got %d", MaxResourceLen, n)
	} else if strings.ContainsAny(in.Resource, ":/") {
		f["resource"] = "must not contain ':' or '/' (they separate the resource from the billId in the workflow ID and the API's paths)"
	} else if p := Unprintable(in.Resource); p != "" {
		f["resource"] = p
	}
	if p := Unprintable(in.BillID); p != "" {
		f["billId"] = p
	}
	if in.PushType != PushSocket && in.PushType != PushPoll {
		f["pushType"] = fmt.Sprintf("must be %q or %q, got %q", PushSocket, PushPoll, in.PushType)
	}
	for i, c := range in.CompanyInfo {
		if c.TaxNo == "" {
			f[fmt.Sprintf("companyInfo[%d].taxNo", i)] = "required"
		}
		if c.Name == "" {
			f[fmt.Sprintf("companyInfo[%d].name", i)] = "required"
		}
	}
	in.Options.validate(f)
	CheckLines(f, "lines", in.Lines, nil, in.Limits)
	CheckCover(f, in.CoverData, in.Limits)
	CheckAttachments(f, "attachData", in.AttachData, in.Limits)
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// MaxBillIDLen bounds billId in characters: percent-encoded in the workflow ID (9 bytes for a
// Chinese character), the longest billId with the longest resource still fits Temporal's
// 1,000-byte workflow ID.
const MaxBillIDLen = 100

// ValidateAtStart is Validate plus the rules a new bill must meet before anything is started, so
// a typo is refused with the field named instead of failing at the cloud: tax numbers have the
// shape of a taxpayer id (Normalize upper-cases them), companyInfo names each company once, text
// fields hold no control or invisible characters, and the billId is a usable URL path segment.
// The API and the CLI call it; the workflow keeps calling Validate, so a bill started under the
// older rules still replays.
func (in BillInput) ValidateAtStart() *ValidationError {
	f := map[string]string{}
	if verr := in.Validate(); verr != nil {
		//workflowcheck:ignore only fills a map: order does not matter
		maps.Copy(f, verr.Fields)
	}
	setOnce := func(name, problem string) {
		if _, named := f[name]; !named && problem != "" {
			f[name] = problem
		}
	}
	for _, fv := range []struct{ name, v string }{
		{"billNo", in.BillNo}, {"billType", in.BillType}, {"userId", in.UserID}, {"orgNumber", in.OrgNumber},
	} {
		setOnce(fv.name, Unprintable(fv.v))
	}
	if n := utf8.RuneCountInString(in.BillID); n > MaxBillIDLen {
		setOnce("billId", fmt.Sprintf("at most %d characters, got %d", MaxBillIDLen, n))
	}
	if in.BillID == "." || in.BillID == ".." {
		setOnce("billId", "must not be \".\" or \"..\" (a URL path cannot carry it as a segment)")
	}
	// Zero is the default; a negative limit would continue the bill as new at every quiet point.
	if in.Options.HistoryLimit < 0 {
		setOnce("options.historyLimit", fmt.Sprintf("must not be negative (0 or left out: the default, %d events), got %d",
			defaultHistoryLimit, in.Options.HistoryLimit))
	}
	if in.BillTaxNo != "" {
		setOnce("billTaxNo", taxNoProblem(in.BillTaxNo))
	}
	seen := map[string]int{}
	for i, c := range in.CompanyInfo {
		name := fmt.Sprintf("companyInfo[%d]", i)
		if c.TaxNo != "" {
			setOnce(name+".taxNo", taxNoProblem(c.TaxNo))
			if j, dup := seen[c.TaxNo]; dup {
				setOnce(name+".taxNo", fmt.Sprintf("the same tax number as companyInfo[%d]", j))
			}
			seen[c.TaxNo] = i
		}
		setOnce(name+".name", Unprintable(c.Name))
	}
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// Amend applies an amend's given fields to a bill's input and checks the result with the rules of
// a new bill (ValidateAtStart). Problems are named by the amend's JSON fields. The API checks an
// amend with it before sending it, and the bill applies it the same way.
func (in BillInput) Amend(req AmendRequest) (BillInput, *ValidationError) {
	out := in.clone()
	f := map[string]string{}
	if strings.TrimSpace(req.Reason) == "" {
		f["reason"] = "required: an amend is audited (why the header changes)"
	}
	changed := false
	set := func(dst *string, v *string) {
		if v != nil {
			*dst, changed = *v, true
		}
	}
	set(&out.BillNo, req.BillNo)
	set(&out.BillType, req.BillType)
	set(&out.BillTaxNo, req.BillTaxNo)
	set(&out.OrgNumber, req.OrgNumber)
	set(&out.UserID, req.UserID)
	if req.CompanyInfo != nil {
		out.CompanyInfo, changed = slices.Clone(*req.CompanyInfo), true
	}
	if len(req.Lines) > 0 {
		out.Lines, changed = withLines(in.Lines, req.Lines), true
	}
	if req.CoverData != nil {
		c := *req.CoverData
		out.CoverData, changed = &c, true
	}
	if !changed {
		f["body"] = "nothing to amend: give at least one of billNo, billType, billTaxNo, orgNumber, userId, companyInfo, lines, coverData"
	}
	out.Normalize()
	if verr := out.ValidateAtStart(); verr != nil {
		//workflowcheck:ignore only fills a map: order does not matter
		maps.Copy(f, verr.Fields)
	}
	if len(f) > 0 {
		return in, &ValidationError{Fields: f}
	}
	return out, nil
}

// normalizeTaxNo trims a tax number and upper-cases it: taxpayer ids are upper-case letters and
// digits, and an ERP that stores them lower-case means the same company.
func normalizeTaxNo(s string) string { return invoicecloud.NormalizeTaxNo(s) }

func taxNoProblem(s string) string {
	if invoicecloud.ValidTaxNo(s) {
		return ""
	}
	return fmt.Sprintf("not a taxpayer id: an 18-character unified social credit code or a 15, 17 or 20-character "+
		"number of letters and digits, got %q", s)
}

// Unprintable explains why s cannot be a key or a text field: invalid UTF-8, or a control or
// invisible character (a format character such as U+200B is not graphic). Any printable Unicode,
// Chinese and spaces included, is fine.
func Unprintable(s string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for i, r := range s {
		if !unicode.IsGraphic(r) { // letters, marks, numbers, punctuation, symbols and spaces
			return fmt.Sprintf("must hold printable characters only: %U at byte %d is a control or invisible character", r, i)
		}
	}
	return ""
}

func (o Options) validate(f map[string]string) {
	seen := map[string]bool{}
	for i, r := range o.Approvals {
		name := fmt.Sprintf("options.approvals[%d]", i)
		switch {
		case !rolePattern.MatchString(r):
			f[name] = fmt.Sprintf("role %q must be lower-case letters, digits or '_' and start with a letter", r)
		case r == "image_review" || r == "voucher":
			f[name] = fmt.Sprintf("role %q clashes with a stage name", r)
		case seen[r]:
			f[name] = fmt.Sprintf("role %q appears twice", r)
		}
		seen[r] = true
	}
	oneOf(f, "options.imageMode", o.ImageMode, ImageNone, ImageBasic, ImageMatch, ImageSubmitter)
	oneOf(f, "options.deduction", o.Deduction, DeductionNone, DeductionImmediate, DeductionBatch)
	oneOf(f, "options.onDeadline", o.OnDeadline, DeadlineRemind, DeadlineCancel)
	nonNegative := func(name string, d Duration) {
		if d < 0 {
			f[name] = "must not be negative"
		}
	}
	nonNegative("options.sla.collect", o.SLA.Collect)
	nonNegative("options.sla.approval", o.SLA.Approval)
	nonNegative("options.sla.voucher", o.SLA.Voucher)
	nonNegative("options.sla.hard", o.SLA.Hard)
	for _, role := range sortedDurationKeys(o.SLA.ByRole) {
		name := "options.sla.byRole." + role
		if !seen[role] {
			f[name] = fmt.Sprintf("%q is not one of options.approvals", role)
		}
		nonNegative(name, o.SLA.ByRole[role])
	}
	nonNegative("options.reissueMargin", o.ReissueMargin)
	nonNegative("options.reversalWindow", o.ReversalWindow)
	if o.ReversalWindow > MaxReversalWindow {
		f["options.reversalWindow"] = fmt.Sprintf("at most %s, got %s", time.Duration(MaxReversalWindow), time.Duration(o.ReversalWindow))
	}
	// The image system is asked at most this often; a bill must not hammer the cloud with it.
	if o.ScanPollEvery != 0 && o.ScanPollEvery < MinScanPollEvery {
		f["options.scanPollEvery"] = fmt.Sprintf("at least %s when set, got %s", time.Duration(MinScanPollEvery), time.Duration(o.ScanPollEvery))
	}
	if o.OnDeadline == DeadlineCancel && o.SLA.Hard == 0 {
		f["options.sla.hard"] = "required when options.onDeadline is \"cancel\""
	}
}

func oneOf(f map[string]string, name, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	f[name] = fmt.Sprintf("must be one of %s, got %q", strings.Join(allowed, "|"), v)
}

func sortedDurationKeys(m map[string]Duration) []string {
	s := make(map[string]string, len(m))
	//workflowcheck:ignore keys are sorted by the caller
	for k := range m {
		s[k] = ""
	}
	return sortedKeys(s)
}

// Route is the ordered list of stages a submitted bill waits in before it is marked used:
// one awaiting_<role> per approval, and image_review when the image mode needs a scan
// (basic, match). Image review goes just before finance (the 星空 flow scans the paper originals
// for the finance check); without a finance role, before the last approval; without approvals, alone.
func (o Options) Route() []Stage {
	imageReview := o.ImageMode == ImageBasic || o.ImageMode == ImageMatch
	route := make([]Stage, 0, len(o.Approvals)+1)
	before := -1
	if imageReview && len(o.Approvals) > 0 {
		before = len(o.Approvals) - 1
		for i, r := range o.Approvals {
			if r == RoleFinance {
				before = i
			}
		}
	}
	for i, r := range o.Approvals {
		if i == before {
			route = append(route, StageImageReview)
		}
		route = append(route, AwaitingStage(r))
	}
	if imageReview && len(o.Approvals) == 0 {
		route = append(route, StageImageReview)
	}
	return route
}

// SLAFor is the soft SLA of a waiting stage (0 = none).
func (o Options) SLAFor(stage Stage) Duration {
	switch stage {
	case StageCollecting:
		return o.SLA.Collect
	case StageAwaitingVoucher:
		return o.SLA.Voucher
	case StageImageReview:
		return o.SLA.Approval
	}
	if role, ok := strings.CutPrefix(string(stage), "awaiting_"); ok {
		if d, ok := o.SLA.ByRole[role]; ok {
			return d
		}
		return o.SLA.Approval
	}
	return 0
}
