// Package itest runs the bill workflow end to end: a real in-process Temporal server
// (temporaltest), the real worker code (internal/app, activities), the real invoicecloud client and
// the cloudsim simulator over HTTP/WebSocket on loopback. One Temporal server is shared by all
// tests (TestMain); each test gets its own simulator, task queue and worker.
package itest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"rimflow/systest/testenv"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"
)

var (
	server *temporaltest.TestServer
	tc     client.Client
)

func TestMain(m *testing.M) {
	server = temporaltest.NewServer()
	tc = server.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := testenv.RegisterSearchAttributes(ctx, tc, server.GetDefaultNamespace())
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		server.Stop()
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.Exit(code)
}
