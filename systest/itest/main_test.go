// Package itest runs the bill workflow end to end: a real in-process Temporal server
// (temporaltest), the real worker code (internal/app, activities), the real invoicecloud client and
// the cloudsim simulator over HTTP/WebSocket on loopback. One Temporal server is shared by all
// tests (TestMain); each test gets its own simulator, task queue and worker.
package itest

import (
	"fmt"
	"os"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"rimflow/devstack/harness"
)

var (
	server *temporaltest.TestServer
	tc     client.Client
)

func TestMain(m *testing.M) {
	var err error
	if server, err = harness.StartTestServer(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tc = server.GetDefaultClient()
	code := m.Run()
	server.Stop()
	os.Exit(code)
}
