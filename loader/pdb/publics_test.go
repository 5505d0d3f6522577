package pdb

// Two defects found by reading the PDBs of real MSVC-built drivers.

import (
	"strings"
	"testing"
)

// Functions() must not report a public symbol that is data (neither
// fCode nor fFunction), such as an MSVC string literal ??_C@... merged into
// .text/PAGE/INIT, as a function: cfg would decode it as code. Built here by moving a data
// public of mf_rdata.clang.pdb into .text, past the last procedure.
func TestDataPublicIsNotAFunction(t *testing.T) {
	streams, _ := fixtureStreams(t)
	dbi := streams[streamDBI]
	sym := int(le.Uint16(dbi[20:]))
	f0, err := parseBytes(t, pack(4096, streams))
	if err != nil {
		t.Fatal(err)
	}
	text := -1
	for i, s := range f0.Sections {
		if s.Name == ".text" {
			text = i
		}
	}
	// a byte of .text no procedure covers (alignment padding between two)
	var gap uint32
	fns := f0.Functions()
	for i := 0; i+1 < len(fns); i++ {
		if e := fns[i].RVA + fns[i].Size; e < fns[i+1].RVA && fns[i].Size > 0 {
			gap = e
			break
		}
	}
	if gap == 0 {
		t.Fatal("no gap between the fixture's procedures")
	}
	off := gap - f0.Sections[text].RVA
	// rewrite the first data public (flags 0) of the symbol records
	rec := streams[sym]
	found := ""
	for p := 0; p+4 <= len(rec); {
		n, kind := int(le.Uint16(rec[p:])), le.Uint16(rec[p+2:])
		if kind == sPub32 && le.Uint32(rec[p+4:]) == 0 {
			le.PutUint32(rec[p+8:], off)
			le.PutUint16(rec[p+12:], uint16(text+1))
			found = strings.TrimRight(string(rec[p+14:p+2+n]), "\x00")
			break
		}
		p += 2 + n
	}
	if found == "" {
		t.Fatal("no data public in the fixture")
	}
	f, err := parseBytes(t, pack(4096, streams))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("moved data public %q to .text+%#x (RVA %#x)", found, off, gap)
	for _, fn := range f.Functions() {
		if fn.Name == found {
			t.Errorf("Functions() lists the data public %q (flags: no fCode, no fFunction) at %#x as %v", fn.Name, fn.RVA, fn.Kind)
		}
	}
}

// A PDB whose DBI stream exists but is empty (the compiler's
// vcNNN.pdb of cl /Zi: types only) is refused as malformed instead of
// being read as a PDB without symbols.
func TestEmptyDBIStream(t *testing.T) {
	streams, _ := fixtureStreams(t)
	streams[streamDBI] = []byte{}
	f, err := parseBytes(t, pack(4096, streams))
	if err != nil {
		t.Errorf("empty DBI stream: %v; want a File with the warning \"no DBI stream\"", err)
		return
	}
	t.Logf("warnings %q", f.Warnings)
}
