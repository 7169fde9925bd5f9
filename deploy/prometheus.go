package deploy

import (
	"fmt"
	"os"
	"regexp"
	"slices"

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

// metricName finds the metric names a PromQL expression names: ours and the Temporal SDK's.
var metricName = regexp.MustCompile(`\b(?:rimflow|temporal)_[a-zA-Z0-9_:]*`)

// histogramSuffix strips what a histogram's series add to its name.
var histogramSuffix = regexp.MustCompile(`_(bucket|sum|count)$`)

// MetricNames lists, sorted and once each, the metric families that the PromQL expressions
// name (a histogram's _bucket, _sum and _count are its family's name).
func MetricNames(exprs ...string) []string {
	var out []string
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			if n = histogramSuffix.ReplaceAllString(n, ""); !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}
