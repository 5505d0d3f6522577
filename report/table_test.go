package report

import (
	"bytes"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/rules"
)

// allFixtures analyses every .sys in testdata/bin; those the loader refuses
// (bad_*) become results with their error, as in a scan.
func allFixtures(t *testing.T) []*rules.Result {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "bin", "*.sys"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var out []*rules.Result
	for _, p := range paths {
		img, err := loader.Load(p)
		if err != nil {
			out = append(out, &rules.Result{Path: p, Err: err})
			continue
		}
		out = append(out, rules.Analyze(p, strings.Repeat("0", 64), img, rules.Options{}))
	}
	return out
}

func writeTable(t *testing.T, results []*rules.Result, opt Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteTable(&b, results, opt); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTableWidth: the table output of every fixture, functions included,
// fits in 80 columns. (What may go past: a single word longer than a line,
// such as a long path, and a table whose cell holds a name longer than its
// column; no fixture has either.)
func TestTableWidth(t *testing.T) {
	t.Parallel()
	out := writeTable(t, allFixtures(t), Options{Functions: true})
	for i, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > TableWidth {
			t.Errorf("line %d has %d columns:\n%s", i+1, n, l)
		}
	}
	for _, want := range []string{"\n  ERROR MF", "\n  WARNING MF", "\n  NOTE MF", ": error: unsupported machine", "FUNCTION → CALLS"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestTableColor: without Color no escape byte at all; with it the
// severities are coloured and nothing else changes.
func TestTableColor(t *testing.T) {
	t.Parallel()
	results := analyseFixtures(t, "mf_rdata.gcc.sys", "mf_malformed.gcc.sys")
	results = append(results, &rules.Result{Path: "broken.sys", Err: errors.New("not a PE file")})
	plain := writeTable(t, results, Options{Functions: true})
	if strings.ContainsRune(plain, 0x1b) {
		t.Errorf("escape codes without Color:\n%q", plain)
	}
	colored := writeTable(t, results, Options{Functions: true, Color: true})
	for _, want := range []string{
		"\n  \x1b[31mERROR\x1b[0m MF2001 ", "\n  \x1b[33mWARNING\x1b[0m KD5002 ", "\n  \x1b[36mNOTE\x1b[0m MF1001 ",
		"broken.sys: \x1b[31merror:\x1b[0m not a PE file\n",
	} {
		if !strings.Contains(colored, want) {
			t.Errorf("coloured output lacks %q", want)
		}
	}
	if got := ansiEscape.ReplaceAllString(colored, ""); got != plain {
		t.Errorf("coloured output differs from the plain one in more than colour:\n%s", got)
	}
}

// TestTableGrouping: findings come first, grouped by severity, most severe
// first, each headed by its severity.
func TestTableGrouping(t *testing.T) {
	t.Parallel()
	out := writeTable(t, analyseFixtures(t, "mf_hazards.gcc.sys"), Options{})
	sections := strings.Index(out, "SECTION")
	heads := regexp.MustCompile(`(?m)^  (ERROR|WARNING|NOTE) (MF|KD)\d{4} \w+ at RVA 0x[0-9a-f]+ \(VA 0x[0-9a-f]{9,16}\)$`).FindAllStringSubmatchIndex(out, -1)
	var got []string
	for _, h := range heads {
		if h[0] > sections {
			t.Errorf("a finding after the sections table")
		}
		got = append(got, out[h[2]:h[3]])
	}
	want := "ERROR ERROR ERROR ERROR ERROR WARNING WARNING"
	if strings.Join(got, " ") != want {
		t.Errorf("findings in the order %v, want %s:\n%s", got, want, out)
	}
	if !strings.Contains(out, "  7 findings: 5 errors, 2 warnings\n") {
		t.Errorf("no counts line:\n%s", out)
	}

	// Results not sorted by rules.Run are grouped all the same.
	r := *analyseFixtures(t, "mf_rdata.gcc.sys")[0]
	r.Findings = append([]rules.Finding{r.Findings[2]}, r.Findings[:2]...)
	out = writeTable(t, []*rules.Result{&r}, Options{})
	if e, w := strings.Index(out, "  ERROR "), strings.Index(out, "  WARNING "); e < 0 || w < e {
		t.Errorf("the warning comes before the errors:\n%s", out)
	}
}

func TestWrapWords(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100)
	words := strings.Fields("imports ntoskrnl.exe (3): " + strings.Repeat("PsLookupProcessByProcessId, ", 5) + long + " end")
	var lines []string
	for _, l := range wrapWords("  ", "    ", words) {
		var ws []string
		for _, i := range l.words {
			ws = append(ws, words[i])
		}
		lines = append(lines, l.indent+strings.Join(ws, " "))
	}
	want := []string{
		"  imports ntoskrnl.exe (3): PsLookupProcessByProcessId,",
		"    PsLookupProcessByProcessId, PsLookupProcessByProcessId,",
		"    PsLookupProcessByProcessId, PsLookupProcessByProcessId,",
		"    " + long,
		"    end",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("wrapped:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
