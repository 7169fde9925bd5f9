package floors

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// floorOf is the floor of a rimflow package (the package doc's list): the longest matching prefix.
var floorOf = map[string]int{
	"rimflow/internal/secretref":      1,
	"rimflow/internal/jsonlog":        1,
	"rimflow/internal/metrics":        1,
	"rimflow/internal/access":         1,
	"rimflow/internal/codec":          1,
	"rimflow/internal/config":         1,
	"rimflow/internal/temporalclient": 1,
	"rimflow/internal/webhooks":       1,
	"rimflow/internal/enterprises":    1,
	"rimflow/internal/version":        1,
	"rimflow/internal/tracing":        1,
	"rimflow/internal/voice":          1,
	"rimflow/internal/callheader":     1,
	"rimflow/internal/query":          1,
	"rimflow/invoicecloud":            1,
	"rimflow/activities":              2,
	"rimflow/workflows":               2,
	"rimflow/internal/policy":         2,
	"rimflow/cloudsim/simulator":      2,
	"rimflow/api":                     3,
	"rimflow/internal/app":            4,
}

const top = 5

func floor(pkg string) int {
	best, f := "", top
	for prefix, n := range floorOf {
		if (pkg == prefix || strings.HasPrefix(pkg, prefix+"/")) && len(prefix) > len(best) {
			best, f = prefix, n
		}
	}
	return f
}

func goList(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	return string(out)
}

// TestNoPackageImportsAbove checks every package's own imports (not its tests'): a floor's
// imports are its floor's or below, so its whole dependency tree is too.
func TestNoPackageImportsAbove(t *testing.T) {
	listed := 0
	for _, line := range strings.Split(strings.TrimSpace(goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "rimflow/...")), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		listed++
		pkg, f := fields[0], floor(fields[0])
		for _, imp := range fields[1:] {
			if imp != "rimflow" && !strings.HasPrefix(imp, "rimflow/") {
				continue
			}
			if g := floor(imp); g > f {
				t.Errorf("%s (floor %d) imports %s (floor %d): move the code down, or the package up (internal/floors/doc.go)", pkg, f, imp, g)
			}
		}
	}
	if listed < 20 {
		t.Fatalf("go list named only %d packages", listed)
	}
	// The rule has teeth: the bottom and the top are where the doc says.
	if floor("rimflow/internal/config") != 1 || floor("rimflow/invoicecloud/aesecb") != 1 || floor("rimflow/devstack/harness") != top {
		t.Error("the floors table does not match the package doc")
	}
}

// TestProductionBinariesLinkNoTemporalServer: the worker and starter are what a cluster runs;
// the embedded server is for development only.
func TestProductionBinariesLinkNoTemporalServer(t *testing.T) {
	for _, dep := range strings.Fields(goList(t, "-deps", "rimflow/worker", "rimflow/starter")) {
		if dep == "go.temporal.io/server" || strings.HasPrefix(dep, "go.temporal.io/server/") {
			t.Fatalf("the worker or starter links %s", dep)
		}
	}
}
