package loader

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	pe "github.com/saferwall/pe"
	pelog "github.com/saferwall/pe/log"
)

// warnLogger collects what saferwall/pe logs at warning level or above, which
// is how it reports a data directory it gave up on. Its default logger writes
// to standard output, which would corrupt our JSON.
type warnLogger struct{ img *Image }

func (l warnLogger) Log(level pelog.Level, keyvals ...any) error {
	if level < pelog.LevelWarn {
		return nil
	}
	var b strings.Builder
	for i := 1; i < len(keyvals); i += 2 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, keyvals[i])
	}
	l.img.warnf("pe: %s", b.String())
	return nil
}

// parseDirectories decodes the data directories the analysis uses. A damaged
// directory is skipped with a warning, not a refusal: a driver with a broken
// debug directory still has code worth analysing.
func (img *Image) parseDirectories() (err error) {
	f, err := pe.NewBytes(img.data, &pe.Options{
		Logger:                     warnLogger{img},
		DisableCertValidation:      true,
		DisableSignatureValidation: true,
		// Parsed by us (the library prints to stdout on bad input, stops
		// short on damaged relocations, and allocates what a debug entry's
		// size claims) or unused.
		OmitExportDirectory:       true,
		OmitRelocDirectory:        true,
		OmitDebugDirectory:        true,
		OmitLoadConfigDirectory:   true,
		OmitResourceDirectory:     true,
		OmitSecurityDirectory:     true,
		OmitArchitectureDirectory: true,
		OmitGlobalPtrDirectory:    true,
		OmitTLSDirectory:          true,
		OmitBoundImportDirectory:  true,
		OmitIATDirectory:          true,
		OmitDelayImportDirectory:  true,
		OmitCLRHeaderDirectory:    true,
		OmitCLRMetadata:           true,
	})
	if err != nil {
		return formatErr(ErrMalformed, -1, "%v", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = formatErr(ErrMalformed, -1, "PE parser failed: %v", r)
		}
	}()
	if err := f.Parse(); err != nil {
		// Headers were already validated by parseHeaders; a failure here
		// comes from a data directory and is not fatal.
		img.warnf("pe: %v", err)
	}
	img.takeImports(f)
	if err := img.parseRelocs(); err != nil {
		return err
	}
	img.takeRuntimeFunctions(f)
	img.takeSymbols(f)
	img.parseCodeView()
	img.parseExports()
	img.parseLoadConfig()
	return nil
}

func (img *Image) takeImports(f *pe.File) {
	for _, m := range f.Imports {
		for _, fn := range m.Functions {
			if img.Section(fn.ThunkRVA) == nil {
				img.warnf("import %s!%s: IAT slot %#x is outside every section; dropped", m.Name, fn.Name, fn.ThunkRVA)
				continue
			}
			img.Imports = append(img.Imports, Import{
				Module: m.Name, Name: fn.Name, Ordinal: uint16(fn.Ordinal), ByOrdinal: fn.ByOrdinal, Slot: fn.ThunkRVA,
			})
		}
	}
	sort.SliceStable(img.Imports, func(i, j int) bool { return img.Imports[i].Slot < img.Imports[j].Slot })
	img.bySlot = make(map[uint32]int, len(img.Imports))
	for i := range img.Imports {
		img.bySlot[img.Imports[i].Slot] = i
	}
}

const (
	relAbsolute = 0  // IMAGE_REL_BASED_ABSOLUTE: padding
	relDir64    = 10 // IMAGE_REL_BASED_DIR64
)

// parseRelocs reads the base relocation directory (PE/COFF §6.6): blocks
// of a page RVA, the block's size, and 2-byte entries (type in the top four
// bits, offset in the page). It keeps the DIR64 fixups. A fixup outside the
// image is a refusal: the Windows loader would write outside the mapping. A
// block whose size is impossible ends the directory with a warning.
func (img *Image) parseRelocs() error {
	dir := img.dirs[dirBaseReloc]
	if dir.RVA == 0 || dir.Size == 0 {
		return nil
	}
	data := img.Bytes(dir.RVA, dir.Size)
	if uint32(len(data)) < dir.Size {
		img.warnf("base relocation directory [%#x, %#x) is not all in the file; %d bytes read", dir.RVA, uint64(dir.RVA)+uint64(dir.Size), len(data))
	}
	for off := 0; off+8 <= len(data); {
		page := binary.LittleEndian.Uint32(data[off:])
		size := int(binary.LittleEndian.Uint32(data[off+4:]))
		if size < 8 || size > len(data)-off {
			img.warnf("base relocation block at directory offset %#x has size %#x (%d bytes left); the rest is skipped", off, size, len(data)-off)
			break
		}
		for e := off + 8; e+2 <= off+size; e += 2 {
			entry := binary.LittleEndian.Uint16(data[e:])
			typ := entry >> 12
			if typ == relAbsolute {
				continue
			}
			rva := uint64(page) + uint64(entry&0xfff)
			if rva+8 > uint64(img.SizeOfImage) {
				return formatErr(ErrMalformed, -1, "base relocation (type %d) at RVA %#x points outside the image (SizeOfImage %#x)",
					typ, rva, img.SizeOfImage)
			}
			if typ == relDir64 {
				img.Relocs = append(img.Relocs, uint32(rva))
			} else {
				img.OtherRelocs++
			}
		}
		off += size
	}
	sort.Slice(img.Relocs, func(i, j int) bool { return img.Relocs[i] < img.Relocs[j] })
	return nil
}

// UNWIND_INFO flags (x64 exception handling, "struct UNWIND_INFO").
const (
	unwFlagEHandler  = 0x1
	unwFlagUHandler  = 0x2
	unwFlagChainInfo = 0x4
)

func (img *Image) takeRuntimeFunctions(f *pe.File) {
	dropped := 0
	for _, e := range f.Exceptions {
		rf := e.RuntimeFunction
		if rf.BeginAddress >= rf.EndAddress || !img.Executable(rf.BeginAddress) || !img.Executable(rf.EndAddress-1) {
			dropped++
			continue
		}
		r := RuntimeFunction{Begin: rf.BeginAddress, End: rf.EndAddress, UnwindInfo: rf.UnwindInfoAddress}
		img.readUnwindInfo(&r)
		img.RuntimeFunctions = append(img.RuntimeFunctions, r)
	}
	if dropped > 0 {
		img.warnf(".pdata: %d entries outside executable sections dropped", dropped)
	}
	sort.SliceStable(img.RuntimeFunctions, func(i, j int) bool {
		return img.RuntimeFunctions[i].Begin < img.RuntimeFunctions[j].Begin
	})
	// Entries are sorted and do not overlap (x64 exception handling): one
	// that starts inside the one before it is damage, and would make a
	// function of the middle of another.
	kept := img.RuntimeFunctions[:0]
	overlapping := 0
	for _, r := range img.RuntimeFunctions {
		if n := len(kept); n > 0 && r.Begin < kept[n-1].End {
			overlapping++
			continue
		}
		kept = append(kept, r)
	}
	img.RuntimeFunctions = kept
	if overlapping > 0 {
		img.warnf(".pdata: %d entries overlapping the one before dropped", overlapping)
	}
}

// readUnwindInfo reads the flags of an UNWIND_INFO and what follows its
// unwind codes: the handler RVA and its data, or the chained
// RUNTIME_FUNCTION. Layout: Version:3 Flags:5, SizeOfProlog, CountOfCodes,
// FrameRegister:4 FrameOffset:4, then CountOfCodes 2-byte codes padded to
// an even count.
func (img *Image) readUnwindInfo(r *RuntimeFunction) {
	hdr := img.Bytes(r.UnwindInfo, 4)
	if len(hdr) < 4 {
		return
	}
	flags := hdr[0] >> 3
	codes := uint32(hdr[2])
	tail := r.UnwindInfo + 4 + 2*((codes+1)&^1)
	switch {
	case flags&unwFlagChainInfo != 0:
		r.Chained = true
		if parent, ok := img.Uint32(tail); ok {
			r.Parent = parent
		}
	case flags&(unwFlagEHandler|unwFlagUHandler) != 0:
		if h, ok := img.Uint32(tail); ok && img.Executable(h) {
			r.Handler, r.HandlerData = h, tail+4
		}
	}
}

// COFF symbol constants (PE/COFF specification §5.4).
const (
	symDTFunction    = 0x20 // complex type DT_FCN (bits 4-5 of Type); linker-defined labels have none
	symClassExternal = 2
	symClassStatic   = 3
)

func (img *Image) takeSymbols(f *pe.File) {
	for i := range f.COFF.SymbolTable {
		sym := &f.COFF.SymbolTable[i]
		if sym.SectionNumber <= 0 || int(sym.SectionNumber) > len(img.Sections) {
			continue
		}
		if sym.StorageClass != symClassExternal && sym.StorageClass != symClassStatic {
			continue
		}
		name, err := sym.String(f)
		if err != nil || name == "" || strings.HasPrefix(name, ".") {
			continue // section symbols (.text, .rdata$zzz) and unnamed entries
		}
		// SectionNumber indexes the file's section table, which we re-sorted by RVA.
		sec := img.sectionByIndex(int(sym.SectionNumber) - 1)
		if sec == nil || sym.Value >= sec.Size() {
			continue
		}
		rva := sec.RVA + sym.Value
		img.Symbols = append(img.Symbols, Symbol{
			Name: name, RVA: rva,
			Function: sec.Executable() && sym.Type&0x30 == symDTFunction,
		})
	}
	sort.SliceStable(img.Symbols, func(i, j int) bool { return img.Symbols[i].RVA < img.Symbols[j].RVA })
}

// sectionByIndex returns the section that was entry i of the file's section
// table. parseHeaders sorts by RVA, and a well-formed table is already in RVA
// order, so the two orders agree for every image the loader accepts unless
// the table was out of order; then fall back to the file order.
func (img *Image) sectionByIndex(i int) *Section {
	d := img.data
	lfanew := int64(binary.LittleEndian.Uint32(d[0x3c:]))
	optSize := int64(binary.LittleEndian.Uint16(d[lfanew+4+16:]))
	p := lfanew + 24 + optSize + int64(i)*40
	rva := binary.LittleEndian.Uint32(d[p+12:])
	for j := range img.Sections {
		if img.Sections[j].RVA == rva {
			return &img.Sections[j]
		}
	}
	return nil
}

// Debug directory constants (PE/COFF §6.1): 28-byte entries, CodeView type 2,
// and the RSDS record: "RSDS", GUID, age, NUL-terminated PDB path.
const (
	debugEntryLen    = 28
	debugTypeCV      = 2
	maxDebugEntries  = 64
	maxCodeViewBytes = 4096
)

// parseCodeView finds the RSDS record that ties the image to its PDB. Sizes
// the file states are checked against the bytes that are there: nothing is
// allocated from them.
func (img *Image) parseCodeView() {
	dir := img.dirs[dirDebug]
	if dir.RVA == 0 || dir.Size == 0 {
		return
	}
	n := min(dir.Size/debugEntryLen, maxDebugEntries)
	for i := uint32(0); i < n; i++ {
		e := img.Bytes(dir.RVA+i*debugEntryLen, debugEntryLen)
		if len(e) < debugEntryLen {
			img.warnf("debug directory entry %d at RVA %#x is not in the file", i, dir.RVA+i*debugEntryLen)
			return
		}
		if binary.LittleEndian.Uint32(e[12:]) != debugTypeCV {
			continue
		}
		size := binary.LittleEndian.Uint32(e[16:])
		rva, ptr := binary.LittleEndian.Uint32(e[20:]), binary.LittleEndian.Uint32(e[24:])
		var rec []byte
		switch {
		case rva != 0:
			rec = img.Bytes(rva, min(size, maxCodeViewBytes))
		case uint64(ptr) < uint64(len(img.data)):
			rec = img.data[ptr:min(uint64(ptr)+uint64(min(size, maxCodeViewBytes)), uint64(len(img.data)))]
		}
		if len(rec) < 24 || string(rec[:4]) != "RSDS" {
			img.warnf("debug directory entry %d: CodeView record of %d bytes is not an RSDS record; no PDB identity", i, size)
			continue
		}
		c := &CodeView{Age: binary.LittleEndian.Uint32(rec[20:])}
		copy(c.GUID[:], rec[4:20])
		path := rec[24:]
		if z := strings.IndexByte(string(path), 0); z >= 0 {
			path = path[:z]
		}
		c.Path = string(path)
		img.CodeView = c
		return
	}
}

// maxExports bounds the export walk; the largest kernel images (ntoskrnl)
// export a few thousand routines.
const maxExports = 1 << 16

// parseExports reads IMAGE_EXPORT_DIRECTORY (PE/COFF §6.3).
func (img *Image) parseExports() {
	dir := img.dirs[dirExport]
	if dir.RVA == 0 {
		return
	}
	hdr := img.Bytes(dir.RVA, 40)
	if len(hdr) < 40 {
		img.warnf("export directory at RVA %#x is not in the file; exports skipped", dir.RVA)
		return
	}
	if name, ok := img.CString(binary.LittleEndian.Uint32(hdr[0x0c:]), 256); ok {
		img.ExportName = name
	}
	base := binary.LittleEndian.Uint32(hdr[0x10:])
	nfun := binary.LittleEndian.Uint32(hdr[0x14:])
	nnames := binary.LittleEndian.Uint32(hdr[0x18:])
	funcs := binary.LittleEndian.Uint32(hdr[0x1c:])
	names := binary.LittleEndian.Uint32(hdr[0x20:])
	ords := binary.LittleEndian.Uint32(hdr[0x24:])
	if nfun > maxExports || nnames > maxExports {
		img.warnf("export directory claims %d functions and %d names (limit %d); exports skipped", nfun, nnames, maxExports)
		return
	}
	nameOf := make(map[uint32]string, nnames)
	for i := uint32(0); i < nnames; i++ {
		nameRVA, ok1 := img.Uint32(names + 4*i)
		ordB := img.Bytes(ords+2*i, 2)
		if !ok1 || len(ordB) < 2 {
			img.warnf("export name table truncated after %d of %d names", i, nnames)
			break
		}
		if name, ok := img.CString(nameRVA, 512); ok {
			nameOf[uint32(binary.LittleEndian.Uint16(ordB))] = name
		}
	}
	for i := uint32(0); i < nfun; i++ {
		rva, ok := img.Uint32(funcs + 4*i)
		if !ok {
			img.warnf("export address table truncated after %d of %d entries", i, nfun)
			break
		}
		if rva == 0 {
			continue
		}
		e := Export{Name: nameOf[i], Ordinal: base + i, RVA: rva}
		if rva >= dir.RVA && rva < dir.RVA+dir.Size {
			e.Forwarder, _ = img.CString(rva, 512)
			e.RVA = 0
		}
		img.Exports = append(img.Exports, e)
	}
}

// parseLoadConfig reads the fields of IMAGE_LOAD_CONFIG_DIRECTORY64 the
// analysis uses: SecurityCookie at 0x58, GuardCFCheckFunctionPointer at
// 0x70, GuardCFDispatchFunctionPointer at 0x78, GuardCFFunctionCount at
// 0x88.
func (img *Image) parseLoadConfig() {
	dir := img.dirs[dirLoadConfig]
	if dir.RVA == 0 {
		return
	}
	size, ok := img.Uint32(dir.RVA)
	if !ok {
		img.warnf("load configuration at RVA %#x is not in the file; skipped", dir.RVA)
		return
	}
	field := func(off uint32) uint64 {
		if size < off+8 {
			return 0
		}
		v, _ := img.Uint64(dir.RVA + off)
		return v
	}
	if rva, ok := img.RVA(field(0x58)); ok {
		img.SecurityCookie = rva
	}
	if rva, ok := img.RVA(field(0x70)); ok {
		img.GuardCF.CheckSlot = rva
	}
	if rva, ok := img.RVA(field(0x78)); ok {
		img.GuardCF.DispatchSlot = rva
	}
	img.readGuardFunctions(img.RVAOrZero(field(0x80)), field(0x88), uint32(field(0x90)))
}

// maxGuardFunctions bounds the CFG function table (GFIDS); the largest
// kernel images list tens of thousands.
const maxGuardFunctions = 1 << 20

// readGuardFunctions reads GuardCFFunctionTable: count entries of a 4-byte
// RVA followed by n bytes of metadata, n being the top nibble of
// GuardFlags (IMAGE_GUARD_CF_FUNCTION_TABLE_SIZE_MASK).
func (img *Image) readGuardFunctions(table uint32, count uint64, guardFlags uint32) {
	if table == 0 || count == 0 {
		return
	}
	if count > maxGuardFunctions {
		img.warnf("CFG function table claims %d entries (limit %d); skipped", count, maxGuardFunctions)
		return
	}
	stride := 4 + guardFlags>>28
	for i := uint32(0); i < uint32(count); i++ {
		rva, ok := img.Uint32(table + i*stride)
		if !ok {
			img.warnf("CFG function table truncated after %d of %d entries", i, count)
			break
		}
		img.GuardCF.Functions = append(img.GuardCF.Functions, rva)
	}
	sort.Slice(img.GuardCF.Functions, func(i, j int) bool { return img.GuardCF.Functions[i] < img.GuardCF.Functions[j] })
}
