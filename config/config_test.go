package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/rules"
)

func TestExampleParses(t *testing.T) {
	opt, err := Parse([]byte(Example))
	if err != nil {
		t.Fatal(err)
	}
	if opt.Budget != 8192 {
		t.Errorf("budget %d", opt.Budget)
	}
	sev := map[string]rules.Severity{}
	for _, r := range opt.Rules {
		sev[r.ID] = r.Severity
	}
	if _, on := sev["KD5002"]; on {
		t.Error("KD5002 still enabled")
	}
	if sev["MF4001"] != rules.Error || rules.ByID("MF4001").Severity != rules.Warning {
		t.Error("the MF4001 override did not apply, or changed the shared rule value")
	}
	if api := opt.Catalogue.LookupFunc("GetProcessKey"); api == nil || api.Class != rules.ClassPageable {
		t.Errorf("GetProcessKey: %+v", api)
	}
	if api := opt.Catalogue.Lookup(&loader.Import{Module: "MYLIB.SYS", Name: "LibReadConfig"}); api == nil || api.Class != rules.ClassReentrantIO {
		t.Errorf("LibReadConfig: %+v", api)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"apis:\n  - name: X\n    clas: pageable\n", "line 3: field clas not found"},
		{"rule:\n  MF2001: {enabled: false}\n", "field rule not found"},
		{"rules:\n  MF9999: {enabled: false}\n", `unknown rule "MF9999"`},
		{"rules:\n  MF2001: {severity: fatal}\n", `unknown severity "fatal"`},
		{"apis:\n  - name: X\n    class: scary\n    irql: apc\n", `class "scary" is not one of`},
		{"apis:\n  - name: X\n    class: pageable\n    irql: high\n", `irql "high" is not one of`},
		{"apis:\n  - class: pageable\n    irql: apc\n", "name is required"},
		{"apis:\n  - name: X\n    class: pool-alloc\n    irql: dispatch\n", "needs type_arg"},
		{"apis:\n  - name: X\n    class: pool-alloc\n    irql: dispatch\n    type_arg: -1\n", "argument positions"},
		{"apis:\n  - name: X\n    class: pageable\n    irql: apc\n    tag_arg: 2\n", "are for class pool-alloc"},
		{"stack_budget: lots\n", "cannot unmarshal"},
		{"\x00\x01garbage: [", ""},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one mentioning %q", tc.doc, err, tc.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := Load(filepath.Join(dir, DefaultFile), false); ok || err != nil {
		t.Errorf("a missing default file: ok %v, err %v", ok, err)
	}
	if _, _, err := Load(filepath.Join(dir, "named.yaml"), true); err == nil {
		t.Error("a missing named file must be an error")
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apis:\n  - nme: X\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(bad, true); err == nil || !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v should name the file and the line", err)
	}
}

// A user's own wrapper becomes a sink: the seed fixture's ProcessXid (the
// helper around PsLookupProcessByProcessId) declared pageable is reported as
// what the callbacks reach, and the walk stops there.
func TestWrapperIsASink(t *testing.T) {
	opt, err := Parse([]byte("apis:\n  - name: ProcessXid\n    class: pageable\n    irql: apc\n"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := loader.Load("../testdata/bin/mf_rdata.gcc.sys")
	if err != nil {
		t.Fatal(err)
	}
	r := rules.Analyze("mf_rdata.gcc.sys", "", img, opt)
	var sinks []string
	for _, f := range r.Findings {
		if f.Rule.ID == "MF2001" {
			sinks = append(sinks, f.Callback.Name+"->"+f.Sink)
		}
	}
	if strings.Join(sinks, " ") != "PreRead->ProcessXid PreWrite->ProcessXid" {
		t.Errorf("MF2001 sinks %v, want the wrapper from both callbacks", sinks)
	}
}

// A pool allocator of the project's own, by symbol name: its pool type and
// tag positions are read from the configuration.
func TestPoolAllocWrapper(t *testing.T) {
	opt, err := Parse([]byte("apis:\n  - name: AllocTracked\n    class: pool-alloc\n    irql: dispatch\n    type_arg: 1\n    tag_arg: 3\n    pool_flags: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := opt.Catalogue.LookupFunc("AllocTracked")
	if a == nil || a.Class != rules.ClassPoolAlloc || a.TypeArg != 1 || a.TagArg != 3 || !a.Flags {
		t.Errorf("AllocTracked: %+v", a)
	}
	opt, err = Parse([]byte("apis:\n  - name: AllocUntagged\n    class: pool-alloc\n    irql: dispatch\n    type_arg: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := opt.Catalogue.LookupFunc("AllocUntagged"); a == nil || a.TagArg != -1 {
		t.Errorf("AllocUntagged: %+v, want no tag argument (-1)", a)
	}
}

// TestWindowsText: a configuration saved on Windows (CRLF line ends, the
// UTF-8 byte order mark Notepad once wrote) reads as the same one saved on
// Linux.
func TestWindowsText(t *testing.T) {
	want, err := Parse([]byte(Example))
	if err != nil {
		t.Fatal(err)
	}
	crlf := strings.ReplaceAll(Example, "\n", "\r\n")
	for name, doc := range map[string]string{"CRLF": crlf, "BOM and CRLF": "\ufeff" + crlf} {
		got, err := Parse([]byte(doc))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.Budget != want.Budget || len(got.Rules) != len(want.Rules) {
			t.Errorf("%s: budget %d, %d rules; want %d, %d", name, got.Budget, len(got.Rules), want.Budget, len(want.Rules))
		}
		if api := got.Catalogue.LookupFunc("GetProcessKey"); api == nil || api.Class != rules.ClassPageable {
			t.Errorf("%s: GetProcessKey: %+v", name, api)
		}
	}
}
