package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// correlateArgs correlates the crash texts written for the seed fixture.
func correlateArgs(format string) []string {
	return []string{"correlate", "--format", format, "--source-root", "../..", "../../testdata/crash",
		"--driver", "../../testdata/bin/mf_rdata.gcc.sys"}
}

// TestGolden pins the complete output of a scan, byte for byte. After a
// deliberate change, run `go test ./cmd/drvhazard -run TestGolden -update`
// and review the diff of testdata/golden before committing it.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"scan_mf_rdata.gcc.json", []string{"scan", "--format", "json", "../../testdata/bin/mf_rdata.gcc.sys"}},
		{"scan_mf_rdata.gcc.txt", []string{"scan", "--functions", "../../testdata/bin/mf_rdata.gcc.sys"}},
		{"scan_mf_rdata.gcc.sarif", []string{"scan", "--format", "sarif", "--source-root", "../..", "../../testdata/bin/mf_rdata.gcc.sys"}},
		{"scan_mf_rdata.gcc.md", []string{"scan", "--format", "markdown", "../../testdata/bin/mf_rdata.gcc.sys"}},
		// The clang image has a PDB next to it: names and source lines.
		{"scan_mf_rdata.clang.txt", []string{"scan", "../../testdata/bin/mf_rdata.clang.sys"}},
		{"scan_mf_rdata.clang.json", []string{"scan", "--format", "json", "../../testdata/bin/mf_rdata.clang.sys"}},
		{"scan_mf_rdata.clang.sarif", []string{"scan", "--format", "sarif", "--source-root", "../..", "../../testdata/bin/mf_rdata.clang.sys"}},
		{"scan_mf_rdata.clang.md", []string{"scan", "--format", "markdown", "../../testdata/bin/mf_rdata.clang.sys"}},
		// A callback that reaches two sinks: one finding with two traces.
		{"scan_mf_hazards.gcc.json", []string{"scan", "--format", "json", "../../testdata/bin/mf_hazards.gcc.sys"}},
		{"scan_mf_hazards.gcc.txt", []string{"scan", "../../testdata/bin/mf_hazards.gcc.sys"}},
		{"scan_mf_hazards.gcc.sarif", []string{"scan", "--format", "sarif", "--source-root", "../..", "../../testdata/bin/mf_hazards.gcc.sys"}},
		{"scan_mf_hazards.gcc.md", []string{"scan", "--format", "markdown", "../../testdata/bin/mf_hazards.gcc.sys"}},
		{"correlate_mf_rdata.gcc.json", correlateArgs("json")},
		{"correlate_mf_rdata.gcc.txt", correlateArgs("table")},
		{"correlate_mf_rdata.gcc.md", correlateArgs("markdown")},
		// One crash: every match carries its whole stack.
		{"correlate_mf_rdata.gcc.sarif", []string{"correlate", "--format", "sarif", "--source-root", "../..",
			"../../testdata/crash/mf_rdata_analyze.txt", "--driver", "../../testdata/bin/mf_rdata.gcc.sys"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			_, out, _ := runCLI(t, tc.args...)
			path := filepath.Join("../../testdata/golden", tc.golden)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s; run with -update and review the diff", path)
			}
		})
	}
}
