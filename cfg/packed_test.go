package cfg_test

import (
	"reflect"
	"testing"

	"github.com/drvhazard/drvhazard/internal/fixture"
	"github.com/drvhazard/drvhazard/lift"
	"github.com/drvhazard/drvhazard/loader"
)

// The instructions the descent keeps packed must be exactly what decoding
// the block again gives, every field and operand, in every image of the
// optimisation matrix.
func TestKeptInstructionsAreDecoded(t *testing.T) {
	images, err := fixture.Images("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(images) == 0 {
		t.Skip("no fixture images: run testdata/build.sh")
	}
	kept, insts := 0, 0
	for _, im := range images {
		img, err := loader.Load(im.Path)
		if err != nil {
			t.Fatal(err)
		}
		p := lift.Build(img).Program
		for _, f := range p.Funcs {
			for _, blk := range f.Blocks {
				if !blk.Kept() {
					continue
				}
				kept++
				got, want := p.Decode(blk), p.DecodeAgain(blk)
				insts += len(got)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: block %#x: kept instructions\n%+v\ndecoded again\n%+v", im.Path, blk.Start, got, want)
				}
			}
		}
	}
	if kept == 0 {
		t.Fatal("no block kept its instructions")
	}
	t.Logf("%d blocks, %d instructions kept and checked", kept, insts)
}
