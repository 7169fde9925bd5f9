package readme

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"rimflow/internal/config"
)

// update rewrites the generated parts of the pages instead of failing:
// go test ./systest/readme/ -run TestConfigurationPageIsGenerated -update
var update = flag.Bool("update", false, "rewrite docs/configuration.md's generated table from config.Vars()")

const configPage = "../../docs/configuration.md"

// readers are rimflow's programs and the configuration parts each loads.
var readers = []struct {
	name  string
	parts config.Part
}{
	{"worker", config.ForWorker},
	{"starter serve", config.ForAPIServer},
	{"starter verbs", config.ForCLI},
	{"devstack", config.ForDevstack},
}

// configTable renders config.Vars(), the one list of what the programs read, as Markdown.
func configTable() string {
	var b strings.Builder
	b.WriteString("| variable | read by | default | meaning |\n|---|---|---|---|\n")
	for _, v := range config.Vars() {
		var by []string
		for _, r := range readers {
			if r.parts&v.Part != 0 {
				by = append(by, r.name)
			}
		}
		def := "`" + v.Default + "`"
		if v.Default == "" {
			def = "—"
		}
		meaning := strings.ReplaceAll(v.Meaning, "|", "\\|")
		if v.Secret {
			meaning += " (secret: or `" + v.Name + "_FILE`)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Name, strings.Join(by, ", "), def, meaning)
	}
	return b.String()
}

const (
	tableBegin = "<!-- BEGIN generated from config.Vars() by systest/readme/configpage_test.go; do not edit -->\n"
	tableEnd   = "<!-- END generated -->"
)

// The configuration page's table is generated from config.Vars(); a variable added, removed or
// reworded in code makes this test fail until the page is regenerated with -update.
func TestConfigurationPageIsGenerated(t *testing.T) {
	raw, err := os.ReadFile(configPage)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("docs/configuration.md lacks the generated table's markers %q … %q", tableBegin, tableEnd)
	}
	have, want := doc[i+len(tableBegin):j], configTable()
	if have == want {
		return
	}
	if *update {
		if err := os.WriteFile(configPage, []byte(doc[:i+len(tableBegin)]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("rewrote the table in docs/configuration.md")
		return
	}
	t.Errorf("docs/configuration.md's table is stale: run go test ./systest/readme/ -run TestConfigurationPageIsGenerated -update\nwant:\n%s", want)
}
