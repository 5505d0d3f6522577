package pdb

import (
	"encoding/binary"
	"fmt"
)

// The PDB info stream (stream 1; PDBStream in microsoft-pdb PDB/dbi/pdb1.h,
// https://llvm.org/docs/PDB/PdbStream.html):
//
//	uint32   Version;     // 20000404 (VC70) in every PDB 7.0 seen so far
//	uint32   Signature;   // time stamp
//	uint32   Age;
//	GUID     UniqueId;    // Data1 (LE uint32), Data2, Data3 (LE uint16), Data4[8]
//	         named stream map: uint32 size, string buffer, hash table
//	         of (offset of name in the buffer, stream index)
//	uint32   features[];  // to the end of the stream
const (
	infoHeaderSize   = 28
	infoVersionVC70  = 20000404
	namesStream      = "/names"
	stringTableMagic = 0xEFFEEFFE // PDBStringTableSignature
)

type infoStream struct {
	version, signature, age uint32
	guid                    [16]byte
	named                   map[string]int // named stream map
}

func (m *msf) parseInfo() (*infoStream, error) {
	if !m.exists(streamInfo) {
		return nil, fileErr(ErrMalformed, -1, "no PDB info stream (stream 1)")
	}
	b, err := m.stream(streamInfo)
	if err != nil {
		return nil, err
	}
	if len(b) < infoHeaderSize {
		return nil, m.streamErr(ErrMalformed, streamInfo, -1, "%d bytes, the header needs %d", len(b), infoHeaderSize)
	}
	le := binary.LittleEndian
	info := &infoStream{version: le.Uint32(b), signature: le.Uint32(b[4:]), age: le.Uint32(b[8:])}
	copy(info.guid[:], b[12:28])
	if info.version < infoVersionVC70 {
		return nil, m.streamErr(ErrUnsupported, streamInfo, 0, "version %d: only VC70 (%d) and later are read", info.version, infoVersionVC70)
	}
	named, err := m.parseNamedStreams(b, infoHeaderSize)
	if err != nil {
		return nil, err
	}
	info.named = named
	return info, nil
}

// parseNamedStreams reads the named stream map at off in the info stream:
// a string buffer, then a serialized hash table whose present buckets map
// the offset of a name in the buffer to a stream index
// (https://llvm.org/docs/PDB/HashTable.html).
func (m *msf) parseNamedStreams(b []byte, off int) (map[string]int, error) {
	le := binary.LittleEndian
	bad := func(at int, format string, args ...any) error {
		return m.streamErr(ErrMalformed, streamInfo, int64(at), "named stream map: "+format, args...)
	}
	if len(b)-off < 4 {
		return nil, bad(off, "%d bytes left, the string buffer size needs 4", len(b)-off)
	}
	strSize := le.Uint32(b[off:])
	if uint64(strSize) > uint64(len(b)-off-4) {
		return nil, bad(off, "string buffer of %d bytes, %d are left", strSize, len(b)-off-4)
	}
	strs := b[off+4 : off+4+int(strSize)]
	p := off + 4 + int(strSize)
	if len(b)-p < 8 {
		return nil, bad(p, "%d bytes left, the hash table header needs 8", len(b)-p)
	}
	size, capacity := le.Uint32(b[p:]), le.Uint32(b[p+4:])
	p += 8
	present, next, err := readBitVector(b, p)
	if err != nil {
		return nil, bad(p, "present bit vector: %v", err)
	}
	p = next
	if _, next, err = readBitVector(b, p); err != nil { // deleted buckets: not needed
		return nil, bad(p, "deleted bit vector: %v", err)
	}
	p = next
	named := map[string]int{}
	count := uint32(0)
	for w, word := range present {
		for bit := 0; bit < 32; bit++ {
			if word&(1<<bit) == 0 {
				continue
			}
			if bucket := uint64(w)*32 + uint64(bit); bucket >= uint64(capacity) {
				return nil, bad(p, "bucket %d is present, the capacity is %d", bucket, capacity)
			}
			if len(b)-p < 8 {
				return nil, bad(p, "%d bytes left, a bucket needs 8", len(b)-p)
			}
			key, value := le.Uint32(b[p:]), le.Uint32(b[p+4:])
			if uint64(key) >= uint64(len(strs)) {
				return nil, bad(p, "name at offset %d, the string buffer holds %d bytes", key, len(strs))
			}
			name, _, err := m.text(strs, int(key))
			if err != nil {
				return nil, err
			}
			named[name] = int(value)
			p += 8
			count++
		}
	}
	if count != size {
		return nil, bad(off, "the hash table claims %d entries, %d buckets are present", size, count)
	}
	return named, nil
}

// readBitVector reads a serialized bit vector at off: a word count, then
// the words. It returns the words and the offset after them.
func readBitVector(b []byte, off int) ([]uint32, int, error) {
	if len(b)-off < 4 {
		return nil, 0, fmt.Errorf("%d bytes left, the word count needs 4", len(b)-off)
	}
	n := binary.LittleEndian.Uint32(b[off:])
	off += 4
	if uint64(n) > uint64(len(b)-off)/4 {
		return nil, 0, fmt.Errorf("%d words, %d bytes are left", n, len(b)-off)
	}
	words := make([]uint32, n)
	for i := range words {
		words[i] = binary.LittleEndian.Uint32(b[off+4*i:])
	}
	return words, off + 4*int(n), nil
}

// A stringTable is the names buffer of the "/names" stream
// (PDBStringTableHeader in LLVM's
// llvm/include/llvm/DebugInfo/PDB/Native/RawTypes.h):
// uint32 signature 0xEFFEEFFE, uint32 hash version (1 or 2), uint32 size,
// then that many bytes of NUL-terminated strings, addressed by offset.
type stringTable []byte

func parseStringTable(b []byte) (stringTable, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("%d bytes, the header needs 12", len(b))
	}
	le := binary.LittleEndian
	if sig := le.Uint32(b); sig != stringTableMagic {
		return nil, fmt.Errorf("signature %#x, want %#x", sig, stringTableMagic)
	}
	if v := le.Uint32(b[4:]); v != 1 && v != 2 {
		return nil, fmt.Errorf("hash version %d, want 1 or 2", v)
	}
	n := le.Uint32(b[8:])
	if uint64(n) > uint64(len(b)-12) {
		return nil, fmt.Errorf("names buffer of %d bytes, %d are left", n, len(b)-12)
	}
	return stringTable(b[12 : 12+int(n)]), nil
}
