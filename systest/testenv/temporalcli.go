package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"rimflow/systest/skips"
)

// TemporalCLIVersion is the `temporal` CLI release the tests use; .ci/run installs it with
// `go install github.com/temporalio/cli/cmd/temporal@` this, and RequireTemporalCLI builds it
// the same way when it is missing.
const TemporalCLIVersion = "v1.5.1"

const temporalCLIPackage = "github.com/temporalio/cli/cmd/temporal"

// TemporalCLIPath finds the `temporal` CLI on PATH, in $(go env GOPATH)/bin or where
// RequireTemporalCLI builds it, or returns "" and why not.
func TemporalCLIPath() (string, string) {
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, ""
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		out, err := exec.Command(goCommand(), "env", "GOPATH").Output()
		if err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	dirs := []string{}
	for _, dir := range filepath.SplitList(gopath) {
		dirs = append(dirs, filepath.Join(dir, "bin"))
	}
	if dir, err := temporalCLICache(); err == nil {
		dirs = append(dirs, dir)
	}
	for _, dir := range dirs {
		p := filepath.Join(dir, "temporal")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, ""
		}
	}
	return "", "no `temporal` on PATH or in " + strings.Join(dirs, ", ")
}

// RequireTemporalCLI is TemporalCLIPath; when the CLI is missing it builds it from the module
// proxy into the user's cache dir (~/.cache/rimflow/temporal-cli-<version>: about 5 minutes, once
// per machine; test binaries running at once wait for one build). It skips the test when the
// build fails, and fails it under CI, where .ci/run installs the CLI.
func RequireTemporalCLI(tb testing.TB) string {
	tb.Helper()
	p, why := TemporalCLIPath()
	if p != "" {
		return p
	}
	p, err := buildTemporalCLI(tb)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("the temporal CLI is required in CI: %s, and building it failed: %v", why, err)
	}
	skips.Skip(tb, fmt.Sprintf("the temporal CLI is missing (%s) and could not be built: %v", why, err),
		"go install "+temporalCLIPackage+"@"+TemporalCLIVersion)
	return ""
}

// buildTemporalCLI builds the CLI into temporalCLICache, under an exclusive lock there: the
// first test binary builds it, the others wait and find it built.
func buildTemporalCLI(tb testing.TB) (string, error) {
	dir, err := temporalCLICache()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "build.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	target := filepath.Join(dir, "temporal")
	if _, err := os.Stat(target); err == nil {
		return target, nil // built while this binary waited
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	tb.Logf("building the temporal CLI %s into %s (once per machine, about 5 minutes)", TemporalCLIVersion, dir)
	began := time.Now()
	cmd := exec.Command(goCommand(), "install", temporalCLIPackage+"@"+TemporalCLIVersion)
	cmd.Dir = tmp // outside any module: the CLI's own go.mod decides its dependencies
	// GOFLAGS may hold test flags (CI's -timeout) that go install refuses.
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w: %s", temporalCLIPackage, TemporalCLIVersion, err, bytes.TrimSpace(out))
	}
	// Renamed into place whole, so TemporalCLIPath never finds a half-written binary.
	if err := os.Rename(filepath.Join(tmp, "temporal"), target); err != nil {
		return "", err
	}
	tb.Logf("built the temporal CLI in %s", time.Since(began).Round(time.Second))
	return target, nil
}

// temporalCLICache is where RequireTemporalCLI builds the CLI.
func temporalCLICache() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "rimflow", "temporal-cli-"+TemporalCLIVersion), nil
}

func goCommand() string { return filepath.Join(runtime.GOROOT(), "bin", "go") }

// TemporalCLI runs the `temporal` CLI against one server, as ops would from a shell.
type TemporalCLI struct {
	Path string
	// Env is the CLI's own configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key).
	Env []string
}

// Run runs the CLI with args and returns its stdout; a non-zero exit is an error with stderr.
func (c *TemporalCLI) Run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Path, args...)
	cmd.Env = append(os.Environ(), c.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("temporal %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
