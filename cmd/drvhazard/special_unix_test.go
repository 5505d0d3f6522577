//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestScanSpecialFiles: a broken link or a named pipe where a driver was
// expected is reported with what it is, the scan goes on (a pipe is never
// opened: that would block), and the exit status is 2. A link to a driver
// is followed; a link to a directory is not.
func TestScanSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "good.sys"), mustRead(t, "../../testdata/bin/mf_stack.clang.sys"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"nowhere.sys", "broken.sys"}, {"good.sys", "alias.sys"}, {".", "loop.sys"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.sys"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "scan", "--format", "json", dir)
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	var doc scanDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	var got []string
	for _, f := range doc.Files {
		state := "ok"
		if f.Error != nil {
			state = *f.Error
		}
		got = append(got, filepath.Base(f.Path)+": "+state)
	}
	want := "alias.sys: ok|broken.sys: broken symbolic link (to nowhere.sys)|good.sys: ok|pipe.sys: not a regular file (a named pipe)"
	if strings.Join(got, "|") != want {
		t.Errorf("files\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	if !strings.Contains(errs, filepath.Join(dir, "broken.sys")+": broken symbolic link") ||
		!strings.Contains(errs, filepath.Join(dir, "pipe.sys")+": not a regular file (a named pipe)") {
		t.Errorf("stderr:\n%s", errs)
	}
	// Named on the command line, the same.
	for name, want := range map[string]string{"pipe.sys": "not a regular file (a named pipe)", "broken.sys": "broken symbolic link"} {
		code, _, errs := runCLI(t, "scan", filepath.Join(dir, name))
		if code != exitError || !strings.Contains(errs, want) {
			t.Errorf("scan %s: exit %d, stderr %q", name, code, errs)
		}
	}
	// A directory given as a link is searched.
	link := filepath.Join(t.TempDir(), "drivers")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := runCLI(t, "scan", "--format", "json", link); !strings.Contains(out, filepath.Join(link, "good.sys")) {
		t.Errorf("scan of a linked directory missed %s", filepath.Join(link, "good.sys"))
	}
}
