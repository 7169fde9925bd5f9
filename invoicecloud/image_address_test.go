package invoicecloud_test

import (
	"testing"

	"rimflow/invoicecloud"
)

// The image system's own address: https anywhere, plain http to this machine, or to a private
// address only when the enterprise says so (a private deployment's http://ip:port/api/).
func TestImageBaseURL(t *testing.T) {
	for _, c := range []struct {
		url   string
		plain bool
		field string // "" accepted
	}{
		{"https://kdimage-demo.piaozone.com/", false, ""},
		{"https://api.piaozone.com", false, ""},
		{"http://127.0.0.1:8090/image", false, ""},
		{"http://10.0.8.20:8080/api/", true, ""},
		{"http://192.168.1.5:8080/api/", true, ""},
		{"http://[fd00::5]:8080/api/", true, ""},
		{"http://10.0.8.20:8080/api/", false, "allowPlainHTTP"},
		{"http://kdimage-demo.piaozone.com/", true, "baseURL"}, // a host name is not taken for private
		{"http://8.8.8.8/api/", true, "baseURL"},
		{"", false, "baseURL"},
		{"ftp://10.0.0.1/", true, "baseURL"},
		{"https://u:p@image.example/", false, "baseURL"},
		{"https://image.example/?x=1", false, "baseURL"},
	} {
		err := invoicecloud.ValidateImageBaseURL(c.url, c.plain)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s (allowPlainHTTP %v): %v", c.url, c.plain, err)
			}
			continue
		}
		if e := mustError(t, err); e.Field != c.field {
			t.Errorf("%s (allowPlainHTTP %v): field %q, want %q: %v", c.url, c.plain, e.Field, c.field, err)
		}
	}
}
