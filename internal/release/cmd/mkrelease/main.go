// Command mkrelease builds drvhazard's release archives and checks them:
//
//	go run ./internal/release/cmd/mkrelease --snapshot --out dist
//	go run ./internal/release/cmd/mkrelease --verify dist
//
// Without --snapshot, HEAD must be a tagged commit in a clean checkout and
// the tag is the version. See package release.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/drvhazard/drvhazard/internal/release"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("mkrelease", flag.ContinueOnError)
	fs.SetOutput(stderr)
	snapshot := fs.Bool("snapshot", false, "build any commit, versioned <last tag>-SNAPSHOT-<commit>")
	out := fs.String("out", "dist", "`DIR` for the archives and checksums.txt; must be absent or empty")
	verify := fs.String("verify", "", "check the release in `DIR` instead of building one")
	targets := fs.String("targets", "", "comma-separated GOOS/GOARCH `LIST` (default all)")
	module := fs.String("C", ".", "the module's `DIR`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mkrelease: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ts := release.Targets
	if *targets != "" {
		var err error
		if ts, err = release.ParseTargets(*targets); err != nil {
			fmt.Fprintf(stderr, "mkrelease: --targets: %v\n", err)
			return 2
		}
	}
	if *verify != "" {
		if err := release.Verify(*verify, ts); err != nil {
			fmt.Fprintf(stderr, "mkrelease: %s: %v\n", *verify, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: archives and %s check out\n", *verify, release.ChecksumsFile)
		return 0
	}
	stamp, err := release.ReadStamp(ctx, *module, *snapshot, getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		fmt.Fprintf(stderr, "mkrelease: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "building %s (commit %.7s, %s)\n", stamp.Version, stamp.Commit, stamp.Time.Format(time.RFC3339))
	start := time.Now()
	names, err := release.Build(ctx, release.Options{ModuleDir: *module, Out: *out, Stamp: stamp, Targets: ts, Log: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "mkrelease: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d files in %s in %s\n", len(names), *out, time.Since(start).Round(time.Second))
	return 0
}
