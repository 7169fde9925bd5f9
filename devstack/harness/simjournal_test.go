package harness

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/internal/enterprises"
)

func TestReadJournalStopsAtATornLineAndRefusesAForeignFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SimJournalFile)
	good := `{"version":1,"seed":9}
{"method":"POST","path":"/__sim/collect","body":"e30="}
{"method":"POST","path":"/__sim/coll`
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	entries, hdr, err := readJournal(path)
	if err != nil {
		t.Fatalf("readJournal: %v", err)
	}
	if hdr.Seed != 9 || len(entries) != 1 || string(entries[0].Body) != "{}" {
		t.Fatalf("got seed %d, %d entries %+v; want seed 9 and the one complete entry", hdr.Seed, len(entries), entries)
	}

	if err := os.WriteFile(path, []byte("not a journal\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readJournal(path); err == nil || !strings.Contains(err.Error(), "delete the file") {
		t.Fatalf("foreign file: err = %v, want a clear error", err)
	}
}

func TestJournaledRequests(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"POST", "/kapi/app/rim/message", true},
		{"POST", "/rim/fpzs/import", true},
		{"POST", "/__sim/collect", true},
		{"POST", "/__sim/faults", false},
		{"POST", "/__sim/clock", false},
		{"GET", "/__sim/bills/OA/1", false},
		{"GET", "/msgwatch/", false},
	} {
		r := httptestRequest(c.method, c.path)
		if got := journaled(r); got != c.want {
			t.Errorf("journaled(%s %s) = %v, want %v", c.method, c.path, got, c.want)
		}
	}
}

func httptestRequest(method, path string) *http.Request {
	return httptest.NewRequest(method, path, nil)
}

// A restart long after the first start rebuilds the same cloud: the replay runs each request at
// the time the simulator took it, so a standard token request (its timestamp within OAuth2Skew
// of the simulator's clock) is taken again, and every token after it stays the same. Replayed at
// the restart's own time, it was refused, and the cloud lost every bill saved after it.
func TestJournalReplaysEachRequestAtItsOwnTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), SimJournalFile)
	opts := simulator.Options{Seed: 3, Tenants: DemoTenants("http://127.0.0.1:9/api")}
	sim, j, _, err := openSimJournal(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(j)
	// Loading the demo registry logs in to both enterprises' image systems (their scanning points).
	if _, err := enterprises.New(DemoEnterprises(srv.URL, sim.Options()), enterprises.Options{}); err != nil {
		t.Fatal(err)
	}
	issued := sim.Stats().TokensIssued
	srv.Close()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	sim.Close()
	if issued.Standard == 0 {
		t.Fatalf("no standard token was issued: %+v", issued)
	}

	later := opts
	later.Now = func() time.Time { return time.Now().Add(time.Hour) } // the restart, an hour on
	again, j2, _, err := openSimJournal(path, later)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	defer j2.Close()
	if got := again.Stats().TokensIssued; got != issued {
		t.Fatalf("the replay issued tokens %+v, the first run %+v", got, issued)
	}
}
