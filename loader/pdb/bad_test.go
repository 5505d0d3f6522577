package pdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var le = binary.LittleEndian

// parseBytes parses b as if it were the file x.pdb, so that the errors
// carry a file name as Open's do.
func parseBytes(t *testing.T, b []byte) (*File, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.pdb")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return Open(path)
}

func TestRefusals(t *testing.T) {
	good := readFixture(t, "mf_rdata.clang.pdb")
	dirOff := directoryOffset(good)
	patched := func(off int, v uint32) []byte {
		b := bytes.Clone(good)
		le.PutUint32(b[off:], v)
		return b
	}
	pdb20 := append([]byte("Microsoft C/C++ program database 2.00\r\n\x1aJG\x00\x00"), make([]byte, 1000)...)
	for _, c := range []struct {
		name string
		data []byte
		kind error
		want string // the whole message after "x.pdb: ", or a part of it
	}{
		{"empty", nil, ErrNotPDB, "0 bytes, too short for an MSF superblock"},
		{"PE image", readFixture(t, "mf_rdata.clang.sys"), ErrNotPDB, `no MSF 7.00 signature (the file starts "MZ`},
		{"PDB 2.0", pdb20, ErrUnsupported, "a PDB 2.0 file"},
		{"truncated in the magic", good[:20], ErrMalformed, "truncated: 20 bytes, an MSF superblock needs 56"},
		{"truncated after the superblock", good[:4096], ErrMalformed,
			fmt.Sprintf("truncated: the superblock claims %d blocks of 4096 bytes (%d), the file holds 4096", len(good)/4096, len(good))},
		{"truncated by one byte", good[:len(good)-1], ErrMalformed, "truncated"},
		{"block size", patched(32, 4095), ErrMalformed, "block size 4095"},
		{"free block map", patched(36, 9), ErrMalformed, "free block map at block 9"},
		{"block count", patched(40, 0xFFFFFFFF), ErrMalformed, "the superblock claims 4294967295 blocks"},
		{"directory size", patched(44, 0xFFFFFFF0), ErrMalformed, "stream directory of 4294967280 bytes"},
		{"block map address", patched(52, 0xFFFFFF), ErrMalformed, "block map at block 16777215"},
		{"stream count", patched(dirOff, 0x40000000), ErrMalformed, "the stream directory lists 1073741824 streams"},
		{"DBI size", patched(dirOff+4+4*3, 0xFFFFFFF0), ErrMalformed,
			fmt.Sprintf("malformed PDB file: stream 3 (DBI) claims 4294967280 bytes, the file holds %d", len(good))},
		{"info stream size", patched(dirOff+4+4*1, 0x7FFFFFFF), ErrMalformed, "stream 1 (PDB info) claims 2147483647 bytes"},
		{"block index", patched(firstBlockEntry(t, good, dirOff, 3), 0x7FFFFFFF), ErrMalformed,
			"stream 3 (DBI): its block 0 is block 2147483647"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := parseBytes(t, c.data)
			if err == nil {
				t.Fatalf("parsed (%d functions), want an error", len(f.Functions()))
			}
			var fe *FormatError
			if !errors.Is(err, c.kind) || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) ||
				!strings.Contains(err.Error(), "x.pdb: ") {
				t.Errorf("%v\nwant a %v naming x.pdb and %q", err, c.kind, c.want)
			}
		})
	}
}

// firstBlockEntry returns the file offset of the directory entry that
// holds the first block of stream s.
func firstBlockEntry(t *testing.T, b []byte, dirOff, s int) int {
	t.Helper()
	n := int(le.Uint32(b[dirOff:]))
	p := dirOff + 4 + 4*n
	for i := 0; i < s; i++ {
		size := le.Uint32(b[dirOff+4+4*i:])
		if size != nilStreamSize {
			p += 4 * int((size+4095)/4096)
		}
	}
	return p
}

func TestTooLarge(t *testing.T) {
	_, err := Parse(failingReader{t}, MaxFileSize+1)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("%v, want ErrTooLarge", err)
	}
}

// failingReader fails the test when read: a refusal must come first.
type failingReader struct{ t *testing.T }

func (r failingReader) ReadAt([]byte, int64) (int, error) {
	r.t.Error("ReadAt called")
	return 0, errors.New("no")
}

// fixtureStreams returns the streams of mf_rdata.clang.pdb and the index
// of its first module's symbol stream.
func fixtureStreams(t *testing.T) ([][]byte, int) {
	t.Helper()
	streams := unpack(t, readFixture(t, "mf_rdata.clang.pdb"))
	return streams, int(le.Uint16(streams[streamDBI][dbiHeaderSize+34:]))
}

// withDBISubstreams rebuilds a DBI stream with new substreams (in stream
// order: module info, contributions, section map, file info, type server
// map, EC, optional debug header).
func withDBISubstreams(dbi []byte, subs [7][]byte) []byte {
	out := bytes.Clone(dbi[:dbiHeaderSize])
	for i, at := range [...]int{24, 28, 32, 36, 40, 52, 48} {
		le.PutUint32(out[at:], uint32(len(subs[i])))
		out = append(out, subs[i]...)
	}
	return out
}

func dbiParts(dbi []byte) [7][]byte {
	offs := dbiSubstreams(dbi)
	var subs [7][]byte
	for i := range subs {
		subs[i] = bytes.Clone(dbi[offs[i]:offs[i+1]])
	}
	return subs
}

// modi builds a module info entry.
func modi(stream uint16, name string) []byte {
	e := make([]byte, modInfoSize)
	le.PutUint16(e[34:], stream)
	e = append(e, name+"\x00"+name+"\x00"...)
	for len(e)%4 != 0 {
		e = append(e, 0)
	}
	return e
}

func TestHostileStreams(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(t *testing.T, streams [][]byte, mod0 int) [][]byte
		kind   error  // nil: Parse must succeed with a warning
		want   string // in the error, or in a warning
	}{
		{"DBI signature", func(t *testing.T, s [][]byte, _ int) [][]byte {
			le.PutUint32(s[streamDBI], 0)
			return s
		}, ErrUnsupported, "stream 3 (DBI) at offset 0x0: version signature 0"},
		{"DBI module info size", func(t *testing.T, s [][]byte, _ int) [][]byte {
			le.PutUint32(s[streamDBI][24:], 0x7FFFFFFF)
			return s
		}, ErrMalformed, "stream 3 (DBI) at offset 0x18: substream of 2147483647 bytes at offset 0x40"},
		{"DBI negative substream", func(t *testing.T, s [][]byte, _ int) [][]byte {
			le.PutUint32(s[streamDBI][32:], 0xFFFFFFFF)
			return s
		}, ErrMalformed, "substream of -1 bytes"},
		{"DBI symbol record stream", func(t *testing.T, s [][]byte, _ int) [][]byte {
			le.PutUint16(s[streamDBI][20:], 0x7777)
			return s
		}, ErrMalformed, "symbol records stream 30583, the directory lists"},
		{"module symbol stream", func(t *testing.T, s [][]byte, _ int) [][]byte {
			le.PutUint16(s[streamDBI][dbiHeaderSize+34:], 0x7777)
			return s
		}, ErrMalformed, "symbol stream 30583, the directory lists"},
		{"module name", func(t *testing.T, s [][]byte, _ int) [][]byte {
			subs := dbiParts(s[streamDBI])
			subs[0] = bytes.Repeat([]byte{'a'}, 100) // no NUL
			subs[1], subs[3] = nil, nil
			s[streamDBI] = withDBISubstreams(s[streamDBI], subs)
			return s
		}, ErrMalformed, "module 0: the module name runs past the module info substream"},
		{"modules sharing a stream", func(t *testing.T, s [][]byte, mod0 int) [][]byte {
			subs := dbiParts(s[streamDBI])
			subs[0] = append(modi(uint16(mod0), "a"), modi(uint16(mod0), "b")...)
			subs[1], subs[3] = nil, nil
			s[streamDBI] = withDBISubstreams(s[streamDBI], subs)
			return s
		}, ErrMalformed, "is already the module 0 symbols stream"},
		{"info version", func(t *testing.T, s [][]byte, _ int) [][]byte {
			le.PutUint32(s[streamInfo], 19941610) // VC2
			return s
		}, ErrUnsupported, "stream 1 (PDB info) at offset 0x0: version 19941610"},
		{"named stream map", func(t *testing.T, s [][]byte, _ int) [][]byte {
			le.PutUint32(s[streamInfo][infoHeaderSize:], 0xFFFFFF00)
			return s
		}, ErrMalformed, "named stream map: string buffer of 4294967040 bytes"},
		{"named stream bit vector", func(t *testing.T, s [][]byte, _ int) [][]byte {
			p := infoHeaderSize + 4 + int(le.Uint32(s[streamInfo][infoHeaderSize:])) + 8
			le.PutUint32(s[streamInfo][p:], 0x3FFFFFFF)
			return s
		}, ErrMalformed, "present bit vector: 1073741823 words"},
		{"named streams overlapping one long name", func(t *testing.T, s [][]byte, _ int) [][]byte {
			const n = 1000 // names at offsets 0..n-1 of one 200 KB string
			info := bytes.Clone(s[streamInfo][:infoHeaderSize])
			info = le.AppendUint32(info, 200<<10+1)
			info = append(info, bytes.Repeat([]byte{'n'}, 200<<10)...)
			info = append(info, 0)
			info = le.AppendUint32(le.AppendUint32(info, n), n) // size, capacity
			info = le.AppendUint32(info, (n+31)/32)
			for w := 0; w < (n+31)/32; w++ {
				info = le.AppendUint32(info, ^uint32(0)>>(32-min(32, n-32*w)))
			}
			info = le.AppendUint32(info, 0) // no deleted buckets
			for k := range n {
				info = le.AppendUint32(le.AppendUint32(info, uint32(k)), 0)
			}
			s[streamInfo] = info
			return s
		}, ErrMalformed, "offsets point into the same strings again and again"},
		{"section headers", func(t *testing.T, s [][]byte, _ int) [][]byte {
			subs := dbiParts(s[streamDBI])
			sec := int(le.Uint16(subs[6][2*dbgSectionHdr:]))
			s[sec] = s[sec][:len(s[sec])-3]
			return s
		}, ErrMalformed, "bytes are not a whole number of 40-byte section headers"},
		// Damage confined to details, symbols or lines: a warning, the rest
		// is read.
		{"file info", func(t *testing.T, s [][]byte, _ int) [][]byte {
			subs := dbiParts(s[streamDBI])
			le.PutUint16(subs[3], 0x7FFF)
			s[streamDBI] = withDBISubstreams(s[streamDBI], subs)
			return s
		}, nil, "file info: 32767 modules, the module info lists"},
		{"section contributions", func(t *testing.T, s [][]byte, _ int) [][]byte {
			subs := dbiParts(s[streamDBI])
			subs[1] = subs[1][:len(subs[1])-1]
			s[streamDBI] = withDBISubstreams(s[streamDBI], subs)
			return s
		}, nil, "are not a whole number of 28-byte entries"},
		{"module symbol record", func(t *testing.T, s [][]byte, mod0 int) [][]byte {
			le.PutUint16(s[mod0][4:], 0xFFFF)
			return s
		}, nil, "module 0 (C:\\drvhazard\\testdata\\build\\mf_rdata.clang.obj) symbols: record at offset 0x4: length 65535 runs past the end"},
		{"module stream sizes", func(t *testing.T, s [][]byte, _ int) [][]byte {
			le.PutUint32(s[streamDBI][dbiHeaderSize+44:], 0xFFFFFFF0) // C13 bytes
			return s
		}, nil, "4294967280 of C13 lines, the stream holds"},
		{"line block", func(t *testing.T, s [][]byte, mod0 int) [][]byte {
			c13 := int(le.Uint32(s[streamDBI][dbiHeaderSize+36:])) + int(le.Uint32(s[streamDBI][dbiHeaderSize+40:]))
			for off := c13; off < len(s[mod0]); {
				kind, n := le.Uint32(s[mod0][off:]), int(le.Uint32(s[mod0][off+4:]))
				if kind == debugSLines {
					le.PutUint32(s[mod0][off+8+12+4:], 0x7FFFFFFF) // nLines of the first block
					return s
				}
				off += 8 + (n+3)&^3
			}
			t.Fatal("no DEBUG_S_LINES in module 0")
			return nil
		}, nil, "lines: DEBUG_S_LINES at offset 0x"},
		{"publics address map", func(t *testing.T, s [][]byte, _ int) [][]byte {
			pub := int(le.Uint16(s[streamDBI][16:]))
			p := psgsiHdrSize + int(le.Uint32(s[pub]))
			le.PutUint32(s[pub][p:], 0xFFFFFF)
			return s
		}, nil, "publics (stream"},
		{"globals hash", func(t *testing.T, s [][]byte, _ int) [][]byte {
			glob := int(le.Uint16(s[streamDBI][12:]))
			le.PutUint32(s[glob][8:], 0xFFFFFFF8)
			return s
		}, nil, "globals (stream"},
		{"names", func(t *testing.T, s [][]byte, _ int) [][]byte {
			for i, b := range s {
				if len(b) >= 4 && le.Uint32(b) == stringTableMagic {
					le.PutUint32(s[i][8:], 0xFFFFFF)
					return s
				}
			}
			t.Fatal("no /names stream")
			return nil
		}, nil, "/names (stream"},
		{"no names", func(t *testing.T, s [][]byte, _ int) [][]byte {
			for i, b := range s {
				if len(b) >= 4 && le.Uint32(b) == stringTableMagic {
					s[i] = nil
					return s
				}
			}
			t.Fatal("no /names stream")
			return nil
		}, nil, "no usable /names stream: lines have no file names"},
	} {
		t.Run(c.name, func(t *testing.T) {
			streams, mod0 := fixtureStreams(t)
			f, err := parseBytes(t, pack(4096, c.mutate(t, streams, mod0)))
			if c.kind == nil {
				if err != nil {
					t.Fatalf("%v, want a warning", err)
				}
				if !strings.Contains(strings.Join(f.Warnings, "\n"), c.want) {
					t.Errorf("warnings %q, want one with %q", f.Warnings, c.want)
				}
				if len(f.Functions()) == 0 {
					t.Error("no functions left")
				}
				return
			}
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "x.pdb: ") {
				t.Errorf("%v\nwant a %v naming x.pdb and %q", err, c.kind, c.want)
			}
		})
	}
}

// TestSharedBlocks lists the same large stream for many modules: the bytes
// read are capped at twice the file size instead of growing with the
// number of modules.
func TestSharedBlocks(t *testing.T) {
	streams, _ := fixtureStreams(t)
	b := newMSF(4096)
	sizes := make([]uint32, len(streams))
	lists := make([][]uint32, len(streams))
	for i, s := range streams {
		sizes[i] = uint32(len(s))
		lists[i] = b.add(s)
	}
	big := make([]byte, 1<<20)
	bigBlocks := b.add(big)
	var mods []byte
	for i := range 100 {
		sizes = append(sizes, uint32(len(big)))
		lists = append(lists, bigBlocks)
		mods = append(mods, modi(uint16(len(sizes)-1), fmt.Sprintf("m%d", i))...)
	}
	subs := dbiParts(streams[streamDBI])
	subs[0], subs[1], subs[3] = mods, nil, nil
	dbi := withDBISubstreams(streams[streamDBI], subs)
	sizes[streamDBI] = uint32(len(dbi))
	lists[streamDBI] = b.add(dbi)
	data := b.build(sizes, lists)
	f, err := parseBytes(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(f.Warnings, "\n"); !strings.Contains(w, "takes the bytes read past twice the file size") {
		t.Errorf("warnings %q, want the read cap", f.Warnings)
	}
	if len(f.Warnings) > maxWarnings+1 {
		t.Errorf("%d warnings, want at most %d", len(f.Warnings), maxWarnings+1)
	}
}

// TestOMAP rewrites a fixture as if the image had been rewritten after
// linking: the symbols' segments refer to original section headers at
// other addresses, and the OMAP maps those back. The functions must come
// out at the same RVAs, and those in an unmapped range must be dropped.
func TestOMAP(t *testing.T) {
	plain, err := Parse(bytes.NewReader(readFixture(t, "mf_rdata.clang.pdb")), int64(len(readFixture(t, "mf_rdata.clang.pdb"))))
	if err != nil {
		t.Fatal(err)
	}
	const shift = 0x50000
	build := func(hole bool) []byte {
		streams, _ := fixtureStreams(t)
		subs := dbiParts(streams[streamDBI])
		dbg := subs[6]
		for len(dbg) < 2*dbgTypeCount {
			dbg = append(dbg, 0xFF, 0xFF)
		}
		sec := int(le.Uint16(dbg[2*dbgSectionHdr:]))
		orig := bytes.Clone(streams[sec])
		var om []byte
		for k := 0; k < len(orig)/sectionHdrSize; k++ {
			va := le.Uint32(orig[k*sectionHdrSize+12:])
			le.PutUint32(orig[k*sectionHdrSize+12:], va+shift)
			om = le.AppendUint32(le.AppendUint32(om, va+shift), va)
			if hole && k == 0 { // the first 0x40 bytes of .text map nowhere
				om = le.AppendUint32(le.AppendUint32(om, va+shift), 0)
				om = le.AppendUint32(le.AppendUint32(om, va+shift+0x40), va+0x40)
				om = om[8:]
			}
		}
		streams = append(streams, orig, om)
		le.PutUint16(dbg[2*dbgSectionHdrOrig:], uint16(len(streams)-2))
		le.PutUint16(dbg[2*dbgOmapFromSrc:], uint16(len(streams)-1))
		subs[6] = dbg
		streams[streamDBI] = withDBISubstreams(streams[streamDBI], subs)
		return pack(4096, streams)
	}
	f, err := parseBytes(t, build(false))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(f.Functions()) != fmt.Sprint(plain.Functions()) {
		t.Errorf("functions through the OMAP:\n%v\nwant\n%v", f.Functions(), plain.Functions())
	}
	for _, fn := range plain.Functions() {
		want, ok1 := plain.LineAt(fn.RVA)
		got, ok2 := f.LineAt(fn.RVA)
		if want != got || ok1 != ok2 {
			t.Errorf("LineAt(%#x) through the OMAP: %v %v, want %v %v", fn.RVA, got, ok2, want, ok1)
		}
	}
	f, err = parseBytes(t, build(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range f.Functions() {
		if fn.RVA < 0x1040 {
			t.Errorf("%s at %#x: in the unmapped range", fn.Name, fn.RVA)
		}
	}
	if len(f.Functions()) >= len(plain.Functions()) || !strings.Contains(strings.Join(f.Warnings, "\n"), "were dropped") {
		t.Errorf("%d functions (of %d), warnings %q: want the unmapped ones dropped", len(f.Functions()), len(plain.Functions()), f.Warnings)
	}
}

func TestOmapLookup(t *testing.T) {
	om := omap{{0x1000, 0x5000}, {0x1100, 0}, {0x1200, 0x2000}}
	for _, c := range []struct {
		in, out uint32
		ok      bool
	}{{0xfff, 0, false}, {0x1000, 0x5000, true}, {0x10ff, 0x50ff, true}, {0x1100, 0, false}, {0x1234, 0x2034, true}} {
		if out, ok := om.lookup(c.in); out != c.out || ok != c.ok {
			t.Errorf("lookup(%#x) = %#x, %v; want %#x, %v", c.in, out, ok, c.out, c.ok)
		}
	}
}

// TestRepeatedPublics lists one public record 100,000 times in the
// publics address map: it is read once.
func TestRepeatedPublics(t *testing.T) {
	streams, _ := fixtureStreams(t)
	pub := int(le.Uint16(streams[streamDBI][16:]))
	p := psgsiHdrSize + int(le.Uint32(streams[pub]))
	first := le.Uint32(streams[pub][p:])
	hdr := make([]byte, psgsiHdrSize)
	le.PutUint32(hdr[4:], 4*100000)
	for range 100000 {
		hdr = le.AppendUint32(hdr, first)
	}
	streams[pub] = hdr
	f, err := parseBytes(t, pack(4096, streams))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Publics()) != 1 || len(f.Warnings) > 0 {
		t.Errorf("%d publics, warnings %q; want 1 and none", len(f.Publics()), f.Warnings)
	}
}
