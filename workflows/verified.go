package workflows

import (
	"fmt"
	"slices"
)

// Verified or not (docs/invoicecloud.md, "Verified or not"): the cloud verifies (真伪核验) some
// invoice kinds with the tax authority and only recognizes the others by OCR. Each invoice of a
// bill is marked (InvoiceView.Verified); a policy may name the role whose approval must
// acknowledge the unverified ones (Duties.AcknowledgeUnverified).

// VerifiedTypes are the vendor's invoiceType codes of the kinds the cloud verifies: 增值税专用发票
// (4), 电子专用发票 (2), 数电专票 (27), 数电普票 (26), 增值税普通发票 (3: 折叠票), 卷票 (5),
// 电子普通发票 (1) and 通行费电子发票 (15), 机动车 (12) and 二手车 (13) 销售统一发票 — and their 数电
// forms (83, 84) [assumed: the vendor's list names the kinds, not the 数电 codes].
var VerifiedTypes = []string{"1", "2", "3", "4", "5", "12", "13", "15", "26", "27", "83", "84"}

// Verified reports whether the cloud verifies invoices of this type, by the default list.
func Verified(invoiceType string) bool { return slices.Contains(VerifiedTypes, invoiceType) }

// verified reports whether the cloud verifies invoices of this type, by the bill's policy
// (duties.verifiedTypes) or else the default list.
func (b *bill) verified(invoiceType string) bool {
	if p := b.in.Policy; p != nil && len(p.Duties.VerifiedTypes) > 0 {
		return slices.Contains(p.Duties.VerifiedTypes, invoiceType)
	}
	return Verified(invoiceType)
}

// unverified lists the bill's bound invoices the cloud only recognized (serialNos).
func (b *bill) unverified() []string {
	var out []string
	for _, inv := range b.Invoices {
		if !b.verified(inv.InvoiceType) {
			out = append(out, inv.SerialNo)
		}
	}
	return out
}

// checkAcknowledged refuses the approval of the policy's acknowledging role while the bill holds
// unverified invoices it did not acknowledge.
func (b *bill) checkAcknowledged(req ApproveRequest) error {
	role := b.in.Policy.Duties.AcknowledgeUnverified
	if role == "" || req.Role != role || req.Decision != DecisionApprove || req.AcknowledgeUnverified {
		return nil
	}
	if n := b.unverified(); len(n) > 0 {
		return fieldErr(map[string]string{"acknowledgeUnverified": fmt.Sprintf(
			"required (true) for %s's approval: %d invoice(s) the cloud does not verify (only recognized): %s",
			role, len(n), listOrNone(n))})
	}
	return nil
}

// recordAcknowledged keeps, with the approval just recorded, the unverified invoices its approver
// acknowledged.
func (b *bill) recordAcknowledged(req ApproveRequest) {
	if !req.AcknowledgeUnverified || req.Decision != DecisionApprove || len(b.View.Approvals) == 0 {
		return
	}
	if n := b.unverified(); len(n) > 0 {
		b.View.Approvals[len(b.View.Approvals)-1].Acknowledged = n
		b.note(b.View.Stage, fmt.Sprintf("%s acknowledged %d unverified invoice(s)", req.Role, len(n)))
	}
}

// markVerified marks the invoices of an answered state.
func (b *bill) markVerified(lists ...[]InvoiceView) {
	for _, l := range lists {
		for i := range l {
			l[i].Verified = b.verified(l[i].InvoiceType)
		}
	}
}
