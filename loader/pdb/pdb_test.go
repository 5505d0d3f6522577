package pdb

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/loader"
)

// fixtures returns the names (without .clang.pdb) of the fixture drivers
// whose clang build has a PDB (built by testdata/build.sh).
func fixtures(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(binDir, "*.clang.pdb"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no fixture PDBs in testdata/bin: run testdata/build.sh")
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".clang.pdb"))
	}
	return names
}

// sym is a line of a .syms file.
type sym struct {
	rva  uint32
	name string
}

func readSyms(t testing.TB, name string) []sym {
	t.Helper()
	var out []sym
	for _, line := range strings.Split(strings.TrimSpace(string(readFixture(t, name))), "\n") {
		rva, n, ok := strings.Cut(line, " ")
		v, err := strconv.ParseUint(rva, 0, 32)
		if !ok || err != nil {
			t.Fatalf("%s: bad line %q", name, line)
		}
		out = append(out, sym{uint32(v), n})
	}
	return out
}

func openFixture(t testing.TB, name string) (*File, *loader.Image) {
	t.Helper()
	f, err := Open(filepath.Join(binDir, name+".clang.pdb"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := loader.Load(filepath.Join(binDir, name+".clang.sys"))
	if err != nil {
		t.Fatal(err)
	}
	return f, img
}

func TestFixtures(t *testing.T) {
	for _, name := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			f, img := openFixture(t, name)
			if len(f.Warnings) > 0 {
				t.Errorf("warnings on a clean fixture: %q", f.Warnings)
			}
			if f.Machine != 0x8664 {
				t.Errorf("machine %#x, want 0x8664", f.Machine)
			}
			// The image and its PDB agree on the identity and the sections.
			if img.CodeView == nil {
				t.Fatal("the image has no CodeView record")
			}
			if err := f.Matches(*img.CodeView); err != nil {
				t.Error(err)
			}
			if want := name + ".clang.pdb"; img.CodeView.Path != want {
				t.Errorf("CodeView path %q, want %q (/pdbaltpath:%%_PDB%%)", img.CodeView.Path, want)
			}
			if len(f.Sections) != len(img.Sections) {
				t.Fatalf("%d sections, the image has %d", len(f.Sections), len(img.Sections))
			}
			for i, s := range f.Sections {
				is := img.Sections[i]
				if s.Name != is.Name || s.RVA != is.RVA || s.Size != is.VirtualSize || s.Characteristics != is.Characteristics {
					t.Errorf("section %d: %+v, the image has %+v", i+1, s, is)
				}
			}
			checkFunctions(t, f, readSyms(t, name+".clang.syms"))
			// Every function lies in the object file that defines it, or in
			// the import library of its thunk.
			for _, fn := range f.Functions() {
				mod, ok := f.ModuleAt(fn.RVA)
				if !ok {
					t.Errorf("%s at %#x: in no module", fn.Name, fn.RVA)
					continue
				}
				// lld-link attributes its import thunks to its own module.
				if fn.Kind == KindThunk && mod.Name != "* Linker *" ||
					fn.Kind != KindThunk && mod.Object != `C:\drvhazard\testdata\build\`+name+".clang.obj" {
					t.Errorf("%s (%s) at %#x: module %q (%s)", fn.Name, fn.Kind, fn.RVA, mod.Name, mod.Object)
				}
			}
			// Paths are made absolute under build.sh's /pdbsourcepath.
			src := `C:\drvhazard\testdata\src\` + name + ".c"
			if _, err := os.Stat(filepath.Join("../../testdata/src", name+".cpp")); err == nil {
				src += "pp" // a C++ fixture (mf_vcall)
			}
			if name == "large" {
				src = `C:\drvhazard\testdata\build\large.c` // generated
			}
			if len(f.Modules) == 0 || f.Modules[0].Name != `C:\drvhazard\testdata\build\`+name+".clang.obj" ||
				len(f.Modules[0].Files) == 0 || f.Modules[0].Files[0] != src {
				t.Errorf("module 0: %+v, want the fixture's object with %s", f.Modules[0], src)
			}
		})
	}
}

// checkFunctions compares the PDB's functions with the .syms file made
// from lld-link's map: the same names at the same RVAs. The map also lists
// clang's SEH funclets (?dtor$N@...), which CodeView describes as part of
// their parent procedure: those must lie inside a function of the PDB.
func checkFunctions(t *testing.T, f *File, syms []sym) {
	t.Helper()
	fns := f.Functions()
	// CodeView names a C++ procedure Class::Method; its public symbol, like
	// lld-link's map, has the decorated name (?Method@Class@@...).
	decorated := publicNames(f)
	names := func(fn Function) []string { return append([]string{fn.Name}, decorated[fn.RVA]...) }
	have := map[sym]bool{}
	for i, fn := range fns {
		for _, n := range names(fn) {
			have[sym{fn.RVA, n}] = true
		}
		if i > 0 && fns[i-1].RVA > fn.RVA {
			t.Errorf("functions not sorted at %d", i)
		}
		if fn.Kind != KindPublic && fn.Size == 0 {
			t.Errorf("%s (%s) at %#x has no size", fn.Name, fn.Kind, fn.RVA)
		}
	}
	want := map[sym]bool{}
	for _, s := range syms {
		want[s] = true
		if have[s] {
			continue
		}
		if strings.HasPrefix(s.name, "?dtor$") && inFunction(fns, s.rva) {
			continue
		}
		t.Errorf("%s at %#x is in the map, not in the PDB's functions", s.name, s.rva)
	}
	for _, fn := range fns {
		found := false
		for _, n := range names(fn) {
			found = found || want[sym{fn.RVA, n}]
		}
		if !found {
			t.Errorf("%s (%s) at %#x is in the PDB, not in the map", fn.Name, fn.Kind, fn.RVA)
		}
	}
}

// publicNames maps the RVA of each C++-decorated public symbol (?...) to
// its names.
func publicNames(f *File) map[uint32][]string {
	out := map[uint32][]string{}
	for _, p := range f.Publics() {
		if strings.HasPrefix(p.Name, "?") {
			out[p.RVA] = append(out[p.RVA], p.Name)
		}
	}
	return out
}

func inFunction(fns []Function, rva uint32) bool {
	for _, fn := range fns {
		if rva > fn.RVA && rva < fn.RVA+fn.Size {
			return true
		}
	}
	return false
}

// TestCallSiteLines finds calls in the code (decoding the fixture image)
// and checks that LineAt gives the line of the C source where the call is
// written, found by searching the source text.
func TestCallSiteLines(t *testing.T) {
	for _, c := range []struct {
		fixture, function string
		callee            string // what the call reaches: a function of the .syms or an import
		text              string // the call as written in the source
		calls             int    // calls to callee in function, in source order
	}{
		{"mf_rdata", "ProcessXid", "PsLookupProcessByProcessId", "PsLookupProcessByProcessId(", 1},
		{"mf_rdata", "ProcessXid", "ObfDereferenceObject", "ObDereferenceObject(", 1},
		{"mf_rdata", "PreRead", "ProcessXid", "ProcessXid(", 1},
		{"mf_hazards", "WriteCheckHandle", "ObReferenceObjectByHandle", "ObReferenceObjectByHandle(", 1},
		{"mf_locks", "PreCleanupL", "PagedTouch", "PagedTouch(", 3},
		{"mf_locks", "PreCleanupL", "KeAcquireSpinLockRaiseToDpc", "KeAcquireSpinLockRaiseToDpc(", 1},
		{"thunks", "DriverEntry", "FltRegisterFilter", "FltRegisterFilter(", 1},
		{"mf_stack", "DriverEntry", "FltRegisterFilter", "FltRegisterFilter(", 1},
	} {
		t.Run(c.fixture+"/"+c.function+"/"+c.callee, func(t *testing.T) {
			f, img := openFixture(t, c.fixture)
			sites := callSites(t, img, readSyms(t, c.fixture+".clang.syms"), c.function, c.callee)
			lines := sourceLines(t, c.fixture, c.function, c.text)
			if len(sites) != c.calls || len(lines) < c.calls {
				t.Fatalf("%d calls in the code, %d in the source, want %d", len(sites), len(lines), c.calls)
			}
			for i, site := range sites {
				got, ok := f.LineAt(site)
				if !ok {
					t.Errorf("call at %#x: no line, want %d", site, lines[i])
					continue
				}
				if !strings.HasSuffix(got.File, `\src\`+c.fixture+".c") || got.Line != lines[i] {
					t.Errorf("call at %#x: %s:%d, want src\\%s.c:%d", site, got.File, got.Line, c.fixture, lines[i])
				}
			}
		})
	}
}

// callSites decodes function (from its .syms address to the next symbol)
// and returns the addresses of its calls to callee: call rel32 to a
// function named callee, or call [rip+slot] through callee's IAT slot.
func callSites(t *testing.T, img *loader.Image, syms []sym, function, callee string) []uint32 {
	t.Helper()
	start, end := uint32(0), uint32(0)
	byRVA := map[uint32]string{}
	for i, s := range syms {
		byRVA[s.rva] = s.name
		if s.name == function {
			start, end = s.rva, img.Section(s.rva).End()
			if i+1 < len(syms) {
				end = syms[i+1].rva
			}
		}
	}
	if start == 0 {
		t.Fatalf("%s is not in the .syms file", function)
	}
	code := img.Bytes(start, end-start)
	var sites []uint32
	for off := 0; off < len(code); {
		in, err := x86asm.Decode(code[off:], 64)
		if err != nil {
			off++
			continue
		}
		pc := start + uint32(off)
		next := pc + uint32(in.Len)
		if in.Op == x86asm.CALL {
			name := ""
			switch a := in.Args[0].(type) {
			case x86asm.Rel:
				name = byRVA[uint32(int64(next)+int64(a))]
			case x86asm.Mem:
				if a.Base == x86asm.RIP {
					if imp, ok := img.ImportAt(uint32(int64(next) + a.Disp)); ok {
						name = imp.Name
					}
				}
			}
			if name == callee {
				sites = append(sites, pc)
			}
		}
		off += in.Len
	}
	return sites
}

// sourceLines returns the numbers of the lines of testdata/src/<fixture>.c
// that contain text, from the definition of function to the next
// definition.
func sourceLines(t *testing.T, fixture, function, text string) []int {
	t.Helper()
	fd, err := os.Open(filepath.Join("../../testdata/src", fixture+".c"))
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	var lines []int
	in := false
	sc := bufio.NewScanner(fd)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if isDefinition(line) {
			in = strings.HasPrefix(line, function+"(") || strings.Contains(line, " "+function+"(")
			continue
		}
		if in && strings.Contains(line, text) {
			lines = append(lines, n)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// isDefinition recognises the first line of a function definition in the
// fixtures: it starts in column 0, names a function and does not end a
// declaration.
func isDefinition(line string) bool {
	if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '/' || line[0] == '*' || line[0] == '}' || line[0] == '{' {
		return false
	}
	return strings.Contains(line, "(") && !strings.HasSuffix(strings.TrimSpace(line), ";")
}

func TestMatches(t *testing.T) {
	f, img := openFixture(t, "mf_rdata")
	cv := *img.CodeView
	if err := f.Matches(cv); err != nil {
		t.Fatal(err)
	}
	other := cv
	other.GUID[3] ^= 0x40
	err := f.Matches(other)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), guidString(f.GUID)) ||
		!strings.Contains(err.Error(), other.GUIDString()) || !strings.Contains(err.Error(), "mf_rdata.clang.pdb") {
		t.Errorf("wrong GUID: %v, want a mismatch naming both GUIDs and the PDB", err)
	}
	older := cv
	older.Age = f.Age + 1
	if err := f.Matches(older); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), fmt.Sprintf("age %d", f.Age+1)) {
		t.Errorf("image newer than the PDB: %v", err)
	}
}
