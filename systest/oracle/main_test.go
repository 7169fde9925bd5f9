// Package oracle is the ledger oracle: a model-based test that drives random, seeded histories of
// operations over several bills at once (the ERP's, the approvers', ops' from Temporal, the
// cloud's pushes, and faults of the cloud, the worker process and the Temporal server) and, at
// every quiet point, compares each bill with the cloud's own ledger (the simulator's books). The
// bill is the ledger's mirror (docs/testing.md).
//
// The stack is the real one, from devstack/harness and bench/kit as systest/resilience builds it:
// an embedded Temporal server on a data dir (restartable), the simulator over HTTP with the
// devstack's two enterprises (ultimate; standard with push) and their image system, the real
// worker in a process of its own (this test binary run again: it can be SIGKILLed) and the HTTP
// API; one stack per reading of the cloud.
package oracle

import (
	"flag"
	"os"
	"testing"
)

var (
	long      = flag.Bool("long", false, "run at least 1,000 histories (about 3.5 hours: some 5 a minute on 2 cores)")
	seedFlag  = flag.Int64("seed", 0, "replay the history of this seed only (printed with a violation)")
	opsFlag   = flag.String("ops", "", "replay exactly these operations (a shrunk history, printed with a violation); with -seed")
	histories = flag.Int("histories", 0, "histories per reading (default: 1 short, 250 with -long); four readings run")
	first     = flag.Int("first", 0, "the first history's number per reading: a run split over several sittings goes on where the last stopped (its seeds are new)")
)

func TestMain(m *testing.M) {
	if os.Getenv(envWorker) != "" {
		os.Exit(workerMain())
	}
	flag.Parse()
	os.Exit(m.Run())
}
