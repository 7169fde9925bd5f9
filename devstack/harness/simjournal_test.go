package harness

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
