package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

type scanDoc struct {
	Tool  struct{ Name, Version string }
	Files []struct {
		Path    string
		SHA256  string
		Machine *string
		Kind    *string
		Error   *string
		Image   *struct {
			Sections []struct{ Name string }
			Imports  []struct {
				Module string
				Name   *string
			}
			Stats struct{ Functions int }
		}
		Functions []struct {
			RVA     string
			Name    *string
			Callees []string
		}
	}
}

func TestScanJSON(t *testing.T) {
	code, out, errs := runCLI(t, "scan", "--format", "json", "../../testdata/bin/mf_rdata.gcc.sys")
	if code != exitFindings {
		t.Fatalf("exit %d, want %d (the seed story has error findings); stderr %q", code, exitFindings, errs)
	}
	var doc scanDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if doc.Tool.Name != "drvhazard" || len(doc.Files) != 1 {
		t.Fatalf("doc = %+v", doc)
	}
	f := doc.Files[0]
	if f.Error != nil || f.Kind == nil || *f.Kind != "minifilter" || f.Machine == nil || *f.Machine != "amd64" {
		t.Errorf("file = %+v", f)
	}
	if len(f.SHA256) != 64 || f.Image == nil || f.Image.Stats.Functions != len(f.Functions) {
		t.Errorf("sha256 %q, image %+v", f.SHA256, f.Image)
	}
	found := false
	for _, fn := range f.Functions {
		if fn.Name != nil && *fn.Name == "ProcessXid" {
			found = strings.Contains(strings.Join(fn.Callees, " "), "ntoskrnl.exe!PsLookupProcessByProcessId")
		}
	}
	if !found {
		t.Error("ProcessXid -> ntoskrnl.exe!PsLookupProcessByProcessId missing from the JSON")
	}
}

func TestScanDirectoryGoesPastBadFiles(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("../../testdata/bin/thunks.clang.sys")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"a_good.sys":           good,
		"b_truncated.sys":      good[:300],
		"c_text.sys":           []byte("not a driver"),
		"sub/d_good.SYS":       good,
		"sub/e_ignored.dll":    []byte("not scanned: not .sys"),
		"sub/deeper/f_x86.sys": mustRead(t, "../../testdata/bin/bad_x86.clang.sys"),
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := runCLI(t, "scan", "--format", "json", dir)
	if code != exitError {
		t.Errorf("exit %d, want %d when some files fail", code, exitError)
	}
	var doc scanDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	var got []string
	for _, f := range doc.Files {
		state := "ok"
		if f.Error != nil {
			state = "error"
		}
		got = append(got, filepath.Base(f.Path)+":"+state)
	}
	want := "a_good.sys:ok b_truncated.sys:error c_text.sys:error d_good.SYS:ok f_x86.sys:error"
	if strings.Join(got, " ") != want {
		t.Errorf("files %v, want %s", got, want)
	}
	// Every failure is one line on stderr naming the file.
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if len(lines) != 3 {
		t.Errorf("stderr has %d lines, want 3:\n%s", len(lines), errs)
	}
	for _, l := range lines {
		if !strings.Contains(l, dir) {
			t.Errorf("error line does not name the file: %q", l)
		}
	}
	if !strings.Contains(errs, "x86 (32-bit)") || !strings.Contains(errs, "not a PE image") {
		t.Errorf("stderr lacks the reasons:\n%s", errs)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitError, "Usage:"},
		{[]string{"frobnicate"}, exitError, `unknown command "frobnicate"`},
		{[]string{"scan"}, exitError, "no FILE or DIR given"},
		{[]string{"scan", "--format", "yaml", "x.sys"}, exitError, `unknown format "yaml" (want one of: table, json, sarif)`},
		{[]string{"scan", "--format", "sarif", "--source-root", "no/such/dir", "x.sys"}, exitError, "--source-root no/such/dir is not a directory"},
		{[]string{"scan", "--bogus", "x.sys"}, exitError, "flag provided but not defined: -bogus"},
		{[]string{"scan", "-j", "0", "x.sys"}, exitError, "-j must be at least 1"},
		{[]string{"scan", "does-not-exist.sys"}, exitError, "does-not-exist.sys"},
		{[]string{"scan", t.TempDir()}, exitError, "no .sys files found"},
	} {
		code, out, errs := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("%v: exit %d, output %q %q; want exit %d mentioning %q", tc.args, code, out, errs, tc.code, tc.want)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"help", "scan"}, {"scan", "--help"}, {"version"}} {
		code, out, _ := runCLI(t, args...)
		if code != exitOK || out == "" {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	_, out, _ := runCLI(t, "scan", "--help")
	for _, want := range []string{"Examples:", "-format", "table|json|sarif", "-functions", "-source-root"} {
		if !strings.Contains(out, want) {
			t.Errorf("scan --help lacks %q", want)
		}
	}
}

func TestTableOutput(t *testing.T) {
	code, out, _ := runCLI(t, "scan", "--functions", "../../testdata/bin/mf_rdata.gcc.sys")
	if code != exitFindings {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"kind minifilter", "imports FLTMGR.SYS", "FltRegisterFilter", "DriverEntry (entry point)", "ProcessXid",
		"ERROR MF2001 PagingPathCallsPageableRoutine", "PreRead -> ProcessXid", "FLT_REGISTRATION (rdata at", "pool tag Leak"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
}

func TestFailOn(t *testing.T) {
	for _, tc := range []struct {
		file, failOn string
		want         int
	}{
		{"mf_rdata.gcc.sys", "error", exitFindings},     // MF2001 errors
		{"mf_stack.clang.sys", "error", exitOK},         // warnings only (MF2004, MF3002)
		{"mf_stack.clang.sys", "warning", exitFindings}, // ... which --fail-on warning counts
		{"callforms.clang.sys", "note", exitOK},         // not a minifilter, no findings
	} {
		code, _, errs := runCLI(t, "scan", "--fail-on", tc.failOn, "../../testdata/bin/"+tc.file)
		if code != tc.want {
			t.Errorf("%s --fail-on %s: exit %d, want %d (%s)", tc.file, tc.failOn, code, tc.want, errs)
		}
	}
	if code, _, errs := runCLI(t, "scan", "--fail-on", "fatal", "x.sys"); code != exitError || !strings.Contains(errs, `unknown severity "fatal"`) {
		t.Errorf("bad --fail-on: exit %d, %q", code, errs)
	}
}

func TestRulesAndExplain(t *testing.T) {
	code, out, _ := runCLI(t, "rules")
	if code != exitOK || !strings.Contains(out, "MF2001") || !strings.Contains(out, "KD5002") {
		t.Errorf("rules: exit %d\n%s", code, out)
	}
	for _, id := range []string{"MF2001", "mf2001", "PagingPathCallsPageableRoutine"} {
		code, out, _ := runCLI(t, "explain", id)
		if code != exitOK || !strings.Contains(out, "SKIP_PAGING_IO") || !strings.Contains(out, "Sources:") {
			t.Errorf("explain %s: exit %d\n%s", id, code, out)
		}
	}
	if code, _, errs := runCLI(t, "explain", "XX9999"); code != exitError || !strings.Contains(errs, "no rule") {
		t.Errorf("explain of an unknown rule: exit %d %q", code, errs)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(good, []byte("rules:\n  MF2001: {enabled: false}\n  KD5002: {enabled: false}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(typo, []byte("rules:\n  MF2001: {enabld: false}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// With MF2001 and KD5002 off, the seed fixture has no error findings left.
	if code, out, errs := runCLI(t, "scan", "--config", good, "../../testdata/bin/mf_rdata.gcc.sys"); code != exitOK || strings.Contains(out, "MF2001") {
		t.Errorf("config disabling MF2001: exit %d, stderr %q", code, errs)
	}
	code, _, errs := runCLI(t, "scan", "--config", typo, "../../testdata/bin/mf_rdata.gcc.sys")
	if code != exitError || !strings.Contains(errs, "typo.yaml") || !strings.Contains(errs, "enabld") {
		t.Errorf("config typo: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runCLI(t, "scan", "--config", filepath.Join(dir, "missing.yaml"), "x.sys"); code != exitError || !strings.Contains(errs, "missing.yaml") {
		t.Errorf("missing config: exit %d, stderr %q", code, errs)
	}
}

func TestScanSARIF(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "drivers"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"drivers/good.sys": mustRead(t, "../../testdata/bin/mf_rdata.gcc.sys"),
		"drivers/bad.sys":  []byte("not a driver"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := runCLI(t, "scan", "--format", "sarif", "--source-root", dir, filepath.Join(dir, "drivers"))
	if code != exitError {
		t.Errorf("exit %d, want %d when a file fails (stderr %q)", code, exitError, errs)
	}
	var log struct {
		Runs []struct {
			Invocations []struct {
				ExecutionSuccessful        bool
				ToolExecutionNotifications []struct {
					Level     string
					Locations []struct {
						PhysicalLocation struct{ ArtifactLocation struct{ URI string } }
					}
				}
			}
			Results []struct {
				RuleID    string
				Locations []struct {
					PhysicalLocation struct{ ArtifactLocation struct{ URI string } }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil || len(log.Runs) != 1 {
		t.Fatalf("output is not a SARIF log with one run (%v):\n%s", err, out)
	}
	run := log.Runs[0]
	if len(run.Results) == 0 || run.Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI != "drivers/good.sys" {
		t.Errorf("results %+v, want findings in drivers/good.sys", run.Results)
	}
	inv := run.Invocations
	if len(inv) != 1 || inv[0].ExecutionSuccessful || len(inv[0].ToolExecutionNotifications) != 1 ||
		inv[0].ToolExecutionNotifications[0].Level != "error" ||
		inv[0].ToolExecutionNotifications[0].Locations[0].PhysicalLocation.ArtifactLocation.URI != "drivers/bad.sys" {
		t.Errorf("invocations %+v, want one unsuccessful with an error for drivers/bad.sys", inv)
	}
}
