package devserver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/schema/sqlite"
)

// prepareDatabase creates the schema when the file is new (never on restart: that would fail
// on existing tables, and the file holds every bill) and makes sure the namespace exists.
// It reports whether the schema was created now.
func prepareDatabase(cfg *config.SQL, namespace string, searchAttributes map[string]enumspb.IndexedValueType) (bool, error) {
	created := false
	st, err := os.Stat(cfg.DatabaseName)
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && st.Size() == 0):
		if err := sqlite.SetupSchema(cfg); err != nil {
			// Leave no half-made database behind: the next start would take it for a good one.
			removeDatabaseFiles(cfg.DatabaseName)
			return false, fmt.Errorf("create the Temporal schema in %s: %w", cfg.DatabaseName, err)
		}
		created = true
	case err != nil:
		return false, fmt.Errorf("data file %s: %w", cfg.DatabaseName, err)
	case st.IsDir():
		return false, fmt.Errorf("data file %s is a directory", cfg.DatabaseName)
	}

	// Registering the namespace in the file before the server starts means it is in the
	// server's namespace cache from the first request. On a fresh file the search attributes
	// go in with it, so the first bill can upsert them; the operator service call after
	// start adds any that an older data dir lacks. An existing namespace is left as is.
	ns, err := sqlite.NewNamespaceConfig(clusterName, namespace, false, searchAttributes)
	if err != nil {
		return created, fmt.Errorf("namespace %q: %w", namespace, err)
	}
	if err := sqlite.CreateNamespaces(cfg, ns); err != nil {
		return created, fmt.Errorf("register namespace %q: %w", namespace, err)
	}
	return created, nil
}

func removeDatabaseFiles(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		_ = os.Remove(p)
	}
}
