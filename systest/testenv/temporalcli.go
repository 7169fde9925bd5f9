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
	"testing"
)

// TemporalCLIVersion is the `temporal` CLI release the tests use; .ci/run installs it with
// `go install github.com/temporalio/cli/cmd/temporal@` this.
const TemporalCLIVersion = "v1.5.1"

// TemporalCLIPath finds the `temporal` CLI on PATH or in $(go env GOPATH)/bin, or returns "" and
// why not.
func TemporalCLIPath() (string, string) {
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, ""
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "env", "GOPATH").Output()
		if err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "temporal")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, ""
		}
	}
	return "", "no `temporal` on PATH or in $(go env GOPATH)/bin; install it with `go install github.com/temporalio/cli/cmd/temporal@" +
		TemporalCLIVersion + "` (.ci/run does)"
}

// RequireTemporalCLI is TemporalCLIPath, or skips the test (fails it under CI, where .ci/run
// installs the CLI).
func RequireTemporalCLI(tb testing.TB) string {
	tb.Helper()
	p, why := TemporalCLIPath()
	if p == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("the temporal CLI is required in CI: %s", why)
		}
		tb.Skipf("SKIPPED — %s", why)
	}
	return p
}

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
