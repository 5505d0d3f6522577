package pdb

import (
	"bytes"
	"testing"
)

// BenchmarkParse measures reading the large fixture's PDB (6,000
// functions, 90,000 line entries; MB/s of file).
func BenchmarkParse(b *testing.B) {
	data := readFixture(b, "large.clang.pdb")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data), int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLineAt measures a line lookup in the large fixture.
func BenchmarkLineAt(b *testing.B) {
	data := readFixture(b, "large.clang.pdb")
	f, err := Parse(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	fns := f.Functions()
	i := 0
	for b.Loop() {
		f.LineAt(fns[i%len(fns)].RVA + 4)
		i++
	}
}
