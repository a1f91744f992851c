package main

import (
	"runtime/debug"
)

// version is set at build time (the Makefile passes git describe); a
// build without it reports the module version or the source revision.
var version string

// Version is this binary's version: the one set at build time, the
// module's, or "devel-<revision>" (with "-dirty" for uncommitted changes)
// for a build from a source tree.
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := "devel"
	if rev != "" {
		v += "-" + rev
	}
	if dirty {
		v += "-dirty"
	}
	return v
}
