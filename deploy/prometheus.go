package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rule is one alert of prometheus/rules.yml.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// LoadRules reads the alert rules of a Prometheus rules file.
func LoadRules(path string) ([]Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Groups []struct {
			Rules []Rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

// What MetricNames removes before it reads names: strings, label matchers, ranges, and the
// label lists of by, without, on, ignoring and group_left/right.
var (
	promStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promGroupings = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent     = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:.])([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	promKeywords  = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
		"group_right": true, "offset": true, "bool": true, "and": true, "or": true, "unless": true, "inf": true, "nan": true}
)

// MetricNames lists, sorted and once each, the series names the PromQL expressions select
// (a histogram's as written: name_bucket). Functions and aggregations (a name before "(")
// and keywords are not names.
func MetricNames(exprs ...string) []string {
	var out []string
	for _, e := range exprs {
		e = promStrings.ReplaceAllString(e, `""`)
		e = promMatchers.ReplaceAllString(e, " ")
		e = promRanges.ReplaceAllString(e, " ")
		e = promGroupings.ReplaceAllString(e, " ")
		for _, m := range promIdent.FindAllStringSubmatchIndex(e, -1) {
			name := e[m[2]:m[3]]
			if rest := strings.TrimLeft(e[m[3]:], " \t\n"); strings.HasPrefix(rest, "(") || promKeywords[strings.ToLower(name)] {
				continue
			}
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// DashboardQueries are the PromQL expressions of a Grafana dashboard's panels (rows' too).
func DashboardQueries(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	type panel struct {
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []string
	var walk func([]json.RawMessage) error
	walk = func(ps []json.RawMessage) error {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			for _, t := range p.Targets {
				if t.Expr != "" {
					out = append(out, t.Expr)
				}
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(d.Panels)
}

// Target is one scrape target of prometheus.yml: compose's service:port.
type Target struct {
	Job, Target, Path string
}

// ScrapeTargets reads the static targets of a Prometheus configuration.
func ScrapeTargets(path string) ([]Target, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		ScrapeConfigs []struct {
			Job     string `yaml:"job_name"`
			Path    string `yaml:"metrics_path"`
			Statics []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Target
	for _, sc := range f.ScrapeConfigs {
		p := sc.Path
		if p == "" {
			p = "/metrics"
		}
		for _, st := range sc.Statics {
			for _, tg := range st.Targets {
				out = append(out, Target{Job: sc.Job, Target: tg, Path: p})
			}
		}
	}
	return out, nil
}
