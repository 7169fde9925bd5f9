// Package upgrade proves an upgrade in place: the previous release's devstack leaves bills waiting
// in every stage, the current devstack takes over its data dir, and every bill finishes with the
// cloud's ledger agreeing (upgrade_test.go). The previous release's binary is built from git.
package upgrade

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PreviousRelease is the commit of the release this code must upgrade from in place: the test
// builds its devstack from git. Cutting a release moves it (docs/releases.md).
const PreviousRelease = "391f9c13e97722dc603bb5ccfc3813e2b1b74031"

// SixthRelease (8546092) was the previous release before 391f9c1; its bills may still run.
const SixthRelease = "854609210644d7c4fb17ab1ec2871a12b24e66fd"

// FifthRelease (7f4f26e) was the previous release before 8546092; its bills may still run.
const FifthRelease = "7f4f26e78d729648a843c4f2360a0163de59960b"

// FourthRelease (3dfb475) was the previous release before 7f4f26e; its bills may still run.
const FourthRelease = "3dfb47538d357050a010356552406fd54f9581eb"

// ThirdRelease (71b9186) was the previous release before 3dfb475; its bills may still run.
const ThirdRelease = "71b91862be7f207888e5844e56c5285da83170c1"

// SecondRelease (4d526e8) was the previous release before 71b9186; its bills may still run.
const SecondRelease = "4d526e8242cddc7c50fe83e2f316f2c594f40239"

// FirstRelease is the first release (a654ef2): its bills may still run, so an upgrade in place
// from it is proved too, until it is retired (docs/releases.md, "Retiring a version").
const FirstRelease = "a654ef2623abf7274f741006bb410b5057e1a3fd"

// UpgradeFrom are the releases whose running bills this code must take over in place: every
// release whose histories are kept (workflows/testdata/releases).
var UpgradeFrom = []string{FirstRelease, SecondRelease, ThirdRelease, FourthRelease, FifthRelease, SixthRelease, PreviousRelease}

// BuildRelease builds the program ./<pkg> (devstack, worker, starter) of commit from git, once
// per commit: the binary is kept under the user cache dir by the full commit hash (a commit's
// code never changes), so later runs only start it. The commit's tree comes out of the
// repository with git archive, which leaves the repository itself (its worktrees, its index) as
// it was.
func BuildRelease(t testing.TB, commit, pkg string) string {
	t.Helper()
	root := moduleRoot(t)
	full, err := git(root, "rev-parse", "--verify", commit+"^{commit}")
	if err != nil {
		t.Fatalf("the release %s is not in this clone's history (a shallow clone? fetch it): %v", commit, err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("user cache dir: %v", err)
	}
	bin := filepath.Join(cache, "rimflow", "releases", full, pkg)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	// The commit's whole tree (the module root may sit below the repository's top).
	top, err := git(root, "rev-parse", "--show-toplevel")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(top, root)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	archive := exec.Command("git", "archive", "--format=tar", full)
	archive.Dir = top
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	var errs bytes.Buffer
	archive.Stderr, untar.Stderr = &errs, &errs
	if err := untar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s: %v: %s", full, err, errs.String())
	}
	if err := untar.Wait(); err != nil {
		t.Fatalf("untar %s: %v: %s", full, err, errs.String())
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	// Built beside its final name and renamed: a run cut short leaves no half binary in the cache.
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	defer os.Remove(tmp) // after the rename there is nothing left to remove
	goBuildPkg(t, filepath.Join(src, rel), tmp, pkg)
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// moduleRoot is the directory of this module's go.mod (the working tree under test).
func moduleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func goBuildPkg(t testing.TB, dir, out, pkg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./"+pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./%s in %s: %v\n%s", pkg, dir, err, b)
	}
	t.Logf("built %s in %s", out, time.Since(start).Round(time.Second))
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}
