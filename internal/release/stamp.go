package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Stamp is what a release build links into the binary.
type Stamp struct {
	Version string    // v0.3.0, or v0.3.0-SNAPSHOT-1a2b3c4
	Commit  string    // the full hash
	Time    time.Time // the commit's, or SOURCE_DATE_EPOCH: the archives' mtime and main.date
}

// SnapshotVersion is GoReleaser's snapshot version for a commit:
// "<last tag>-SNAPSHOT-<short commit>", with v0.0.0 before the first tag.
func SnapshotVersion(lastTag, commit string) string {
	if lastTag == "" {
		lastTag = "v0.0.0"
	}
	if len(commit) > 7 {
		commit = commit[:7]
	}
	return lastTag + "-SNAPSHOT-" + commit
}

// ldflags strips the symbol table and DWARF (as GoReleaser's default does)
// and sets the variables of cmd/drvhazard's version.go.
func (s Stamp) ldflags() string {
	return fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s -X main.date=%s",
		s.Version, s.Commit, s.Time.UTC().Format(time.RFC3339))
}

// git runs git in dir and returns its output without the final newline.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// errNotTagged is returned by ReadStamp for a release of a commit that
// no tag names.
var errNotTagged = errors.New("HEAD has no tag; tag the release, or build a --snapshot")

// ReadStamp reads the stamp of the checkout at dir: a release must be a
// clean checkout of a tagged commit; a snapshot is any commit, versioned
// after the last tag before it. sourceDateEpoch, when not empty, is
// SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/)
// and replaces the commit's time.
func ReadStamp(ctx context.Context, dir string, snapshot bool, sourceDateEpoch string) (Stamp, error) {
	var s Stamp
	var err error
	if s.Commit, err = git(ctx, dir, "rev-parse", "HEAD"); err != nil {
		return s, err
	}
	epoch := sourceDateEpoch
	if epoch == "" {
		if epoch, err = git(ctx, dir, "log", "-1", "--format=%ct"); err != nil {
			return s, err
		}
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || sec < 0 {
		return s, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a count of seconds since 1970", epoch)
	}
	s.Time = time.Unix(sec, 0).UTC()
	if snapshot {
		// No tag yet is not an error: the snapshot counts from v0.0.0.
		tag, _ := git(ctx, dir, "describe", "--tags", "--abbrev=0")
		s.Version = SnapshotVersion(tag, s.Commit)
		return s, nil
	}
	if s.Version, err = git(ctx, dir, "describe", "--tags", "--exact-match", "HEAD"); err != nil {
		return s, errNotTagged
	}
	if dirty, err := git(ctx, dir, "status", "--porcelain"); err != nil {
		return s, err
	} else if dirty != "" {
		return s, fmt.Errorf("the checkout has uncommitted changes; a release is built from %s as tagged", s.Version)
	}
	return s, nil
}
