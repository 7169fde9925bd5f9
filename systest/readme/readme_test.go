// Package readme keeps README.md true: every variable the programs read, the two commands and
// the vendor names we assumed must be written there, and every resilience claim names its test.
package readme

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"rimflow/internal/config"
	"rimflow/invoicecloud"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestREADMEDocumentsEveryVariable(t *testing.T) {
	text := readme(t)
	for _, v := range config.Vars() {
		if !strings.Contains(text, "`"+v.Name+"`") {
			t.Errorf("README.md does not document %s (%s)", v.Name, v.Meaning)
		}
	}
}

func TestREADMEShowsTheTwoCommands(t *testing.T) {
	text := readme(t)
	for _, cmd := range []string{"go run ./devstack", "go test ./..."} {
		if !strings.Contains(text, cmd) {
			t.Errorf("README.md does not show %q", cmd)
		}
	}
}

func TestREADMEListsAssumedVendorNames(t *testing.T) {
	text := readme(t)
	paths, types := invoicecloud.DefaultPaths(), invoicecloud.DefaultMessageTypes()
	for _, name := range []string{types.Unbind, paths.PollData, paths.PollReceipt} {
		if !strings.Contains(text, name) {
			t.Errorf("README.md does not list the assumed name %q", name)
		}
	}
}

// Every row of the README's resilience table names the test that asserts it, and that test
// exists: a claim nobody checks must not sit in that table.
func TestREADMEResilienceRowsNameTheirTests(t *testing.T) {
	text := readme(t)
	start := strings.Index(text, "## Resilience: broken on purpose")
	if start < 0 {
		t.Fatal(`README.md has no "## Resilience: broken on purpose" section`)
	}
	section := text[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var sources strings.Builder // every test file of the module
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		sources.Write(b)
		return err
	})
	if err != nil {
		t.Fatalf("read the tests: %v", err)
	}
	name := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)(/[^`]+)?`")
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| case ") || strings.HasPrefix(line, "|---") {
			continue
		}
		rows++
		found := name.FindAllStringSubmatch(line, -1)
		if len(found) == 0 {
			t.Errorf("resilience row names no test: %s", line)
		}
		for _, m := range found {
			if !strings.Contains(sources.String(), "func "+m[1]+"(") {
				t.Errorf("resilience row names %s, which no test file defines: %s", m[1], line)
			}
		}
	}
	if rows == 0 {
		t.Error("the resilience table has no rows")
	}
}
