package kit

import (
	"bytes"
	"context"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"
)

// burn spins on this goroutine until the process has spent d more CPU time: on a loaded machine
// a wall-clock spin gets a fraction of a core, and the profile too few samples.
func burn(d time.Duration) {
	end := cpuTime() + d
	x := 0
	for cpuTime() < end {
		for range 10000 {
			x++
		}
	}
	_ = x
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestLabelledCPUSplitsAProfile reads a real CPU profile of this process: work done under the
// simulator's label and work done outside it, in equal parts, come out as shares of the total.
func TestLabelledCPUSplitsAProfile(t *testing.T) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Skipf("a CPU profile is already running: %v", err)
	}
	pprof.Do(context.Background(), pprof.Labels(simLabelKey, simLabelValue), func(context.Context) {
		done := make(chan struct{})
		go func() { burn(300 * time.Millisecond); close(done) }() // inherits the label
		<-done
	})
	burn(300 * time.Millisecond)
	pprof.StopCPUProfile()

	sim, all, samples, err := labelledCPU(buf.Bytes(), simLabelKey, simLabelValue)
	if err != nil {
		t.Fatal(err)
	}
	if samples < 20 || all <= 0 {
		t.Fatalf("%d samples, %d ns: the profile did not record the work", samples, all)
	}
	if share := float64(sim) / float64(all); share < 0.25 || share > 0.75 {
		t.Errorf("labelled share %.2f of %d samples, want about a half", share, samples)
	}
	if _, _, _, err := labelledCPU([]byte("not a profile"), simLabelKey, simLabelValue); err == nil {
		t.Error("a non-profile was read without error")
	}
}
