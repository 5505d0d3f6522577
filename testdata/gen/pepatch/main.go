// Command pepatch edits the headers of linked PE images and recomputes the
// optional-header checksum.
//
// It sets section characteristics the way lld-link's and the WDK linker's
// /SECTION:name,attrs option does; GNU ld has no such option, and
// testdata/build.sh runs pepatch on the gcc images:
//
//   - -discard NAME marks the section discardable (IMAGE_SCN_MEM_DISCARDABLE),
//     as the WDK links drivers with /SECTION:INIT,D;
//   - -write NAME marks the section writable (IMAGE_SCN_MEM_WRITE), which
//     gives the W+X code section of the hvci_wx fixture (/SECTION:NAME,ERW).
//
// Images without the section are left untouched by these two.
//
// It also writes the header lies of the hostile fixtures
// (testdata/hostile/build.sh), which no linker produces:
//
//   - -entry RVA or -entry NAME+OFF sets AddressOfEntryPoint, to a number or
//     to an offset into the section called NAME;
//   - -section NAME:FIELD=VALUE[,FIELD=VALUE...] sets fields of the section
//     header of NAME: name, vsize (VirtualSize), rva (VirtualAddress),
//     rawsize (SizeOfRawData), rawptr (PointerToRawData), chars
//     (Characteristics); repeatable;
//   - -debug INDEX:FIELD=VALUE[,FIELD=VALUE...] sets fields of entry INDEX of
//     the debug directory: type, size (SizeOfData), rva (AddressOfRawData),
//     ptr (PointerToRawData; NAME+OFF is then a file offset into the raw
//     data of section NAME); repeatable;
//   - -reloc RVA:TYPE[,RVA:TYPE...] appends base relocation blocks with these
//     entries (TYPE 10 is IMAGE_REL_BASED_DIR64, 3 HIGHLOW, 4 HIGHADJ) to the
//     base relocation directory, in the slack of the raw data of the section
//     that holds it; RVA is a number or NAME+OFF as for -entry; repeatable.
//
// Edits apply in the order -entry, -debug, -reloc, -section (all but the
// last read the section table before -section changes it), then -discard
// and -write. Numbers are decimal or 0x-prefixed
// hex. An edit that names a missing section is an error.
//
//	go run ./testdata/gen/pepatch -discard INIT a.sys b.sys
//	go run ./testdata/gen/pepatch -discard INIT -write WXCODE a.sys
//	go run ./testdata/gen/pepatch -discard '' -entry .vmp0+0x10 -section .text:rawsize=0x100000 a.sys
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

const (
	scnMemDiscardable = 0x02000000
	scnMemWrite       = 0x80000000
)

// listFlag collects the values of a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// edits are the header lies asked for on the command line.
type edits struct {
	entry    string      // -entry, "" when not given
	sections []secEdit   // -section
	debugs   []debugEdit // -debug
	relocs   []relocEdit // -reloc
}

// debugEdit sets fields of one IMAGE_DEBUG_DIRECTORY entry.
type debugEdit struct {
	index  int
	fields []debugField
}

type debugField struct {
	off   int    // offset in the 28-byte entry
	value string // a number, or NAME+OFF
}

// secEdit sets fields of one section header: offset in the header -> value.
type secEdit struct {
	name   string
	fields []fieldSet
}

type fieldSet struct {
	off   int    // offset in the 40-byte section header
	name  string // 8-byte name, for off 0
	value uint32
}

// relocEdit is one base relocation entry to append.
type relocEdit struct {
	rva string // a number, or NAME+OFF
	typ uint16
}

func main() {
	discard := flag.String("discard", "INIT", "section name to mark discardable (empty: none)")
	write := flag.String("write", "", "section name to mark writable (empty: none)")
	entry := flag.String("entry", "", "set AddressOfEntryPoint: an RVA, or NAME+OFF inside section NAME")
	var secFlags, debugFlags, relocFlags listFlag
	flag.Var(&secFlags, "section", "NAME:FIELD=VALUE[,...]: set section header fields (name, vsize, rva, rawsize, rawptr, chars); repeatable")
	flag.Var(&debugFlags, "debug", "INDEX:FIELD=VALUE[,...]: set debug directory entry fields (type, size, rva, ptr); repeatable")
	flag.Var(&relocFlags, "reloc", "RVA:TYPE[,...]: append base relocation entries; repeatable")
	flag.Parse()
	set := map[string]uint32{}
	if *discard != "" {
		set[*discard] |= scnMemDiscardable
	}
	if *write != "" {
		set[*write] |= scnMemWrite
	}
	ed := edits{entry: *entry}
	for _, s := range secFlags {
		e, err := parseSecEdit(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "pepatch: -section %s: %v\n", s, err)
			os.Exit(2)
		}
		ed.sections = append(ed.sections, e)
	}
	for _, s := range debugFlags {
		e, err := parseDebugEdit(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "pepatch: -debug %s: %v\n", s, err)
			os.Exit(2)
		}
		ed.debugs = append(ed.debugs, e)
	}
	for _, s := range relocFlags {
		rs, err := parseRelocs(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "pepatch: -reloc %s: %v\n", s, err)
			os.Exit(2)
		}
		ed.relocs = append(ed.relocs, rs...)
	}
	for _, path := range flag.Args() {
		if err := patch(path, set, ed); err != nil {
			fmt.Fprintf(os.Stderr, "pepatch: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func parseNum(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return uint32(v), nil
}

// Offsets of the fields of IMAGE_SECTION_HEADER (PE/COFF §4).
var secFields = map[string]int{"vsize": 8, "rva": 12, "rawsize": 16, "rawptr": 20, "chars": 36}

func parseSecEdit(s string) (secEdit, error) {
	name, rest, ok := strings.Cut(s, ":")
	if !ok || name == "" || rest == "" {
		return secEdit{}, errors.New("want NAME:FIELD=VALUE[,FIELD=VALUE...]")
	}
	e := secEdit{name: name}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return secEdit{}, fmt.Errorf("%q is not FIELD=VALUE", kv)
		}
		if k == "name" {
			if len(v) > 8 {
				return secEdit{}, fmt.Errorf("section name %q is longer than 8 bytes", v)
			}
			e.fields = append(e.fields, fieldSet{off: 0, name: v})
			continue
		}
		off, ok := secFields[k]
		if !ok {
			return secEdit{}, fmt.Errorf("unknown field %q (name, vsize, rva, rawsize, rawptr, chars)", k)
		}
		n, err := parseNum(v)
		if err != nil {
			return secEdit{}, err
		}
		e.fields = append(e.fields, fieldSet{off: off, value: n})
	}
	return e, nil
}

// Offsets of the fields of IMAGE_DEBUG_DIRECTORY (PE/COFF §6.1.1).
var debugFields = map[string]int{"type": 12, "size": 16, "rva": 20, "ptr": 24}

func parseDebugEdit(s string) (debugEdit, error) {
	idx, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return debugEdit{}, errors.New("want INDEX:FIELD=VALUE[,FIELD=VALUE...]")
	}
	n, err := strconv.Atoi(idx)
	if err != nil || n < 0 {
		return debugEdit{}, fmt.Errorf("bad entry index %q", idx)
	}
	e := debugEdit{index: n}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(kv, "=")
		off, known := debugFields[k]
		if !ok || !known || v == "" {
			return debugEdit{}, fmt.Errorf("%q is not FIELD=VALUE with FIELD one of type, size, rva, ptr", kv)
		}
		e.fields = append(e.fields, debugField{off: off, value: v})
	}
	return e, nil
}

func parseRelocs(s string) ([]relocEdit, error) {
	var out []relocEdit
	for _, item := range strings.Split(s, ",") {
		r, t, ok := strings.Cut(item, ":")
		if !ok || r == "" {
			return nil, fmt.Errorf("%q is not RVA:TYPE", item)
		}
		typ, err := parseNum(t)
		if err != nil || typ > 15 {
			return nil, fmt.Errorf("bad relocation type %q (0..15)", t)
		}
		out = append(out, relocEdit{rva: r, typ: uint16(typ)})
	}
	return out, nil
}

// image locates the headers of a PE image in memory.
type image struct {
	data  []byte
	opt   int // file offset of the optional header
	table int // file offset of the section table
	nsec  int
}

func parse(data []byte) (*image, error) {
	if len(data) < 0x40 || string(data[:2]) != "MZ" {
		return nil, errors.New("not an MZ image")
	}
	pe := int(binary.LittleEndian.Uint32(data[0x3c:]))
	if pe+24 > len(data) || string(data[pe:pe+4]) != "PE\x00\x00" {
		return nil, errors.New("no PE header")
	}
	nsec := int(binary.LittleEndian.Uint16(data[pe+6:]))
	optSize := int(binary.LittleEndian.Uint16(data[pe+20:]))
	opt := pe + 24
	table := opt + optSize
	if table+40*nsec > len(data) {
		return nil, errors.New("section table out of range")
	}
	return &image{data: data, opt: opt, table: table, nsec: nsec}, nil
}

// section returns the file offset of the header of the first section called
// name, or -1.
func (im *image) section(name string) int {
	for i := 0; i < im.nsec; i++ {
		if im.sectionName(i) == name {
			return im.table + 40*i
		}
	}
	return -1
}

func (im *image) sectionName(i int) string {
	n := im.data[im.table+40*i : im.table+40*i+8]
	end := 0
	for end < 8 && n[end] != 0 {
		end++
	}
	return string(n[:end])
}

func (im *image) u32(off int) uint32      { return binary.LittleEndian.Uint32(im.data[off:]) }
func (im *image) put32(off int, v uint32) { binary.LittleEndian.PutUint32(im.data[off:], v) }

// patch applies the edits, then ORs set[name] into the characteristics of
// every section called name, and rewrites the file when anything changed.
func patch(path string, set map[string]uint32, ed edits) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	im, err := parse(data)
	if err != nil {
		return err
	}
	changed := false
	if ed.entry != "" {
		if err := im.setEntry(ed.entry); err != nil {
			return err
		}
		changed = true
	}
	for _, e := range ed.debugs {
		if err := im.setDebug(e); err != nil {
			return err
		}
		changed = true
	}
	if len(ed.relocs) > 0 {
		if err := im.appendRelocs(ed.relocs); err != nil {
			return err
		}
		changed = true
	}
	for _, e := range ed.sections {
		h := im.section(e.name)
		if h < 0 {
			return fmt.Errorf("-section: no section %q", e.name)
		}
		for _, f := range e.fields {
			if f.off == 0 {
				var n [8]byte
				copy(n[:], f.name)
				copy(im.data[h:h+8], n[:])
				continue
			}
			im.put32(h+f.off, f.value)
		}
		changed = true
	}
	for i := 0; i < im.nsec; i++ {
		h := im.table + 40*i
		bits, ok := set[im.sectionName(i)]
		if !ok {
			continue
		}
		c := im.u32(h + 36)
		if c&bits != bits {
			im.put32(h+36, c|bits)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	// CheckSum is at offset 64 of the optional header (PE32 and PE32+).
	sumOff := im.opt + 64
	binary.LittleEndian.PutUint32(data[sumOff:], checksum(data, sumOff))
	return os.WriteFile(path, data, 0o644)
}

// rva resolves an address written as a number or as NAME+OFF, an offset
// into the section called NAME (in the section table as it is now).
func (im *image) rva(spec string) (uint32, error) {
	name, off, ok := strings.Cut(spec, "+")
	if !ok || name == "" || (name[0] >= '0' && name[0] <= '9') {
		return parseNum(spec)
	}
	h := im.section(name)
	if h < 0 {
		return 0, fmt.Errorf("no section %q", name)
	}
	n, err := parseNum(off)
	if err != nil {
		return 0, err
	}
	return im.u32(h+12) + n, nil
}

// fileOffset resolves a file offset written as a number or as NAME+OFF, an
// offset into the raw data of the section called NAME.
func (im *image) fileOffset(spec string) (uint32, error) {
	name, off, ok := strings.Cut(spec, "+")
	if !ok || name == "" || (name[0] >= '0' && name[0] <= '9') {
		return parseNum(spec)
	}
	h := im.section(name)
	if h < 0 {
		return 0, fmt.Errorf("no section %q", name)
	}
	n, err := parseNum(off)
	if err != nil {
		return 0, err
	}
	return im.u32(h+20) + n, nil
}

// setDebug writes fields of an entry of the debug directory (data
// directory 6 of a PE32+ optional header, at offset 112+6*8).
func (im *image) setDebug(e debugEdit) error {
	dir := im.opt + 112 + 6*8
	if dir+8 > im.table {
		return errors.New("-debug: the optional header has no debug directory")
	}
	dirRVA, dirSize := im.u32(dir), im.u32(dir+4)
	if uint32(e.index+1)*28 > dirSize {
		return fmt.Errorf("-debug: the debug directory has %d entries, no entry %d", dirSize/28, e.index)
	}
	p := -1
	for i := 0; i < im.nsec; i++ {
		h := im.table + 40*i
		if rva := im.u32(h + 12); dirRVA >= rva && dirRVA-rva < im.u32(h+16) {
			p = int(im.u32(h+20) + dirRVA - rva)
			break
		}
	}
	if p < 0 || p+28*(e.index+1) > len(im.data) {
		return errors.New("-debug: the debug directory is not in the file")
	}
	p += 28 * e.index
	for _, f := range e.fields {
		var v uint32
		var err error
		if f.off == debugFields["ptr"] {
			v, err = im.fileOffset(f.value)
		} else {
			v, err = im.rva(f.value)
		}
		if err != nil {
			return fmt.Errorf("-debug: %v", err)
		}
		im.put32(p+f.off, v)
	}
	return nil
}

// setEntry writes AddressOfEntryPoint (optional header offset 16).
func (im *image) setEntry(spec string) error {
	rva, err := im.rva(spec)
	if err != nil {
		return fmt.Errorf("-entry: %v", err)
	}
	im.put32(im.opt+16, rva)
	return nil
}

// appendRelocs appends one IMAGE_BASE_RELOCATION block per 4 KB page of the
// entries after the blocks of the base relocation directory (data directory
// 5 of a PE32+ optional header, at offset 112+5*8), inside the raw data of
// the section that holds the directory, and grows the directory's size and
// the section's VirtualSize to cover them.
func (im *image) appendRelocs(rs []relocEdit) error {
	dir := im.opt + 112 + 5*8
	if dir+8 > im.table {
		return errors.New("-reloc: the optional header has no base relocation directory")
	}
	dirRVA, dirSize := im.u32(dir), im.u32(dir+4)
	h := -1
	for i := 0; i < im.nsec; i++ {
		p := im.table + 40*i
		if rva := im.u32(p + 12); dirRVA >= rva && dirRVA < rva+max(im.u32(p+8), im.u32(p+16)) {
			h = p
			break
		}
	}
	if dirRVA == 0 || h < 0 {
		return errors.New("-reloc: the image has no base relocation section")
	}
	secRVA, rawSize, rawPtr := im.u32(h+12), im.u32(h+16), im.u32(h+20)
	pages := map[uint32][]uint16{}
	for _, r := range rs {
		rva, err := im.rva(r.rva)
		if err != nil {
			return fmt.Errorf("-reloc: %v", err)
		}
		page := rva &^ 0xfff
		pages[page] = append(pages[page], r.typ<<12|uint16(rva&0xfff))
	}
	order := make([]uint32, 0, len(pages))
	for p := range pages {
		order = append(order, p)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	at := dirRVA - secRVA + dirSize // offset in the section
	for _, page := range order {
		ents := pages[page]
		if len(ents)%2 == 1 {
			ents = append(ents, 0) // IMAGE_REL_BASED_ABSOLUTE pads the block to 4 bytes
		}
		size := uint32(8 + 2*len(ents))
		if at+size > rawSize || int(rawPtr+at+size) > len(im.data) {
			return fmt.Errorf("-reloc: no room for %d more bytes in the raw data of the base relocation section", size)
		}
		p := int(rawPtr + at)
		im.put32(p, page)
		im.put32(p+4, size)
		for i, e := range ents {
			binary.LittleEndian.PutUint16(im.data[p+8+2*i:], e)
		}
		at += size
	}
	im.put32(dir+4, at-(dirRVA-secRVA))
	if im.u32(h+8) < at {
		im.put32(h+8, at)
	}
	return nil
}

// checksum is the PE image checksum: a 16-bit one's-complement-style sum of
// the file (checksum field excluded) plus the file length.
func checksum(data []byte, sumOff int) uint32 {
	var sum uint64
	for i := 0; i+1 < len(data); i += 2 {
		if i == sumOff || i == sumOff+2 {
			continue
		}
		sum += uint64(binary.LittleEndian.Uint16(data[i:]))
		sum = (sum & 0xffff) + (sum >> 16)
	}
	if len(data)%2 == 1 {
		sum += uint64(data[len(data)-1])
		sum = (sum & 0xffff) + (sum >> 16)
	}
	sum = (sum & 0xffff) + (sum >> 16)
	return uint32(sum) + uint32(len(data))
}
