package workflows

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// Attachments (docs/invoicecloud.md, "Attachments"): the attachData of what the cloud delivers
// (the socket's message, a poll, a forwarded payload) — each {attachUrl, attachType, attachNo,
// attachName} — is kept with the bill's input (state.bill.attachData), shown in its Web details,
// and passed on with every billSave as its invoice's attachData. The ERP may also give them at
// start.

// MaxAttachCodeLen bounds an attachment's attachType and attachNo [assumed: the vendor's text gives
// none]; its URL, name and remark, and how many a bill keeps, are the bill's limits
// (invoicecloud.Limits).
const MaxAttachCodeLen = 64

// attachmentsKept versions keeping a delivery's attachData on the bill (and so sending it on
// billSave): bills that received attachments before it go on without them.
const attachmentsKept = "attachments-kept-and-passed-on"

// CheckAttachments names every bad field of the bill's attachments (prefix "attachData"): each
// with its invoice's serialNo, an absolute http(s) attachUrl, a name; lengths and count within
// the bill's limits (nil: the defaults).
func CheckAttachments(f map[string]string, prefix string, list []invoicecloud.BillInvoiceAttach, lim *invoicecloud.Limits) {
	bounds := lim.Or()
	if len(list) > bounds.Attachments {
		f[prefix] = fmt.Sprintf("at most %d attachments", bounds.Attachments)
		return
	}
	for i, a := range list {
		p := fmt.Sprintf("%s[%d].", prefix, i)
		bounded := func(name, v string, limit int, required bool) {
			switch {
			case strings.TrimSpace(v) == "" && required:
				f[p+name] = "required"
			case utf8.RuneCountInString(v) > limit:
				f[p+name] = fmt.Sprintf("at most %d characters", limit)
			default:
				if why := Unprintable(v); why != "" {
					f[p+name] = why
				}
			}
		}
		bounded("serialNo", a.SerialNo, MaxAttachCodeLen*2, true)
		bounded("attachUrl", a.AttachURL, bounds.AttachURLLen, true)
		bounded("attachName", a.AttachName, bounds.AttachNameLen, true)
		bounded("attachType", a.AttachType, MaxAttachCodeLen, false)
		bounded("attachNo", a.AttachNo, MaxAttachCodeLen, false)
		bounded("remark", a.Remark, bounds.RemarkLen, false)
		if _, named := f[p+"attachUrl"]; !named {
			if u, err := url.Parse(a.AttachURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				f[p+"attachUrl"] = "must be an absolute http(s) URL"
			}
		}
	}
}

// takeAttachments keeps a delivery's attachData with the bill: each goes with the delivery's
// first invoice [assumed: the message does not say which invoice an attachment belongs to], named
// by its URL's file name when the cloud gave no name; one the cloud would refuse (no URL) is
// noted and left out, never failing the bill. A redelivered attachment (same URL and number) is
// kept once.
func (b *bill) takeAttachments(d calls.Delivery) {
	if len(d.AttachData) == 0 || len(d.InvoiceData) == 0 {
		return
	}
	if workflow.GetVersion(b.ctx, attachmentsKept, workflow.DefaultVersion, 1) < 1 {
		return
	}
	have, most := b.in.AttachData, b.in.Limits.Or().Attachments
	left := 0
	for _, a := range d.AttachData {
		att := invoicecloud.BillInvoiceAttach{AttachURL: strings.TrimSpace(a.AttachURL), AttachType: strings.TrimSpace(a.AttachType),
			AttachNo: strings.TrimSpace(a.AttachNo), AttachName: strings.TrimSpace(a.AttachName), SerialNo: d.InvoiceData[0].SerialNo}
		if att.AttachName == "" {
			att.AttachName = attachName(att)
		}
		f := map[string]string{}
		CheckAttachments(f, "attachData", []invoicecloud.BillInvoiceAttach{att}, b.in.Limits)
		switch {
		case slices.ContainsFunc(have, func(o invoicecloud.BillInvoiceAttach) bool {
			return o.AttachURL == att.AttachURL && o.AttachNo == att.AttachNo
		}):
		case len(f) > 0 || len(have) >= most:
			left++
		default:
			have = append(slices.Clip(have), att)
		}
	}
	if left > 0 {
		b.note(b.View.Stage, fmt.Sprintf("%d attachment(s) left out (no usable attachUrl, or over %d per bill)", left, most))
	}
	b.in.AttachData = have
	b.View.Bill = b.in
}

// attachName names an attachment the cloud sent without a name: its URL's file name, else its number.
func attachName(a invoicecloud.BillInvoiceAttach) string {
	if u, err := url.Parse(a.AttachURL); err == nil {
		if base := path.Base(u.Path); base != "." && base != "/" && base != "" {
			return base
		}
	}
	return orStr(a.AttachNo, "attachment")
}

// attachmentsOf are the bill's attachments of the invoice serialNo, for its billSave line.
func (in BillInput) attachmentsOf(serialNo string) []invoicecloud.BillInvoiceAttach {
	var out []invoicecloud.BillInvoiceAttach
	for _, a := range in.AttachData {
		if a.SerialNo == serialNo {
			out = append(out, a)
		}
	}
	return out
}
