package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/report"
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
		{[]string{"scan", "--format", "yaml", "x.sys"}, exitError, `unknown format "yaml" (want one of: table, json, sarif`}, // more may follow
		{[]string{"scan", "--format", "sarif", "--source-root", "no/such/dir", "x.sys"}, exitError, "--source-root no/such/dir is not a directory"},
		{[]string{"scan", "--bogus", "x.sys"}, exitError, "flag provided but not defined: -bogus"},
		{[]string{"scan", "-j", "0", "x.sys"}, exitError, "-j must be at least 1"},
		{[]string{"scan", "does-not-exist.sys"}, exitError, "does-not-exist.sys"},
		{[]string{"scan", t.TempDir()}, exitError, "no files matching *.sys found in"},
		{[]string{"scan", "--include", "*.dll", t.TempDir()}, exitError, "no files matching *.dll found in"},
		{[]string{"scan", "--include", "[a-", "x.sys"}, exitError, `invalid value "[a-" for flag -include: pattern "[a-": syntax error in pattern`},
		{[]string{"scan", "--include", "drivers/*.sys", "x.sys"}, exitError, "has a path separator; patterns match file names"},
		{[]string{"scan", "--include", "", "x.sys"}, exitError, "empty pattern"},
		{[]string{"scan", "x.sys", "--bogus"}, exitError, "flag provided but not defined: -bogus"},
		{[]string{"scan", "--format"}, exitError, "flag needs an argument: -format"},
		{[]string{"help", "frobnicate"}, exitError, `drvhazard help: unknown command "frobnicate"`},
		{[]string{"rules", "MF2001"}, exitError, `drvhazard rules: takes no arguments, got "MF2001"`},
		{[]string{"rules", "--json"}, exitError, "drvhazard rules: unknown flag --json"},
		{[]string{"explain"}, exitError, "drvhazard explain: no RULE given"},
		{[]string{"explain", "MF2001", "MF2002"}, exitError, "one RULE at a time, got 2"},
		{[]string{"version", "now"}, exitError, "drvhazard version: takes no arguments"},
	} {
		code, out, errs := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("%v: exit %d, output %q %q; want exit %d mentioning %q", tc.args, code, out, errs, tc.code, tc.want)
		}
		// A usage error is a few lines, not the whole of --help, and its
		// output is on stderr alone.
		if strings.HasPrefix(errs, "drvhazard scan: ") && (strings.Count(errs, "\n") > 3 || strings.Contains(errs, "Examples:") || out != "") {
			t.Errorf("%v: a usage error should be short and on stderr; stdout %q, stderr:\n%s", tc.args, out, errs)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"version"},
		{"help", "scan"}, {"scan", "--help"}, {"scan", "-h"}, {"scan", "x.sys", "--help"},
		{"help", "rules"}, {"rules", "--help"}, {"help", "explain"}, {"explain", "--help"}, {"explain", "-h"},
		{"help", "version"}, {"version", "--help"}} {
		code, out, errs := runCLI(t, args...)
		if code != exitOK || out == "" || errs != "" {
			t.Errorf("%v: exit %d, output %q, stderr %q; want help on stdout alone", args, code, out, errs)
		}
	}
	_, out, _ := runCLI(t, "scan", "--help")
	for _, want := range []string{"Examples:", "-format", "table|json|sarif", "-functions", "-source-root", "-include GLOB", "(default *.sys)"} {
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
		{"mf_rdata.gcc.sys", "never", exitOK},           // errors, reported without failing
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
		if code != exitOK || !strings.Contains(out, "FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO") || !strings.Contains(out, "Sources:") {
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
	// A misspelt key, an unknown rule, broken YAML and a directory: each is
	// one message naming the file and the problem, before anything is
	// analysed.
	for _, tc := range []struct{ name, text, want string }{
		{"key.yaml", "rulez:\n  MF2001: {enabled: false}\n", "rulez"},
		{"rule.yaml", "rules:\n  MF2010: {enabled: false}\n", `unknown rule "MF2010"`},
		{"yaml.yaml", "rules: [\n", "line 1"},
		{"severity.yaml", "rules:\n  MF2001: {severity: fatal}\n", `unknown severity "fatal"`},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errs := runCLI(t, "scan", "--config", p, "../../testdata/bin/mf_rdata.gcc.sys")
		if code != exitError || out != "" || !strings.Contains(errs, tc.name) || !strings.Contains(errs, tc.want) {
			t.Errorf("config %s: exit %d, stdout %q, stderr %q; want exit 2 and a message with %q", tc.name, code, out, errs, tc.want)
		}
	}
	if code, _, errs := runCLI(t, "scan", "--config", dir, "x.sys"); code != exitError || !strings.Contains(errs, "is a directory") {
		t.Errorf("config that is a directory: exit %d, stderr %q", code, errs)
	}
}

// TestScanInclude: directories are searched for files matching --include
// (default *.sys), ignoring case; files named on the command line are
// analysed whatever their name.
func TestScanInclude(t *testing.T) {
	dir := t.TempDir()
	good := mustRead(t, "../../testdata/bin/thunks.clang.sys")
	for _, name := range []string{"a.sys", "b.SYS", "sub/c.dll", "sub/d.DLL", "sub/e.exe", "sub/deeper/f.Sys"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, good, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{dir}, "a.sys b.SYS f.Sys"},
		{[]string{"--include", "*.dll", dir}, "c.dll d.DLL"},
		{[]string{"--include", "*.sys", "--include", "*.DLL", dir}, "a.sys b.SYS c.dll d.DLL f.Sys"},
		{[]string{"--include", "?.sys", "--include", "[ce].*", dir}, "a.sys b.SYS c.dll f.Sys e.exe"}, // sorted by path: sub/deeper/ before sub/e
		{[]string{"--include", "*.dll", dir, filepath.Join(dir, "sub/e.exe")}, "c.dll d.DLL e.exe"},
		{[]string{filepath.Join(dir, "sub/e.exe"), "--include", "*.nothing"}, "e.exe"},
		{[]string{dir, filepath.Join(dir, "a.sys"), filepath.Join(dir, "sub", "..") + "/./a.sys"}, "a.sys b.SYS f.Sys"}, // each file once
	} {
		code, out, errs := runCLI(t, append([]string{"scan", "--format", "json"}, tc.args...)...)
		if code != exitFindings && code != exitOK {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errs)
			continue
		}
		var doc scanDoc
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v: output is not JSON: %v", tc.args, err)
		}
		var got []string
		for _, f := range doc.Files {
			got = append(got, filepath.Base(f.Path))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%v: analysed %v, want %s", tc.args, got, tc.want)
		}
	}
}

// TestScanFlagsAfterOperands: flags may follow the files, as in most tools;
// after "--" everything is a file.
func TestScanFlagsAfterOperands(t *testing.T) {
	code, out, errs := runCLI(t, "scan", "../../testdata/bin/mf_rdata.gcc.sys", "--format", "json", "--fail-on", "warning")
	if code != exitFindings || !strings.HasPrefix(out, "{") {
		t.Errorf("exit %d, stderr %q, output starts %.20q", code, errs, out)
	}
	code, _, errs = runCLI(t, "scan", "--", "--format")
	if code != exitError || !strings.Contains(errs, "--format: no such file or directory") {
		t.Errorf("after --: exit %d, stderr %q", code, errs)
	}
}

// TestNoProgressWithoutTerminal: with stderr a buffer (a file, a pipe, a CI
// log), a scan writes nothing there but errors.
func TestNoProgressWithoutTerminal(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.sys", "b.sys", "c.sys"} {
		if err := os.WriteFile(filepath.Join(dir, name), mustRead(t, "../../testdata/bin/mf_stack.clang.sys"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := runCLI(t, "scan", "-j", "2", dir)
	if code != exitOK || out == "" || errs != "" {
		t.Errorf("exit %d, stderr %q; want exit 0 and nothing on stderr", code, errs)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if p := newProgress(f, func(string) string { return "" }); p != (noProgress{}) {
		t.Errorf("progress on a regular file: %T", p)
	}
}

func TestTerminalDecisions(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		tty             bool
		env             func(string) string
		color, progress bool
	}{
		{true, env(), true, true},
		{false, env(), false, false},
		{true, env("NO_COLOR", "1"), false, true},
		{true, env("NO_COLOR", ""), true, true}, // no-color.org: set and not empty
		{true, env("CI", "true"), true, false},
		{true, env("TERM", "dumb"), true, false},
		{false, env("TERM", "xterm-256color"), false, false},
	} {
		if got := wantColor(tc.tty, tc.env); got != tc.color {
			t.Errorf("tty %v %+v: colour %v, want %v", tc.tty, tc, got, tc.color)
		}
		if got := wantProgress(tc.tty, tc.env); got != tc.progress {
			t.Errorf("tty %v %+v: progress %v, want %v", tc.tty, tc, got, tc.progress)
		}
	}
	if useColor(&bytes.Buffer{}, env()) {
		t.Error("colour into a buffer")
	}
}

// TestNoANSIWithoutTerminal: output to a pipe or a file has no escape
// sequence, in any format, on either stream.
func TestNoANSIWithoutTerminal(t *testing.T) {
	for _, f := range report.Formats {
		format := string(f)
		_, out, errs := runCLI(t, "scan", "--format", format, "../../testdata/bin/mf_rdata.gcc.sys", "missing.sys")
		if strings.Contains(out, "\x1b") || strings.Contains(errs, "\x1b") {
			t.Errorf("--format %s into a buffer: an escape sequence in stdout %q or stderr %q", format, out, errs)
		}
		if out == "" || !strings.Contains(errs, "missing.sys") {
			t.Errorf("--format %s: want a report on stdout and the error for missing.sys on stderr; stdout %q, stderr %q", format, out, errs)
		}
	}
}

// TestProgressBar draws the bar into a buffer, as it would on a terminal:
// counts, the current file shortened to fit, erased at the end; with
// spaces, or with ANSI erase sequences as on a Windows console; never in
// colour.
func TestProgressBar(t *testing.T) {
	for _, eraseANSI := range []bool{false, true} {
		var buf bytes.Buffer
		p := &barProgress{w: &buf, width: 80, eraseANSI: eraseANSI} // no throttle: every step is drawn
		p.begin(2)
		p.start("drivers/some/very/long/directory/name/that/will/not/fit/filter.sys")
		p.done()
		p.start("b.sys")
		p.done()
		p.end()
		out := buf.String()
		for _, want := range []string{"(0/2)", "(1/2)", "…", "fit/filter.sys"} {
			if !strings.Contains(out, want) {
				t.Errorf("ANSI %v: progress output lacks %q: %q", eraseANSI, want, out)
			}
		}
		if regexp.MustCompile(`\x1b\[[0-9;]*m`).MatchString(out) {
			t.Errorf("ANSI %v: progress output has colour: %q", eraseANSI, out)
		}
		plain := out
		if eraseANSI {
			if !strings.HasSuffix(out, "\x1b[2K\r") {
				t.Errorf("the bar is not erased with ESC[2K at the end: %q", out)
			}
			plain = strings.NewReplacer("\x1b[0K", "", "\x1b[2K", "").Replace(out)
		} else if !strings.HasSuffix(out, "\r") || strings.TrimSpace(out[strings.LastIndex(strings.TrimRight(out, "\r"), "\r"):]) != "" {
			t.Errorf("the bar is not erased at the end: %q", out)
		}
		if strings.Contains(plain, "\x1b") {
			t.Errorf("ANSI %v: an escape sequence other than erasing: %q", eraseANSI, out)
		}
		for _, line := range strings.Split(plain, "\r") {
			if n := len([]rune(line)); n >= 80 {
				t.Errorf("ANSI %v: a progress line of %d columns would wrap: %q", eraseANSI, n, line)
			}
		}
	}
	var buf bytes.Buffer
	p := &barProgress{w: &buf, width: 80}
	p.begin(0) // an empty scan draws nothing
	p.end()
	if buf.Len() != 0 {
		t.Errorf("an empty scan drew %q", buf.String())
	}
	if fit("abcdefghij", 8) != "…defghij" || fit("abc", 8) != "abc" || fit("abcdefghij", 5) != "" {
		t.Errorf("fit: %q %q %q", fit("abcdefghij", 8), fit("abc", 8), fit("abcdefghij", 5))
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

// A baseline taken from an earlier run accepts its findings: the same build
// scanned against it exits 0, and the JSON still lists them, marked.
func TestBaselineFlag(t *testing.T) {
	dir := t.TempDir()
	_, out, _ := runCLI(t, "scan", "--format", "json", "../../testdata/bin/mf_rdata.gcc.sys")
	base := filepath.Join(dir, "base.json")
	if err := os.WriteFile(base, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "scan", "--format", "json", "--baseline", base, "../../testdata/bin/mf_rdata.gcc.sys")
	// Each of the three findings is marked, and so is its one trace.
	if code != exitOK || strings.Count(out, `"kind": "baseline"`) != 6 {
		t.Errorf("against its own baseline: exit %d, %d baseline marks; stderr %q", code, strings.Count(out, `"kind": "baseline"`), errs)
	}
	// Another driver's findings are new.
	if code, _, _ := runCLI(t, "scan", "--baseline", base, "../../testdata/bin/mf_hazards.gcc.sys"); code != exitFindings {
		t.Errorf("a different driver against the baseline: exit %d, want %d", code, exitFindings)
	}
	if code, _, errs := runCLI(t, "scan", "--baseline", filepath.Join(dir, "none.json"), "x.sys"); code != exitError || !strings.Contains(errs, "none.json") {
		t.Errorf("missing baseline: exit %d, %q", code, errs)
	}
}
