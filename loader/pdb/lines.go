package pdb

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// C13 line information: after a module's symbols (and its C11 lines, if
// any) come debug subsections (include/cvinfo.h, "V7 line number data
// types"), each
//
//	uint32   type;   // DEBUG_S_SUBSECTION_TYPE; bit 31: ignore
//	uint32   cbLen;  // then cbLen bytes, padded to 4
//
// DEBUG_S_LINES holds the lines of one contribution of code:
//
//	CV_DebugSLinesHeader_t:   uint32 offCon; uint16 segCon; uint16 flags; uint32 cbCon;
//	then blocks, one per source file:
//	CV_DebugSLinesFileBlockHeader_t: uint32 offFile; uint32 nLines; uint32 cbBlock;
//	CV_Line_t lines[nLines]:  uint32 offset; uint32 linenumStart:24, deltaLineEnd:7, fStatement:1;
//	CV_Column_t columns[nLines] when flags has CV_LINES_HAVE_COLUMNS
//
// where cbBlock counts the block header too, and offFile is the offset of
// an entry in the module's DEBUG_S_FILECHKSMS subsection:
//
//	uint32 offset of the file name in the "/names" string table;
//	uint8 checksum size; uint8 checksum kind; checksum bytes; padding to 4
const (
	debugSLines         = 0xf2
	debugSFileChecksums = 0xf4
	debugSIgnore        = 0x80000000
	linesHaveColumns    = 0x0001

	// Line numbers that mark code with no source line: 0xfeefee ("step
	// over", compiler-generated code) and 0xf00f00 (hidden).
	lineHidden1 = 0xfeefee
	lineHidden2 = 0xf00f00
)

// A Line is a source position.
type Line struct {
	File string // as recorded by the compiler and the linker, e.g. C:\src\driver\read.c
	Line int
}

// lineEntry is the code range [rva, end) of one line.
type lineEntry struct {
	rva, end uint32
	line     uint32 // 0 when the code has no source line
	file     uint32 // index in parser.files
}

// fragmentLine is a line of a DEBUG_S_LINES fragment, before it is placed.
type fragmentLine struct {
	off, line, file uint32
}

// moduleLines reads a module's C13 line subsections.
func (p *parser) moduleLines(c13 []byte) error {
	le := binary.LittleEndian
	var checksums []byte
	subsections := func(fn func(kind uint32, off int, body []byte) error) error {
		for off := 0; off < len(c13); {
			if len(c13)-off < 8 {
				return fmt.Errorf("subsection at offset %#x: %d bytes left, a header needs 8", off, len(c13)-off)
			}
			kind, n := le.Uint32(c13[off:]), le.Uint32(c13[off+4:])
			if uint64(n) > uint64(len(c13)-off-8) {
				return fmt.Errorf("subsection at offset %#x (type %#x) of %d bytes, %d are left", off, kind, n, len(c13)-off-8)
			}
			if err := fn(kind, off, c13[off+8:off+8+int(n)]); err != nil {
				return err
			}
			off += 8 + int(n)
			off += -off & 3
		}
		return nil
	}
	err := subsections(func(kind uint32, _ int, body []byte) error {
		if kind == debugSFileChecksums && checksums == nil {
			checksums = body
		}
		return nil
	})
	if err != nil {
		return err
	}
	files := map[uint32]uint32{} // checksum entry offset -> index in p.files
	fileOf := func(ck uint32) (uint32, error) {
		if i, ok := files[ck]; ok {
			return i, nil
		}
		if uint64(ck)+6 > uint64(len(checksums)) {
			return 0, fmt.Errorf("file checksum entry at %#x, the DEBUG_S_FILECHKSMS subsection holds %d bytes", ck, len(checksums))
		}
		nameOff := le.Uint32(checksums[ck:])
		i, ok := p.nameFiles[nameOff]
		if !ok && p.names == nil { // lines without a file name
			i, ok, p.noNames = p.file(""), true, true
		}
		if !ok {
			if uint64(nameOff) >= uint64(len(p.names)) {
				return 0, fmt.Errorf("file name at offset %#x of the /names table, which holds %d bytes", nameOff, len(p.names))
			}
			name, _, err := p.m.text(p.names, int(nameOff))
			if err != nil {
				return 0, err
			}
			i = p.file(name)
			p.nameFiles[nameOff] = i
		}
		files[ck] = i
		return i, nil
	}
	return subsections(func(kind uint32, off int, body []byte) error {
		if kind != debugSLines { // DEBUG_S_IGNORE set, or another subsection
			return nil
		}
		if err := p.lineFragment(body, fileOf); err != nil {
			return fmt.Errorf("DEBUG_S_LINES at offset %#x: %v", off, err)
		}
		return nil
	})
}

// file returns the index of name in p.files, adding it if new.
func (p *parser) file(name string) uint32 {
	if i, ok := p.fileIdx[name]; ok {
		return i
	}
	i := uint32(len(p.files))
	p.files = append(p.files, name)
	p.fileIdx[name] = i
	return i
}

func (p *parser) lineFragment(b []byte, fileOf func(uint32) (uint32, error)) error {
	le := binary.LittleEndian
	if len(b) < 12 {
		return fmt.Errorf("%d bytes, the header needs 12", len(b))
	}
	conOff, seg, flags, conSize := le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), le.Uint32(b[8:])
	entry := uint64(8)
	if flags&linesHaveColumns != 0 {
		entry += 4
	}
	lines := p.scratch[:0]
	for q := 12; q < len(b); {
		if len(b)-q < 12 {
			return fmt.Errorf("file block at %#x: %d bytes left, the header needs 12", q, len(b)-q)
		}
		ck, n, size := le.Uint32(b[q:]), le.Uint32(b[q+4:]), le.Uint32(b[q+8:])
		if need := 12 + uint64(n)*entry; uint64(size) < need || uint64(size) > uint64(len(b)-q) {
			return fmt.Errorf("file block at %#x: %d lines in a block of %d bytes, %d are left", q, n, size, len(b)-q)
		}
		file, err := fileOf(ck)
		if err != nil {
			return fmt.Errorf("file block at %#x: %v", q, err)
		}
		for i := 0; i < int(n); i++ {
			e := b[q+12+8*i:]
			line := le.Uint32(e[4:]) & 0xFFFFFF
			if line == lineHidden1 || line == lineHidden2 {
				line = 0
			}
			lines = append(lines, fragmentLine{off: le.Uint32(e), line: line, file: file})
		}
		q += int(size)
	}
	p.scratch = lines
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].off < lines[j].off })
	for i, l := range lines {
		end := conSize
		if i+1 < len(lines) {
			end = lines[i+1].off
		}
		if l.off >= end {
			continue // no code: a later line starts at the same offset, or past the contribution
		}
		if uint64(conOff)+uint64(l.off) >= 1<<32 {
			p.unplaced++
			continue
		}
		rva, ok := p.rva(seg, conOff+l.off)
		if !ok {
			p.unplaced++
			continue
		}
		span := min(uint64(end-l.off), 0xFFFFFFFF-uint64(rva))
		if span == 0 {
			continue
		}
		p.lines = append(p.lines, lineEntry{rva: rva, end: rva + uint32(span), line: l.line, file: l.file})
	}
	return nil
}
