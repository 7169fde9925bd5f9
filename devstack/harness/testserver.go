package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
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
	ts := temporaltest.NewServer(temporaltest.WithT(tb))
	if err := registerOn(ts); err != nil {
		tb.Fatal(err)
	}
	return ts
}

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
