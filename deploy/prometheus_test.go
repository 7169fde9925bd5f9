package deploy

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"rimflow/internal/config"
	"rimflow/systest/skips"
)

const (
	rulesFile     = "prometheus/rules.yml"
	rulesTestFile = "prometheus/rules_test.yml"
)

// CI runs the rules' unit tests (.ci/run installs Debian's prometheus package, which has
// promtool); here they run too when promtool is installed.
func TestAlertRulesPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is missing and CI requires it: apt-get install prometheus")
		}
		skips.Skip(t, "no promtool", "apt-get install -y prometheus (Debian's; .ci/run does)")
	}
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
		out, err := exec.CommandContext(t.Context(), promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every alert links its runbook entry (a heading of docs/operations.md) and has unit tests where
// it fires and where it does not.
func TestEveryAlertHasARunbookEntryAndBothTests(t *testing.T) {
	rules, err := LoadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatal("no alert rules")
	}
	ops, err := os.ReadFile(filepath.Join("..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, h := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(string(ops), -1) {
		anchors[githubAnchor(h[1])] = true
	}
	firing, quiet := alertCases(t)
	for _, r := range rules {
		url := r.Annotations["runbook_url"]
		anchor, ok := strings.CutPrefix(url, "docs/operations.md#")
		if !ok || !anchors[anchor] {
			t.Errorf("%s: runbook_url %q is not a heading of docs/operations.md", r.Alert, url)
		}
		if r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
			t.Errorf("%s: no summary or severity", r.Alert)
		}
		if !firing[r.Alert] || !quiet[r.Alert] {
			t.Errorf("%s: %s needs a case where it fires (%v) and one where it does not (%v)", r.Alert, rulesTestFile, firing[r.Alert], quiet[r.Alert])
		}
	}
}

// alertCases reads which alerts the unit tests expect to fire, and which to stay quiet, somewhere.
func alertCases(t *testing.T) (firing, quiet map[string]bool) {
	data, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	firing, quiet = map[string]bool{}, map[string]bool{}
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	return firing, quiet
}

// githubAnchor is the fragment GitHub gives a Markdown heading.
func githubAnchor(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestMetricNamesOfExpressions(t *testing.T) {
	got := MetricNames(`histogram_quantile(0.95, sum by (le, task_queue) (rate(temporal_activity_schedule_to_start_latency_seconds_bucket{name!~"a|b"}[5m]))) > 5`,
		`rimflow_watchers_live / rimflow_watchers_max > 0.9`, `sum(rimflow_watchers_live)`,
		`sum(max by (stage) (rimflow_bills_overdue)) - sum(rimflow_bills_overdue offset 1h) >= 5 and on (job) up`,
		`time() - max(rimflow_bill_counts_last_success_timestamp_seconds) > 600`)
	want := []string{"rimflow_bill_counts_last_success_timestamp_seconds", "rimflow_bills_overdue", "rimflow_watchers_live", "rimflow_watchers_max",
		"temporal_activity_schedule_to_start_latency_seconds_bucket", "up"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("MetricNames = %v, want %v", got, want)
	}
}

// The dashboard queries Prometheus as compose provisions it, and compose mounts what Prometheus
// and Grafana read; the names they use exist (systest/production scrapes them).
func TestDashboardAndPrometheusAreProvisioned(t *testing.T) {
	queries, err := DashboardQueries("grafana/dashboards/rimflow.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) < 10 {
		t.Errorf("the dashboard has %d queries", len(queries))
	}
	names := MetricNames(queries...)
	for _, want := range []string{"rimflow_bills", "rimflow_bills_needing_attention", "rimflow_watchers_live", "rimflow_cloud_calls_total", "rimflow_webhook_oldest_undelivered_age_seconds", "rimflow_push_relays_failing"} {
		if !slices.Contains(names, want) {
			t.Errorf("the dashboard does not show %s (it names %v)", want, names)
		}
	}
	cf := loadCompose(t)
	for svc, mounts := range map[string][]string{
		"prometheus": {"./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro", "./deploy/prometheus/rules.yml:/etc/prometheus/rules.yml:ro"},
		"grafana":    {"./deploy/grafana/provisioning:/etc/grafana/provisioning:ro", "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro"},
	} {
		for _, m := range mounts {
			if !contains(cf.Services[svc].Volumes, m) {
				t.Errorf("service %s does not mount %s (has %v)", svc, m, cf.Services[svc].Volumes)
			}
		}
	}
	targets, err := ScrapeTargets("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"worker", "api", "temporal"} {
		found := false
		for _, tg := range targets {
			host, port, _ := strings.Cut(tg.Target, ":")
			if host == svc {
				found = true
				s := cf.Services[svc]
				if !contains(s.Expose, port) && !slices.ContainsFunc(s.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+port) }) {
					t.Errorf("prometheus scrapes %s, which the %s service neither exposes nor publishes", tg.Target, svc)
				}
				// The API's metrics come from its ops listener (no token), which stays on the
				// compose network: Prometheus sends no token, and nobody outside reads them.
				if svc == "api" {
					_, opsPort, err := net.SplitHostPort(s.Environment[config.EnvAPIOpsAddr])
					if err != nil || opsPort != port {
						t.Errorf("prometheus scrapes %s, but the api's %s is %q", tg.Target, config.EnvAPIOpsAddr, s.Environment[config.EnvAPIOpsAddr])
					}
					if slices.ContainsFunc(s.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+port) }) {
						t.Errorf("the api publishes its ops port %s: the metrics would be read without a token beyond the compose network", port)
					}
				}
			}
		}
		if !found {
			t.Errorf("prometheus does not scrape the %s service", svc)
		}
	}
}
