package pdb

import (
	"encoding/binary"
	"fmt"
)

// Symbol record kinds (SYM_ENUM_e in microsoft-pdb include/cvinfo.h). Every
// record starts with uint16 RecordLen (the bytes that follow it) and
// uint16 RecordKind.
const (
	sThunk32      = 0x1102
	sLData32      = 0x110c
	sGData32      = 0x110d
	sPub32        = 0x110e
	sLProc32      = 0x110f
	sGProc32      = 0x1110
	sLProc32ID    = 0x1146
	sGProc32ID    = 0x1147
	sLProc32DPC   = 0x1155
	sLProc32DPCID = 0x1156

	cvSignatureC13 = 4 // CV_SIGNATURE_C13: a module stream of C13 records

	gsiHashSignature = 0xFFFFFFFF
	gsiHashVersion   = 0xeffe0000 + 19990810 // GSIHashSCImpvV70 (PDB/dbi/gsi.h)
	gsiHashHdrSize   = 16
	psgsiHdrSize     = 28 // PSGSIHDR
)

// A FunctionKind says which record a Function comes from.
type FunctionKind uint8

const (
	KindGlobal FunctionKind = iota // S_GPROC32, S_GPROC32_ID: an external function
	KindStatic                     // S_LPROC32, S_LPROC32_ID (and the _DPC forms): a static function
	KindThunk                      // S_THUNK32: a linker thunk, such as an import's jmp [IAT]
	KindPublic                     // an S_PUB32 in a code section that no procedure covers; its size is unknown
)

func (k FunctionKind) String() string {
	switch k {
	case KindGlobal:
		return "global"
	case KindStatic:
		return "static"
	case KindThunk:
		return "thunk"
	case KindPublic:
		return "public"
	}
	return fmt.Sprintf("FunctionKind(%d)", uint8(k))
}

// A Function is a named range of code.
type Function struct {
	Name string
	RVA  uint32
	Size uint32 // bytes of code; 0 when unknown (KindPublic)
	Kind FunctionKind
}

// A Public is an S_PUB32 record of the publics stream: an external symbol
// with its decorated name, as the linker saw it.
type Public struct {
	Name     string
	RVA      uint32
	Code     bool // CV_PUBSYMFLAGS fCode
	Function bool // CV_PUBSYMFLAGS fFunction
}

// A Variable is a global or static variable: S_GDATA32 or S_LDATA32, from
// the globals stream or a module's symbols.
type Variable struct {
	Name   string
	RVA    uint32
	Static bool // S_LDATA32: file- or function-static
}

// record returns the kind and the data (after the kind) of the symbol
// record at off in b, and the offset of the record after it.
func record(b []byte, off int) (kind uint16, data []byte, next int, err error) {
	if off < 0 || len(b)-off < 4 {
		return 0, nil, 0, fmt.Errorf("record at offset %#x: %d bytes left, a record header needs 4", off, len(b)-off)
	}
	n := int(binary.LittleEndian.Uint16(b[off:]))
	if n < 2 {
		return 0, nil, 0, fmt.Errorf("record at offset %#x: length %d, less than its kind", off, n)
	}
	if n > len(b)-off-2 {
		return 0, nil, 0, fmt.Errorf("record at offset %#x: length %d runs past the end (%d bytes left)", off, n, len(b)-off-2)
	}
	return binary.LittleEndian.Uint16(b[off+2:]), b[off+4 : off+2+n], off + 2 + n, nil
}

// nameAt returns the name at off in a record's data: NUL-terminated, or
// ending with the record.
func (p *parser) nameAt(data []byte, off int) (string, error) {
	if off >= len(data) {
		return "", nil
	}
	s, _, err := p.m.text(data, off)
	return s, err
}

// moduleSymbols reads the procedures, thunks and variables of a module's
// symbol substream (which starts with the 4-byte CV signature; the record
// offsets in it count from the start of the stream).
//
//	PROCSYM32: uint32 pParent, pEnd, pNext, len, DbgStart, DbgEnd;
//	           uint32 typind; uint32 off; uint16 seg; uint8 flags; char name[]
//	THUNKSYM32: uint32 pParent, pEnd, pNext; uint32 off; uint16 seg;
//	           uint16 len; uint8 ord; char name[]
//	DATASYM32: uint32 typind; uint32 off; uint16 seg; char name[]
func (p *parser) moduleSymbols(b []byte) error {
	le := binary.LittleEndian
	if len(b) < 4 {
		return fmt.Errorf("%d bytes, the CV signature needs 4", len(b))
	}
	if sig := le.Uint32(b); sig != cvSignatureC13 {
		return fmt.Errorf("CV signature %d: only C13 (%d) symbols are read", sig, cvSignatureC13)
	}
	for off := 4; off < len(b); {
		kind, data, next, err := record(b, off)
		if err != nil {
			return err
		}
		switch kind {
		case sGProc32, sGProc32ID, sLProc32, sLProc32ID, sLProc32DPC, sLProc32DPCID:
			if len(data) < 35 {
				return fmt.Errorf("procedure record at offset %#x: %d bytes, want at least 35", off, len(data))
			}
			k := KindStatic
			if kind == sGProc32 || kind == sGProc32ID {
				k = KindGlobal
			}
			name, err := p.nameAt(data, 35)
			if err != nil {
				return err
			}
			p.addFunction(le.Uint16(data[32:]), le.Uint32(data[28:]), le.Uint32(data[12:]), name, k)
		case sThunk32:
			if len(data) < 21 {
				return fmt.Errorf("thunk record at offset %#x: %d bytes, want at least 21", off, len(data))
			}
			name, err := p.nameAt(data, 21)
			if err != nil {
				return err
			}
			p.addFunction(le.Uint16(data[16:]), le.Uint32(data[12:]), uint32(le.Uint16(data[18:])), name, KindThunk)
		case sGData32, sLData32:
			if err := p.addVariable(kind, data); err != nil {
				return fmt.Errorf("data record at offset %#x: %v", off, err)
			}
		}
		off = next
	}
	return nil
}

func (p *parser) addFunction(seg uint16, off, size uint32, name string, kind FunctionKind) {
	rva, ok := p.rva(seg, off)
	if !ok {
		p.unplaced++
		return
	}
	p.functions = append(p.functions, Function{Name: name, RVA: rva, Size: size, Kind: kind})
}

func (p *parser) addVariable(kind uint16, data []byte) error {
	if len(data) < 10 {
		return fmt.Errorf("%d bytes, want at least 10", len(data))
	}
	le := binary.LittleEndian
	rva, ok := p.rva(le.Uint16(data[8:]), le.Uint32(data[4:]))
	if !ok {
		p.unplaced++
		return nil
	}
	name, err := p.nameAt(data, 10)
	if err != nil {
		return err
	}
	p.variables = append(p.variables, Variable{Name: name, RVA: rva, Static: kind == sLData32})
	return nil
}

// publics reads the S_PUB32 records that the publics stream's address map
// points to. The stream is a PSGSIHDR (PDB/dbi/gsi.h),
//
//	uint32   SymHash;          // size of the hash table that follows
//	uint32   AddrMap;          // size of the address map after it
//	uint32   NumThunks, SizeOfThunk;
//	uint16   ISectThunkTable;  char Padding[2];
//	uint32   OffThunkTable, NumSections;
//
// then the hash table, then the address map: uint32 offsets of S_PUB32
// records in the symbol record stream, sorted by address.
//
//	PUBSYM32: uint32 pubsymflags; uint32 off; uint16 seg; char name[]
func (p *parser) publics(idx int) error {
	b, err := p.m.stream(idx)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	if len(b) < psgsiHdrSize {
		return fmt.Errorf("%d bytes, the header needs %d", len(b), psgsiHdrSize)
	}
	start := uint64(psgsiHdrSize) + uint64(le.Uint32(b))
	n := uint64(le.Uint32(b[4:]))
	if start+n > uint64(len(b)) || n%4 != 0 {
		return fmt.Errorf("address map of %d bytes after a %d-byte hash table, the stream holds %d", n, start-psgsiHdrSize, len(b))
	}
	seen := newBitset(len(p.symrecs))
	for i := uint64(0); i < n/4; i++ {
		at := int(start + 4*i)
		off := le.Uint32(b[at:])
		if uint64(off) >= uint64(len(p.symrecs)) {
			return fmt.Errorf("address map entry %d at offset %#x: symbol record offset %#x, the stream holds %d bytes", i, at, off, len(p.symrecs))
		}
		if seen.testAndSet(off) {
			continue
		}
		kind, data, _, err := record(p.symrecs, int(off))
		if err != nil {
			return fmt.Errorf("address map entry %d: symbol records: %v", i, err)
		}
		if kind != sPub32 || len(data) < 10 {
			return fmt.Errorf("address map entry %d: the record at %#x is not an S_PUB32 (kind %#x, %d bytes)", i, off, kind, len(data))
		}
		rva, ok := p.rva(le.Uint16(data[8:]), le.Uint32(data[4:]))
		if !ok {
			p.unplaced++
			continue
		}
		name, err := p.nameAt(data, 10)
		if err != nil {
			return err
		}
		flags := le.Uint32(data)
		p.publicSyms = append(p.publicSyms, Public{Name: name, RVA: rva, Code: flags&1 != 0, Function: flags&2 != 0})
	}
	return nil
}

// globals reads the variables of the globals stream: a GSI hash table
// (GSIHashHdr in PDB/dbi/gsi.h: uint32 VerSignature 0xFFFFFFFF,
// VerHdr, HrSize, NumBuckets) whose HrSize bytes of hash records
// {uint32 Off; uint32 CRef} point, at Off-1, into the symbol record
// stream. Procedure references (S_PROCREF) are skipped: the procedures
// themselves are read from the module streams.
func (p *parser) globals(idx int) error {
	b, err := p.m.stream(idx)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	if len(b) < gsiHashHdrSize {
		return fmt.Errorf("%d bytes, the hash header needs %d", len(b), gsiHashHdrSize)
	}
	if sig, ver := le.Uint32(b), le.Uint32(b[4:]); sig != gsiHashSignature || ver != gsiHashVersion {
		return fmt.Errorf("hash header signature %#x version %#x, want %#x %#x", sig, ver, uint32(gsiHashSignature), uint32(gsiHashVersion))
	}
	n := uint64(le.Uint32(b[8:]))
	if n%8 != 0 || gsiHashHdrSize+n > uint64(len(b)) {
		return fmt.Errorf("%d bytes of hash records, the stream holds %d after the header", n, len(b)-gsiHashHdrSize)
	}
	seen := newBitset(len(p.symrecs))
	for i := uint64(0); i < n/8; i++ {
		off := le.Uint32(b[gsiHashHdrSize+8*i:])
		if off == 0 {
			continue
		}
		off--
		if uint64(off) >= uint64(len(p.symrecs)) {
			return fmt.Errorf("hash record %d: symbol record offset %#x, the stream holds %d bytes", i, off, len(p.symrecs))
		}
		if seen.testAndSet(off) {
			continue
		}
		kind, data, _, err := record(p.symrecs, int(off))
		if err != nil {
			return fmt.Errorf("hash record %d: symbol records: %v", i, err)
		}
		if kind == sGData32 || kind == sLData32 {
			if err := p.addVariable(kind, data); err != nil {
				return fmt.Errorf("hash record %d: data record at %#x: %v", i, off, err)
			}
		}
	}
	return nil
}

// A bitset marks the symbol records already read, so that an address map
// or hash table that lists a record many times does not multiply it.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

// testAndSet sets bit i (which must be below n) and reports whether it was
// already set.
func (b bitset) testAndSet(i uint32) bool {
	w, m := i/64, uint64(1)<<(i%64)
	was := b[w]&m != 0
	b[w] |= m
	return was
}
