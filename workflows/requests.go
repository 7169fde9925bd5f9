package workflows

import "rimflow/invoicecloud"

// The cloud's requests as the bill's header names the bill (the header may be amended while the
// bill is failed, so they are built when the step runs).

// billSave is a billSave request for the whole set with a status.
func (in BillInput) billSave(status string, set []invoicecloud.Invoice) invoicecloud.BillSaveRequest {
	return invoicecloud.BillSaveRequest{
		BillID: in.BillID, Resource: in.Resource, BillNo: in.BillNo, BillType: in.BillType,
		BillTaxNo: in.BillTaxNo, OrgNumber: in.OrgNumber, Status: status,
		InvoiceData: in.withLineFields(billInvoices(set)), CoverData: in.CoverData,
	}
}

// unbindRequest is billDelete's data for the bill: it releases the bill's whole set.
func (in BillInput) unbindRequest() invoicecloud.UnbindRequest {
	return invoicecloud.UnbindRequest{BillID: in.BillID, Resource: in.Resource, BillType: in.BillType}
}

// eventCodeRequest is getEventCode's data for the bill with a linkKey.
func (in BillInput) eventCodeRequest(linkKey string) invoicecloud.EventCodeRequest {
	return invoicecloud.EventCodeRequest{
		BillID: in.BillID, Resource: in.Resource, BillNo: in.BillNo, BillType: in.BillType,
		BillTaxNo: in.BillTaxNo, OrgNumber: in.OrgNumber, PushType: in.PushType, UserID: in.UserID,
		LinkKey: linkKey, CompanyInfo: in.CompanyInfo,
	}
}

// scanRequest is the bill as the image system's task names it.
func (in BillInput) scanRequest() invoicecloud.ScanTaskRequest {
	return invoicecloud.ScanTaskRequest{BillID: in.BillID, Resource: in.Resource, BillNo: in.BillNo, BillType: in.BillType,
		BillTaxNo: in.BillTaxNo, UserID: in.UserID, Mode: invoicecloud.ImageMode(in.Options.ImageMode), ScanPoint: in.Options.ScanPoint}
}

// usesImageSystem: the bill's scans happen in the vendor's image system.
func (o Options) usesImageSystem() bool { return o.ScanPoint != "" }
