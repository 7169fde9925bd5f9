// Package skipdemo is a test package for the skips test: one test runs, one is skipped with
// skips.Skip.
package skipdemo

import (
	"testing"

	"rimflow/systest/skips"
)

func TestRuns(t *testing.T) {}

func TestNeedsAThing(t *testing.T) {
	skips.Skip(t, "no thing here", "install the thing")
}
