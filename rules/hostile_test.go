package rules

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/loader"
)

const hostileDir = "../testdata/hostile/bin"

// A hostileCase is what testdata/hostile/README.md promises for one image of
// testdata/hostile/bin: refused by the loader, or analysed with no panic and
// these results.
type hostileCase struct {
	// refuse is part of the loader's error when the image must be refused
	// (as loader.ErrMalformed); "" when it must be analysed.
	refuse string
	// entry is the section that must hold a function at the entry point,
	// "-" when there must be none, "" when not checked.
	entry string
	// funcs lists sections each of which must hold a function entry.
	funcs []string
	// calls lists "SECTION IMPORT": some call site in SECTION calls IMPORT.
	calls []string
	// reach lists imports the entry function must reach through calls and
	// tail calls.
	reach []string
	// never lists imports no call site may reach.
	never []string
}

var hostileCases = map[string]hostileCase{
	"xsection.sys": {
		entry: ".text", funcs: []string{"CODE2"},
		calls: []string{"CODE2 DbgPrint", "CODE2 ZwClose", ".text DbgPrint"},
		reach: []string{"DbgPrint", "ZwClose"},
	},
	"chain_xsec.sys": {
		entry: ".text", funcs: []string{".vmp1"},
		calls: []string{".vmp1 DbgPrint", ".text ZwClose"},
		reach: []string{"DbgPrint", "ZwClose"},
	},
	"chain_data.sys": {
		entry: ".text", calls: []string{".text ZwClose"}, reach: []string{"ZwClose"},
		never: []string{"DbgPrint"},
	},
	"chain_outside.sys": {
		entry: ".text", calls: []string{".text DbgPrint", ".text ZwClose"},
		reach: []string{"DbgPrint", "ZwClose"},
	},
	"code_in_data.sys": {
		entry: ".data", funcs: []string{".text"},
		calls: []string{".data DbgPrint", ".text ZwClose"},
		reach: []string{"DbgPrint", "ZwClose"},
	},
	"vmp0.sys": {
		entry: ".vmp0", funcs: []string{".vmp1"},
		calls: []string{".vmp0 DbgPrint", ".vmp0 ZwClose"},
		reach: []string{"DbgPrint", "ZwClose"},
	},
	"overlap.sys": {
		entry: ".text", calls: []string{".text DbgPrint"}, reach: []string{"DbgPrint"},
	},
	"jumptables.sys": {
		entry: ".text", calls: []string{".text DbgPrint", ".text ZwClose"},
		reach: []string{"DbgPrint", "ZwClose"},
	},
	"selfref.sys": {
		entry: ".text", calls: []string{".text DbgPrint"}, reach: []string{"DbgPrint"},
	},
	"sections96.sys": {
		entry: ".text", funcs: []string{".s01", ".s47", ".s93"},
		calls: []string{".s93 DbgPrint"}, reach: []string{"DbgPrint"},
	},
	"sections97.sys":    {refuse: "NumberOfSections 97 is outside 1..96"},
	"entry_outside.sys": {entry: "-", funcs: []string{".text"}, calls: []string{".text DbgPrint"}},
	"entry_header.sys":  {entry: "-", funcs: []string{".text"}, calls: []string{".text DbgPrint"}},
	"rawsize_eof.sys":   {refuse: `section ".text" raw data`},
	"rawptr_eof.sys":    {refuse: `section ".text" raw data`},
	"vsize_small.sys": {
		entry: ".text", calls: []string{".text DbgPrint"}, reach: []string{"DbgPrint"},
		never: []string{"ZwClose"},
	},
	"rawsize0.sys": {entry: "-", calls: []string{".text DbgPrint"}, never: []string{"ZwClose"}},
	"pdata_bad.sys": {
		entry: ".text", calls: []string{".text DbgPrint", ".text ZwClose"},
		reach: []string{"DbgPrint", "ZwClose"},
	},
	"relocs.sys": {
		entry: ".text", calls: []string{".text DbgPrint"}, reach: []string{"DbgPrint"},
	},
	"debug_cv.sys":      {funcs: []string{".text"}, calls: []string{".text DbgPrint"}, reach: []string{"DbgPrint"}},
	"reloc_outside.sys": {refuse: "base relocation (type 10) at RVA 0x7fff0000 points outside the image"},
	"reloc_tail.sys":    {refuse: "base relocation (type 10) at RVA 0x4ffc points outside the image"},
}

// TestHostile runs the whole pipeline on the packed and malformed images of
// testdata/hostile (built by its build.sh) and checks what its README
// promises for each: a refusal that names the problem, or an analysis that
// does not panic, keeps every block and call inside executable code, and
// still finds what the image's code does; loading none of them may
// allocate more than maxLoadAlloc.
func TestHostile(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(hostileDir, "*.sys"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no images in %s (run bash testdata/hostile/build.sh): %v", hostileDir, err)
	}
	seen := map[string]bool{}
	for _, path := range paths {
		name := filepath.Base(path)
		seen[name] = true
		tc, ok := hostileCases[name]
		if !ok {
			t.Errorf("%s: no expectation in hostileCases (and testdata/hostile/README.md)", name)
			continue
		}
		// Not parallel: checkHostile measures what the loader allocates.
		t.Run(strings.TrimSuffix(name, ".sys"), func(t *testing.T) { checkHostile(t, path, tc) })
	}
	for name := range hostileCases {
		if !seen[name] {
			t.Errorf("%s: expected in %s but not built", name, hostileDir)
		}
	}
}

// maxLoadAlloc bounds what loading one hostile image (all of them a few KB)
// may allocate: the loader promises memory bounded by a small multiple of
// the file size, whatever the headers claim.
const maxLoadAlloc = 64 << 20

func checkHostile(t *testing.T, path string, tc hostileCase) {
	before := heapAllocs()
	img, err := withoutPanic(t, "loader.Load", func() (*loader.Image, error) { return loader.Load(path) })
	if t.Failed() {
		return
	}
	if n := heapAllocs() - before; n > maxLoadAlloc {
		t.Errorf("loading allocated %d MiB; want at most %d MiB", n>>20, maxLoadAlloc>>20)
	}
	if tc.refuse != "" {
		switch {
		case err == nil:
			t.Fatalf("loaded; want a refusal containing %q", tc.refuse)
		case !errors.Is(err, loader.ErrMalformed):
			t.Errorf("refused with %v; want loader.ErrMalformed", err)
		case !strings.Contains(err.Error(), tc.refuse):
			t.Errorf("refused with %q; want it to say %q", err, tc.refuse)
		}
		return
	}
	if err != nil {
		t.Fatalf("refused: %v; want it analysed", err)
	}
	r, _ := withoutPanic(t, "rules.Analyze", func() (*Result, error) { return Analyze(path, "", img, Options{}), nil })
	if t.Failed() {
		return
	}
	if r.Err != nil {
		t.Fatalf("analysis failed: %v", r.Err)
	}
	prog := r.Program
	if testing.Verbose() {
		t.Log(describeProgram(prog))
	}
	checkProgramSane(t, prog)
	for _, fd := range r.Findings {
		if fd.Rule == nil || fd.Message == "" || fd.Fingerprint == "" {
			t.Errorf("incomplete finding %+v", fd)
		}
	}

	secName := func(rva uint32) string {
		if s := img.Section(rva); s != nil {
			return s.Name
		}
		return ""
	}
	entryFn := prog.Func(img.EntryRVA)
	switch {
	case tc.entry == "-" && entryFn != nil:
		t.Errorf("a function at the entry point %#x (%s); want none", img.EntryRVA, secName(img.EntryRVA))
	case tc.entry != "" && tc.entry != "-" && entryFn == nil:
		t.Errorf("no function at the entry point %#x; want one in %s", img.EntryRVA, tc.entry)
	case tc.entry != "" && tc.entry != "-" && secName(entryFn.Entry) != tc.entry:
		t.Errorf("the entry function %#x is in %q; want %s", entryFn.Entry, secName(entryFn.Entry), tc.entry)
	}
	for _, want := range tc.funcs {
		if !slices.ContainsFunc(prog.Funcs, func(f *cfg.Func) bool { return secName(f.Entry) == want }) {
			t.Errorf("no function in %s", want)
		}
	}
	for _, want := range tc.calls {
		sec, imp, _ := strings.Cut(want, " ")
		found := false
		for _, f := range prog.Funcs {
			for _, c := range f.Calls {
				if secName(c.Site) == sec && slices.ContainsFunc(c.Callees, func(ce cfg.Callee) bool { return importNamed(prog, ce, imp) }) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("no call site in %s calls %s", sec, imp)
		}
	}
	if len(tc.reach) > 0 {
		if entryFn == nil {
			t.Errorf("no entry function to reach %v from", tc.reach)
		} else {
			got := reachedImports(prog, entryFn)
			for _, want := range tc.reach {
				if !got[want] {
					t.Errorf("the entry function does not reach %s (reaches %v)", want, slices.Sorted(maps.Keys(got)))
				}
			}
		}
	}
	for _, imp := range tc.never {
		for _, f := range prog.Funcs {
			for _, c := range f.Calls {
				if slices.ContainsFunc(c.Callees, func(ce cfg.Callee) bool { return importNamed(prog, ce, imp) }) {
					t.Errorf("call site %#x (%s) calls %s; want no call to it found", c.Site, secName(c.Site), imp)
				}
			}
		}
	}
}

// heapAllocs returns the bytes allocated on the heap so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// withoutPanic runs one stage of the pipeline and turns a panic into a test error
// with the stack: a hostile image must never crash drvhazard.
func withoutPanic[T any](t *testing.T, stage string, fn func() (T, error)) (v T, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%s panicked: %v\n%s", stage, p, debug.Stack())
		}
	}()
	return fn()
}

// checkProgramSane checks the invariants every analysed image must keep:
// functions and blocks lie in the file-backed bytes of one executable
// section each, edges join blocks of the same function, and every callee
// is an import or a function of the program.
func checkProgramSane(t *testing.T, prog *cfg.Program) {
	t.Helper()
	img := prog.Image
	inCode := func(start, end uint32) bool {
		s := img.Section(start)
		return s != nil && s.Executable() && start < end && uint64(end) <= uint64(s.RVA)+uint64(len(img.Data(s)))
	}
	for _, f := range prog.Funcs {
		if !inCode(f.Entry, f.Entry+1) {
			t.Errorf("function %#x is not in the bytes of an executable section", f.Entry)
		}
		starts := map[uint32]bool{}
		for _, b := range f.Blocks {
			starts[b.Start] = true
		}
		for _, b := range f.Blocks {
			if !inCode(b.Start, b.End) {
				t.Errorf("function %#x: block [%#x, %#x) is not inside the bytes of one executable section", f.Entry, b.Start, b.End)
			}
			for _, e := range b.Succs {
				if !starts[e.To] {
					t.Errorf("function %#x: block %#x has an edge to %#x, which starts none of its blocks", f.Entry, b.Start, e.To)
				}
			}
			if b.Term == cfg.TermFall && !slices.Contains(b.Succs, cfg.Edge{To: b.End, Kind: cfg.EdgeFall}) {
				t.Errorf("function %#x: block [%#x, %#x) falls through without an edge to %#x", f.Entry, b.Start, b.End, b.End)
			}
		}
		sites := map[uint32]bool{}
		for _, c := range f.Calls {
			if !inCode(c.Site, c.Site+1) {
				t.Errorf("function %#x: call site %#x is not in the bytes of an executable section", f.Entry, c.Site)
			}
			if c.Kind != cfg.CallHandler {
				if sites[c.Site] {
					t.Errorf("function %#x: call site %#x is recorded twice", f.Entry, c.Site)
				}
				sites[c.Site] = true
			}
			for _, ce := range c.Callees {
				if ce.Import == nil && prog.Func(ce.Func) == nil {
					t.Errorf("function %#x: call site %#x calls %#x, neither an import nor a function", f.Entry, c.Site, ce.Func)
				}
			}
		}
	}
}

func importNamed(prog *cfg.Program, ce cfg.Callee, name string) bool {
	if ce.Import != nil {
		return ce.Import.Name == name
	}
	if f := prog.Func(ce.Func); f != nil && f.Thunk != nil {
		return f.Thunk.Name == name
	}
	return false
}

// reachedImports returns the names of the imports from reaches through
// calls and tail calls.
func reachedImports(prog *cfg.Program, from *cfg.Func) map[string]bool {
	out := map[string]bool{}
	seen := map[*cfg.Func]bool{from: true}
	work := []*cfg.Func{from}
	for len(work) > 0 {
		f := work[len(work)-1]
		work = work[:len(work)-1]
		if f.Thunk != nil {
			out[f.Thunk.Name] = true
		}
		for _, ce := range prog.Callees(f) {
			if ce.Import != nil {
				out[ce.Import.Name] = true
			}
			if g := prog.Func(ce.Func); g != nil && !seen[g] {
				seen[g] = true
				work = append(work, g)
			}
		}
	}
	return out
}

// describeProgram lists functions, blocks and call sites, for go test -v.
func describeProgram(prog *cfg.Program) string {
	img := prog.Image
	var b strings.Builder
	sec := func(rva uint32) string {
		if s := img.Section(rva); s != nil {
			return s.Name
		}
		return "-"
	}
	fmt.Fprintf(&b, "entry %#x (%s); warnings %q; notes %q\n", img.EntryRVA, sec(img.EntryRVA), img.Warnings, prog.Notes)
	for _, f := range prog.Funcs {
		fmt.Fprintf(&b, "func %#x %s source %#x\n", f.Entry, sec(f.Entry), f.Source)
		for _, blk := range f.Blocks {
			fmt.Fprintf(&b, "  block [%#x, %#x) term %d succs %v\n", blk.Start, blk.End, blk.Term, blk.Succs)
		}
		for _, c := range f.Calls {
			var to []string
			for _, ce := range c.Callees {
				if ce.Import != nil {
					to = append(to, ce.Import.Name)
				} else {
					to = append(to, fmt.Sprintf("%#x", ce.Func))
				}
			}
			fmt.Fprintf(&b, "  call %#x %s tail=%v -> %v\n", c.Site, c.Kind, c.Tail, to)
		}
	}
	return b.String()
}

// hostileSeeds returns the bytes of every hostile image, for the fuzzers.
func hostileSeeds() [][]byte {
	paths, _ := filepath.Glob(filepath.Join(hostileDir, "*.sys"))
	var out [][]byte
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, b)
		}
	}
	return out
}
