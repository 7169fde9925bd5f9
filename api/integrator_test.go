package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"rimflow/workflows"
)

// What an ERP team hit against the devstack, each refused (or answered) the way docs/api.md says.

// A GBK-encoded body is refused naming the encoding, not decoded into U+FFFD that would reach the
// cloud as "����"; a body declared in another charset is refused by its Content-Type.
func TestNonUTF8BodyRefusedNamingTheEncoding(t *testing.T) {
	s := testServer(t, "", nil)
	gbk := []byte("{\"billId\":\"B-1\",\"billNo\":\"\xb2\xee\xc2\xc3\",\"billType\":\"t\",\"resource\":\"OA\",\"billTaxNo\":\"91330100MA2B3C4D5N\",\"userId\":\"u\"}") // 差旅 in GBK
	resp, body := do(t, s, http.MethodPost, "/v1/bills", "", string(gbk))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("GBK body: HTTP %d %v", resp.StatusCode, body)
	}
	code, fields := errorOf(t, body)
	msg := body["error"].(map[string]any)["message"].(string)
	if code != CodeInvalidJSON || fields["body"] == nil || !strings.Contains(msg, "UTF-8") {
		t.Errorf("GBK body: %v", body)
	}
	// The same refusal on a decision's body.
	resp, body = do(t, s, http.MethodPost, "/v1/bills/OA/B-1/cancel", "", "{\"reason\":\"\xb2\xee\"}")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GBK decision: HTTP %d %v", resp.StatusCode, body)
	}

	req := httptest.NewRequest(http.MethodPost, "/v1/bills/OA/B-1/cancel", strings.NewReader(`{"reason":"x"}`))
	req.Header.Set("Content-Type", "application/json; charset=GBK")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnsupportedMediaType || !strings.Contains(rec.Body.String(), "GBK") {
		t.Errorf("charset=GBK: HTTP %d %s", rec.Code, rec.Body)
	}
}

// Every bad field is named by its whole path, nested ones included; historyLimit and free text
// are bounded.
func TestBadFieldsNamedByTheirWholePath(t *testing.T) {
	s := testServer(t, "", nil)
	start := func(edit func(m map[string]any)) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(goodBill), &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		raw, _ := json.Marshal(m)
		resp, body := do(t, s, http.MethodPost, "/v1/bills", "", string(raw))
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("HTTP %d %v", resp.StatusCode, body)
		}
		_, fields := errorOf(t, body)
		return fields
	}
	opts := func(m map[string]any) map[string]any { return m["options"].(map[string]any) }
	for name, c := range map[string]struct {
		edit  func(m map[string]any)
		field string
	}{
		"unknown option": {func(m map[string]any) { opts(m)["approval"] = []string{"x"} }, "options.approval"},
		"unknown company key": {func(m map[string]any) {
			m["companyInfo"] = []any{map[string]any{"taxNo": "91330100MA2B3C4D5N", "name": "n", "address": "x"}}
		}, "companyInfo[0].address"},
		"bad sla duration":      {func(m map[string]any) { opts(m)["sla"] = map[string]any{"approval": "forever"} }, "options.sla.approval"},
		"wrong type deep":       {func(m map[string]any) { opts(m)["sla"] = map[string]any{"byRole": map[string]any{"supervisor": true}} }, "options.sla.byRole.supervisor"},
		"negative historyLimit": {func(m map[string]any) { opts(m)["historyLimit"] = -1 }, "options.historyLimit"},
	} {
		fields := start(c.edit)
		if _, ok := fields[c.field]; !ok || len(fields) != 1 {
			t.Errorf("%s: fields %v, want exactly %s", name, fields, c.field)
		}
	}

	for path, c := range map[string]struct{ body, field string }{
		"/v1/bills/OA/B-1/images":    {`{"scanBillNo":"S-1","amounts":{"123":5}}`, "amounts.123"},
		"/v1/bills/OA/B-1/approvals": {`{"role":"finance","decision":"approve","comment":"` + strings.Repeat("长", MaxTextLen+1) + `"}`, "comment"},
		"/v1/bills/OA/B-1/cancel":    {`{"reason":"` + strings.Repeat("x", 5000) + `"}`, "reason"},
	} {
		resp, body := do(t, s, http.MethodPost, path, "", c.body)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d %v", path, resp.StatusCode, body)
			continue
		}
		if _, fields := errorOf(t, body); fields[c.field] == nil || len(fields) != 1 {
			t.Errorf("%s: fields %v, want exactly %s", path, fields, c.field)
		}
	}
	// A reason within the bound passes validation (and reaches Temporal, unreachable here: 503).
	resp, body := do(t, s, http.MethodPost, "/v1/bills/OA/B-1/cancel", "", `{"reason":"`+strings.Repeat("长", MaxTextLen)+`"}`)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a reason of %d characters: HTTP %d %v", MaxTextLen, resp.StatusCode, body)
	}
}

// The list's taxNo is the bill's tax number in any letter case, as a start normalises it.
func TestTaxNoFilterIgnoresLetterCase(t *testing.T) {
	f, e := ParseListFilter(map[string][]string{"taxNo": {" 91330100ma2b3c4d5n "}})
	if e != nil {
		t.Fatal(e)
	}
	if !strings.Contains(f.Query(), "BillTaxNo = '91330100MA2B3C4D5N'") {
		t.Errorf("query %s", f.Query())
	}
}

// updatedSince is "at or after" at the API's one precision: the instant a bill's updatedAt was
// printed with finds that bill, whatever the store kept below the millisecond.
func TestUpdatedSinceIsAtOrAfterTheMillisecond(t *testing.T) {
	f, e := ParseListFilter(map[string][]string{"updatedSince": {"2026-12-06T10:11:45.410031982Z"}})
	if e != nil {
		t.Fatal(e)
	}
	if q := f.Query(); !strings.Contains(q, "BillUpdatedAt >= '2026-12-06T10:11:45.41Z'") {
		t.Errorf("query %s", q)
	}
}

// Every timestamp the API prints is UTC at TimePrecision, deep in the answer too, and the caller's
// value is left as it was.
func TestTimesPrintedAtOnePrecision(t *testing.T) {
	at := time.Date(2026, 12, 6, 18, 11, 45, 410031982, time.FixedZone("CST", 8*3600))
	saved := at
	st := workflows.BillState{UpdatedAt: at, Approvals: []workflows.ApprovalRecord{{Role: "finance", At: at}},
		Voucher: &workflows.VoucherView{SavedAt: &saved}}
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, st)
	out := rec.Body.String()
	if strings.Count(out, `"2026-12-06T10:11:45.41Z"`) != 3 || strings.Contains(out, "410031982") {
		t.Errorf("times not at one precision:\n%s", out)
	}
	if st.Approvals[0].At != at || *st.Voucher.SavedAt != at {
		t.Error("the caller's value was changed")
	}
	var list bytes.Buffer
	rec = httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, ListResponse{Bills: []ListItem{{StartedAt: at, UpdatedAt: at}}})
	list.Write(rec.Body.Bytes())
	if strings.Count(list.String(), `"2026-12-06T10:11:45.41Z"`) != 2 {
		t.Errorf("list times:\n%s", list.String())
	}
}
