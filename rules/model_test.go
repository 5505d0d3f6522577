package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
)

// fixture is one built image of a fixture source, with its symbols.
type fixture struct {
	name, bin, toolchain string
	syms                 map[string]uint32 // name -> RVA
	names                map[uint32]string // RVA -> name
}

func fixtures(t testing.TB) []fixture {
	t.Helper()
	truths, _ := filepath.Glob("../testdata/src/*.truth")
	var out []fixture
	for _, tp := range truths {
		name := strings.TrimSuffix(filepath.Base(tp), ".truth")
		if strings.HasPrefix(name, "bad_") {
			continue
		}
		for _, tc := range []string{"gcc", "clang"} {
			syms, names := readSyms(t, fmt.Sprintf("../testdata/bin/%s.%s.syms", name, tc))
			for _, suffix := range []string{"", ".stripped"} {
				bin := fmt.Sprintf("../testdata/bin/%s.%s%s.sys", name, tc, suffix)
				if _, err := os.Stat(bin); err == nil {
					out = append(out, fixture{name, bin, tc, syms, names})
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no fixtures")
	}
	return out
}

func readSyms(t testing.TB, path string) (map[string]uint32, map[uint32]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	syms, names := map[string]uint32{}, map[uint32]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			v, _ := strconv.ParseUint(f[0], 0, 32)
			syms[f[1]] = uint32(v)
			if _, dup := names[uint32(v)]; !dup {
				names[uint32(v)] = f[1]
			}
		}
	}
	return syms, names
}

// truthLines returns the lines of a truth file with the given verbs, for a
// toolchain, without comments and toolchain suffixes.
func truthLines(t testing.TB, name, toolchain string, verbs ...string) []string {
	t.Helper()
	b, err := os.ReadFile("../testdata/src/" + name + ".truth")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, v := range verbs {
		want[v] = true
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 || !want[f[0]] {
			continue
		}
		if last := f[len(f)-1]; strings.HasPrefix(last, "@") {
			if last[1:] != toolchain {
				continue
			}
			f = f[:len(f)-1]
		}
		out = append(out, strings.Join(f, " "))
	}
	return out
}

func analyse(t testing.TB, fx fixture) *Result {
	t.Helper()
	img, err := loader.Load(fx.bin)
	if err != nil {
		t.Fatal(err)
	}
	return Analyze(fx.bin, "", img, Options{})
}

// name renders a callback RVA with the fixture's symbol names, "-" for NULL.
func (fx fixture) label(rva uint32) string {
	if rva == 0 {
		return "-"
	}
	if n, ok := fx.names[rva]; ok {
		return n
	}
	return fmt.Sprintf("%#x", rva)
}

// modelLines renders the recovered model in the truth-file syntax.
func modelLines(fx fixture, r *Result) []string {
	var out []string
	for _, reg := range r.Model.Registrations {
		out = append(out, fmt.Sprintf("registration %#x %#04x %#x %s", reg.Size, reg.Version, reg.Flags, reg.Where))
		for _, op := range reg.Operations {
			out = append(out, fmt.Sprintf("op %s %#x %s %s", MajorName(op.Major), op.Flags, fx.label(op.Pre), fx.label(op.Post)))
		}
		for _, c := range reg.Contexts {
			out = append(out, fmt.Sprintf("context %#x %s %#x", c.Type, TagString(c.PoolTag), c.Size))
		}
	}
	for _, pt := range r.Model.PoolTags {
		out = append(out, fmt.Sprintf("pooltag %s %s %s %#x", fx.label(pt.Func.Entry), TagString(pt.Tag), pt.API, pt.Type))
	}
	return out
}

func TestModelMatchesTruth(t *testing.T) {
	for _, fx := range fixtures(t) {
		t.Run(filepath.Base(fx.bin), func(t *testing.T) {
			r := analyse(t, fx)
			got := modelLines(fx, r)
			want := truthLines(t, fx.name, fx.toolchain, "registration", "op", "context", "pooltag")
			normalize := func(lines []string) []string {
				var out []string
				for _, l := range lines {
					f := strings.Fields(l)
					for i, w := range f {
						if strings.HasPrefix(w, "0x") {
							if v, err := strconv.ParseUint(w, 0, 64); err == nil {
								f[i] = fmt.Sprintf("%#x", v)
							}
						}
					}
					out = append(out, strings.Join(f, " "))
				}
				sort.Strings(out)
				return out
			}
			g, w := normalize(got), normalize(want)
			if strings.Join(g, "\n") != strings.Join(w, "\n") {
				t.Errorf("model differs from the truth file\ngot:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(w, "\n  "))
			}
			t.Logf("%d model lines match", len(g))
			for _, reg := range r.Model.Registrations {
				if len(reg.Problems) > 0 {
					t.Logf("problems: %q", reg.Problems)
				}
			}
		})
	}
}
