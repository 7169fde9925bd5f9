package devserver

import (
	"strings"
	"testing"

	"go.temporal.io/server/common/dynamicconfig"
)

// The embedded server runs the compose cluster's dynamic config, read by the server's own loader,
// plus its one single-process override.
func TestDynamicConfigIsTheComposeFile(t *testing.T) {
	dc, err := dynamicConfig()
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[dynamicconfig.Key]any{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		dynamicconfig.EnableServerVersionCheck.Key():                false,
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():      1,
	} {
		got := dc.GetValue(key)
		if len(got) != 1 || got[0].Value != want {
			t.Errorf("%s = %+v, want %v", key, got, want)
		}
	}
}

// A key the server does not know, or a value it rejects, stops the server instead of being
// ignored on every cluster the file is deployed to.
func TestDynamicConfigRefusesWhatTheServerWouldIgnore(t *testing.T) {
	for name, yaml := range map[string]string{
		"unknown key": "system.forceSearchAttributesCacheRefreshOnReed:\n  - value: true\n",
		"bad value":   "frontend.enableServerVersionCheck:\n  - value: \"sometimes\"\n",
		"not YAML":    "[",
	} {
		if _, err := loadDynamicConfig([]byte(yaml)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "dynamicconfig.yaml") {
			t.Errorf("%s: error %v does not name the file", name, err)
		}
	}
}

func TestParsePostgresURL(t *testing.T) {
	p, err := ParsePostgresURL("postgres://temporal:s3cret-pw@db.internal/rimflow?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if p.Addr != "db.internal:5432" || p.User != "temporal" || p.Database != "rimflow" ||
		p.VisibilityDatabase() != "rimflow_visibility" || p.Attributes["sslmode"] != "disable" {
		t.Errorf("parsed %+v", p)
	}
	if strings.Contains(p.String(), "s3cret-pw") {
		t.Errorf("String() shows the password: %s", p)
	}
	pers := PostgresPersistence(p)
	if sql := pers.DataStores[pers.DefaultStore].SQL; sql.Password != "s3cret-pw" || sql.PluginName != PostgresPlugin {
		t.Errorf("persistence %+v", sql)
	}
	if d, _ := ParsePostgresURL("postgresql://u:p@h:6543"); d.Database != DefaultPostgresDB || d.Addr != "h:6543" {
		t.Errorf("defaults: %+v", d)
	}
	for raw, want := range map[string]string{
		"mysql://u:s3cret-pw@h/db":        "scheme",
		"postgres://:s3cret-pw@h/db":      "no user",
		"postgres://u:s3cret-pw@/db":      "no host",
		"postgres://u:s3cret-pw@h/a/b":    "not a name",
		"postgres://u:s3cret-pw@h:x%zz/d": "not a URL",
	} {
		_, err := ParsePostgresURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("%s: error %v, want one saying %q and never the password", raw, err, want)
		}
	}
}
