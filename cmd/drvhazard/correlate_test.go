package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorrelateAsANewUser: help, mistakes and bad input each get a clear
// message and a sensible exit code.
func TestCorrelateAsANewUser(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.txt")
	if err := os.WriteFile(garbage, []byte("hello, this is not a crash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	crash := "../../testdata/crash/mf_rdata_kn.txt"
	drv := "../../testdata/bin/mf_rdata.gcc.sys"
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{[]string{"correlate", "--help"}, exitOK, "Usage: drvhazard correlate", ""},
		{[]string{"help", "correlate"}, exitOK, "--driver", ""},
		{[]string{"correlate"}, exitError, "", "no CRASH file or DIR given"},
		{[]string{"correlate", "--frobnicate", crash}, exitError, "", "flag provided but not defined: -frobnicate"},
		{[]string{"correlate", "--format", "xml", crash}, exitError, "", `unknown format "xml"`},
		{[]string{"correlate", crash, "--driver", filepath.Join(dir, "missing.sys")}, exitError, "", "missing.sys: no such file"},
		{[]string{"correlate", garbage}, exitError, "garbage.txt", "garbage.txt"},
		{[]string{"correlate", empty}, exitError, "", "no files matching *.txt or *.log or *.dmp found"},
		{[]string{"correlate", crash, "--driver", drv}, exitOK, "match MF2001 error mf_rdata.gcc.sys", ""},
		// Without drivers the crash is still read and recognised.
		{[]string{"correlate", crash}, exitOK, "signature paging-recursion", ""},
	} {
		code, out, errs := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errs, tc.err) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, %q in stdout, %q in stderr",
				tc.args, code, clipText(out), errs, tc.code, tc.out, tc.err)
		}
	}
}

func clipText(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// TestCorrelateRealDumps: the real x64 triage dump gives its bugcheck and
// faulting module; the ARM64 one is refused, and the run goes on.
func TestCorrelateRealDumps(t *testing.T) {
	x64 := "../../../shared/dumps/triage_x64_amdppm_0x1000007e.dmp"
	arm := "../../../shared/dumps/triage_arm64.dmp"
	if _, err := os.Stat(x64); err != nil {
		t.Skip("../shared/dumps is absent: the real dumps are read in place, never copied")
	}
	code, out, errs := runCLI(t, "correlate", "--format", "json", x64, arm)
	if code != exitError || !strings.Contains(errs, "ARM64") {
		t.Errorf("exit %d, stderr %q: want 2 and the ARM64 dump refused", code, errs)
	}
	var doc struct {
		Crashes []struct {
			Bugcheck string
			Frames   []struct {
				Module string
				Offset string
			}
			Modules []struct{ Name string }
		}
		Errors []struct{ Source, Error string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Crashes) != 1 || doc.Crashes[0].Bugcheck != "0x1000007E" {
		t.Fatalf("crashes %+v, want one with bugcheck 0x1000007E", doc.Crashes)
	}
	found := false
	for _, f := range doc.Crashes[0].Frames {
		if strings.EqualFold(f.Module, "amdppm") && f.Offset == "0x334c" {
			found = true
		}
	}
	if !found {
		t.Errorf("no frame at amdppm+0x334c in %+v", doc.Crashes[0].Frames)
	}
	if n := len(doc.Crashes[0].Modules); n != 151 {
		t.Errorf("%d modules, want 151", n)
	}
	if len(doc.Errors) != 1 || !strings.Contains(doc.Errors[0].Error, "ARM64") {
		t.Errorf("errors %+v, want the ARM64 refusal", doc.Errors)
	}
}

// TestCorrelateNamesFramesFromPDB: frames without symbols (mod+0x...) in a
// driver whose PDB is found are named from it.
func TestCorrelateNamesFramesFromPDB(t *testing.T) {
	crash := filepath.Join(t.TempDir(), "crash.txt")
	// ProcessXid's call to PsLookupProcessByProcessId is at 0x101b and
	// returns to 0x1021; PreRead's call to ProcessXid returns to 0x10b0.
	text := "0: kd> kn\n # Child-SP          RetAddr               Call Site\n" +
		"00 ffffd000`2a0c7330 fffff803`1e001021     nt!PsLookupProcessByProcessId+0x4b\n" +
		"01 ffffd000`2a0c7490 fffff803`1e0010b0     mf_rdata_clang+0x1021\n" +
		"02 ffffd000`2a0c74f0 fffff803`1c804da2     mf_rdata_clang+0x10b0\n"
	if err := os.WriteFile(crash, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, errs := runCLI(t, "correlate", "--format", "json", crash, "--driver", "../../testdata/bin/mf_rdata.clang.sys")
	var doc struct {
		Crashes []struct {
			Frames []struct {
				Function *struct{ Func struct{ Name *string } }
			}
			Matches []struct {
				Rule     string
				Callback struct{ Name *string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Crashes) != 1 {
		t.Fatalf("%v: %s %s", err, out, errs)
	}
	c := doc.Crashes[0]
	var names []string
	for _, f := range c.Frames {
		if f.Function != nil && f.Function.Func.Name != nil {
			names = append(names, *f.Function.Func.Name)
		}
	}
	if strings.Join(names, " ") != "ProcessXid PreRead" {
		t.Errorf("frames named %v, want ProcessXid PreRead", names)
	}
	if len(c.Matches) == 0 || c.Matches[0].Callback.Name == nil || *c.Matches[0].Callback.Name != "PreRead" {
		t.Errorf("matches %+v, want MF2001 from PreRead first", c.Matches)
	}
}
