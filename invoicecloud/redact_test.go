package invoicecloud_test

import (
	"errors"
	"strings"
	"testing"

	"rimflow/invoicecloud"
)

func TestRedact(t *testing.T) {
	const secret = "f035550a-f9e8-4cc6-a775-8a21462a9f8b"
	cases := []string{
		`Get "http://127.0.0.1:8090/polling/fpzs/invoice/data/v2?access_token=` + secret + `&key=abc": dial tcp: refused`,
		`ws://h/msgwatch/?identifytype=lk&token=` + secret,
		`GET /polling/fpzs/portal/receipt?key=` + secret + `&msgId=1`,
		`POST /x?ACCESS_TOKEN=` + secret,
		`{"access_token":"` + secret + `","expires_in":7200000}`,
		`{"app_token": "` + secret + `"}`,
		`{"client_secret":"` + secret + `"}`,
		`{"client_id":"c","sign":"` + secret + `","timestamp":"1"}`,
		`{"encrypt_key":"` + secret + `"}`,
		`POST /base/oauth/token?sign=` + secret,
		`access_token: ` + secret,
		`Authorization: Bearer ` + secret,
	}
	for _, in := range cases {
		out := invoicecloud.Redact(in)
		if strings.Contains(out, secret) {
			t.Errorf("secret survived: %q -> %q", in, out)
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("no REDACTED marker: %q -> %q", in, out)
		}
	}
	// Non-secret parts stay readable.
	out := invoicecloud.Redact(cases[0])
	for _, keep := range []string{"/polling/fpzs/invoice/data/v2", "dial tcp: refused", "127.0.0.1:8090"} {
		if !strings.Contains(out, keep) {
			t.Errorf("lost %q: %q", keep, out)
		}
	}
	if got := invoicecloud.Redact("identifytype=lk-1&msgId=42"); got != "identifytype=lk-1&msgId=42" {
		t.Errorf("over-redacted: %q", got)
	}
}

func TestErrorIsUsableWithErrorsAs(t *testing.T) {
	var err error = &invoicecloud.Error{MessageType: "billSave", Code: "2003", Message: "bound elsewhere", HTTPStatus: 200}
	wrapped := errors.Join(errors.New("activity"), err)
	var e *invoicecloud.Error
	if !errors.As(wrapped, &e) || e.Code != "2003" || invoicecloud.IsRetryable(wrapped) {
		t.Fatalf("errors.As on a wrapped *Error: %v", e)
	}
	if s := e.Error(); !strings.Contains(s, "billSave") || !strings.Contains(s, "2003") || !strings.Contains(s, "bound elsewhere") {
		t.Fatalf("error text: %q", s)
	}
}

func TestErrorNamesTheFieldOnce(t *testing.T) {
	e := &invoicecloud.Error{MessageType: "billSave", Field: "invoiceData[0].serialNo", Code: "2003",
		Message: "invoiceData[0].serialNo: 发票已被其他单据占用"}
	if got := e.Error(); strings.Count(got, "invoiceData[0].serialNo") != 1 {
		t.Errorf("field named twice: %q", got)
	}
	e.Message = "发票已被其他单据占用"
	if got := e.Error(); !strings.Contains(got, "invoiceData[0].serialNo: 发票已被其他单据占用") {
		t.Errorf("field not named: %q", got)
	}
}
