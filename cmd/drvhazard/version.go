package main

import (
	"runtime/debug"
	"strings"
)

// Set at link time by the release build (internal/release):
// -X main.version=v1.2.3 -X main.commit=<full hash> -X main.date=<RFC 3339>.
// date is the commit's time, not the build's, so that a rebuild of the same
// commit gives the same bytes.
var (
	version = ""
	commit  = ""
	date    = ""
)

// buildVersion is what a binary knows of where it came from.
type buildVersion struct {
	version  string // a release tag, a module version, or "devel"
	commit   string // abbreviated; "" when unknown
	date     string // the commit's time; "" when unknown
	modified bool   // built from a work tree with uncommitted changes
}

// linkStamp is the values of the link-time variables.
type linkStamp struct{ version, commit, date string }

// readVersion decides the version from the link-time stamp of a release
// build first, then from the build info: the module version that `go
// install module@vX` records, and the vcs.* settings that `go build` in a
// checkout records (when -buildvcs is on). bi may be nil.
func readVersion(stamp linkStamp, bi *debug.BuildInfo) buildVersion {
	v := buildVersion{version: "devel"}
	if bi != nil {
		if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
			v.version = mv
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.commit = s.Value
			case "vcs.time":
				v.date = s.Value
			case "vcs.modified":
				v.modified = s.Value == "true"
			}
		}
	}
	if stamp.version != "" {
		// The release build's own words win, all of them: a stamp names
		// the commit it was cut from even where the build info does not.
		v = buildVersion{version: stamp.version, commit: stamp.commit, date: stamp.date}
	}
	v.commit = shortCommit(v.commit)
	return v
}

// shortCommit abbreviates a hash as git log --oneline does.
func shortCommit(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

// String is the line `drvhazard version` prints after the name:
// "v0.3.0 (commit 1a2b3c4 of 2026-12-03T13:00:00Z)", "v0.3.0",
// "devel (commit abc1234, modified)".
func (v buildVersion) String() string {
	var about []string
	switch {
	case v.commit != "" && v.date != "":
		about = append(about, "commit "+v.commit+" of "+v.date)
	case v.commit != "":
		about = append(about, "commit "+v.commit)
	case v.date != "":
		about = append(about, "of "+v.date)
	}
	if v.modified {
		about = append(about, "modified")
	}
	if len(about) == 0 {
		return v.version
	}
	return v.version + " (" + strings.Join(about, ", ") + ")"
}

// currentVersion is this binary's version.
func currentVersion() buildVersion {
	bi, _ := debug.ReadBuildInfo()
	return readVersion(linkStamp{version, commit, date}, bi)
}

// toolVersion is the bare version the JSON and SARIF reports name.
func toolVersion() string { return currentVersion().version }
