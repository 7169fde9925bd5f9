// Package oracle is the ledger oracle: a model-based test that drives random, seeded histories of
// operations over several bills at once (the ERP's, the approvers', ops' from Temporal, and
// faults of the cloud and the worker) and, at every quiet point, compares each bill with the
// cloud's own ledger (the simulator's books). The bill is the ledger's mirror (docs/testing.md).
//
// The stack is the real one: an in-process Temporal server, the real worker and HTTP API, the
// simulator over HTTP, all from devstack/harness; one stack per reading of the cloud.
package oracle

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"rimflow/devstack/harness"
)

var (
	long      = flag.Bool("long", false, "run at least 1,000 histories (minutes to an hour)")
	seedFlag  = flag.Int64("seed", 0, "replay the history of this seed only (printed with a violation)")
	opsFlag   = flag.String("ops", "", "replay exactly these operations (a shrunk history, printed with a violation); with -seed")
	histories = flag.Int("histories", 0, "histories per reading (default: 2 short, 250 with -long)")
)

var (
	server *temporaltest.TestServer
	tc     client.Client
)

func TestMain(m *testing.M) {
	flag.Parse()
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
