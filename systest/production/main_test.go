package production

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rimflow-production-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	programs.dir = dir // built on first use: a run without PostgreSQL builds nothing
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
