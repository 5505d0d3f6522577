package pdb

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// Helpers that take fixture PDBs apart and put them back together, so that
// tests can build hostile variants of real files.

const binDir = "../../testdata/bin"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(binDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unpack returns the streams of an MSF file; a nil stream reads as nil.
func unpack(t testing.TB, b []byte) [][]byte {
	t.Helper()
	m, err := openMSF(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	m.budget = 1 << 40
	out := make([][]byte, len(m.streams))
	for i := range out {
		if out[i], err = m.stream(i); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// msfBuilder lays out an MSF file: block 0 is the superblock, blocks 1 and
// 2 the free block maps, then whatever add allocates.
type msfBuilder struct {
	bs     uint32
	blocks [][]byte
}

func newMSF(bs uint32) *msfBuilder {
	return &msfBuilder{bs: bs, blocks: [][]byte{make([]byte, bs), make([]byte, bs), make([]byte, bs)}}
}

// add stores data in new blocks and returns their numbers.
func (b *msfBuilder) add(data []byte) []uint32 {
	var list []uint32
	for off := 0; off < len(data); off += int(b.bs) {
		blk := make([]byte, b.bs)
		copy(blk, data[off:])
		list = append(list, uint32(len(b.blocks)))
		b.blocks = append(b.blocks, blk)
	}
	return list
}

// build writes the directory (sizes and block lists as given) and the
// superblock, and returns the file.
func (b *msfBuilder) build(sizes []uint32, lists [][]uint32) []byte {
	le := binary.LittleEndian
	dir := le.AppendUint32(nil, uint32(len(sizes)))
	for _, s := range sizes {
		dir = le.AppendUint32(dir, s)
	}
	for _, l := range lists {
		for _, blk := range l {
			dir = le.AppendUint32(dir, blk)
		}
	}
	var mapData []byte
	for _, blk := range b.add(dir) {
		mapData = le.AppendUint32(mapData, blk)
	}
	mapAddr := b.add(mapData)[0]
	sb := b.blocks[0]
	copy(sb, msfMagic)
	le.PutUint32(sb[32:], b.bs)
	le.PutUint32(sb[36:], 1)
	le.PutUint32(sb[40:], uint32(len(b.blocks)))
	le.PutUint32(sb[44:], uint32(len(dir)))
	le.PutUint32(sb[52:], mapAddr)
	return bytes.Join(b.blocks, nil)
}

// pack builds an MSF file of block size bs holding streams; a nil stream
// is written as a nil (deleted) stream.
func pack(bs uint32, streams [][]byte) []byte {
	b := newMSF(bs)
	sizes := make([]uint32, len(streams))
	lists := make([][]uint32, len(streams))
	for i, s := range streams {
		if s == nil {
			sizes[i] = nilStreamSize
			continue
		}
		sizes[i] = uint32(len(s))
		lists[i] = b.add(s)
	}
	return b.build(sizes, lists)
}

// directoryOffset returns the file offset of the stream directory of an
// MSF file whose directory starts in one block.
func directoryOffset(b []byte) int {
	le := binary.LittleEndian
	bs := le.Uint32(b[32:])
	mapAddr := le.Uint32(b[52:])
	return int(le.Uint32(b[mapAddr*bs:]) * bs)
}

// dbiSubstreams returns the offsets of the DBI substreams, in order: module
// info, section contributions, section map, file info, type server map, EC,
// optional debug header, and the end.
func dbiSubstreams(dbi []byte) [8]int {
	le := binary.LittleEndian
	var offs [8]int
	offs[0] = dbiHeaderSize
	for i, at := range [...]int{24, 28, 32, 36, 40, 52, 48} {
		offs[i+1] = offs[i] + int(le.Uint32(dbi[at:]))
	}
	return offs
}

func TestPackRoundTrip(t *testing.T) {
	orig := readFixture(t, "mf_rdata.clang.pdb")
	streams := unpack(t, orig)
	for _, bs := range []uint32{512, 4096} {
		again := unpack(t, pack(bs, streams))
		if len(again) != len(streams) {
			t.Fatalf("block size %d: %d streams, want %d", bs, len(again), len(streams))
		}
		for i := range streams {
			if !bytes.Equal(again[i], streams[i]) {
				t.Errorf("block size %d: stream %d differs", bs, i)
			}
		}
	}
}
