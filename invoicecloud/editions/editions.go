// Package editions is the registry of Invoice Cloud's editions: name → the edition's reader of its
// settings block → its client. The enterprises file names an enterprise's edition by the key of
// its block; the registry finds the edition here and nowhere else knows the editions apart.
package editions

import (
	"fmt"
	"strings"
	"sync"

	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
	"rimflow/invoicecloud/ultimate"
)

// builtin are the editions rimflow ships, in the order errors list them. A new edition is one
// more entry here (docs/editions.md).
var builtin = []invoicecloud.Edition{
	ultimate.Edition,
	standard.Edition,
}

var (
	mu     sync.RWMutex
	byName = map[string]invoicecloud.Edition{}
	names  []string
)

func init() {
	for _, e := range builtin {
		if err := Register(e); err != nil {
			panic(err)
		}
	}
}

// Register adds an edition: its name (lower-case) must be new.
func Register(e invoicecloud.Edition) error {
	mu.Lock()
	defer mu.Unlock()
	switch {
	case e.Name == "" || e.Name != strings.ToLower(e.Name) || e.NewBlock == nil:
		return fmt.Errorf("editions: an edition needs a lower-case name and NewBlock, got %q", e.Name)
	case byName[e.Name].Name != "":
		return fmt.Errorf("editions: %q is registered already", e.Name)
	}
	byName[e.Name] = e
	names = append(names, e.Name)
	return nil
}

// Lookup is the edition called name.
func Lookup(name string) (invoicecloud.Edition, bool) {
	mu.RLock()
	defer mu.RUnlock()
	e, ok := byName[name]
	return e, ok
}

// Names are the registered editions' names, in registration order.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return append([]string(nil), names...)
}
