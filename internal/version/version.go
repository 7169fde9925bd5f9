// Package version names the build a program runs: the release version set at link time, or the
// source revision Go stamps into the binary. Workers declare it as their build ID, so ops can see
// which release runs each bill (docs/releases.md).
package version

import (
	"runtime/debug"
	"strings"
)

// Release is the release version, set when a release is built:
//
//	go build -ldflags "-X rimflow/internal/version.Release=2026.12.1" ./worker
//
// Empty in a development build: BuildID falls back to the source revision.
var Release string

// Info is what a binary knows about its own build.
type Info struct {
	Release   string `json:"release,omitempty"`  // the link-time release version
	Revision  string `json:"revision,omitempty"` // vcs.revision (the commit), when built from a checkout
	Time      string `json:"time,omitempty"`     // vcs.time (the commit's time)
	Modified  bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	GoVersion string `json:"goVersion"`
	BuildID   string `json:"buildId"`
}

// Get reads the build's Info.
func Get() Info {
	info := Info{Release: Release}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info.GoVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	info.BuildID = buildID(info)
	return info
}

// BuildID is the build's identity as workers declare it: the release version, else the revision's
// first 12 hex digits ("+dirty" when the tree had changes), else "devel" (go run, go test).
func BuildID() string { return Get().BuildID }

func buildID(i Info) string {
	if r := strings.TrimSpace(i.Release); r != "" {
		return r
	}
	if i.Revision == "" {
		return "devel"
	}
	id := i.Revision
	if len(id) > 12 {
		id = id[:12]
	}
	if i.Modified {
		id += "+dirty"
	}
	return id
}
