package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/loader/pdb"
	"github.com/drvhazard/drvhazard/rules"
)

// TestPDBLinesMatchSources: for every clang fixture (each has its PDB next
// to it), every call on every finding's path is placed on a line of the C
// source that names the routine it calls: the next function of the path,
// or the sink. The names come from the PDB too: no function is unnamed.
func TestPDBLinesMatchSources(t *testing.T) {
	images, _ := filepath.Glob("../../testdata/bin/*.clang.sys")
	checked := 0
	for _, p := range images {
		// bad_* are refused; large.c is generated at build time, not kept.
		if base := filepath.Base(p); strings.HasPrefix(base, "bad_") || strings.HasPrefix(base, "large.") {
			continue
		}
		r := analyse(context.Background(), p, rules.Options{}, symbolOptions{})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if r.Symbols == "" || r.Lines == nil {
			t.Errorf("%s: no PDB found next to it", p)
			continue
		}
		pf, err := pdb.Open(r.Symbols)
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range r.Program.Funcs {
			// A funclet that CodeView counts as part of its parent
			// procedure has no name of its own.
			if fn.Name == "" && fn.Thunk == nil && !insideProc(pf, fn.Entry) {
				t.Errorf("%s: function %#x has no name", p, fn.Entry)
			}
		}
		for _, f := range r.Findings {
			for i, s := range f.Path {
				callee := ""
				if i+1 < len(f.Path) {
					callee = f.Path[i+1].Name
				} else if _, name, ok := strings.Cut(f.Sink, "!"); ok {
					callee = name
				}
				if callee == "" || s.Call == 0 {
					continue
				}
				file, line, ok := r.Lines.LineAt(s.Call)
				if !ok {
					t.Errorf("%s: %s %s: no line for the call at %#x", p, f.Rule.ID, s.Name, s.Call)
					continue
				}
				text := sourceLine(t, file, line)
				if k := callKind(r, s); k == cfg.CallTable || k == cfg.CallPointer || k == cfg.CallGuard || k == cfg.CallGlobal || k == cfg.CallVirtual {
					// An indirect call: the line calls through a table or
					// pointer, and names no callee.
					if !strings.Contains(text, "(") {
						t.Errorf("%s: %s: the indirect call at %#x is at %s:%d, %q, which calls nothing",
							p, f.Rule.ID, s.Call, sourceBase(file), line, strings.TrimSpace(text))
					}
				} else if method := methodName(callee); !strings.Contains(text, method) {
					t.Errorf("%s: %s: the call at %#x in %s is at %s:%d, %q, which does not name %s",
						p, f.Rule.ID, s.Call, s.Name, sourceBase(file), line, strings.TrimSpace(text), method)
				}
				checked++
			}
		}
	}
	if checked < 30 {
		t.Errorf("only %d calls checked", checked)
	}
}

// methodName is a C++ method's own name (Class::OnRead is called as
// obj->OnRead), or name itself.
func methodName(name string) string {
	if i := strings.LastIndex(name, "::"); i >= 0 {
		return name[i+2:]
	}
	return name
}

func insideProc(f *pdb.File, rva uint32) bool {
	for _, fn := range f.Functions() {
		if fn.RVA < rva && rva < fn.RVA+fn.Size {
			return true
		}
	}
	return false
}

// callKind is how the call of a path step is made.
func callKind(r *rules.Result, s rules.Step) cfg.CallKind {
	if fn := r.Program.Func(s.RVA); fn != nil {
		for _, c := range fn.Calls {
			if c.Site == s.Call {
				return c.Kind
			}
		}
	}
	return cfg.CallUnresolved
}

func sourceBase(file string) string { return file[strings.LastIndexAny(file, `/\`)+1:] }

// sourceLine reads a line of a fixture source, named by its path in the PDB
// (C:\drvhazard\testdata\src\x.c).
func sourceLine(t *testing.T, file string, line int) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../testdata/src", sourceBase(file)))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		t.Fatalf("%s has no line %d", file, line)
	}
	return lines[line-1]
}

// TestPDBOptions: --pdb, --pdb-dir (flat and symbol store), the PDB next to
// the driver, and the mistakes a user can make.
func TestPDBOptions(t *testing.T) {
	dir := t.TempDir()
	copyFile := func(src, dst string) {
		t.Helper()
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sys := filepath.Join(dir, "drv", "mf_rdata.clang.sys")
	copyFile("../../testdata/bin/mf_rdata.clang.sys", sys)
	img, err := loader.Load(sys)
	if err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store", "mf_rdata.clang.pdb", img.CodeView.GUIDString()+"1", "mf_rdata.clang.pdb")
	copyFile("../../testdata/bin/mf_rdata.clang.pdb", store)
	flat := filepath.Join(dir, "flat", "mf_rdata.clang.pdb")
	copyFile("../../testdata/bin/mf_rdata.clang.pdb", flat)
	wrong := "../../testdata/bin/mf_hazards.clang.pdb"

	names := func(out string) []string {
		var doc struct {
			Files []struct {
				Symbols  *string
				Findings []struct{ Path []struct{ Name *string } }
			}
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var ns []string
		for _, f := range doc.Files[0].Findings[:1] {
			for _, s := range f.Path {
				n := "null"
				if s.Name != nil {
					n = *s.Name
				}
				ns = append(ns, n)
			}
		}
		return ns
	}
	named := []string{"PreRead", "ProcessXid"}
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		names []string
		err   string
	}{
		{"no PDB", []string{sys}, exitFindings, []string{"null", "null"}, ""},
		{"--pdb", []string{"--pdb", flat, sys}, exitFindings, named, ""},
		{"--pdb-dir flat", []string{"--pdb-dir", filepath.Dir(flat), sys}, exitFindings, named, ""},
		{"--pdb-dir store", []string{"--pdb-dir", filepath.Join(dir, "store"), sys}, exitFindings, named, ""},
		{"--pdb wrong", []string{"--pdb", wrong, sys}, exitError, nil, "does not match"},
		{"--pdb missing", []string{"--pdb", filepath.Join(dir, "nope.pdb"), sys}, exitError, nil, "nope.pdb: no such file"},
		{"--pdb with a directory", []string{"--pdb", flat, filepath.Dir(sys)}, exitError, nil, "use --pdb-dir"},
		{"--pdb with two drivers", []string{"--pdb", flat, sys, sys}, exitError, nil, "use --pdb-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("_NT_SYMBOL_PATH", "")
			code, out, errs := runCLI(t, append([]string{"scan", "--format", "json"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errs, tc.err) {
				t.Fatalf("exit %d, stderr %q: want %d and %q", code, errs, tc.code, tc.err)
			}
			if tc.names != nil {
				if got := names(out); !reflect.DeepEqual(got, tc.names) {
					t.Errorf("path names %v, want %v", got, tc.names)
				}
			}
		})
	}
	t.Run("_NT_SYMBOL_PATH", func(t *testing.T) {
		t.Setenv("_NT_SYMBOL_PATH", "srv*"+filepath.Join(dir, "store")+"*https://msdl.microsoft.com/download/symbols")
		_, out, _ := runCLI(t, "scan", "--format", "json", sys)
		if got := names(out); !reflect.DeepEqual(got, named) {
			t.Errorf("path names %v, want %v", got, named)
		}
	})
}

func TestSymbolPathDirs(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  []string
	}{
		{`srv*C:\sym*https://msdl.microsoft.com/download/symbols`, []string{`C:\sym`}},
		{`SRV*C:\sym*https://msdl.microsoft.com/download/symbols`, []string{`C:\sym`}},
		{`srv*https://msdl.microsoft.com/download/symbols`, nil},
		{`srv**https://msdl.microsoft.com/download/symbols`, nil}, // the default store: no directory named
		{`srv*C:\local*\\corp\symbols*https://msdl.microsoft.com/download/symbols`, []string{`C:\local`, `\\corp\symbols`}},
		{`srv*C:\sym*\\corp\symbols`, []string{`C:\sym`, `\\corp\symbols`}}, // the server is a share: read it
		{`cache*C:\cache;srv*https://msdl.microsoft.com/download/symbols`, []string{`C:\cache`}},
		{`cache*;srv*C:\sym*https://x/y`, []string{`C:\sym`}},
		{`symsrv*symsrv.dll*C:\sym*https://msdl.microsoft.com/download/symbols`, []string{`C:\sym`}},
		{`symsrv*corpsrv.dll*D:\store*http://sym.corp`, []string{`D:\store`}},
		{`C:\sym;\\server\share\sym`, []string{`C:\sym`, `\\server\share\sym`}},
		{`C:/sym;d:\pdbs/x64`, []string{`C:/sym`, `d:\pdbs/x64`}}, // mixed separators stay as written
		{`;;C:\sym; ;`, []string{`C:\sym`}},
		{` C:\sym ; D:\more `, []string{`C:\sym`, `D:\more`}},
		{`"C:\Program Files\sym";srv*"D:\my sym"*https://x/y`, []string{`C:\Program Files\sym`, `D:\my sym`}},
		{`/home/me/sym:/opt/sym`, []string{`/home/me/sym:/opt/sym`}}, // ";" separates, never ":"
		{`https://msdl.microsoft.com/download/symbols`, nil},
		{``, nil},
	} {
		if got := symbolPathDirs(tc.value); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("symbolPathDirs(%q) = %q, want %q", tc.value, got, tc.want)
		}
	}
}
