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
