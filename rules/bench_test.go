package rules

import (
	"testing"

	"github.com/drvhazard/drvhazard/lift"
	"github.com/drvhazard/drvhazard/loader"
)

// BenchmarkAnalyze is the whole analysis of the large fixture (CFG, model,
// every rule); BenchmarkCFGOnly is the CFG part of it, for comparison.
func BenchmarkAnalyze(b *testing.B) {
	img := loadLarge(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Analyze("large", "", img, Options{})
	}
}

func BenchmarkCFGOnly(b *testing.B) {
	img := loadLarge(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		lift.Build(img)
	}
}

func loadLarge(b *testing.B) *loader.Image {
	img, err := loader.Load("../testdata/bin/large.clang.sys")
	if err != nil {
		b.Fatal(err)
	}
	return img
}
