package loader

import (
	"os"
	"testing"
)

// BenchmarkLoad measures PE parsing of the large fixture (MB/s of file).
func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile("../testdata/bin/large.clang.sys")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := LoadBytes(data); err != nil {
			b.Fatal(err)
		}
	}
}
