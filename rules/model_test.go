package rules

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/drvhazard/drvhazard/internal/fixture"
	"github.com/drvhazard/drvhazard/loader"
)

// fixtureBuild is one image of a fixture source in the optimisation matrix
// (testdata/build.sh), with its linker's symbols.
type fixtureBuild struct {
	fixture.Image
	name, bin string
	syms      *fixture.Symbols
}

// fixtures returns every image of the matrix, the reject fixtures aside.
func fixtures(t testing.TB) []fixtureBuild {
	t.Helper()
	images, err := fixture.Images("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	var out []fixtureBuild
	for _, im := range images {
		syms, err := fixture.ReadSyms(im.Syms)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fixtureBuild{im, im.Fixture, im.Path, syms})
	}
	return out
}

// truthLines returns the lines of the fixture's truth file with the given
// verbs that hold in its build, without comments and build tags.
func truthLines(t testing.TB, fx fixtureBuild, verbs ...string) []string {
	t.Helper()
	lines, err := fixture.ReadTruth(fx.Truth, fx.Image)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, v := range verbs {
		want[v] = true
	}
	var out []string
	for _, l := range lines {
		if want[l.Verb] {
			out = append(out, l.String())
		}
	}
	return out
}

// analyses caches each image's analysis: the model, findings, fingerprint
// and accuracy tests read the same results.
var analyses sync.Map // path -> *Result

func analyse(t testing.TB, fx fixtureBuild) *Result {
	t.Helper()
	if r, ok := analyses.Load(fx.bin); ok {
		return r.(*Result)
	}
	img, err := loader.Load(fx.bin)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := analyses.LoadOrStore(fx.bin, Analyze(fx.bin, "", img, Options{}))
	return r.(*Result)
}

// label names a function RVA as the truth file does (a clone by the
// function it was made from), "-" for NULL.
func (fx fixtureBuild) label(rva uint32) string {
	if rva == 0 {
		return "-"
	}
	return fx.syms.Label(rva)
}

// modelLines renders the recovered model in the truth-file syntax.
func modelLines(fx fixtureBuild, r *Result) []string {
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
	return normalize(out)
}

// findingLines renders the findings in the truth-file syntax.
func findingLines(fx fixtureBuild, r *Result) []string {
	var out []string
	for _, f := range r.Findings {
		cb := "-"
		if f.Callback != nil {
			cb = fx.label(f.Callback.RVA)
		}
		for _, t := range f.Traces {
			sink := t.Sink
			switch {
			case f.Rule.ID == "MF4001":
				sink = "stack" // the byte count differs by toolchain
			case strings.HasPrefix(sink, "PAGE:"):
				// Name the pageable function as the truth file
				// does, also in images without symbols.
				sink = "PAGE:" + fx.label(t.Path[len(t.Path)-1].RVA)
			}
			out = append(out, strings.Join([]string{"finding", f.Rule.ID, cb, sink}, " "))
		}
	}
	return normalize(out)
}

// normalize writes every hex number the same way (0x0203 is 0x203) and
// sorts the lines.
func normalize(lines []string) []string {
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

// diff returns the lines of want missing from got and the lines of got
// not in want, each as a multiset: MF1001 lines may repeat.
func diff(got, want []string) (missing, extra []string) {
	count := map[string]int{}
	for _, l := range got {
		count[l]++
	}
	for _, l := range want {
		if count[l] > 0 {
			count[l]--
		} else {
			missing = append(missing, l)
		}
	}
	for _, l := range got {
		if count[l] > 0 {
			count[l]--
			extra = append(extra, l)
		}
	}
	return missing, extra
}

// matchTruth compares one kind of result of every image of the matrix with
// its truth file (render gives the results as truth lines of the verbs
// given). An O2 image must give its truth exactly; the mismatches of the
// other builds known today are listed in testdata/matrix.known, which
// fails the test both on a mismatch it does not list and on a line that
// no longer occurs.
func matchTruth(t *testing.T, render func(fixtureBuild, *Result) []string, verbs ...string) {
	known, err := fixture.LoadKnown("../testdata/matrix.known", verbs...)
	if err != nil {
		t.Fatal(err)
	}
	total, held := 0, 0
	for _, fx := range fixtures(t) {
		t.Run(filepath.Base(fx.bin), func(t *testing.T) {
			known.Checked(fx.Image)
			r := analyse(t, fx)
			got, want := render(fx, r), normalize(truthLines(t, fx, verbs...))
			missing, extra := diff(got, want)
			total += len(want)
			held += len(want) - len(missing)
			failed := false
			for _, m := range []struct {
				kind  string
				lines []string
			}{{"missing", missing}, {"extra", extra}} {
				for _, l := range m.lines {
					if err := known.Mismatch(fx.Image, m.kind, l); err != nil {
						t.Error(err)
						failed = true
					} else {
						t.Logf("known (testdata/matrix.known): %s %s", m.kind, l)
					}
				}
			}
			if failed {
				t.Logf("got:\n  %s\nwant:\n  %s\nfindings:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "), messages(r))
			}
		})
	}
	for _, msg := range known.Stale() {
		t.Error(msg)
	}
	t.Logf("%d of %d expected lines hold; %d mismatches known", held, total, known.Listed())
}

func TestModelMatchesTruth(t *testing.T) {
	matchTruth(t, modelLines, "registration", "op", "context", "pooltag")
}
