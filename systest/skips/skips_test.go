package skips

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// goTest runs `go test args...` in this package's directory as a user would, and returns what
// the go command printed (stdout and stderr) up to the end of its output: the reporter's too.
func goTest(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append([]string{"test"}, args...)...)
	out, err := cmd.CombinedOutput() // returns once every writer closed the pipe
	if err != nil {
		t.Fatalf("go test %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n")
}

// In package-list mode a passing package's output is dropped, t.Skip's reason with it; the skip's
// line must still come, after every package's result, once per skip, and again on the next run
// (the package that skipped is run again, not answered from the cache).
func TestSkipIsSummarizedAtTheEnd(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the end-of-run summary needs /proc (elsewhere the line goes to stderr at once)")
	}
	if _, err := os.Stat("/proc/self/fd/1"); err != nil {
		t.Skipf("no /proc: %v", err)
	}
	const want = "SKIP\trimflow/systest/skips/testdata/skipdemo\tTestNeedsAThing: no thing here; to run it: install the thing"
	for run := 1; run <= 2; run++ {
		lines := goTest(t, "./testdata/skipdemo", "./testdata/zpassdemo")
		if n := len(lines); n != 3 || lines[n-1] != want {
			t.Fatalf("run %d printed:\n%s\nwant both packages' results, then exactly:\n%s", run, strings.Join(lines, "\n"), want)
		}
		if !strings.HasPrefix(lines[0], "ok  \trimflow/systest/skips/testdata/skipdemo\t") || strings.Contains(lines[0], "(cached)") {
			t.Errorf("run %d: %q, want the skipping package run (never from the cache)", run, lines[0])
		}
		if !strings.HasPrefix(lines[1], "ok  \trimflow/systest/skips/testdata/zpassdemo\t") {
			t.Errorf("run %d: %q, want the other package's result before the summary", run, lines[1])
		}
	}
	// -json streams carry the skip themselves: nothing but JSON may follow.
	for _, l := range goTest(t, "-json", "./testdata/skipdemo") {
		if !strings.HasPrefix(l, "{") {
			t.Errorf("go test -json printed a line that is not JSON: %q", l)
		}
	}
}
