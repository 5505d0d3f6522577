package rules

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Each fixture's truth file lists its expected findings as
//
//	finding RULE CALLBACK SINK
//
// and the analysis must report exactly those: every expected finding and
// no other, in every build of the fixture.
func TestFindingsMatchTruth(t *testing.T) {
	total := 0
	for _, fx := range fixtures(t) {
		t.Run(filepath.Base(fx.bin), func(t *testing.T) {
			r := analyse(t, fx)
			var got []string
			for _, f := range r.Findings {
				cb := "-"
				if f.Callback != nil {
					cb = fx.label(f.Callback.RVA)
				}
				sink := f.Sink
				switch {
				case f.Rule.ID == "MF4001":
					sink = "stack" // the byte count differs by toolchain
				case strings.HasPrefix(sink, "PAGE:"):
					// Name the pageable function as the truth file does,
					// also in images without symbols.
					sink = "PAGE:" + fx.label(f.Path[len(f.Path)-1].RVA)
				}
				got = append(got, strings.Join([]string{f.Rule.ID, cb, sink}, " "))
			}
			var want []string
			for _, l := range truthLines(t, fx.name, fx.toolchain, "finding") {
				want = append(want, strings.TrimPrefix(l, "finding "))
			}
			sort.Strings(got)
			sort.Strings(want)
			total += len(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("findings differ from the truth file\ngot:\n  %s\nwant:\n  %s\nmessages:\n  %s",
					strings.Join(got, "\n  "), strings.Join(want, "\n  "), messages(r))
			}
		})
	}
	t.Logf("%d expected findings checked", total)
}

func messages(r *Result) string {
	var m []string
	for _, f := range r.Findings {
		m = append(m, f.Rule.ID+": "+f.Message)
	}
	return strings.Join(m, "\n  ")
}
