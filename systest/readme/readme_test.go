// Package readme keeps the README and the pages it links to true: the README fits a screen and
// shows the two commands, the configuration page is generated from the code, the vendor names we
// assumed are listed, every resilience claim names its test, and every link between the pages
// resolves.
package readme

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"rimflow/invoicecloud/ultimate"
)

const root = "../.."

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section is the text under the heading that starts with title, up to the next heading of the
// same or a higher level.
func section(t *testing.T, path, title string) string {
	t.Helper()
	lines := strings.SplitAfter(read(t, path), "\n")
	start, level := -1, 0
	for i, h := range headings(lines) {
		if h == nil {
			continue
		}
		if start < 0 && strings.HasPrefix(h.text, title) {
			start, level = i, h.level
		} else if start >= 0 && h.level <= level {
			return strings.Join(lines[start:i], "")
		}
	}
	if start < 0 {
		t.Fatalf("%s has no heading %q", path, title)
	}
	return strings.Join(lines[start:], "")
}

type heading struct {
	level int
	text  string
}

var headingLine = regexp.MustCompile(`^(#{1,6}) +(.*?)\s*$`)

// headings gives, for each line, its heading or nil; lines in code fences are never headings.
func headings(lines []string) []*heading {
	out := make([]*heading, len(lines))
	fenced := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
			continue
		}
		if m := headingLine.FindStringSubmatch(l); m != nil && !fenced {
			out[i] = &heading{len(m[1]), m[2]}
		}
	}
	return out
}

// The README is what a newcomer reads first: it must fit a screen or two.
func TestREADMEFitsAScreen(t *testing.T) {
	const most = 200
	if n := strings.Count(read(t, "README.md"), "\n"); n > most {
		t.Errorf("README.md has %d lines, at most %d: move the detail to a page under docs/ and link it", n, most)
	}
}

func TestREADMEShowsTheTwoCommands(t *testing.T) {
	text := read(t, "README.md")
	for _, cmd := range []string{"go run ./devstack", "go test ./..."} {
		if !strings.Contains(text, cmd) {
			t.Errorf("README.md does not show %q", cmd)
		}
	}
}

func TestAssumedVendorNamesAreListed(t *testing.T) {
	text := section(t, "docs/invoicecloud.md", "Assumed names")
	paths, types := ultimate.DefaultPaths(), ultimate.DefaultMessageTypes()
	for _, name := range []string{types.Unbind, paths.PollData, paths.PollReceipt} {
		if !strings.Contains(text, name) {
			t.Errorf(`docs/invoicecloud.md's "Assumed names" does not list the assumed name %q`, name)
		}
	}
}

// Every row of the resilience table names the test that asserts it, and that test exists: a
// claim nobody checks must not sit in that table.
func TestResilienceRowsNameTheirTests(t *testing.T) {
	const page = "systest/resilience/README.md"
	text := section(t, page, "Cases")
	var sources strings.Builder // every test file of the module
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
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
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| case ") || strings.HasPrefix(line, "|---") {
			continue
		}
		rows++
		found := name.FindAllStringSubmatch(line, -1)
		if len(found) == 0 {
			t.Errorf("%s: resilience row names no test: %s", page, line)
		}
		for _, m := range found {
			if !strings.Contains(sources.String(), "func "+m[1]+"(") {
				t.Errorf("%s: resilience row names %s, which no test file defines: %s", page, m[1], line)
			}
		}
	}
	if rows == 0 {
		t.Errorf("%s: the resilience table has no rows", page)
	}
}
