package api

import (
	"net/url"
	"testing"
)

func TestListQueryQuotesValues(t *testing.T) {
	overdue := true
	f := ListFilter{Stage: "awaiting_finance", TaxNo: `91' OR 'a'='a`, BillNo: `N\1`, Overdue: &overdue}
	want := `WorkflowType = 'BillWorkflow' AND BillStage = 'awaiting_finance' AND BillTaxNo = '91\' OR \'a\'=\'a'` +
		` AND BillNo = 'N\\1' AND Overdue = true`
	if got := f.Query(); got != want {
		t.Errorf("query\n got %s\nwant %s", got, want)
	}
	if got := (ListFilter{}).Query(); got != `WorkflowType = 'BillWorkflow'` {
		t.Errorf("empty filter: %s", got)
	}
}

func TestParseListFilter(t *testing.T) {
	f, err := ParseListFilter(url.Values{"stage": {"awaiting_director"}, "overdue": {"false"}, "pageSize": {"5"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Stage != "awaiting_director" || f.Overdue == nil || *f.Overdue || f.PageSize != 5 {
		t.Errorf("parsed %+v", f)
	}
	_, err = ParseListFilter(url.Values{"stage": {"awaiting_"}, "pageToken": {"!!"}, "taxNo": {"a\x00b"}})
	if err == nil || err.Fields["stage"] == "" || err.Fields["pageToken"] == "" || err.Fields["taxNo"] == "" {
		t.Errorf("bad filters not all named: %v", err)
	}
}

func TestParseBillRef(t *testing.T) {
	r, err := ParseBillRef("OA/B-1/2")
	if err != nil || r.Resource != "OA" || r.BillID != "B-1/2" || r.WorkflowID() != "bill:OA:B-1/2" {
		t.Errorf("%+v %v", r, err)
	}
	if _, err := ParseBillRef("OA"); err == nil || err.Fields["billId"] == "" {
		t.Errorf("missing billId not named: %v", err)
	}
	if _, err := ParseBillRef("/"); err == nil || err.Fields["resource"] == "" || err.Fields["billId"] == "" {
		t.Errorf("empty ref not named: %v", err)
	}
}

func TestListItemFromWorkflowID(t *testing.T) {
	item := listItem("bill:OA:B:7", testTime, nil)
	if item.ID != "OA/B:7" || item.TotalAmount != "0.00" {
		t.Errorf("%+v", item)
	}
}
