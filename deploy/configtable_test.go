package deploy

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"rimflow/internal/config"
)

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

// configTable renders every variable the programs read as the Markdown table in deploy/README.md.
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
	tableBegin = "<!-- BEGIN config table (generated from config.Vars(); deploy/configtable_test.go) -->\n"
	tableEnd   = "<!-- END config table -->"
)

// TestReadmeConfigTableMatchesCode keeps the documented table equal to what the programs read.
// RIMFLOW_UPDATE_DOCS=1 rewrites it.
func TestReadmeConfigTableMatchesCode(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatalf("read deploy/README.md: %v", err)
	}
	doc := string(raw)
	i := strings.Index(doc, tableBegin)
	j := strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("deploy/README.md lacks the generated table markers")
	}
	have := doc[i+len(tableBegin) : j]
	want := configTable()
	if have == want {
		return
	}
	if os.Getenv("RIMFLOW_UPDATE_DOCS") == "1" {
		if err := os.WriteFile("README.md", []byte(doc[:i+len(tableBegin)]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("rewrote the table in deploy/README.md")
		return
	}
	t.Errorf("deploy/README.md's configuration table is stale; run RIMFLOW_UPDATE_DOCS=1 go test ./deploy\nwant:\n%s", want)
}
