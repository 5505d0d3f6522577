package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/internal/fixture"
)

// Each fixture's truth file lists its expected findings as
//
//	finding RULE CALLBACK SINK
//
// and the analysis must report exactly those: every expected finding and
// no other, in every O2 build of the fixture, and in the other builds of
// the matrix but for the mismatches testdata/matrix.known lists.
func TestFindingsMatchTruth(t *testing.T) {
	matchTruth(t, findingLines, "finding")
}

// Each fixture's truth file lists the blind spots the analysis must report
// as
//
//	unresolved CALLBACK FUNCTION
//
// once per callback and function holding such a call, and only those.
func TestBlindSpotsMatchTruth(t *testing.T) {
	matchTruth(t, blindSpotLines, "unresolved")
}

func blindSpotLines(fx fixtureBuild, r *Result) []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range r.Unresolved {
		l := "unresolved " + fx.label(u.Callback.RVA) + " " + fx.label(u.Path[len(u.Path)-1].RVA)
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return normalize(out)
}

// TestMatrixAccuracy measures the analysis over the matrix, per build:
// of the results the truth files expect (registrations, operations,
// contexts, pool tags and findings), how many hold, how many results are
// reported that the truth does not expect, and how many images come out
// fully right. It only logs; the ratchet is in the tests above.
func TestMatrixAccuracy(t *testing.T) {
	type tally struct{ images, right, want, held, extra int }
	byBuild := map[string]*tally{}
	all := &tally{}
	for _, fx := range fixtures(t) {
		r := analyse(t, fx)
		got := append(modelLines(fx, r), findingLines(fx, r)...)
		want := normalize(truthLines(t, fx, "registration", "op", "context", "pooltag", "finding"))
		missing, extra := diff(normalize(got), want)
		b := byBuild[fx.Build.Name]
		if b == nil {
			b = &tally{}
			byBuild[fx.Build.Name] = b
		}
		for _, c := range []*tally{b, all} {
			c.images++
			c.want += len(want)
			c.held += len(want) - len(missing)
			c.extra += len(extra)
			if len(missing)+len(extra) == 0 {
				c.right++
			}
		}
	}
	line := func(c *tally) string {
		return fmt.Sprintf("expected results holding: %d of %d (%.1f%%), %d unexpected, images fully right: %d of %d",
			c.held, c.want, 100*float64(c.held)/float64(max(c.want, 1)), c.extra, c.right, c.images)
	}
	for _, b := range fixture.Builds {
		if c := byBuild[b.Name]; c != nil {
			t.Logf("%-9s %s", b.Name, line(c))
		}
	}
	t.Logf("all       %s", line(all))
	fmt.Printf("matrix: %s\n", line(all))
}

func messages(r *Result) string {
	var m []string
	for _, f := range r.Findings {
		m = append(m, f.Rule.ID+": "+f.Message)
	}
	return strings.Join(m, "\n  ")
}
