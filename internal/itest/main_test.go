// Package itest runs the bill workflow end to end: a real in-process Temporal server
// (temporaltest), the real worker code (workerapp, activities), the real invoicecloud client and
// the cloudsim simulator over HTTP/WebSocket on loopback. One Temporal server is shared by all
// tests (TestMain); each test gets its own simulator, task queue and worker.
package itest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"rimflow/workflows"
)

var (
	server *temporaltest.TestServer
	tc     client.Client
)

func TestMain(m *testing.M) {
	server = temporaltest.NewServer()
	tc = server.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	_, err := tc.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        server.GetDefaultNamespace(),
		SearchAttributes: workflows.SearchAttributes(),
	})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "register search attributes:", err)
		server.Stop()
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.Exit(code)
}
