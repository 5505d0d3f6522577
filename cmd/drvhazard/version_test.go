package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestReadVersion(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const hash = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
	for _, tc := range []struct {
		name  string
		stamp linkStamp
		bi    *debug.BuildInfo
		want  string
		bare  string
	}{
		{"release build", linkStamp{"v0.3.0", hash, "2026-12-03T13:00:00Z"},
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			"v0.3.0 (commit 1a2b3c4 of 2026-12-03T13:00:00Z)", "v0.3.0"},
		{"snapshot, stamp wins over vcs settings", linkStamp{"v0.0.0-SNAPSHOT-1a2b3c4", hash, "2026-12-03T13:00:00Z"},
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs.revision", "ffffffffff", "vcs.modified", "true")},
			"v0.0.0-SNAPSHOT-1a2b3c4 (commit 1a2b3c4 of 2026-12-03T13:00:00Z)", "v0.0.0-SNAPSHOT-1a2b3c4"},
		{"go install @v0.3.0", linkStamp{}, &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}},
			"v0.3.0", "v0.3.0"},
		{"go install @commit", linkStamp{}, &debug.BuildInfo{Main: debug.Module{Version: "v0.3.1-0.20261203130000-1a2b3c4d5e6f"}},
			"v0.3.1-0.20261203130000-1a2b3c4d5e6f", "v0.3.1-0.20261203130000-1a2b3c4d5e6f"},
		{"checkout build with vcs stamping", linkStamp{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs", "git", "vcs.revision", hash, "vcs.time", "2026-12-03T13:00:00Z", "vcs.modified", "true")},
			"devel (commit 1a2b3c4 of 2026-12-03T13:00:00Z, modified)", "devel"},
		{"checkout build, clean", linkStamp{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", hash, "vcs.modified", "false")},
			"devel (commit 1a2b3c4)", "devel"},
		{"checkout build, -buildvcs=false", linkStamp{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			"devel", "devel"},
		{"no build info", linkStamp{}, nil, "devel", "devel"},
		{"empty module version", linkStamp{}, &debug.BuildInfo{}, "devel", "devel"},
		{"short revision kept whole", linkStamp{}, &debug.BuildInfo{Settings: settings("vcs.revision", "abc")},
			"devel (commit abc)", "devel"},
	} {
		v := readVersion(tc.stamp, tc.bi)
		if got := v.String(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if v.version != tc.bare {
			t.Errorf("%s: bare version %q, want %q", tc.name, v.version, tc.bare)
		}
	}
}

// TestVersionCommand: the command prints the name and the version line,
// and the reports carry the bare version.
func TestVersionCommand(t *testing.T) {
	code, out, errs := runCLI(t, "version")
	want := "drvhazard " + currentVersion().String() + "\n"
	if code != exitOK || out != want || errs != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errs, want)
	}
	if strings.Contains(toolVersion(), " ") {
		t.Errorf("toolVersion %q has a space; reports want the bare version", toolVersion())
	}
}
