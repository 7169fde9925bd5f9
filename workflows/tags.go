package workflows

import (
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// SABillTags is one KeywordList search attribute for the ERP's "my bills" filters, so they take
// no more of SQL visibility's 10 Keyword slots (8 were taken; KeywordList has 3 of its own): each
// entry is "<kind>:<value>" — userId:<the bill's user>, billType:<its type>, and taxNo:<each of
// its tax numbers> (billTaxNo and every companyInfo tax number). A KeywordList's "=" matches a
// bill holding that entry, so `BillTags = 'userId:u1' AND BillTags = 'billType:x'` filters on both.
var SABillTags = temporal.NewSearchAttributeKeyKeywordList("BillTags")

// Tag kinds of SABillTags.
const (
	TagUserID   = "userId:"
	TagBillType = "billType:"
	TagTaxNo    = "taxNo:"
)

// maxTagBytes bounds the list's size: visibility refuses a search attribute value over 2 KB
// (Temporal's limit.searchAttributesSizeOfValue default), which would fail the workflow task. The
// user and the type come first; tax numbers past the bound are left out (docs/api.md says so).
const maxTagBytes = 1500

// changeBillTags: the bill upserts BillTags. Asked once per run at its first publish, like
// changeShowBuilds: a run an older release began shows no tags (its next run does).
const changeBillTags = "bill-tags-search-attribute"

// BillTags are the bill's SABillTags entries.
func BillTags(in BillInput) []string {
	var out []string
	size := 0
	add := func(kind, v string) {
		v = strings.TrimSpace(v)
		if v == "" {
			return
		}
		entry := keyword(kind + v)
		for _, have := range out {
			if have == entry {
				return
			}
		}
		if size+len(entry)+3 > maxTagBytes { // JSON quotes and comma
			return
		}
		size += len(entry) + 3
		out = append(out, entry)
	}
	add(TagUserID, in.UserID)
	add(TagBillType, in.BillType)
	add(TagTaxNo, in.BillTaxNo)
	for _, c := range in.CompanyInfo {
		add(TagTaxNo, c.TaxNo)
	}
	return out
}

// tagsShown reports whether this run upserts BillTags (asked once per run).
func (p *publisher) tagsShown() bool {
	if !p.tagsAsked {
		p.tagsAsked = true
		p.tagsOn = workflow.GetVersion(p.ctx, changeBillTags, workflow.DefaultVersion, 1) >= 1
	}
	return p.tagsOn
}

// tagEntries is the BillTags entry of a publish, when this run shows them.
func (p *publisher) tagEntries(in BillInput) []shownValue {
	if !p.tagsShown() {
		return nil
	}
	tags := BillTags(in)
	if len(tags) == 0 {
		return nil
	}
	return []shownValue{{key: SABillTags.GetName(), value: strings.Join(tags, "\n"),
		upd: func() temporal.SearchAttributeUpdate { return SABillTags.ValueSet(tags) }}}
}
