package pdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
)

// The DBI stream (stream 3; NewDBIHdr in microsoft-pdb PDB/dbi/dbi.h,
// https://llvm.org/docs/PDB/DbiStream.html) starts with a 64-byte header:
//
//	int32    VersionSignature;    // -1
//	uint32   VersionHeader;       // 19990903 (V70) or later
//	uint32   Age;
//	uint16   GlobalStreamIndex;
//	uint16   BuildNumber;
//	uint16   PublicStreamIndex;
//	uint16   PdbDllVersion;
//	uint16   SymRecordStream;
//	uint16   PdbDllRbld;
//	int32    ModInfoSize;
//	int32    SectionContributionSize;
//	int32    SectionMapSize;
//	int32    SourceInfoSize;
//	int32    TypeServerMapSize;
//	uint32   MFCTypeServerIndex;
//	int32    OptionalDbgHeaderSize;
//	int32    ECSubstreamSize;
//	uint16   Flags;
//	uint16   Machine;
//	uint32   Padding;
//
// and the substreams follow in this order: module info, section
// contributions, section map, file info, type server map, EC, optional
// debug header.
const (
	dbiHeaderSize   = 64
	dbiVersionV70   = 19990903
	modInfoSize     = 64 // fixed part of a module info entry (MODI)
	sectionHdrSize  = 40 // IMAGE_SECTION_HEADER
	secContribV60   = 0xeffe0000 + 19970605
	secContribV2    = 0xeffe0000 + 20140516
	secContribSize  = 28 // SC
	secContrib2Size = 32 // SC2
	secMapEntrySize = 20
)

// Indices into the optional debug header (DBGTYPE in microsoft-pdb
// langapi/include/pdb.h): each entry is the stream holding that data.
const (
	dbgOmapFromSrc    = 4
	dbgSectionHdr     = 5
	dbgSectionHdrOrig = 10
	dbgTypeCount      = 11 // dbgtypeMax; entries past it are not read
)

type dbiStream struct {
	age                       uint32
	globals, publics, symrecs int // stream indices, -1 when absent
	machine                   uint16
	modules                   []Module
	contribs                  []contribution
	dbg                       [dbgTypeCount]int // optional debug streams, -1 when absent
}

// A Module is one compiland of the link: an object file, an import
// library member, or the linker's own module ("* Linker *").
type Module struct {
	Name   string   // module name (for an object file, its path)
	Object string   // the object file or library the module came from
	Files  []string // source files that contributed to the module (DBI file info)

	stream             int // symbol stream, -1 when none
	symBytes, c11, c13 uint32
}

// contribution is a section contribution (SC): the bytes a module
// contributed to a section; rva is set once the section headers are known.
type contribution struct {
	section        uint16
	off, size, rva uint32
	module         int
}

// parseDBI reads the DBI stream. Damage in the substreams that only add
// detail (section contributions, section map, file info) is reported
// through warn and leaves that detail out.
func (m *msf) parseDBI(warn func(format string, args ...any)) (*dbiStream, error) {
	b, err := m.stream(streamDBI)
	if err != nil {
		return nil, err
	}
	bad := func(kind error, off int, format string, args ...any) error {
		return m.streamErr(kind, streamDBI, int64(off), format, args...)
	}
	if len(b) < dbiHeaderSize {
		return nil, bad(ErrMalformed, 0, "%d bytes, the header needs %d", len(b), dbiHeaderSize)
	}
	le := binary.LittleEndian
	if sig := int32(le.Uint32(b)); sig != -1 {
		return nil, bad(ErrUnsupported, 0, "version signature %d: a DBI stream older than VC 4.1", sig)
	}
	if v := le.Uint32(b[4:]); v < dbiVersionV70 {
		return nil, bad(ErrUnsupported, 4, "version %d: only V70 (%d) and later are read", v, dbiVersionV70)
	}
	d := &dbiStream{
		age:     le.Uint32(b[8:]),
		globals: m.optStream(le.Uint16(b[12:])),
		publics: m.optStream(le.Uint16(b[16:])),
		symrecs: m.optStream(le.Uint16(b[20:])),
		machine: le.Uint16(b[58:]),
	}
	for _, s := range []struct {
		idx  int
		off  int
		name string
	}{{d.globals, 12, "globals"}, {d.publics, 16, "publics"}, {d.symrecs, 20, "symbol records"}} {
		if s.idx >= len(m.streams) {
			return nil, bad(ErrMalformed, s.off, "%s stream %d, the directory lists %d streams", s.name, s.idx, len(m.streams))
		}
		if s.idx >= 0 {
			m.names[s.idx] = s.name
		}
	}
	// Substream sizes, in stream order.
	sizeOffs := [...]int{24, 28, 32, 36, 40, 52, 48}
	var subs [len(sizeOffs)][]byte
	p := dbiHeaderSize
	for i, at := range sizeOffs {
		n := int32(le.Uint32(b[at:]))
		if n < 0 || int64(n) > int64(len(b)-p) {
			return nil, bad(ErrMalformed, at, "substream of %d bytes at offset %#x, the stream has %d bytes left", n, p, len(b)-p)
		}
		subs[i] = b[p : p+int(n)]
		p += int(n)
	}
	modi, secContr, secMap, fileInfo, dbgHdr := subs[0], subs[1], subs[2], subs[3], subs[6]
	if d.modules, err = m.parseModules(modi); err != nil {
		return nil, err
	}
	if d.contribs, err = m.parseContributions(secContr, dbiHeaderSize+len(modi), len(d.modules)); err != nil {
		warn("%v", err)
	}
	if err := m.checkSectionMap(secMap, dbiHeaderSize+len(modi)+len(secContr)); err != nil {
		warn("%v", err)
	}
	if err := m.parseFileInfo(fileInfo, dbiHeaderSize+len(modi)+len(secContr)+len(secMap), d.modules); err != nil {
		for i := range d.modules {
			d.modules[i].Files = nil
		}
		warn("%v", err)
	}
	dbgOff := p - len(dbgHdr)
	for i := range d.dbg {
		d.dbg[i] = -1
		if 2*i+2 <= len(dbgHdr) {
			s := m.optStream(le.Uint16(dbgHdr[2*i:]))
			if s >= len(m.streams) {
				warn("%v", bad(ErrMalformed, dbgOff+2*i, "optional debug stream %d is stream %d, the directory lists %d streams", i, s, len(m.streams)))
				continue
			}
			d.dbg[i] = s
		}
	}
	return d, nil
}

// optStream turns a 16-bit stream index into an int, -1 for snNil.
func (m *msf) optStream(s uint16) int {
	if s == noStream {
		return -1
	}
	return int(s)
}

// parseModules reads the module info substream: per module a MODI
// (ModuleInfoHeader in LLVM's RawTypes.h),
//
//	uint32   Unused1;
//	SC       SectionContr;          // 28 bytes
//	uint16   Flags;
//	uint16   ModuleSymStream;
//	uint32   SymByteSize;
//	uint32   C11ByteSize;
//	uint32   C13ByteSize;
//	uint16   SourceFileCount;
//	char     Padding[2];
//	uint32   Unused2;
//	uint32   SourceFileNameIndex;
//	uint32   PdbFilePathNameIndex;
//	char     ModuleName[];          // NUL-terminated
//	char     ObjFileName[];         // NUL-terminated
//
// each entry aligned to 4 bytes.
func (m *msf) parseModules(b []byte) ([]Module, error) {
	le := binary.LittleEndian
	var mods []Module
	for p := 0; p < len(b); {
		at := dbiHeaderSize + p
		if len(b)-p < modInfoSize {
			return nil, m.streamErr(ErrMalformed, streamDBI, int64(at), "module %d: %d bytes left, a module entry needs %d", len(mods), len(b)-p, modInfoSize)
		}
		e := b[p:]
		mod := Module{
			stream:   m.optStream(le.Uint16(e[34:])),
			symBytes: le.Uint32(e[36:]),
			c11:      le.Uint32(e[40:]),
			c13:      le.Uint32(e[44:]),
		}
		q := modInfoSize
		var ok bool
		if mod.Name, q, ok = cstring(e, q); !ok {
			return nil, m.streamErr(ErrMalformed, streamDBI, int64(at), "module %d: the module name runs past the module info substream", len(mods))
		}
		if mod.Object, q, ok = cstring(e, q); !ok {
			return nil, m.streamErr(ErrMalformed, streamDBI, int64(at), "module %d: the object file name runs past the module info substream", len(mods))
		}
		if mod.stream >= len(m.streams) {
			return nil, m.streamErr(ErrMalformed, streamDBI, int64(at+34), "module %d (%s): symbol stream %d, the directory lists %d streams",
				len(mods), mod.Name, mod.stream, len(m.streams))
		}
		if mod.stream >= 0 {
			if other, taken := m.names[mod.stream]; taken {
				return nil, m.streamErr(ErrMalformed, streamDBI, int64(at+34), "module %d (%s): symbol stream %d is already the %s stream",
					len(mods), mod.Name, mod.stream, other)
			}
			m.names[mod.stream] = fmt.Sprintf("module %d symbols", len(mods))
		}
		mods = append(mods, mod)
		p += (q + 3) &^ 3
	}
	return mods, nil
}

// cstring returns the NUL-terminated string at off in b and the offset
// after its NUL.
func cstring(b []byte, off int) (string, int, bool) {
	if off > len(b) {
		return "", off, false
	}
	i := bytes.IndexByte(b[off:], 0)
	if i < 0 {
		return "", off, false
	}
	return string(b[off : off+i]), off + i + 1, true
}

// parseContributions reads the section contribution substream: a version,
// then SC (28 bytes) or SC2 (32 bytes) entries
// (microsoft-pdb PDB/include/dbicommon.h):
//
//	uint16   Section;   char Padding1[2];
//	int32    Offset;
//	int32    Size;
//	uint32   Characteristics;
//	uint16   ModuleIndex;   char Padding2[2];
//	uint32   DataCrc;
//	uint32   RelocCrc;
//	uint32   ISectCoff;     // SC2 only
//
// The sections are resolved to RVAs once the section headers are read.
func (m *msf) parseContributions(b []byte, base, nmods int) ([]contribution, error) {
	if len(b) == 0 {
		return nil, nil
	}
	le := binary.LittleEndian
	if len(b) < 4 {
		return nil, m.streamErr(ErrMalformed, streamDBI, int64(base), "section contributions: %d bytes, the version needs 4", len(b))
	}
	size := 0
	switch v := le.Uint32(b); v {
	case secContribV60:
		size = secContribSize
	case secContribV2:
		size = secContrib2Size
	default:
		return nil, m.streamErr(ErrUnsupported, streamDBI, int64(base), "section contributions version %#x", v)
	}
	if (len(b)-4)%size != 0 {
		return nil, m.streamErr(ErrMalformed, streamDBI, int64(base), "section contributions: %d bytes are not a whole number of %d-byte entries", len(b)-4, size)
	}
	out := make([]contribution, 0, (len(b)-4)/size)
	for p := 4; p < len(b); p += size {
		e := b[p:]
		mod := int(le.Uint16(e[16:]))
		if mod >= nmods {
			return nil, m.streamErr(ErrMalformed, streamDBI, int64(base+p+16), "section contribution of module %d, there are %d modules", mod, nmods)
		}
		out = append(out, contribution{section: le.Uint16(e), off: le.Uint32(e[4:]), size: le.Uint32(e[8:]), module: mod})
	}
	return out, nil
}

// checkSectionMap validates the size of the section map substream: a
// count, a logical count, then 20-byte entries (OMFSegMapDesc).
func (m *msf) checkSectionMap(b []byte, base int) error {
	if len(b) == 0 {
		return nil
	}
	if len(b) < 4 {
		return m.streamErr(ErrMalformed, streamDBI, int64(base), "section map: %d bytes, the header needs 4", len(b))
	}
	if n := int(binary.LittleEndian.Uint16(b)); 4+n*secMapEntrySize > len(b) {
		return m.streamErr(ErrMalformed, streamDBI, int64(base), "section map of %d entries, the substream holds %d bytes", n, len(b))
	}
	return nil
}

// parseFileInfo reads the file info substream (FileInfoSubstreamHeader in
// LLVM's RawTypes.h):
//
//	uint16   NumModules;
//	uint16   NumSourceFiles;              // wraps at 64K: ignored
//	uint16   ModIndices[NumModules];
//	uint16   ModFileCounts[NumModules];
//	uint32   FileNameOffsets[sum of ModFileCounts];
//	char     NamesBuffer[];
func (m *msf) parseFileInfo(b []byte, base int, mods []Module) error {
	if len(b) == 0 {
		return nil
	}
	le := binary.LittleEndian
	bad := func(off int, format string, args ...any) error {
		return m.streamErr(ErrMalformed, streamDBI, int64(base+off), "file info: "+format, args...)
	}
	if len(b) < 4 {
		return bad(0, "%d bytes, the header needs 4", len(b))
	}
	n := int(le.Uint16(b))
	if n != len(mods) {
		return bad(0, "%d modules, the module info lists %d", n, len(mods))
	}
	counts := 4 + 2*n
	offsets := counts + 2*n
	if offsets > len(b) {
		return bad(0, "%d modules need %d bytes, the substream holds %d", n, offsets, len(b))
	}
	total := 0
	for i := 0; i < n; i++ {
		total += int(le.Uint16(b[counts+2*i:]))
	}
	names := offsets + 4*total
	if names > len(b) {
		return bad(offsets, "%d file name offsets, the substream holds %d bytes", total, len(b))
	}
	buf := b[names:]
	seen := map[uint32]string{} // headers are listed by many modules
	k := 0
	for i := range mods {
		c := int(le.Uint16(b[counts+2*i:]))
		if c == 0 {
			continue
		}
		mods[i].Files = make([]string, c)
		for j := range c {
			off := le.Uint32(b[offsets+4*k:])
			name, ok := seen[off]
			if !ok {
				var terminated bool
				var err error
				if uint64(off) >= uint64(len(buf)) {
					return bad(offsets+4*k, "module %d file %d at offset %d of a %d-byte names buffer", i, j, off, len(buf))
				}
				if name, terminated, err = m.text(buf, int(off)); err != nil {
					return err
				}
				if !terminated {
					return bad(offsets+4*k, "module %d file %d: the name at offset %d runs past the names buffer", i, j, off)
				}
				seen[off] = name
			}
			mods[i].Files[j] = name
			k++
		}
	}
	return nil
}

// A Section is an entry of the section header stream: the image's
// IMAGE_SECTION_HEADERs, through which segment:offset addresses of the
// symbols become RVAs.
type Section struct {
	Name            string
	RVA             uint32 // VirtualAddress
	Size            uint32 // VirtualSize
	Characteristics uint32
}

// Executable reports IMAGE_SCN_CNT_CODE or IMAGE_SCN_MEM_EXECUTE.
func (s *Section) Executable() bool { return s.Characteristics&(0x20|0x20000000) != 0 }

func (m *msf) parseSections(i int) ([]Section, error) {
	b, err := m.stream(i)
	if err != nil {
		return nil, err
	}
	if len(b)%sectionHdrSize != 0 {
		return nil, m.streamErr(ErrMalformed, i, -1, "%d bytes are not a whole number of %d-byte section headers", len(b), sectionHdrSize)
	}
	le := binary.LittleEndian
	secs := make([]Section, len(b)/sectionHdrSize)
	for k := range secs {
		h := b[k*sectionHdrSize:]
		name := h[:8]
		if j := bytes.IndexByte(name, 0); j >= 0 {
			name = name[:j]
		}
		secs[k] = Section{Name: string(name), Size: le.Uint32(h[8:]), RVA: le.Uint32(h[12:]), Characteristics: le.Uint32(h[36:])}
		if uint64(secs[k].RVA)+uint64(secs[k].Size) > 1<<32 {
			return nil, m.streamErr(ErrMalformed, i, int64(k*sectionHdrSize+8), "section %d (%q) at RVA %#x of %#x bytes ends past 4 GiB",
				k+1, secs[k].Name, secs[k].RVA, secs[k].Size)
		}
	}
	return secs, nil
}

// An omap maps the addresses of the image as linked to those of the image
// rewritten after linking (OMAP_DATA pairs {from, to}, sorted by from):
// an address maps to the "to" of the last entry at or below it plus the
// distance from that entry, or to nothing when that "to" is 0.
type omap []omapEntry

type omapEntry struct{ from, to uint32 }

func (m *msf) parseOmap(i int) (omap, error) {
	b, err := m.stream(i)
	if err != nil {
		return nil, err
	}
	if len(b)%8 != 0 {
		return nil, m.streamErr(ErrMalformed, i, -1, "%d bytes are not a whole number of 8-byte OMAP entries", len(b))
	}
	le := binary.LittleEndian
	om := make(omap, len(b)/8)
	for k := range om {
		om[k] = omapEntry{le.Uint32(b[8*k:]), le.Uint32(b[8*k+4:])}
	}
	if !sort.SliceIsSorted(om, func(a, b int) bool { return om[a].from < om[b].from }) {
		return nil, m.streamErr(ErrMalformed, i, -1, "OMAP entries are not sorted by address")
	}
	return om, nil
}

func (om omap) lookup(rva uint32) (uint32, bool) {
	k := sort.Search(len(om), func(k int) bool { return om[k].from > rva }) - 1
	if k < 0 || om[k].to == 0 {
		return 0, false
	}
	to := uint64(om[k].to) + uint64(rva-om[k].from)
	if to >= 1<<32 {
		return 0, false
	}
	return uint32(to), true
}
