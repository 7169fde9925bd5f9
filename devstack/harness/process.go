package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Memory is what /proc/<pid>/status says about a process's resident memory, in MiB.
type Memory struct {
	RSSMB  float64 // VmRSS: resident now
	PeakMB float64 // VmHWM: the high-water mark of VmRSS
}

// ReadMemory reads /proc/<pid>/status (pid 0 = this process). Linux only.
func ReadMemory(pid int) (Memory, error) {
	raw, err := os.ReadFile(procPath(pid, "status"))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for _, line := range strings.Split(string(raw), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "VmRSS":
			dst = &m.RSSMB
		case "VmHWM":
			dst = &m.PeakMB
		default:
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
		if err != nil {
			return Memory{}, fmt.Errorf("%s: %s: %w", procPath(pid, "status"), name, err)
		}
		*dst = kb / 1024
	}
	return m, nil
}

// clockTicks is USER_HZ, 100 on every Linux the Go runtime supports.
const clockTicks = 100

// ReadCPUSeconds is the user+system CPU time a process has used (pid 0 = this process).
func ReadCPUSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile(procPath(pid, "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces; fields after it start past the last ')'.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: unexpected format", procPath(pid, "stat"))
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: too few fields", procPath(pid, "stat"))
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: bad utime/stime", procPath(pid, "stat"))
	}
	return (utime + stime) / clockTicks, nil
}

func procPath(pid int, file string) string {
	if pid == 0 {
		return "/proc/self/" + file
	}
	return "/proc/" + strconv.Itoa(pid) + "/" + file
}

// Process is a child process the harness started; one goroutine waits for its exit.
type Process struct {
	name string // what it is, for messages: "worker", "API"
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit, once done is closed
}

// StartProcess starts cmd and waits for its exit in the background. name says what it is in
// messages ("worker", "temporal-server").
func StartProcess(name string, cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		// It dies with the harness, even one killed by a test timeout: no worker left polling.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", name, cmd.Path, err)
	}
	p := &Process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL (no graceful stop, no chance to finish anything) and reaps the process.
func (p *Process) Kill() error {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		select {
		case <-p.done:
			return nil
		default:
			return err
		}
	}
	<-p.done
	return nil
}

// Stop sends SIGTERM and waits up to timeout for a graceful exit, then kills. It reports an
// unclean exit, also of a process that had already ended.
func (p *Process) Stop(timeout time.Duration) error {
	if !p.Exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
		var exit *exec.ExitError
		if errors.As(p.err, &exit) {
			return fmt.Errorf("%s exited: %w", p.name, p.err)
		}
		return nil
	case <-time.After(timeout):
		_ = p.Kill()
		return fmt.Errorf("%s did not stop within %s; killed", p.name, timeout)
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended: nil while it runs or after a clean exit.
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Memory reads the process's resident memory.
func (p *Process) Memory() (Memory, error) { return ReadMemory(p.PID()) }

// CPUSeconds is the CPU time the process has used so far.
func (p *Process) CPUSeconds() (float64, error) { return ReadCPUSeconds(p.PID()) }

// LogBuffer collects a process's (or a logger's) output for a test to read while it is written:
// a bytes.Buffer safe for concurrent writers and readers.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
