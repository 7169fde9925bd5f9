package harness

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/server/temporaltest"

	"rimflow/workflows"
)

// RegisterSearchAttributes registers workflows.SearchAttributes() in the namespace.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: workflows.SearchAttributes(),
	}); err != nil {
		return fmt.Errorf("register search attributes: %w", err)
	}
	return nil
}

// NewTestServer starts a Temporal test server (temporaltest: in memory, for one test) with
// rimflow's search attributes; it stops with the test.
func NewTestServer(tb *testing.T) *temporaltest.TestServer {
	tb.Helper()
	ts := temporaltest.NewServer(temporaltest.WithT(tb),
		temporaltest.WithBaseClientOptions(client.Options{Logger: warnLogger(tb)}))
	if err := registerOn(ts); err != nil {
		tb.Fatal(err)
	}
	return ts
}

// warnLogger is the test client's SDK logger: warnings and errors in the test's output, the
// SDK's per-task debug and info lines left out so a failure's own message stays readable.
func warnLogger(tb *testing.T) log.Logger {
	var (
		mu   sync.Mutex
		done bool // after the test ends, t.Log panics; a late worker line is dropped
	)
	tb.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			tb.Log(strings.TrimRight(string(p), "\n"))
		}
		return len(p), nil
	})
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// StartTestServer is NewTestServer for a whole test package (its TestMain): the caller stops it.
func StartTestServer() (*temporaltest.TestServer, error) {
	ts := temporaltest.NewServer()
	if err := registerOn(ts); err != nil {
		ts.Stop()
		return nil, err
	}
	return ts, nil
}

func registerOn(ts *temporaltest.TestServer) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return RegisterSearchAttributes(ctx, ts.GetDefaultClient(), ts.GetDefaultNamespace())
}
