package cfg_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/internal/fixture"
	"github.com/drvhazard/drvhazard/lift"
	"github.com/drvhazard/drvhazard/loader"
)

// Ground truth for the fixture drivers lives next to their sources
// (testdata/src/NAME.truth, format in testdata/README.md); the linker's view
// of every function's address is in testdata/bin/NAME.BUILD.syms. Every
// image of the optimisation matrix is checked; the mismatches known today in
// the builds other than O2 are listed in testdata/matrix.known.

// discovery counts, for a build of the matrix, the linker's functions found.
type discovery struct {
	found, funcs, extra, edges int
	missing                    []string
}

func TestGroundTruth(t *testing.T) {
	images, err := fixture.Images("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	known, err := fixture.LoadKnown("../testdata/matrix.known", "func", "call", "tail", "ref", "table", "noreturn")
	if err != nil {
		t.Fatal(err)
	}
	byBuild := map[string]*discovery{}
	for _, im := range images {
		d := byBuild[im.Build.Name]
		if d == nil {
			d = &discovery{}
			byBuild[im.Build.Name] = d
		}
		t.Run(im.Base(), func(t *testing.T) {
			known.Checked(im)
			mismatch := func(kind, line string) {
				if err := known.Mismatch(im, kind, line); err != nil {
					t.Error(err)
				} else {
					t.Logf("known (testdata/matrix.known): %s %s", kind, line)
				}
			}
			img, err := loader.Load(im.Path)
			if err != nil {
				t.Fatal(err)
			}
			p := lift.Build(img).Program
			syms, err := fixture.ReadSyms(im.Syms)
			if err != nil {
				t.Fatal(err)
			}
			found := 0
			linked := map[uint32]bool{}
			for _, s := range syms.List {
				linked[s.RVA] = true
				if p.Func(s.RVA) != nil {
					found++
				} else {
					d.missing = append(d.missing, im.Fixture+":"+s.Name)
					mismatch("missing", "func "+s.Name)
				}
			}
			// A function the linker does not know (a string or a jump-table
			// entry taken for code) cuts a real one short.
			extra := 0
			for _, f := range p.Funcs {
				if !linked[f.Entry] {
					extra++
					mismatch("extra", fmt.Sprintf("func %#x", f.Entry))
				}
			}
			d.found += found
			d.funcs += len(syms.List)
			d.extra += extra
			t.Logf("%d/%d functions, %d not in the symbol file", found, len(syms.List), extra)
			lines, err := fixture.ReadTruth(im.Truth, im)
			if err != nil {
				t.Fatal(err)
			}
			d.edges += checkTruth(t, p, lines, syms, mismatch)
		})
	}
	var totalFound, totalFuncs, totalEdges, totalExtra int
	for _, b := range fixture.Builds {
		d := byBuild[b.Name]
		if d == nil {
			continue
		}
		totalFound += d.found
		totalFuncs += d.funcs
		totalEdges += d.edges
		totalExtra += d.extra
		t.Logf("%-9s %5d/%5d functions (%.2f%%), %d false entries, %d edges checked; missing %v", b.Name, d.found, d.funcs,
			100*float64(d.found)/float64(max(d.funcs, 1)), d.extra, d.edges, d.missing)
	}
	for _, msg := range known.Stale() {
		t.Error(msg)
	}
	pct := 100 * float64(totalFound) / float64(max(totalFuncs, 1))
	fmt.Printf("ground truth: %d/%d functions recovered (%.2f%%), %d false entries, %d true edges checked\n",
		totalFound, totalFuncs, pct, totalExtra, totalEdges)
	if pct < 99 {
		t.Errorf("function discovery %.2f%% is below 99%%", pct)
	}
}

// checkTruth checks the lines of a truth file that hold for an image
// against p, reports each edge not recovered to mismatch, and returns the
// number of edges checked. A truth name stands for the function and for the
// clones gcc made of it (Name.isra.0, Name.part.0, Name.cold).
func checkTruth(t *testing.T, p *cfg.Program, lines []fixture.Line, syms *fixture.Symbols, mismatch func(kind, line string)) int {
	t.Helper()
	// funcs returns the discovered functions a truth name stands for.
	funcs := func(l fixture.Line, name string) ([]*cfg.Func, bool) {
		rvas := syms.Lookup(name)
		if len(rvas) == 0 {
			t.Errorf("truth line %d: %q is not in the symbol file (if this build legitimately lacks it, tag the line)", l.N, name)
			return nil, false
		}
		var out []*cfg.Func
		for _, rva := range rvas {
			if f := p.Func(rva); f != nil {
				out = append(out, f)
			}
		}
		return out, true
	}
	// reaches reports whether a call site reaches callee (a function
	// name or module!import).
	reaches := func(ce cfg.Callee, callee string) bool {
		if strings.Contains(callee, "!") {
			return ce.Import != nil && strings.EqualFold(ce.Import.String(), callee)
		}
		for _, rva := range syms.Lookup(callee) {
			if ce.Import == nil && ce.Func == rva {
				return true
			}
		}
		return false
	}
	// hasEdge reports whether one of from has a call site of the wanted
	// tailness reaching callee.
	hasEdge := func(from []*cfg.Func, callee string, tail bool, noreturn bool) bool {
		for _, f := range from {
			for _, c := range f.Calls {
				if c.Tail != tail {
					continue
				}
				for _, ce := range c.Callees {
					if reaches(ce, callee) && (!noreturn || f.BlockAt(c.Site) != nil && f.BlockAt(c.Site).Term == cfg.TermNoReturn) {
						return true
					}
				}
			}
		}
		return false
	}
	edges := 0
	for _, l := range lines {
		switch l.Verb {
		case "func":
			funcs(l, l.Args[0]) // a name of the build; .syms discovery checks the rest
		case "call", "tail", "noreturn":
			from, ok := funcs(l, l.Args[0])
			if !ok || (!strings.Contains(l.Args[1], "!") && len(syms.Lookup(l.Args[1])) == 0) {
				if ok {
					t.Errorf("truth line %d: %q is not in the symbol file", l.N, l.Args[1])
				}
				continue
			}
			edges++
			if !hasEdge(from, l.Args[1], l.Verb == "tail", l.Verb == "noreturn") {
				t.Logf("truth line %d: %s not recovered; calls: %s", l.N, l, describeAll(p, from))
				mismatch("missing", l.String())
			}
		case "ref":
			from, ok1 := funcs(l, l.Args[0])
			_, ok2 := funcs(l, l.Args[1])
			if !ok1 || !ok2 {
				continue
			}
			edges++
			ok := false
			for _, f := range from {
				for _, r := range f.Refs {
					for _, rva := range syms.Lookup(l.Args[1]) {
						ok = ok || r.Target == rva
					}
				}
			}
			if !ok {
				t.Logf("truth line %d: %s does not take the address of %s", l.N, l.Args[0], l.Args[1])
				mismatch("missing", l.String())
			}
		case "table":
			to, ok := funcs(l, l.Args[1])
			if !ok {
				continue
			}
			edges++
			found := false
			for _, f := range to {
				found = found || f.Source&cfg.FromDataPtr != 0
			}
			if !found {
				t.Logf("truth line %d: %s not found as a pointer in data", l.N, l.Args[1])
				mismatch("missing", l.String())
			}
		}
	}
	return edges
}

func describeAll(p *cfg.Program, fs []*cfg.Func) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, describeCalls(p, f))
	}
	return strings.Join(parts, " ")
}

func describeCalls(p *cfg.Program, f *cfg.Func) string {
	var parts []string
	for _, c := range f.Calls {
		var names []string
		for _, ce := range c.Callees {
			if ce.Import != nil {
				names = append(names, ce.Import.String())
			} else if cf := p.Func(ce.Func); cf != nil {
				names = append(names, cf.DisplayName())
			} else {
				names = append(names, fmt.Sprintf("%#x?", ce.Func))
			}
		}
		tail := ""
		if c.Tail {
			tail = " tail"
		}
		parts = append(parts, fmt.Sprintf("%#x %s%s->%s", c.Site, c.Kind, tail, strings.Join(names, ",")))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}
