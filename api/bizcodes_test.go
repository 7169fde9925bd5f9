package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
)

// Every row of the business-code table is in docs/errors.md with its status, code and sub-code,
// every code and 409 sub-code has a row, and no code is listed twice.
func TestBusinessCodesAreDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docs", "errors.md"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	seen := map[string]bool{}
	for _, b := range BusinessCodes {
		if seen[b.Code] {
			t.Errorf("%s listed twice", b.Code)
		}
		seen[b.Code] = true
		row := "| `" + b.Code + "` | " + http.StatusText(b.Status)
		if !strings.Contains(page, row) {
			t.Errorf("docs/errors.md has no row starting %q", row)
		}
	}
	for _, c := range Codes {
		if got := businessCodeOf(&Error{Code: c}); got == "RF9999" && c != CodeInternal {
			t.Errorf("code %s has no business code", c)
		}
	}
	for _, sub := range SubCodes {
		code := CodeConflict
		general := "RF2000"
		switch sub {
		case SubFinished:
			code = CodeAlreadyFinished
		case SubNoWebhook:
			code, general = CodeNotFound, "RF1200"
		}
		if got := businessCodeOf(&Error{Code: code, SubCode: sub}); got == general && sub != SubRefused {
			t.Errorf("sub-code %s has no business code of its own", sub)
		}
	}
}

// A cloud refusal's answer carries the stable business code and the cloud's own text beside its
// code, however the error was built; every other error answer carries its row too.
func TestErrorAnswersCarryBusinessCode(t *testing.T) {
	cloud := temporal.NewNonRetryableApplicationError("Acme: billSave: 发票已被其他单据占用 (code 1301)", "InvoiceCloud.1301", nil,
		map[string]string{"message": "发票已被其他单据占用"})
	cases := []struct {
		err      *Error
		business string
	}{
		{ErrorFrom(temporal.NewApplicationErrorWithCause("update failed", "UpdateFailed", cloud)), "RF3000"},
		{ErrorFrom(temporal.NewNonRetryableApplicationError("getEventCode: refused", "InvoiceCloud.config", nil,
			map[string]string{"field": "appSecret"})), "RF3002"},
		{conflict(SubWrongStage, "not now"), "RF2001"},
		{conflict(SubFinished, "ended"), "RF2004"},
		{conflict("", "no sub-code"), "RF2000"},
		{ValidationFailed(map[string]string{"billId": "required"}), "RF1001"},
		{newError(http.StatusServiceUnavailable, CodeUnavailable, "down"), "RF9000"},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		writeError(rec, tc.err)
		var body struct {
			Error map[string]any `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if body.Error["businessCode"] != tc.business || body.Error["code"] != tc.err.Code {
			t.Errorf("%s: answered %v, want businessCode %s", tc.err.Message, body.Error, tc.business)
		}
	}
	if e := ErrorFrom(cloud); e.CloudMessage != "发票已被其他单据占用" || e.CloudCode != "1301" {
		t.Errorf("cloud refusal: cloudMessage %q cloudCode %q", e.CloudMessage, e.CloudCode)
	}
}
