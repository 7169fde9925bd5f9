package api

import (
	"net/url"
	"testing"

	"rimflow/workflows"
)

func TestListQueryQuotesValues(t *testing.T) {
	overdue := true
	f := ListFilter{Stage: "awaiting_finance", TaxNo: `91' OR 'a'='a`, BillNo: `N\1`, Overdue: &overdue}
	want := `WorkflowType = 'BillWorkflow' AND BillStage = 'awaiting_finance' AND (BillTaxNo = '91\' OR \'a\'=\'a' OR BillTags = 'taxNo:91\' OR \'a\'=\'a')` +
		` AND BillNo = 'N\\1' AND Overdue = true`
	if got := f.Query(); got != want {
		t.Errorf("query\n got %s\nwant %s", got, want)
	}
	mine := ListFilter{UserID: "u'1", BillType: "er_x", BillNoPrefix: "BX-%_"}
	if got, want := mine.Query(), `WorkflowType = 'BillWorkflow' AND BillNo STARTS_WITH 'BX-%_' AND BillTags = 'userId:u\'1' AND BillTags = 'billType:er_x'`; got != want {
		t.Errorf("my bills\n got %s\nwant %s", got, want)
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
	if item := listItem(workflows.BillWorkflowID("办公", "报销单 %1"), testTime, nil); item.ID != "办公/报销单 %1" {
		t.Errorf("escaped key: %+v", item)
	}
}

// Page tokens are the API's own: a damaged, garbage or foreign token is a 400, and a token only
// continues the filters it was issued for.
func TestPageTokens(t *testing.T) {
	f := ListFilter{Stage: "collecting"}
	tok := f.issueToken(pageToken{Next: []byte{1, 2, 3}})
	f.PageToken = tok
	got, err := f.openToken()
	if err != nil || string(got.Next) != "\x01\x02\x03" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for name, q := range map[string]url.Values{
		"garbage":       {"pageToken": {"abc"}},
		"not base64":    {"pageToken": {"!!"}},
		"damaged":       {"pageToken": {tok[:len(tok)-2] + "AA"}},
		"other filters": {"pageToken": {tok}, "stage": {"failed"}},
		"other sort":    {"pageToken": {tok}, "stage": {"collecting"}, "sort": {"-updatedAt"}},
	} {
		if _, e := ParseListFilter(q); e == nil || e.Fields["pageToken"] == "" {
			t.Errorf("%s token accepted: %v", name, e)
		}
	}
	if _, e := ParseListFilter(url.Values{"pageToken": {tok}, "stage": {"collecting"}}); e != nil {
		t.Errorf("the token's own filters refused: %v", e)
	}
}

func TestListFilterUpdatedSinceAndSort(t *testing.T) {
	f, e := ParseListFilter(url.Values{"updatedSince": {"2026-11-30T08:00:00+08:00"}, "sort": {"-updatedAt"}})
	if e != nil {
		t.Fatal(e)
	}
	if want := `WorkflowType = 'BillWorkflow' AND BillUpdatedAt >= '2026-11-30T00:00:00Z'`; f.Query() != want || f.Sort != "-updatedAt" {
		t.Errorf("query %s sort %s", f.Query(), f.Sort)
	}
	_, e = ParseListFilter(url.Values{"updatedSince": {"yesterday"}, "sort": {"colour"}, "stage": {"a", "b"}})
	if e == nil || e.Fields["updatedSince"] == "" || e.Fields["sort"] == "" || e.Fields["stage"] == "" {
		t.Errorf("bad filters: %v", e)
	}
}
