// Package readme keeps README.md true: every variable the programs read, the two commands and
// the vendor names we assumed must be written there.
package readme

import (
	"os"
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
