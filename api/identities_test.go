package api

import (
	"net/http"
	"strings"
	"testing"
)

// A person's id (X-Acting-User, an approval's approver, a decision's by, a start's userId) may not
// hold invisible characters: 400 naming the field, before anything reaches Temporal. The same
// person written another way (full-width, another case) is the acting user.
func TestUserIDsRefuseInvisibleCharacters(t *testing.T) {
	s := testServer(t, "", nil)
	for _, tc := range []struct {
		name, path, body string
		actingUser       string
		field            string
	}{
		{"acting user with a zero-width space", "/v1/bills/OA/B-1/submit", ``, "bob\u200b", HeaderActingUser},
		{"acting user with a Hangul filler", "/v1/bills/OA/B-1/submit", ``, "bob\u3164", HeaderActingUser},
		{"acting user with a bidi override", "/v1/bills/OA/B-1/submit", ``, "bo\u202eb", HeaderActingUser},
		{"approver with a zero-width joiner", "/v1/bills/OA/B-1/approvals", `{"role":"finance","decision":"approve","approver":"bo\u200db"}`, "", "approver"},
		{"submit's by with a soft hyphen", "/v1/bills/OA/B-1/submit", `{"by":"u\u00ad1"}`, "", "by"},
		{"cancel's by with a variation selector", "/v1/bills/OA/B-1/cancel", `{"reason":"x","by":"bob\ufe0f"}`, "", "by"},
		{"start's userId with a zero-width space", "/v1/bills", strings.Replace(startOA, `"userId":"u-7"`, `"userId":"u\u200b7"`, 1), "", "userId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := jsonAs("")
			if tc.actingUser != "" {
				h[HeaderActingUser] = tc.actingUser
			}
			status, body := send(t, s, "POST", tc.path, h, tc.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %v", status, body)
			}
			_, fields := errorOf(t, body)
			if why, _ := fields[tc.field].(string); !strings.Contains(why, "invisible") && !strings.Contains(why, "printable") {
				t.Fatalf("field %q not named as invisible: %v", tc.field, fields)
			}
		})
	}
	// Full-width letters are visible, and the same person as the approver: through to Temporal.
	h := jsonAs("")
	h[HeaderActingUser] = "ＢＯＢ"
	if status, body := send(t, s, "POST", "/v1/bills/OA/B-1/approvals", h, `{"role":"finance","decision":"approve","approver":"bob"}`); status != http.StatusServiceUnavailable {
		t.Errorf("approver = acting user in full-width letters: status %d %v", status, body)
	}
}
