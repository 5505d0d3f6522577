package pdb

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/drvhazard/drvhazard/loader"
)

// The type stream (TPI) describes every type the compiler saw; of it only
// the C++ class hierarchy is read: each class, structure or interface and
// its direct base classes, which a virtual call's class-hierarchy analysis
// needs (https://llvm.org/docs/PDB/TpiStream.html; record layouts from
// Microsoft's cvinfo.h).

// Type record kinds (LF_*).
const (
	lfFieldList = 0x1203
	lfBClass    = 0x1400
	lfVBClass   = 0x1401
	lfIVBClass  = 0x1402
	lfClass     = 0x1504
	lfStructure = 0x1505
	lfInterface = 0x1519
	lfPad0      = 0xf0 // LF_PAD0..LF_PAD15 align the members of a field list

	propFwdRef = 0x80 // CV_prop_t fwdref: a declaration, its fields elsewhere
)

// tpiHeaderSize is the size of the TPI stream header up to the hash
// fields; the header says its own size, which is at least this.
const tpiHeaderSize = 56

// maxTypeRecords bounds the records indexed: a PDB of a whole driver has
// tens of thousands.
const maxTypeRecords = 4 << 20

// readClasses reads the class hierarchy of the type stream. Damage is a
// warning: the symbols and lines do not depend on it.
func (p *parser) readClasses() {
	if !p.m.exists(streamTPI) || p.m.streams[streamTPI].size == 0 {
		return
	}
	b, err := p.m.stream(streamTPI)
	if err == nil {
		p.f.classes, err = parseClasses(b)
	}
	if err != nil {
		p.warn("type stream (stream %d): %v; the class hierarchy is not known", streamTPI, err)
	}
}

// parseClasses returns every class defined in a TPI stream (declarations
// aside) by name, with the names of its direct base classes in order.
func parseClasses(b []byte) (map[string]loader.Class, error) {
	le := binary.LittleEndian
	if len(b) < tpiHeaderSize {
		return nil, fmt.Errorf("%d bytes, shorter than its %d-byte header", len(b), tpiHeaderSize)
	}
	hdrSize, first, recBytes := le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[16:])
	if hdrSize < tpiHeaderSize || uint64(hdrSize)+uint64(recBytes) > uint64(len(b)) {
		return nil, fmt.Errorf("header of %d bytes and %d bytes of records in a stream of %d", hdrSize, recBytes, len(b))
	}
	// recs[i] is the record of type index first+i: its kind and data.
	var recs [][]byte
	for off := int(hdrSize); off < int(hdrSize+recBytes); {
		if off+4 > len(b) || len(recs) >= maxTypeRecords {
			return nil, fmt.Errorf("record %#x at offset %#x is cut short", first+uint32(len(recs)), off)
		}
		n := int(le.Uint16(b[off:]))
		if n < 2 || off+2+n > int(hdrSize+recBytes) {
			return nil, fmt.Errorf("record %#x at offset %#x has length %d", first+uint32(len(recs)), off, n)
		}
		recs = append(recs, b[off+2:off+2+n])
		off += 2 + n
	}
	rec := func(ti uint32) []byte {
		if ti < first || ti-first >= uint32(len(recs)) {
			return nil
		}
		return recs[ti-first]
	}
	classes := map[string]loader.Class{}
	for _, r := range recs {
		name, fields, vshape, ok := classRecord(r)
		if !ok || fields == 0 {
			continue
		}
		c := loader.Class{Polymorphic: vshape != 0}
		for _, ti := range baseClasses(rec(fields)) {
			if base, _, _, ok := classRecord(rec(ti)); ok {
				c.Bases = append(c.Bases, base)
			}
		}
		classes[name] = c
	}
	return classes, nil
}

// classRecord reads an LF_CLASS, LF_STRUCTURE or LF_INTERFACE record: the
// class's name, its field list's type index (0 for a declaration) and its
// vtable shape's (0 when its objects have no vtable pointer).
func classRecord(r []byte) (name string, fields, vshape uint32, ok bool) {
	le := binary.LittleEndian
	if len(r) < 18 {
		return "", 0, 0, false
	}
	switch le.Uint16(r) {
	case lfClass, lfStructure, lfInterface:
	default:
		return "", 0, 0, false
	}
	// kind, count, property, field list, derivation list, vtable shape,
	// then the size as a numeric leaf and the name.
	prop, fields, vshape := le.Uint16(r[4:]), le.Uint32(r[6:]), le.Uint32(r[14:])
	n, ok := numericLeaf(r[18:])
	if !ok {
		return "", 0, 0, false
	}
	rest := r[18+n:]
	end := strings.IndexByte(string(rest), 0)
	if end <= 0 {
		return "", 0, 0, false
	}
	if prop&propFwdRef != 0 {
		fields = 0
	}
	return string(rest[:end]), fields, vshape, true
}

// baseClasses returns the type indices of the base classes an LF_FIELDLIST
// record lists. Compilers list the bases first, so reading stops at the
// first member of another kind, whose length it would need to know.
func baseClasses(r []byte) []uint32 {
	le := binary.LittleEndian
	if len(r) < 2 || le.Uint16(r) != lfFieldList {
		return nil
	}
	var out []uint32
	for off := 2; off+2 <= len(r); {
		if r[off] >= lfPad0 {
			off++ // padding before the next member
			continue
		}
		kind := le.Uint16(r[off:])
		if off+8 > len(r) {
			break
		}
		// attributes, then the base class's type index
		ti := le.Uint32(r[off+4:])
		switch kind {
		case lfBClass: // then its offset
			n, ok := numericLeaf(r[off+8:])
			if !ok {
				return out
			}
			out = append(out, ti)
			off += 8 + n
		case lfVBClass, lfIVBClass: // then the vbptr's type, its offset and the base's index in the vbtable
			if off+12 > len(r) {
				return out
			}
			n1, ok1 := numericLeaf(r[off+12:])
			if !ok1 {
				return out
			}
			n2, ok2 := numericLeaf(r[off+12+n1:])
			if !ok2 {
				return out
			}
			out = append(out, ti)
			off += 12 + n1 + n2
		default:
			return out
		}
	}
	return out
}

// numericLeaf returns the length of the numeric leaf at the start of b: a
// value below 0x8000 in two bytes, or a kind saying the size of the value
// that follows.
func numericLeaf(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	v := binary.LittleEndian.Uint16(b)
	if v < 0x8000 {
		return 2, true
	}
	size := map[uint16]int{
		0x8000: 1, 0x8001: 2, 0x8002: 2, 0x8003: 4, 0x8004: 4, // LF_CHAR .. LF_ULONG
		0x8005: 4, 0x8006: 8, 0x8009: 8, 0x800a: 8, // LF_REAL32, LF_REAL64, LF_QUADWORD, LF_UQUADWORD
	}[v]
	if size == 0 || len(b) < 2+size {
		return 0, false
	}
	return 2 + size, true
}

// Classes returns the C++ classes, structures and interfaces the type
// stream defines, by qualified name (ns::Class), each with the names of its
// direct base classes, virtual ones too, in declaration order, and whether
// it is polymorphic. Empty when the PDB has no type stream (a stripped PDB)
// or it could not be read.
func (f *File) Classes() map[string]loader.Class { return f.classes }

// VtableClass returns the class whose virtual function table an MSVC
// public symbol names: ??_7Derived@ns@@6B@ is ns::Derived's; a class with
// several bases has one table for each, ??_7D@@6BBase@@@, and then base is
// the base class it is for. false for other names and for the forms not
// read (templates, back-references).
func VtableClass(symbol string) (class, base string, ok bool) {
	rest, found := strings.CutPrefix(symbol, "??_7")
	if !found {
		return "", "", false
	}
	class, rest, ok = qualifiedName(rest)
	if !ok {
		return "", "", false
	}
	rest, found = strings.CutPrefix(rest, "6B")
	if !found {
		return "", "", false
	}
	if rest == "@" {
		return class, "", true
	}
	base, rest, ok = qualifiedName(rest)
	if !ok || rest != "@" {
		return "", "", false
	}
	return class, base, true
}

// MemberOf reads the MSVC-decorated name of a member function: the class
// (ns::Class) of ?Method@Class@ns@@..., of a destructor ??1Class@@... and of
// a scalar deleting destructor ??_GClass@@...; dtor is set for the last two,
// static when the access code after the name marks a static member (C, D,
// K, L, S, T), which has no this. false for other names (a free function
// ?F@@YA..., a constructor, an operator, templates, back-references).
func MemberOf(symbol string) (class string, dtor, static, ok bool) {
	rest, dtor := "", true
	switch {
	case strings.HasPrefix(symbol, "??1"):
		rest = symbol[3:]
	case strings.HasPrefix(symbol, "??_G"):
		rest = symbol[4:]
	case strings.HasPrefix(symbol, "?") && !strings.HasPrefix(symbol, "??"):
		rest, dtor = symbol[1:], false
	default:
		return "", false, false, false
	}
	name, after, ok := qualifiedName(rest)
	if !ok || after == "" {
		return "", false, false, false
	}
	if !dtor {
		// The method's own name is the innermost part.
		i := strings.LastIndex(name, "::")
		if i < 0 {
			return "", false, false, false
		}
		name = name[:i]
	}
	return name, dtor, strings.IndexByte("CDKLST", after[0]) >= 0, true
}

// qualifiedName reads a decorated name's parts up to the @ that ends them
// (Name@Scope@@): innermost first, as ns::Name. Templates (?$) and
// back-references (digits) are not read.
func qualifiedName(s string) (name, rest string, ok bool) {
	var parts []string
	for {
		if s == "" {
			return "", "", false
		}
		if s[0] == '@' {
			rest = s[1:]
			break
		}
		if s[0] == '?' || s[0] >= '0' && s[0] <= '9' {
			return "", "", false
		}
		part, after, found := strings.Cut(s, "@")
		if !found {
			return "", "", false
		}
		parts = append(parts, part)
		s = after
	}
	if len(parts) == 0 {
		return "", "", false
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "::"), rest, true
}

// AddTo gives img what the PDB says of it that the image does not: its
// functions as function symbols, after the image's own at the same address
// so that the PDB names the function; the class hierarchy; the class of
// each vtable a public symbol locates.
func (f *File) AddTo(img *loader.Image) {
	for _, fn := range f.Functions() {
		if img.Executable(fn.RVA) {
			img.Symbols = append(img.Symbols, loader.Symbol{Name: fn.Name, RVA: fn.RVA, Function: true})
		}
	}
	sort.SliceStable(img.Symbols, func(i, j int) bool { return img.Symbols[i].RVA < img.Symbols[j].RVA })
	if len(f.classes) > 0 {
		img.Classes = f.classes
	}
	for _, pub := range f.Publics() {
		if class, base, ok := VtableClass(pub.Name); ok {
			if img.Vtables == nil {
				img.Vtables = map[uint32]loader.Vtable{}
			}
			img.Vtables[pub.RVA] = loader.Vtable{Class: class, Base: base}
		}
	}
}
