// Package skips makes a skipped test visible. `go test ./...` shows a passing package as one
// "ok" line and keeps its output, t.Skip's reason included, to itself unless -v is given, so a
// run can pass while the production tests or the browser test never ran. Skip skips the test
// and, once the `go test` command that ran it has exited, prints one line naming the test, why it
// did not run, and the command that makes it run:
//
//	SKIP	rimflow/systest/itest	TestLongBillContinuesAsNew/long: needs -long (300 rounds and 1,000 updates, minutes); to run it: go test ./systest/itest/ -run TestLongBillContinuesAsNew -long
//
// How (Linux; elsewhere the line goes to the test's stderr at once, shown with -v or on failure):
//   - The test binary's parent is the go command. Its results print in import-path order, each
//     package's when its binary has exited, and a passing package's output is dropped; nothing a
//     binary writes through its own stdout can come last. So the first skip of a run starts a
//     reporter (the test binary again, detached, in its own session) whose stdout is the go
//     command's own (/proc/<go>/fd/1, opened for appending). It waits for the go command to exit
//     and prints the lines then. In a pipe (CI's `go test ./... | tee`) they are the last lines:
//     the reader sees the end only when the reporter closes its copy. At a terminal they follow
//     go's last line at once, at worst after the shell's prompt.
//   - Each skip is a file under <module>/.rimflow/skipped/<go's pid and start time>/, which
//     the test opens; the reporter deletes it after printing. The go command caches a passing
//     package's result with the files under the module that the test opened, and finds them
//     changed (gone) next time: a package that skipped something runs again, and says so again,
//     instead of answering "(cached)" silently.
//   - Under `go test -json` nothing is added: the JSON stream carries every skip.
package skips

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reporterEnv makes a test binary the reporter of the run directory it names (see init).
const reporterEnv = "RIMFLOW_SKIPS_REPORTER"

// Skip skips the test, and has the run end with one line naming it, why (why), and the command
// that enables it (enable). Call it where the test would call t.Skip.
func Skip(tb testing.TB, why, enable string) {
	tb.Helper()
	note(fmt.Sprintf("SKIP\t%s\t%s: %s; to run it: %s", packagePath(), tb.Name(), why, enable))
	tb.Skipf("SKIPPED: %s; to run it: %s", why, enable)
}

// note has line printed at the end of the go command's run (see the package doc), or now on
// stderr when the test binary was not started by a go command this can report to.
func note(line string) {
	if runtime.GOOS != "linux" || !report(line) {
		fmt.Fprintln(os.Stderr, line)
	}
}

// report files line for the go command that started this binary and makes sure a reporter
// waits for that command. False: no go command to report to (the line is printed now).
func report(line string) bool {
	goPID := os.Getppid()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", goPID))
	if err != nil || strings.TrimSuffix(filepath.Base(exe), " (deleted)") != "go" {
		return false
	}
	started, ok := startTime(goPID)
	if !ok {
		return false
	}
	dir := filepath.Join(recordsRoot(), fmt.Sprintf("go-%d-%s", goPID, started))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false
	}
	f, err := os.CreateTemp(dir, "skip-*.txt") // opened: the package's result is not cached (package doc)
	if err != nil {
		return false
	}
	_, werr := f.WriteString(line + "\n")
	if err := f.Close(); werr != nil || err != nil {
		return false
	}
	lock, err := os.OpenFile(filepath.Join(dir, "reporter"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return os.IsExist(err) // another binary of this run started the reporter
	}
	defer lock.Close()
	// Under -json the stream says it already; the reporter still removes the file after the run.
	if err := startReporter(dir, goPID, started, jsonMode(goPID)); err != nil {
		fmt.Fprintf(lock, "not started: %v\n", err)
		return false
	}
	return true
}

// startReporter starts this binary again as the reporter of dir, detached, writing to the go
// command's stdout (quiet: printing nothing).
func startReporter(dir string, goPID int, started string, quiet bool) error {
	out, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/1", goPID), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d:%s:%t:%s", reporterEnv, goPID, started, quiet, dir))
	cmd.Stdout = out // stdin and stderr: /dev/null; nothing else is inherited
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}

// init turns a test binary started by startReporter into the reporter before any test runs.
func init() {
	v, ok := os.LookupEnv(reporterEnv)
	if !ok {
		return
	}
	parts := strings.SplitN(v, ":", 4)
	if len(parts) != 4 {
		os.Exit(2)
	}
	pid, err := strconv.Atoi(parts[0])
	if err != nil {
		os.Exit(2)
	}
	runReporter(pid, parts[1], parts[2] == "true", parts[3])
	os.Exit(0)
}

// runReporter waits for the go command (pid, started) to exit, prints every line filed in dir
// (unless quiet), one per skip, and removes dir; also records of runs whose reporter never ran
// (an hour old).
func runReporter(pid int, started string, quiet bool, dir string) {
	for deadline := time.Now().Add(24 * time.Hour); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s, ok := startTime(pid); !ok || s != started {
			break
		}
	}
	var lines []string
	files, _ := filepath.Glob(filepath.Join(dir, "skip-*.txt"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for l := range strings.Lines(string(raw)) {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
	}
	slices.Sort(lines)
	if quiet {
		lines = nil
	}
	w := bufio.NewWriter(os.Stdout)
	for _, l := range slices.Compact(lines) {
		fmt.Fprintln(w, l)
	}
	_ = w.Flush()
	_ = os.RemoveAll(dir)
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "go-*"))
	for _, d := range old {
		if st, err := os.Stat(d); err == nil && time.Since(st.ModTime()) > time.Hour {
			_ = os.RemoveAll(d)
		}
	}
}

// startTime is the process's start time (field 22 of /proc/<pid>/stat, clock ticks since boot):
// with the pid it names one process, though pids are reused. False when it has exited (a zombie
// has exited too: its stdout is closed).
func startTime(pid int) (string, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	i := bytes.LastIndexByte(raw, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return "", false
	}
	f := strings.Fields(string(raw[i+1:])) // f[0] is field 3 (state)
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return "", false
	}
	return f[19], true
}

// jsonMode: the go command runs with -json (on its command line or in GOFLAGS).
func jsonMode(pid int) bool {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(string(raw), "\x00")
	args = append(args, strings.Fields(os.Getenv("GOFLAGS"))...)
	for _, a := range args {
		if a == "-json" || a == "--json" || strings.HasPrefix(a, "-json=") || strings.HasPrefix(a, "--json=") {
			return true
		}
	}
	return false
}

// recordsRoot is <module>/.rimflow/skipped: under the module, where the go command looks at the
// files a test opened (gitignored, as .rimflow/ is). Outside a module: the temp dir.
func recordsRoot() string {
	if root, _, ok := module(); ok {
		return filepath.Join(root, ".rimflow", "skipped")
	}
	return filepath.Join(os.TempDir(), "rimflow-skipped")
}

// packagePath is the import path of the package under test: the go command runs its binary in
// the package's directory.
func packagePath() string {
	wd, err := os.Getwd()
	root, path, ok := module()
	if err != nil || !ok {
		return filepath.Base(wd)
	}
	rel, err := filepath.Rel(root, wd)
	if err != nil || rel == "." {
		return path
	}
	return path + "/" + filepath.ToSlash(rel)
}

// module finds go.mod above the working directory: its directory and the module path.
func module() (root, path string, ok bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", "", false
	}
	for {
		if raw, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for l := range strings.Lines(string(raw)) {
				if rest, found := strings.CutPrefix(strings.TrimSpace(l), "module "); found {
					return dir, strings.Trim(strings.TrimSpace(rest), `"`), true
				}
			}
			return "", "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", false
		}
		dir = parent
	}
}
