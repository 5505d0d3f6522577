package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --output writes what standard output would have had, and nothing goes to
// standard output; a path that cannot be created fails before any work,
// naming the flag. Both commands that write reports take it.
func TestOutputFlag(t *testing.T) {
	dir := t.TempDir()
	crash := "../../testdata/crash/mf_rdata_kn.txt"
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"scan", []string{"scan", "--format", "sarif", "--fail-on", "never", "../../testdata/bin/mf_rdata.gcc.sys"}},
		{"correlate", []string{"correlate", "--format", "json", "--driver", "../../testdata/bin/mf_rdata.gcc.sys", crash}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, want, _ := runCLI(t, tc.args...)
			if want == "" || code == exitError {
				t.Fatalf("%v wrote nothing (exit %d)", tc.args, code)
			}
			for _, flag := range []string{"--output", "-o"} {
				path := filepath.Join(dir, tc.name+flag+".out")
				args := append([]string{tc.args[0], flag, path}, tc.args[1:]...)
				gotCode, stdout, stderr := runCLI(t, args...)
				if gotCode != code || stdout != "" {
					t.Errorf("%s %s: exit %d (want %d), standard output %q (want none); %s", tc.name, flag, gotCode, code, stdout, stderr)
				}
				if got := string(mustRead(t, path)); got != want {
					t.Errorf("%s %s: the file differs from standard output", tc.name, flag)
				}
			}
			bad := filepath.Join(dir, "missing", "x.out")
			args := append([]string{tc.args[0], "--output", bad}, tc.args[1:]...)
			if code, _, stderr := runCLI(t, args...); code != exitError || !strings.Contains(stderr, "--output") || !strings.Contains(stderr, bad) {
				t.Errorf("%s --output %s: exit %d, %q; want exit 2 naming the flag and the path", tc.name, bad, code, stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Error("a directory was made for --output")
	}
}

// The report replaces --output's file only once it is written: a scan can
// take as its baseline the file it replaces, a usage error leaves the
// previous report alone, correlate does not read its own earlier report as
// a crash text, and no temporary file is left behind.
func TestOutputReplacesOnlyWhenWritten(t *testing.T) {
	dir := t.TempDir()
	drv := "../../testdata/bin/mf_rdata.gcc.sys"
	base := filepath.Join(dir, "base.sarif")
	if code, _, stderr := runCLI(t, "scan", "--format", "sarif", "-o", base, drv); code != exitFindings {
		t.Fatalf("first scan: exit %d, %s", code, stderr)
	}
	first := mustRead(t, base)
	if code, _, stderr := runCLI(t, "scan", "--format", "sarif", "--baseline", base, "-o", base, drv); code != exitOK {
		t.Errorf("scan --baseline of its own --output: exit %d (want 0: every finding in the baseline), %s", code, stderr)
	}
	if len(mustRead(t, base)) == 0 {
		t.Error("the baseline scan left an empty report")
	}
	if code, _, _ := runCLI(t, "scan", "-j", "0", "-o", base, drv); code != exitError {
		t.Errorf("scan -j 0: exit %d, want 2", code)
	}
	if got := mustRead(t, base); len(got) == 0 || len(got) < len(first)/2 {
		t.Errorf("a usage error replaced the previous report (%d bytes, was %d)", len(got), len(first))
	}

	crashes := filepath.Join(dir, "crashes")
	if err := os.Mkdir(crashes, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crashes, "kn.txt"), mustRead(t, "../../testdata/crash/mf_rdata_kn.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(crashes, "report.txt")
	for run := 1; run <= 2; run++ {
		if code, stdout, stderr := runCLI(t, "correlate", "--driver", drv, "-o", report, crashes); code != exitOK || stdout != "" {
			t.Errorf("correlate run %d with -o inside its crash directory: exit %d, %q, %s", run, code, stdout, stderr)
		}
	}
	for _, d := range []string{dir, crashes} {
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Errorf("temporary file %s left in %s", e.Name(), d)
			}
		}
	}
}
