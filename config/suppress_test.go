package config

import (
	"bytes"
	"encoding/binary"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/report"
	"github.com/drvhazard/drvhazard/rules"
)

func analyseSeed(t *testing.T, opt rules.Options) *rules.Result {
	t.Helper()
	img, err := loader.Load("../testdata/bin/mf_rdata.gcc.sys")
	if err != nil {
		t.Fatal(err)
	}
	return rules.Analyze("mf_rdata.gcc.sys", "", img, opt)
}

func states(r *rules.Result) map[string]string {
	out := map[string]string{}
	for _, f := range r.Findings {
		k := f.Rule.ID
		if f.Callback != nil {
			k += " " + f.Callback.Name
		}
		out[k] = "active"
		if f.Suppressed != nil {
			out[k] = f.Suppressed.Kind + ": " + f.Suppressed.Reason
		}
	}
	return out
}

func TestSuppressions(t *testing.T) {
	plain := analyseSeed(t, rules.Options{})
	var readFP string
	for _, f := range plain.Findings {
		if f.Rule.ID == "MF2001" && f.Callback.Name == "PreRead" {
			readFP = f.Fingerprint
		}
	}
	doc := "suppressions:\n" +
		"  - fingerprint: " + readFP + "\n    reason: reviewed\n" +
		"  - function: ProcessXid\n    rule: KD5002\n    reason: not on this path\n"
	opt, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := states(analyseSeed(t, opt))
	want := map[string]string{
		"MF2001 PreRead":  "config: reviewed",
		"MF2001 PreWrite": "active", // same sink, other callback: another fingerprint
		"KD5002":          "active", // the rule matches, the function is not on its path
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

func TestBaseline(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, []*rules.Result{analyseSeed(t, rules.Options{})}, report.Options{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "before.json")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fps, err := LoadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	r := analyseSeed(t, rules.Options{Baseline: fps})
	for _, f := range r.Findings {
		if f.Active() {
			t.Errorf("%s not suppressed by a baseline of the same build", f.Rule.ID)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"tool": {}}`), 0o644)
	if _, err := LoadBaseline(bad); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Errorf("a JSON file without files or runs: %v", err)
	}
}

func TestSuppressionErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"suppressions:\n  - fingerprint: abc\n", "reason is required"},
		{"suppressions:\n  - rule: MF2001\n    reason: x\n", "give a fingerprint or a function"},
		{"suppressions:\n  - function: F\n    rule: MF9\n    reason: x\n", `unknown rule "MF9"`},
		{"suppressions:\n  - function: F\n    reasn: x\n", "field reasn not found"},
	} {
		if _, err := Parse([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// A baseline of a finding with several traces, in either format, holds every
// trace's fingerprint; one that lists only some of them (a path the earlier
// run did not see) leaves the finding counting.
func TestBaselineOfGroupedFindings(t *testing.T) {
	img, err := loader.Load("../testdata/bin/mf_hazards.gcc.sys")
	if err != nil {
		t.Fatal(err)
	}
	analyse := func(opt rules.Options) *rules.Result { return rules.Analyze("mf_hazards.gcc.sys", "", img, opt) }
	r := analyse(rules.Options{})
	grouped := 0
	for _, f := range r.Findings {
		if len(f.Traces) > 1 {
			grouped++
		}
	}
	if grouped == 0 {
		t.Fatal("mf_hazards has no finding with several traces: nothing to check")
	}
	dir := t.TempDir()
	for _, format := range []string{"json", "sarif"} {
		var b bytes.Buffer
		write := report.WriteJSON
		if format == "sarif" {
			write = report.WriteSARIF
		}
		if err := write(&b, []*rules.Result{r}, report.Options{}); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "before."+format)
		os.WriteFile(path, b.Bytes(), 0o644)
		fps, err := LoadBaseline(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range analyse(rules.Options{Baseline: fps}).Findings {
			if f.Active() {
				t.Errorf("%s baseline: %s %s not suppressed", format, f.Rule.ID, f.Fingerprint)
			}
		}
		// Without one trace's fingerprint, its finding comes back.
		for _, f := range r.Findings {
			if len(f.Traces) > 1 {
				delete(fps, f.Traces[1].Fingerprint)
			}
		}
		back := 0
		for _, f := range analyse(rules.Options{Baseline: fps}).Findings {
			if f.Active() {
				back++
			}
		}
		if back != grouped {
			t.Errorf("%s baseline without a trace: %d findings count, want %d", format, back, grouped)
		}
	}
}

// TestBaselineSavedOnWindows: a baseline redirected to a file by Windows
// PowerShell 5.1 (UTF-16LE with a byte order mark), PowerShell 7 (UTF-8) or
// saved by Notepad (UTF-8 with a byte order mark, CRLF) gives the same
// fingerprints as the bytes drvhazard wrote.
func TestBaselineSavedOnWindows(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteJSON(&b, []*rules.Result{analyseSeed(t, rules.Options{})}, report.Options{}); err != nil {
		t.Fatal(err)
	}
	encodeUTF16 := func(s string, order binary.AppendByteOrder, bom []byte) []byte {
		out := append([]byte(nil), bom...)
		for _, u := range utf16.Encode([]rune(s)) {
			out = order.AppendUint16(out, u)
		}
		return out
	}
	crlf := strings.ReplaceAll(b.String(), "\n", "\r\n")
	dir := t.TempDir()
	var want map[string]bool
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"as written", b.Bytes()},
		{"UTF-16LE with BOM", encodeUTF16(crlf, binary.LittleEndian, []byte{0xff, 0xfe})},
		{"UTF-16BE with BOM", encodeUTF16(crlf, binary.BigEndian, []byte{0xfe, 0xff})},
		{"UTF-8 with BOM and CRLF", append([]byte("\ufeff"), crlf...)},
	} {
		path := filepath.Join(dir, "baseline.json")
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		fps, err := LoadBaseline(path)
		switch {
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case want == nil:
			if len(fps) == 0 {
				t.Fatal("the seed's baseline has no fingerprint")
			}
			want = fps
		case !maps.Equal(fps, want):
			t.Errorf("%s: %d fingerprints, want %d", tc.name, len(fps), len(want))
		}
	}
}
