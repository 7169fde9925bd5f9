// Package zpassdemo is a test package for the skips test that skips nothing; its name sorts after
// skipdemo's, so its result prints after the skip happened.
package zpassdemo

import "testing"

func TestRuns(t *testing.T) {}
