package release

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReadStamp reads the stamp of a repository made for the test.
func TestReadStamp(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	gitDo := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
			"GIT_AUTHOR_DATE=2026-12-03T13:00:00Z", "GIT_COMMITTER_DATE=2026-12-03T13:00:00Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitDo("init", "-q")
	writeFile(t, filepath.Join(dir, "go.mod"), "module x\n")
	gitDo("add", "go.mod")
	gitDo("commit", "-q", "-m", "one")
	head := gitDo("rev-parse", "HEAD")
	ctx := context.Background()
	committed := time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)

	for _, tc := range []struct {
		name     string
		setup    func()
		snapshot bool
		epoch    string
		want     Stamp
		err      string
	}{
		{name: "snapshot before any tag", snapshot: true, want: Stamp{"v0.0.0-SNAPSHOT-" + head[:7], head, committed}},
		{name: "SOURCE_DATE_EPOCH wins", snapshot: true, epoch: "1700000000",
			want: Stamp{"v0.0.0-SNAPSHOT-" + head[:7], head, time.Unix(1700000000, 0).UTC()}},
		{name: "bad SOURCE_DATE_EPOCH", snapshot: true, epoch: "yesterday", err: `SOURCE_DATE_EPOCH "yesterday"`},
		{name: "release without a tag", err: "HEAD has no tag"},
		{name: "release of a tag", setup: func() { gitDo("tag", "v0.3.0") }, want: Stamp{"v0.3.0", head, committed}},
		{name: "snapshot after a tag", snapshot: true, want: Stamp{"v0.3.0-SNAPSHOT-" + head[:7], head, committed}},
		{name: "release of a dirty tree", setup: func() { writeFile(t, filepath.Join(dir, "go.mod"), "module y\n") },
			err: "uncommitted changes"},
	} {
		if tc.setup != nil {
			tc.setup()
		}
		got, err := ReadStamp(ctx, dir, tc.snapshot, tc.epoch)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case got.Version != tc.want.Version || got.Commit != tc.want.Commit || !got.Time.Equal(tc.want.Time):
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if _, err := ReadStamp(ctx, t.TempDir(), true, ""); err == nil {
		t.Error("a directory that is no repository gave a stamp")
	}
}

func TestLdflags(t *testing.T) {
	s := Stamp{"v0.3.0", "1a2b3c4d", time.Date(2026, 12, 3, 13, 0, 0, 0, time.FixedZone("CET", 3600))}
	want := "-s -w -X main.version=v0.3.0 -X main.commit=1a2b3c4d -X main.date=2026-12-03T12:00:00Z"
	if got := s.ldflags(); got != want {
		t.Errorf("ldflags %q, want %q", got, want)
	}
}

func TestBuildRefusesAFullDirectory(t *testing.T) {
	out := t.TempDir()
	writeFile(t, filepath.Join(out, "old.zip"), "x")
	_, err := Build(context.Background(), Options{ModuleDir: ".", Out: out})
	if err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("Build into a full directory: %v", err)
	}
}
