package apiit

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"rimflow/api"
	"rimflow/invoicecloud"
)

// The ERP's "my bills" screen: the list filters by userId, billType, a billNo prefix and any of
// a bill's tax numbers (its billTaxNo or a companyInfo one, in any letter case), and its items
// carry resource, billId, userId and billType (BillTags). Visibility is eventually consistent:
// each query is asked again until it answers, bounded only to stop a hung test.
func TestMyBillsFilters(t *testing.T) {
	s := newStack(t, "")
	mine := bill("MY-1")
	mine.CompanyInfo = []invoicecloud.Company{{TaxNo: "91330100MA2B3C4D5N", Name: "杭州示例科技有限公司"},
		{TaxNo: "91440300MA5G9GK78Y", Name: "金蝶票据云科技(深圳)有限公司"}}
	trip := bill("MY-2")
	trip.BillType = "er_tripreimbursebill"
	other := bill("MY-3")
	other.UserID, other.BillNo = "u-8", "ZX-MY-3"
	for _, in := range []any{mine, trip, other} {
		if code := s.call(t, "POST", "/v1/bills", in, nil); code != 201 {
			t.Fatalf("start: %d", code)
		}
	}
	find := func(q url.Values, want ...string) []api.ListItem {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var resp api.ListResponse
			if code := s.call(t, "GET", "/v1/bills?"+q.Encode(), nil, &resp); code != 200 {
				t.Fatalf("list %s: %d", q.Encode(), code)
			}
			var got []string
			for _, b := range resp.Bills {
				got = append(got, b.BillID)
			}
			slices.Sort(got)
			if slices.Equal(got, want) {
				return resp.Bills
			}
			if time.Now().After(deadline) {
				t.Fatalf("list %s: %v, want %v", q.Encode(), got, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	items := find(url.Values{"userId": {"u-7"}, "billType": {"er_dailyreimbursebill"}}, "MY-1")
	if it := items[0]; it.Resource != "OA" || it.UserID != "u-7" || it.BillType != "er_dailyreimbursebill" || it.ID != "OA/MY-1" {
		t.Errorf("item: %+v", it)
	}
	find(url.Values{"userId": {"u-7"}}, "MY-1", "MY-2")
	find(url.Values{"billNoPrefix": {"BX-MY-"}}, "MY-1", "MY-2")
	find(url.Values{"billNoPrefix": {"ZX-"}, "userId": {"u-8"}}, "MY-3")
	// A company of the bill that is not its billTaxNo, lower-cased as an ERP may store it.
	find(url.Values{"taxNo": {"91440300ma5g9gk78y"}}, "MY-1")
	find(url.Values{"taxNo": {"91330100MA2B3C4D5N"}, "billType": {"er_tripreimbursebill"}}, "MY-2")
}
