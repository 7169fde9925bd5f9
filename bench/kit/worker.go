package kit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"rimflow/workflows"
)

// WorkerOptions describe a worker process.
type WorkerOptions struct {
	Path string   // the executable: a built ./worker, or the bench binary itself
	Args []string // its arguments
	Env  []string // its whole environment (Env.WorkerEnv)
	// Stderr receives the process's stderr (its logs); nil discards it.
	Stderr io.Writer
	// Stdout receives the process's stdout; nil discards it.
	Stdout io.Writer
	// TaskQueues the worker must poll before StartWorker returns (default the bills' queue).
	TaskQueues []string
}

// Worker is a running worker process.
type Worker struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit, once done is closed
}

// StartWorker starts the process and waits until Temporal lists it (by its pid@host identity)
// as a poller of every task queue, so work sent after this returns is picked up.
func StartWorker(ctx context.Context, c client.Client, opts WorkerOptions) (*Worker, error) {
	cmd := exec.Command(opts.Path, opts.Args...)
	cmd.Env = opts.Env
	cmd.Stdout = opts.Stdout
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	cmd.Stderr = opts.Stderr
	if cmd.Stderr == nil {
		cmd.Stderr = io.Discard
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker %s: %w", opts.Path, err)
	}
	w := &Worker{cmd: cmd, done: make(chan struct{})}
	go func() {
		w.err = cmd.Wait()
		close(w.done)
	}()
	queues := opts.TaskQueues
	if len(queues) == 0 {
		queues = []string{workflows.DefaultTaskQueue}
	}
	for _, q := range queues {
		if err := w.waitPolling(ctx, c, q); err != nil {
			_ = w.Kill()
			return nil, err
		}
	}
	return w, nil
}

// waitPolling waits until a poller with this process's identity polls the queue.
func (w *Worker) waitPolling(ctx context.Context, c client.Client, queue string) error {
	prefix := itoa(w.PID()) + "@"
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		resp, err := c.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err == nil {
			for _, p := range resp.GetPollers() {
				if strings.HasPrefix(p.GetIdentity(), prefix) {
					return nil
				}
			}
		}
		select {
		case <-w.done:
			return fmt.Errorf("worker process exited before polling %s: %v", queue, w.err)
		case <-ctx.Done():
			return fmt.Errorf("worker process %d is not polling %s: %w", w.PID(), queue, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is the process id.
func (w *Worker) PID() int { return w.cmd.Process.Pid }

// Kill sends SIGKILL (no graceful stop, no chance to finish anything) and reaps the process.
func (w *Worker) Kill() error {
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		select {
		case <-w.done:
			return nil
		default:
			return err
		}
	}
	<-w.done
	return nil
}

// Stop sends SIGTERM and waits up to timeout for a graceful exit, then kills.
func (w *Worker) Stop(timeout time.Duration) error {
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
		var exit *exec.ExitError
		if errors.As(w.err, &exit) {
			return fmt.Errorf("worker exited: %w", w.err)
		}
		return nil
	case <-time.After(timeout):
		_ = w.Kill()
		return fmt.Errorf("worker did not stop within %s; killed", timeout)
	}
}

// Exited reports whether the process has ended.
func (w *Worker) Exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// Memory reads the process's resident memory.
func (w *Worker) Memory() (Memory, error) { return ReadMemory(w.PID()) }

// CPUSeconds is the CPU time the process has used so far.
func (w *Worker) CPUSeconds() (float64, error) { return ReadCPUSeconds(w.PID()) }
