package pdb

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drvhazard/drvhazard/loader"
)

// smallSeed repacks a fixture PDB with 512-byte blocks and without its
// type streams (TPI, IPI), which Parse does not read: under 20 KB that
// still reach every parser, where the fixture itself is 76 KB.
func smallSeed(t testing.TB, name string) []byte {
	streams := unpack(t, readFixture(t, name))
	streams[streamTPI], streams[streamIPI] = nil, nil
	return pack(512, streams)
}

// FuzzParse checks that no input panics or hangs the reader, that every
// refusal is of a known kind, and that a parsed file answers queries.
func FuzzParse(f *testing.F) {
	f.Add(smallSeed(f, "mf_rdata.clang.pdb"))
	f.Add(smallSeed(f, "msvc_patterns.clang.pdb"))
	f.Add(readFixture(f, "thunks.clang.pdb"))
	f.Add([]byte("Microsoft C/C++ program database 2.00\r\n\x1aJG\x00\x00"))
	f.Add([]byte(msfMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				panic("Parse ran for over 5s")
			}
		}()
		pdb, err := Parse(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatal(err)
			}
			if !errors.Is(err, ErrNotPDB) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		for _, fn := range pdb.Functions() {
			pdb.LineAt(fn.RVA)
			pdb.ModuleAt(fn.RVA)
		}
		for _, v := range pdb.Variables() {
			pdb.ModuleAt(v.RVA)
		}
		_ = pdb.Matches(loader.CodeView{GUID: pdb.GUID, Age: pdb.Age})
		if len(pdb.Warnings) > maxWarnings+1 {
			t.Fatalf("%d warnings", len(pdb.Warnings))
		}
	})
}

func TestSmallSeed(t *testing.T) {
	seed := smallSeed(t, "mf_rdata.clang.pdb")
	small, err := Parse(bytes.NewReader(seed), int64(len(seed)))
	if err != nil {
		t.Fatal(err)
	}
	full, _ := openFixture(t, "mf_rdata")
	if len(seed) > 20<<10 || len(small.Functions()) != len(full.Functions()) || len(small.lines) != len(full.lines) {
		t.Errorf("seed of %d bytes: %d functions, %d lines; the fixture has %d, %d",
			len(seed), len(small.Functions()), len(small.lines), len(full.Functions()), len(full.lines))
	}
}
