package pdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// The MSF container. Block 0 holds the superblock (BIGMSF_HDR in
// microsoft-pdb PDB/msf/msf.cpp; "The Superblock" in
// https://llvm.org/docs/PDB/MsfFile.html):
//
//	char     FileMagic[32];       // msfMagic
//	uint32   BlockSize;           // 512 ... 32768
//	uint32   FreeBlockMapBlock;   // 1 or 2
//	uint32   NumBlocks;
//	uint32   NumDirectoryBytes;   // size of the stream directory
//	uint32   Unknown;
//	uint32   BlockMapAddr[];      // blocks listing the directory's blocks
//
// The stream directory is
//
//	uint32   NumStreams;
//	uint32   StreamSizes[NumStreams];      // 0xFFFFFFFF: a nil (deleted) stream
//	uint32   StreamBlocks[NumStreams][];   // ceil(size/BlockSize) each
const (
	msfMagic       = "Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00"
	pdb20Magic     = "Microsoft C/C++ program database 2.00" // szHdrMagic, before "\r\n\x1aJG"
	superBlockSize = 56                                      // up to and including the first BlockMapAddr
	nilStreamSize  = 0xFFFFFFFF
)

// Streams at fixed indices (https://llvm.org/docs/PDB/index.html).
const (
	streamOldDirectory = 0
	streamInfo         = 1
	streamTPI          = 2
	streamDBI          = 3
	streamIPI          = 4
)

// noStream is the stream index that means "none" in the DBI header, the
// module info and the optional debug header (snNil).
const noStream = 0xFFFF

type msfStream struct {
	size   uint32
	blocks []uint32
}

type msf struct {
	r         io.ReaderAt
	size      int64
	blockSize uint32
	numBlocks uint32
	streams   []msfStream
	names     map[int]string // what each stream is, for messages
	budget    int64          // bytes that may still be read from streams
	textLeft  int64          // bytes that text may still scan
}

// validBlockSize reports the block sizes MSF 7.00 files use (msf.cpp
// accepts powers of two from 512; LLVM's PDB writer goes up to 32768).
func validBlockSize(n uint32) bool {
	switch n {
	case 512, 1024, 2048, 4096, 8192, 16384, 32768:
		return true
	}
	return false
}

func openMSF(r io.ReaderAt, size int64) (*msf, error) {
	if size > MaxFileSize {
		return nil, fileErr(ErrTooLarge, -1, "%d bytes, the limit is %d", size, int64(MaxFileSize))
	}
	var sb [superBlockSize]byte
	n, err := r.ReadAt(sb[:min(int64(len(sb)), max(size, 0))], 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading the superblock: %w", err)
	}
	head := sb[:n]
	if bytes.HasPrefix(head, []byte(pdb20Magic)) {
		return nil, fileErr(ErrUnsupported, 0, "a PDB 2.0 file (%q, Visual C++ 6.0 and older): only PDB 7.0 (MSF 7.00) is read", pdb20Magic)
	}
	if n < superBlockSize {
		if bytes.HasPrefix([]byte(msfMagic), head) && n > 0 {
			return nil, fileErr(ErrMalformed, -1, "truncated: %d bytes, an MSF superblock needs %d", n, superBlockSize)
		}
		return nil, fileErr(ErrNotPDB, 0, "%d bytes, too short for an MSF superblock", n)
	}
	if string(sb[:32]) != msfMagic {
		return nil, fileErr(ErrNotPDB, 0, "no MSF 7.00 signature (the file starts %q)", printable(sb[:32]))
	}
	le := binary.LittleEndian
	m := &msf{
		r:         r,
		size:      size,
		blockSize: le.Uint32(sb[32:]),
		numBlocks: le.Uint32(sb[40:]),
		names: map[int]string{
			streamOldDirectory: "old directory", streamInfo: "PDB info", streamTPI: "TPI",
			streamDBI: "DBI", streamIPI: "IPI",
		},
		budget:   2 * size,
		textLeft: 2*size + 1<<20,
	}
	fpm, dirBytes, mapAddr := le.Uint32(sb[36:]), le.Uint32(sb[44:]), le.Uint32(sb[52:])
	bs := m.blockSize
	if !validBlockSize(bs) {
		return nil, fileErr(ErrMalformed, 32, "block size %d (want a power of two from 512 to 32768)", bs)
	}
	if fpm != 1 && fpm != 2 {
		return nil, fileErr(ErrMalformed, 36, "free block map at block %d (want 1 or 2)", fpm)
	}
	if total := uint64(m.numBlocks) * uint64(bs); total > uint64(size) {
		return nil, fileErr(ErrMalformed, 40, "truncated: the superblock claims %d blocks of %d bytes (%d), the file holds %d",
			m.numBlocks, bs, total, size)
	}
	if mapAddr == 0 || mapAddr >= m.numBlocks {
		return nil, fileErr(ErrMalformed, 52, "block map at block %d, the file has %d blocks", mapAddr, m.numBlocks)
	}
	if dirBytes < 4 || dirBytes%4 != 0 || uint64(dirBytes) > uint64(m.numBlocks)*uint64(bs) {
		return nil, fileErr(ErrMalformed, 44, "stream directory of %d bytes (want a multiple of 4, at least 4, at most the file's %d blocks)",
			dirBytes, m.numBlocks)
	}
	dirBlocks, err := m.directoryBlocks(dirBytes, mapAddr)
	if err != nil {
		return nil, err
	}
	dir := make([]byte, dirBytes)
	if err := m.readBlocks(dir, dirBlocks); err != nil {
		return nil, fmt.Errorf("reading the stream directory: %w", err)
	}
	if err := m.parseDirectory(dir); err != nil {
		return nil, err
	}
	return m, nil
}

// directoryBlocks reads the list of blocks that hold the stream directory.
// The list is stored in the blocks whose numbers follow the superblock
// (BIGMSF_HDR.mpspnpnSt); one block is enough for any file under
// MaxFileSize, but more are read when present.
func (m *msf) directoryBlocks(dirBytes, firstMap uint32) ([]uint32, error) {
	bs := m.blockSize
	nDir := (dirBytes + bs - 1) / bs
	nMap := (nDir*4 + bs - 1) / bs
	if 52+4*uint64(nMap) > uint64(bs) {
		return nil, fileErr(ErrMalformed, 44, "stream directory of %d bytes needs %d block map blocks, more than the superblock lists", dirBytes, nMap)
	}
	mapBlocks := []uint32{firstMap}
	if nMap > 1 {
		extra := make([]byte, 4*(nMap-1))
		if err := readFull(m.r, extra, 56); err != nil {
			return nil, fmt.Errorf("reading the block map addresses: %w", err)
		}
		for i := uint32(0); i < nMap-1; i++ {
			b := binary.LittleEndian.Uint32(extra[4*i:])
			if b == 0 || b >= m.numBlocks {
				return nil, fileErr(ErrMalformed, 56+4*int64(i), "block map at block %d, the file has %d blocks", b, m.numBlocks)
			}
			mapBlocks = append(mapBlocks, b)
		}
	}
	list := make([]byte, nMap*bs)
	if err := m.readBlocks(list, mapBlocks); err != nil {
		return nil, fmt.Errorf("reading the block map: %w", err)
	}
	blocks := make([]uint32, nDir)
	for i := range blocks {
		b := binary.LittleEndian.Uint32(list[4*i:])
		if b == 0 || b >= m.numBlocks {
			return nil, fileErr(ErrMalformed, int64(mapBlocks[0])*int64(bs)+4*int64(i),
				"stream directory block %d is block %d, the file has %d blocks", i, b, m.numBlocks)
		}
		blocks[i] = b
	}
	return blocks, nil
}

func (m *msf) parseDirectory(dir []byte) error {
	le := binary.LittleEndian
	n := le.Uint32(dir)
	if uint64(n) > uint64(len(dir)-4)/4 {
		return fileErr(ErrMalformed, -1, "the stream directory lists %d streams, its %d bytes hold at most %d", n, len(dir), (len(dir)-4)/4)
	}
	m.streams = make([]msfStream, n)
	p := 4 + 4*int(n)
	for i := range m.streams {
		size := le.Uint32(dir[4+4*i:])
		if size == nilStreamSize {
			continue // a deleted stream: no blocks
		}
		if int64(size) > m.size {
			return fileErr(ErrMalformed, -1, "stream %d (%s) claims %d bytes, the file holds %d", i, m.name(i), size, m.size)
		}
		nb := int((size + m.blockSize - 1) / m.blockSize)
		if nb > (len(dir)-p)/4 {
			return fileErr(ErrMalformed, -1, "stream %d (%s) of %d bytes needs %d blocks, the stream directory ends after %d more",
				i, m.name(i), size, nb, (len(dir)-p)/4)
		}
		blocks := make([]uint32, nb)
		for j := range blocks {
			b := le.Uint32(dir[p:])
			p += 4
			if b == 0 || b >= m.numBlocks {
				return fileErr(ErrMalformed, -1, "stream %d (%s): its block %d is block %d, the file has %d blocks", i, m.name(i), j, b, m.numBlocks)
			}
			blocks[j] = b
		}
		m.streams[i] = msfStream{size: size, blocks: blocks}
	}
	return nil
}

func (m *msf) name(i int) string {
	if s, ok := m.names[i]; ok {
		return s
	}
	return "unnamed"
}

// readBlocks fills buf from the given blocks in order, one ReadAt per run
// of consecutive blocks.
func (m *msf) readBlocks(buf []byte, blocks []uint32) error {
	bs := int(m.blockSize)
	for j := 0; j < len(blocks) && j*bs < len(buf); {
		k := j
		for k+1 < len(blocks) && blocks[k+1] == blocks[k]+1 {
			k++
		}
		start, end := j*bs, min((k+1)*bs, len(buf))
		off := int64(blocks[j]) * int64(bs)
		if err := readFull(m.r, buf[start:end], off); err != nil {
			return fmt.Errorf("block %d at file offset %#x: %w", blocks[j], off, err)
		}
		j = k + 1
	}
	return nil
}

// exists reports whether stream i is listed and not nil.
func (m *msf) exists(i int) bool {
	return i >= 0 && i < len(m.streams) && m.streams[i].blocks != nil
}

// stream reads stream i whole. A nil or empty stream reads as no bytes.
func (m *msf) stream(i int) ([]byte, error) {
	if i < 0 || i >= len(m.streams) {
		return nil, fileErr(ErrMalformed, -1, "stream %d (%s) does not exist: the directory lists %d streams", i, m.name(i), len(m.streams))
	}
	s := m.streams[i]
	if s.size == 0 {
		return nil, nil
	}
	m.budget -= int64(s.size)
	if m.budget < 0 {
		return nil, fileErr(ErrMalformed, -1, "reading stream %d (%s) takes the bytes read past twice the file size (%d): the directory shares blocks between streams",
			i, m.name(i), 2*m.size)
	}
	buf := make([]byte, s.size)
	if err := m.readBlocks(buf, s.blocks); err != nil {
		return nil, fmt.Errorf("reading stream %d (%s): %w", i, m.name(i), err)
	}
	return buf, nil
}

// streamHead reads the first n bytes of stream i, or all of it when it is
// shorter.
func (m *msf) streamHead(i, n int) ([]byte, error) {
	if i < 0 || i >= len(m.streams) {
		return nil, fileErr(ErrMalformed, -1, "stream %d (%s) does not exist: the directory lists %d streams", i, m.name(i), len(m.streams))
	}
	s := m.streams[i]
	buf := make([]byte, min(uint64(n), uint64(s.size)))
	if err := m.readBlocks(buf, s.blocks); err != nil {
		return nil, fmt.Errorf("reading stream %d (%s): %w", i, m.name(i), err)
	}
	return buf, nil
}

// streamErr reports a problem inside stream i at offset off (-1: none).
func (m *msf) streamErr(kind error, i int, off int64, format string, args ...any) error {
	return &FormatError{Kind: kind, Stream: i, StreamName: m.name(i), Off: off, Msg: fmt.Sprintf(format, args...)}
}

// text returns the string at off in b, up to a NUL or the end of b, and
// whether a NUL ended it. Offsets read from the file can point into the
// same long string again and again, so the bytes text scans are charged to
// a budget of twice the file size: past it text fails, instead of letting a
// few bytes of offsets cost gigabytes.
func (m *msf) text(b []byte, off int) (string, bool, error) {
	if off < 0 || off > len(b) {
		return "", false, fmt.Errorf("string at offset %d of %d bytes", off, len(b))
	}
	s := b[off:]
	if int64(len(s)) >= m.textLeft {
		s = s[:max(m.textLeft, 0)]
	}
	i := bytes.IndexByte(s, 0)
	if i < 0 && len(s) < len(b)-off || m.textLeft <= 0 {
		m.textLeft = 0
		return "", false, fileErr(ErrMalformed, -1, "the strings read take more than twice the file size (%d bytes): offsets point into the same strings again and again", 2*m.size)
	}
	if i >= 0 {
		s = s[:i]
	}
	m.textLeft -= int64(len(s)) + 1
	return string(s), i >= 0, nil
}

// readFull fills buf from off. A ReaderAt may return io.EOF along with a
// full buffer that ends at the end of the input: that is not an error.
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// printable quotes the leading bytes of a file for a message.
func printable(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}
