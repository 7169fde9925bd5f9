package harness

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
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
	// Ready, when set, replaces the wait for the task queues' pollers: StartWorker returns once it
	// answers nil (a versioned worker shows in its deployment, not among a queue's pollers).
	Ready func(*Worker) error
}

// Worker is a running worker process.
type Worker struct{ *Process }

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
	p, err := StartProcess("worker", cmd)
	if err != nil {
		return nil, err
	}
	w := &Worker{p}
	if opts.Ready != nil {
		if err := opts.Ready(w); err != nil {
			_ = w.Kill()
			return nil, err
		}
		return w, nil
	}
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
	prefix := strconv.Itoa(w.PID()) + "@"
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
