package upgrade

import (
	"path/filepath"
	"testing"
)

// buildCurrent builds the working tree's devstack.
func buildCurrent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "devstack")
	goBuild(t, moduleRoot(t), bin)
	return bin
}

// buildRelease builds commit's devstack from git, once per commit (BuildRelease).
func buildRelease(t *testing.T, commit string) string {
	t.Helper()
	return BuildRelease(t, commit, "devstack")
}

func goBuild(t *testing.T, dir, out string) {
	t.Helper()
	goBuildPkg(t, dir, out, "devstack")
}
