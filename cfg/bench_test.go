package cfg_test

import (
	"os"
	"testing"

	"github.com/drvhazard/drvhazard/lift"
	"github.com/drvhazard/drvhazard/loader"
)

// BenchmarkBuild measures CFG and call-graph construction on the generated
// large fixture. SetBytes is the size of the executable sections, so the
// MB/s column is megabytes of code per second.
func BenchmarkBuild(b *testing.B) {
	for _, name := range []string{"large.gcc.sys", "large.clang.sys"} {
		b.Run(name, func(b *testing.B) {
			img := loadBench(b, name)
			b.SetBytes(int64(codeSize(img)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				lift.Build(img)
			}
		})
	}
}

// BenchmarkLoadAndBuild is the whole per-file front end: PE parsing plus CFG.
func BenchmarkLoadAndBuild(b *testing.B) {
	data, err := os.ReadFile("../testdata/bin/large.clang.sys")
	if err != nil {
		b.Fatal(err)
	}
	img, err := loader.LoadBytes(data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(codeSize(img)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		img, err := loader.LoadBytes(data)
		if err != nil {
			b.Fatal(err)
		}
		lift.Build(img)
	}
}

func loadBench(b *testing.B, name string) *loader.Image {
	b.Helper()
	img, err := loader.Load("../testdata/bin/" + name)
	if err != nil {
		b.Fatal(err)
	}
	return img
}

func codeSize(img *loader.Image) int {
	n := 0
	for i := range img.Sections {
		if s := &img.Sections[i]; s.Executable() {
			n += len(img.Data(s))
		}
	}
	return n
}
