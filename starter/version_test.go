package main

import (
	"os/exec"
	"path/filepath"
	"testing"

	"rimflow/internal/version"
)

// `starter version` prints the build ID the workers of this build declare; a release build sets
// the version at link time, which wins over the source revision.
func TestVersionVerb(t *testing.T) {
	code, out, errOut := starter(t, "", "version")
	if code != 0 {
		t.Fatalf("version: exit %d: %s", code, errOut)
	}
	if got := mustJSON[version.Info](t, out); got.BuildID != version.BuildID() || got.BuildID == "" || got.GoVersion == "" {
		t.Fatalf("version printed %+v, want build ID %q", got, version.BuildID())
	}
	if code, _, _ := starter(t, "", "version", "extra"); code != exitBadArgs {
		t.Errorf("version with an argument: exit %d, want %d", code, exitBadArgs)
	}

	if testing.Short() {
		return
	}
	bin := filepath.Join(t.TempDir(), "starter")
	build := exec.Command("go", "build", "-ldflags", "-X rimflow/internal/version.Release=2099.1.2", "-o", bin, ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	raw, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("starter version: %v", err)
	}
	if got := mustJSON[version.Info](t, string(raw)); got.Release != "2099.1.2" || got.BuildID != "2099.1.2" {
		t.Fatalf("a release build printed %+v, want release and build ID 2099.1.2", got)
	}
}
