package cfg

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
)

// Ground truth for the fixture drivers lives next to their sources
// (testdata/src/NAME.truth, format in testdata/README.md); the linker's view
// of every function's address is in testdata/bin/NAME.TOOLCHAIN.syms.

type truthLine struct {
	verb string
	args []string
	line int
}

func readTruth(t testing.TB, path, toolchain string) []truthLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []truthLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if last := fields[len(fields)-1]; strings.HasPrefix(last, "@") {
			if last[1:] != toolchain {
				continue
			}
			fields = fields[:len(fields)-1]
		}
		out = append(out, truthLine{verb: fields[0], args: fields[1:], line: n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readSyms maps function names to RVAs and returns every function RVA.
func readSyms(t testing.TB, path string) (map[string]uint32, []uint32) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]uint32{}
	var all []uint32
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 2 {
			continue
		}
		v, err := strconv.ParseUint(fields[0], 0, 32)
		if err != nil {
			t.Fatalf("%s: bad RVA %q", path, fields[0])
		}
		byName[fields[1]] = uint32(v)
		all = append(all, uint32(v))
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return byName, all
}

type variant struct {
	bin, syms, toolchain string
}

func variantsOf(name string) []variant {
	var vs []variant
	for _, tc := range []string{"gcc", "clang"} {
		syms := fmt.Sprintf("../testdata/bin/%s.%s.syms", name, tc)
		for _, suffix := range []string{"", ".stripped"} {
			bin := fmt.Sprintf("../testdata/bin/%s.%s%s.sys", name, tc, suffix)
			if _, err := os.Stat(bin); err == nil {
				vs = append(vs, variant{bin, syms, tc})
			}
		}
	}
	return vs
}

func TestGroundTruth(t *testing.T) {
	truths, err := filepath.Glob("../testdata/src/*.truth")
	if err != nil || len(truths) == 0 {
		t.Fatalf("no ground-truth files in ../testdata/src (%v)", err)
	}
	var totalFound, totalFuncs, totalEdges, totalExtra int
	for _, tp := range truths {
		name := strings.TrimSuffix(filepath.Base(tp), ".truth")
		if strings.HasPrefix(name, "bad_") {
			continue // images for other machines: the loader refuses them (loader tests)
		}
		vs := variantsOf(name)
		if len(vs) < 2 {
			t.Errorf("%s: want builds from both toolchains, found %d", name, len(vs))
		}
		for _, v := range vs {
			t.Run(filepath.Base(v.bin), func(t *testing.T) {
				img, err := loader.Load(v.bin)
				if err != nil {
					t.Fatal(err)
				}
				p := Build(img)
				byName, all := readSyms(t, v.syms)
				found := 0
				var missing []string
				for _, rva := range all {
					if p.Func(rva) != nil {
						found++
					} else {
						missing = append(missing, fmt.Sprintf("%#x", rva))
					}
				}
				// Functions we report that the linker does not know: false
				// entries cut real functions short.
				known := map[uint32]bool{}
				for _, rva := range all {
					known[rva] = true
				}
				var extra []string
				for _, f := range p.Funcs {
					if !known[f.Entry] {
						extra = append(extra, fmt.Sprintf("%#x", f.Entry))
					}
				}
				totalFound += found
				totalFuncs += len(all)
				totalExtra += len(extra)
				t.Logf("%d/%d functions (%.1f%%) missing %v; %d not in the symbol file %v", found, len(all),
					100*float64(found)/float64(max(len(all), 1)), missing, len(extra), extra)
				// Every fixture is small enough to be exact: a function the
				// linker does not know (a string or a jump-table entry taken
				// for code) cuts a real one short.
				if len(extra) > 0 {
					t.Errorf("%d functions reported that the linker does not know: %v", len(extra), extra)
				}
				totalEdges += checkTruth(t, p, readTruth(t, tp, v.toolchain), byName)
			})
		}
	}
	pct := 100 * float64(totalFound) / float64(max(totalFuncs, 1))
	t.Logf("function discovery: %d of %d true functions (%.2f%%); %d edges checked", totalFound, totalFuncs, pct, totalEdges)
	fmt.Printf("ground truth: %d/%d functions recovered (%.2f%%), %d false entries, %d true edges checked\n",
		totalFound, totalFuncs, pct, totalExtra, totalEdges)
	if pct < 99 {
		t.Errorf("function discovery %.2f%% is below 99%%", pct)
	}

}

// checkTruth checks every line of a truth file against p and returns the
// number of edges checked.
func checkTruth(t *testing.T, p *Program, lines []truthLine, byName map[string]uint32) int {
	t.Helper()
	fn := func(l truthLine, name string) *Func {
		rva, ok := byName[name]
		if !ok {
			t.Errorf("truth line %d: %q is not in the symbol file", l.line, name)
			return nil
		}
		f := p.Func(rva)
		if f == nil {
			t.Errorf("truth line %d: function %s at %#x not discovered", l.line, name, rva)
		}
		return f
	}
	// hasEdge reports whether from has a call site of the wanted tailness
	// reaching callee (a function name or module!import).
	hasEdge := func(from *Func, callee string, tail bool, noreturn bool) bool {
		for _, c := range from.Calls {
			if c.Tail != tail {
				continue
			}
			for _, ce := range c.Callees {
				match := false
				if strings.Contains(callee, "!") {
					match = ce.Import != nil && strings.EqualFold(ce.Import.String(), callee)
				} else if rva, ok := byName[callee]; ok {
					match = ce.Func == rva
				}
				if match && noreturn {
					match = blockAt(from, c.Site).Term == TermNoReturn
				}
				if match {
					return true
				}
			}
		}
		return false
	}
	edges := 0
	for _, l := range lines {
		switch l.verb {
		case "func":
			fn(l, l.args[0])
		case "call", "tail", "noreturn":
			from := fn(l, l.args[0])
			if from == nil {
				continue
			}
			edges++
			if !hasEdge(from, l.args[1], l.verb == "tail", l.verb == "noreturn") {
				t.Errorf("truth line %d: %s %s -> %s not recovered; calls: %s", l.line, l.verb, l.args[0], l.args[1], describeCalls(p, from))
			}
		case "ref":
			from := fn(l, l.args[0])
			to := fn(l, l.args[1])
			if from == nil || to == nil {
				continue
			}
			edges++
			ok := false
			for _, r := range from.Refs {
				ok = ok || r.Target == to.Entry
			}
			if !ok {
				t.Errorf("truth line %d: %s does not take the address of %s (refs %v)", l.line, l.args[0], l.args[1], from.Refs)
			}
		case "table":
			if to := fn(l, l.args[1]); to != nil && to.Source&FromDataPtr == 0 {
				t.Errorf("truth line %d: %s not found as a pointer in data (sources %#x)", l.line, l.args[1], to.Source)
			}
		}
	}
	return edges
}

func blockAt(f *Func, rva uint32) *Block {
	for _, b := range f.Blocks {
		if rva >= b.Start && rva < b.End {
			return b
		}
	}
	return &Block{}
}

func describeCalls(p *Program, f *Func) string {
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
