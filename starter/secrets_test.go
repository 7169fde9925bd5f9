package main

import (
	"strings"
	"testing"
)

// check-secrets refuses an unset, placeholder or short password, naming the variable and never
// the value, and answers the variables it checked when all are usable.
func TestCheckSecretsRefusesPlaceholders(t *testing.T) {
	const good = "3f9a1c0e5b7d2a4e6c8b0d1f2e3a4b5c"
	for _, c := range []struct{ value, want string }{
		{"", "unset"},
		{"change-me", "a placeholder"},
		{"Change-Me-Three", "a placeholder"},
		{"admin", "a placeholder"},
		{"s3cr3t-but-short", ""},
		{"0123456789abc", "13 characters, want at least 16"},
	} {
		t.Setenv("POSTGRES_PASSWORD", good)
		t.Setenv("GRAFANA_ADMIN_PASSWORD", c.value)
		code, out, errOut := starter(t, "", "check-secrets", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD")
		if c.want == "" {
			if code != exitOK || !strings.Contains(out, "GRAFANA_ADMIN_PASSWORD") {
				t.Errorf("%q: exit %d %s %s, want accepted", c.value, code, out, errOut)
			}
			continue
		}
		if code != exitBadArgs || !strings.Contains(errOut, "GRAFANA_ADMIN_PASSWORD: "+c.want) ||
			(c.value != "" && strings.Contains(errOut+out, c.value)) {
			t.Errorf("%q: exit %d, stderr %q; want %d naming GRAFANA_ADMIN_PASSWORD (%s), without the value", c.value, code, errOut, exitBadArgs, c.want)
		}
	}
	if code, _, errOut := starter(t, "", "check-secrets"); code != exitBadArgs || !strings.Contains(errOut, "name the variables") {
		t.Errorf("no variable named: exit %d %s", code, errOut)
	}
}
