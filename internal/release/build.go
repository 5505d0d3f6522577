package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Program is the name of the released command, and MainPackage its import
// path relative to the module root.
const (
	Program     = "drvhazard"
	MainPackage = "./cmd/drvhazard"
)

// Docs are the files packed beside the binary, when the module has them.
var Docs = []string{"README.md", "LICENSE"}

// Options say what Build builds.
type Options struct {
	ModuleDir string   // the module root (holds go.mod, README.md)
	Out       string   // the directory for the archives; absent or empty
	Stamp     Stamp    // version, commit, time
	Targets   []Target // default Targets
	Log       io.Writer
}

// Build cross-compiles the program for each target, packs each binary with
// the docs into its archive in opt.Out and writes the checksum list. It
// returns the names of the files written.
func Build(ctx context.Context, opt Options) ([]string, error) {
	if opt.Targets == nil {
		opt.Targets = Targets
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	if err := emptyDir(opt.Out); err != nil {
		return nil, err
	}
	docs, err := readDocs(opt.ModuleDir)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "drvhazard-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	var names []string
	for _, t := range opt.Targets {
		start := time.Now()
		bin := filepath.Join(work, t.GOOS+"_"+t.GOARCH, t.binary())
		if err := goBuild(ctx, opt.ModuleDir, t, opt.Stamp, bin); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		entries := append([]Entry{{Name: t.binary(), Mode: 0o755, Data: data}}, docs...)
		name := t.ArchiveName(opt.Stamp.Version)
		if err := writeArchive(filepath.Join(opt.Out, name), t, entries, opt.Stamp.Time); err != nil {
			return nil, err
		}
		names = append(names, name)
		fmt.Fprintf(opt.Log, "%-15s %s (%s)\n", t, name, time.Since(start).Round(100*time.Millisecond))
	}
	if err := WriteChecksums(opt.Out, names); err != nil {
		return nil, err
	}
	return append(names, ChecksumsFile), nil
}

// emptyDir makes dir if it is absent and refuses one that holds files:
// archives of an earlier build must not be listed with this one's.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return err
	case len(ents) > 0:
		return fmt.Errorf("%s is not empty; give a new or empty directory", dir)
	}
	return nil
}

// readDocs reads those of Docs the module has.
func readDocs(moduleDir string) ([]Entry, error) {
	var docs []Entry
	for _, name := range Docs {
		data, err := os.ReadFile(filepath.Join(moduleDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, Entry{Name: name, Mode: 0o644, Data: data})
	}
	return docs, nil
}

// goBuild builds the program for t. No cgo, so cross-compiling needs no C
// toolchain and the binary runs without one; -trimpath keeps the builder's
// paths out of it; -buildvcs=false because the stamp already says which
// commit, and vcs.modified would differ between a CI clone and a work tree.
func goBuild(ctx context.Context, moduleDir string, t Target, s Stamp, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", s.ldflags(),
		"-o", out, MainPackage)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.GOOS, "GOARCH="+t.GOARCH)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errb, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s: %w\n%s", t, err, strings.TrimSpace(errb.String()))
	}
	return nil
}

// writeArchive writes t's archive at path: a zip for Windows, where
// Explorer opens it, a tar.gz elsewhere, where tar keeps the mode.
func writeArchive(path string, t Target, entries []Entry, mtime time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if t.GOOS == "windows" {
		err = WriteZip(f, entries, mtime)
	} else {
		err = WriteTarGz(f, entries, mtime)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
