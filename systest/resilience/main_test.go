// Package resilience breaks rimflow on purpose and checks that no bill is lost: the worker
// killed with SIGKILL, the embedded Temporal server restarted on its data dir, the cloud failing
// (5xx, latency, dropped sockets, expired tokens), business errors repaired by ops, fuzzed input,
// and secrets kept out of every log line and error.
//
// The fast cases run in CI (`go test ./systest/resilience/`, a few minutes: the workers run with a
// 10 s watcher heartbeat timeout, so a killed worker's watchers move on after seconds, not after
// production's 5 minutes). The long ones (200 bills in flight instead of 20) run with
// `go test ./systest/resilience/ -long` or RIMFLOW_LONG=1.
package resilience

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

var long = flag.Bool("long", os.Getenv("RIMFLOW_LONG") == "1", "run the long resilience cases (also RIMFLOW_LONG=1)")

// workerBin is ./worker and starterBin ./starter, built once for the whole package: the real
// programs, run as separate OS processes (the worker can be killed like a crashed pod; `starter
// serve` is the HTTP API, whose every output the secrets test reads).
var workerBin, starterBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "rimflow-resilience-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		workerBin, starterBin = filepath.Join(dir, "worker"), filepath.Join(dir, "starter")
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		build := exec.Command(gobin, "build", "-o", dir, "rimflow/worker", "rimflow/starter")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build ./worker and ./starter:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// scale picks the fast (CI) or the long figure.
func scale(fast, longRun int) int {
	if *long {
		return longRun
	}
	return fast
}
