package release

import (
	"fmt"
	"strings"
)

// Target is a platform to build for.
type Target struct{ GOOS, GOARCH string }

// Targets are the platforms of a release: Windows on both architectures
// drivers are built on, Linux for CI runners, macOS on Apple silicon.
var Targets = []Target{
	{"windows", "amd64"},
	{"windows", "arm64"},
	{"linux", "amd64"},
	{"linux", "arm64"},
	{"darwin", "arm64"},
}

func (t Target) String() string { return t.GOOS + "/" + t.GOARCH }

// ParseTargets reads a comma-separated list of GOOS/GOARCH pairs, each one
// of Targets.
func ParseTargets(s string) ([]Target, error) {
	var out []Target
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		found := false
		for _, t := range Targets {
			if t.String() == f {
				out, found = append(out, t), true
			}
		}
		if !found {
			return nil, fmt.Errorf("target %q is not one of %s", f, targetList())
		}
	}
	return out, nil
}

func targetList() string {
	var names []string
	for _, t := range Targets {
		names = append(names, t.String())
	}
	return strings.Join(names, ", ")
}

// binary is the file name of the program on the target.
func (t Target) binary() string {
	if t.GOOS == "windows" {
		return Program + ".exe"
	}
	return Program
}

// ArchiveName is GoReleaser's default name for the target's archive:
// drvhazard_0.3.0_windows_amd64.zip (the version without its "v").
func (t Target) ArchiveName(version string) string {
	ext := ".tar.gz"
	if t.GOOS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("%s_%s_%s_%s%s", Program, strings.TrimPrefix(version, "v"), t.GOOS, t.GOARCH, ext)
}

// parseArchiveName is the inverse of ArchiveName: the target an archive
// is for, whether it is a zip, and whether the name is an archive's at all.
func parseArchiveName(name string) (Target, bool, bool) {
	var zip bool
	switch {
	case strings.HasSuffix(name, ".zip"):
		name, zip = strings.TrimSuffix(name, ".zip"), true
	case strings.HasSuffix(name, ".tar.gz"):
		name = strings.TrimSuffix(name, ".tar.gz")
	default:
		return Target{}, false, false
	}
	for _, t := range Targets {
		if strings.HasPrefix(name, Program+"_") && strings.HasSuffix(name, "_"+t.GOOS+"_"+t.GOARCH) {
			return t, zip, zip == (t.GOOS == "windows")
		}
	}
	return Target{}, false, false
}
