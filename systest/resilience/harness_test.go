package resilience

import (
	"errors"

	"go.temporal.io/api/serviceerror"

	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rimflow/bench/kit"
)

// syncBuffer is a log sink shared by goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tailOf returns the last n bytes of s, for failure messages.
func tailOf(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// newEnv starts the server and the simulator for one test; their logs (warn and up unless the
// options say otherwise) go to logs and are printed if the test fails.
func newEnv(t testing.TB, ctx context.Context, opts kit.EnvOptions) (*kit.Env, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	opts.DataDir = t.TempDir()
	env, err := kit.StartEnv(ctx, opts)
	if err != nil {
		t.Fatalf("start server and simulator: %v", err)
	}
	t.Cleanup(func() {
		env.Close()
		if t.Failed() {
			t.Logf("server/simulator logs (tail):\n%s", tailOf(logs.String(), 6000))
		}
	})
	return env, logs
}

// startWorker starts the built ./worker against env; its stderr goes to stderr (nil = a buffer
// printed if the test fails).
func startWorker(t testing.TB, ctx context.Context, env *kit.Env, logLevel string, stderr io.Writer) *kit.Worker {
	t.Helper()
	var own *syncBuffer
	if stderr == nil {
		own = &syncBuffer{}
		stderr = own
	}
	w, err := kit.StartWorker(ctx, env.Client, kit.WorkerOptions{
		Path: workerBin, Env: env.WorkerEnv(logLevel), Stderr: stderr,
	})
	if err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(func() {
		_ = w.Stop(10 * time.Second)
		if t.Failed() && own != nil {
			t.Logf("worker %d stderr (tail):\n%s", w.PID(), tailOf(own.String(), 4000))
		}
	})
	return w
}

// fleet runs bills' lives on a few concurrent ERP clients and counts where they are, so a test
// can strike while bills are in flight.
type fleet struct {
	parked    atomic.Int32 // invoices bound
	completed atomic.Int32
}

// run drives n bills (ids prefix-0…) through d.Life-like steps on c clients: park, then drain.
// It returns every error.
func (f *fleet) run(ctx context.Context, d *kit.Driver, prefix string, n, c int) (ids []string, errs []error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var next atomic.Int32
	for i := 0; i < n; i++ {
		ids = append(ids, fmt.Sprintf("%s-%d", prefix, i))
	}
	for range min(c, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				err := d.Park(ctx, ids[i])
				if err == nil {
					f.parked.Add(1)
					err = d.Drain(ctx, ids[i])
				}
				if err == nil {
					f.completed.Add(1)
				} else {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return ids, errs
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// keysOf turns bill ids into the ledger's resource/billId keys.
func keysOf(d *kit.Driver, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		r := d.Ref(id)
		out[i] = r.Resource + "/" + r.BillID
	}
	return out
}

func reportErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	if len(errs) == 0 {
		return
	}
	for i, err := range errs {
		if i == 5 {
			t.Errorf("… and %d more", len(errs)-5)
			break
		}
		t.Errorf("%s: %v", what, err)
	}
}

func asNotFound(err error, target **serviceerror.NotFound) bool { return errors.As(err, target) }
