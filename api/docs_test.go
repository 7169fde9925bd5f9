package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docs/api.md names every route of the table (as "`METHOD /path" or "`METHOD …/suffix"), every
// error code and 409 sub-code, and every query parameter: the page, the served document and the
// server are one contract.
func TestDocsNameTheWholeContract(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	for _, rt := range routes() {
		if rt.Hidden {
			continue
		}
		full := "`" + rt.Method + " " + rt.Path
		short := "`" + rt.Method + " …" + strings.TrimPrefix(rt.Path, billPath)
		if !strings.Contains(page, full) && (!strings.HasPrefix(rt.Path, billPath+"/") || !strings.Contains(page, short)) {
			t.Errorf("docs/api.md does not name %s %s", rt.Method, rt.Path)
		}
		for _, q := range rt.Query {
			if !strings.Contains(page, "`"+q.Name) {
				t.Errorf("docs/api.md does not name the query parameter %s of %s", q.Name, rt.Operation)
			}
		}
	}
	for _, c := range append(append([]string{}, Codes...), SubCodes...) {
		if !strings.Contains(page, "`"+c+"`") {
			t.Errorf("docs/api.md does not name %s", c)
		}
	}
}
