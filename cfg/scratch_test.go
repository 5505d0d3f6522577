package cfg_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/lift"
	"github.com/drvhazard/drvhazard/loader"
)

// A build takes the scratch analysis an earlier build grew (of another
// image, with other functions at other addresses): what it builds must be
// what it built with the scratch fresh.
func TestBuildAfterAnotherImage(t *testing.T) {
	small, large := loadFixture(t, "mf_guards.gcc-O0.sys"), loadFixture(t, "large.clang.sys")
	first := describeProgram(lift.Build(small).Program)
	lift.Build(large)
	if again := describeProgram(lift.Build(small).Program); again != first {
		t.Errorf("built after large.clang.sys:\n%s\nbuilt before it:\n%s", again, first)
	}
}

func loadFixture(t *testing.T, name string) *loader.Image {
	t.Helper()
	img, err := loader.Load("../testdata/bin/" + name)
	if err != nil {
		t.Fatalf("%v (run testdata/build.sh)", err)
	}
	return img
}

// describeProgram prints every function's blocks, edges and calls.
func describeProgram(p *cfg.Program) string {
	var b strings.Builder
	for _, f := range p.Funcs {
		fmt.Fprintf(&b, "func %#x %s\n", f.Entry, describeCalls(p, f))
		for _, blk := range f.Blocks {
			fmt.Fprintf(&b, "  block %#x-%#x %d %v:", blk.Start, blk.End, blk.Insts, blk.Term)
			for _, e := range blk.Succs {
				fmt.Fprintf(&b, " %#x/%v", e.To, e.Kind)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}
