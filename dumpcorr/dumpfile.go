package dumpcorr

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/drvhazard/drvhazard/internal/winpath"
	"github.com/drvhazard/drvhazard/loader"
)

// Kernel dump files: the DUMP_HEADER64 every x64 kernel dump starts with, then
// one of three memory layouts: a triage dump (a small dump: the crashing
// thread's stack, its context and the loaded module list), a full dump
// (physical memory as runs of pages) or a bitmap dump (physical memory pages
// named by a bitmap: kernel, automatic and complete memory dumps).
//
// Layouts come from Microsoft's ntiodump.h as published by the projects that
// read these files, which agree with each other and with the real dumps in
// shared/dumps:
//   - rizin, librz/bin/format/dmp/dmp_specs.h (dmp64_header, dmp64_triage,
//     dmp_driver_entry64, dmp_kldr_data_table_entry64, dmp_bmp_header) and
//     dmp64.c (how triage driver names are read);
//   - kdmp-parser (0vercl0k), src/lib/kdmp-parser-structs.h (HEADER64,
//     PHYSMEM_DESC, BMP_HEADER64, CONTEXT, EXCEPTION_RECORD64) and
//     kdmp-parser.h (run and bitmap page maps, page-table walk).

// ModuleImage is an analysed driver image the caller has, used to unwind
// frames inside it with its .pdata.
type ModuleImage struct {
	Name  string // file name, e.g. "mydrv.sys"
	Image *loader.Image
	// TimeDateStamp is the image's COFF header TimeDateStamp when the caller
	// knows it; zero skips the check against the dump's module list.
	TimeDateStamp uint32
}

// Errors ParseDump wraps, for errors.Is.
var (
	// ErrDumpUnsupported: a kernel dump of a kind drvhazard does not read
	// (ARM64, 32-bit).
	ErrDumpUnsupported = errors.New("unsupported kernel dump")
	// ErrDumpMalformed: not a kernel dump, or one whose headers contradict
	// the file.
	ErrDumpMalformed = errors.New("malformed kernel dump")
)

// dumpError is a refusal: its message names the source and what is wrong;
// Unwrap gives ErrDumpUnsupported, ErrDumpMalformed or the reader's error.
type dumpError struct {
	msg  string
	kind error
}

func (e *dumpError) Error() string { return e.msg }
func (e *dumpError) Unwrap() error { return e.kind }

// DUMP_HEADER64 (0x2000 bytes): field offsets.
const (
	dumpHdrSignature           = 0x000 // "PAGE"
	dumpHdrValidDump           = 0x004 // "DU64"; "DUMP" in 32-bit dumps
	dumpHdrMajorVersion        = 0x008 // 0xF free build, 0xC checked build
	dumpHdrMinorVersion        = 0x00c // the Windows build number
	dumpHdrDirectoryTableBase  = 0x010 // CR3 of the crashing process
	dumpHdrPfnDataBase         = 0x018
	dumpHdrPsLoadedModuleList  = 0x020 // VA of the list head
	dumpHdrPsActiveProcessHead = 0x028
	dumpHdrMachineImageType    = 0x030
	dumpHdrNumberProcessors    = 0x034
	dumpHdrBugCheckCode        = 0x038
	dumpHdrBugCheckParameters  = 0x040 // four ULONG64
	dumpHdrKdDebuggerDataBlock = 0x080
	dumpHdrPhysicalMemoryBlock = 0x088 // PHYSICAL_MEMORY_DESCRIPTOR64, 700 bytes
	dumpHdrContextRecord       = 0x348 // CONTEXT, 3000 bytes reserved
	dumpHdrException           = 0xf00 // EXCEPTION_RECORD64: code, flags, record, address
	dumpHdrExceptionAddress    = dumpHdrException + 0x10
	dumpHdrDumpType            = 0xf98
	dumpHdrRequiredDumpSpace   = 0xfa0
	dumpHdrSystemTime          = 0xfa8 // FILETIME
	dumpHeaderSize             = 0x2000
)

// MachineImageType values (IMAGE_FILE_MACHINE_*).
const (
	dumpMachineAMD64 = 0x8664
	dumpMachineARM64 = 0xaa64
)

// DumpType values (ntiodump.h DUMP_TYPE_*).
const (
	dumpTypeFull         = 1
	dumpTypeSummary      = 2
	dumpTypeHeader       = 3
	dumpTypeTriage       = 4
	dumpTypeBitmapFull   = 5
	dumpTypeBitmapKernel = 6
	dumpTypeAutomatic    = 7
)

// PHYSICAL_MEMORY_DESCRIPTOR64 inside the header: NumberOfRuns (ULONG, then
// padding), NumberOfPages, then PHYSICAL_MEMORY_RUN64 {BasePage, PageCount}
// entries up to the context record.
const (
	dumpRunsOffset = dumpHdrPhysicalMemoryBlock + 0x10
	dumpRunSize    = 0x10
	dumpMaxRuns    = (dumpHdrContextRecord - dumpRunsOffset) / dumpRunSize
	dumpPageSize   = 0x1000
)

// x64 CONTEXT: the fields unwinding uses. The sixteen integer registers are
// consecutive from Rax in register-number order.
const (
	dumpCtxContextFlags = 0x30
	dumpCtxRax          = 0x78
	dumpCtxRip          = 0xf8
	dumpContextSize     = 0x4d0

	dumpContextAMD64   = 0x100000 // CONTEXT_AMD64
	dumpContextInteger = 0x2      // CONTEXT_INTEGER: the registers other than rsp
)

// TRIAGE_DUMP64, right after the header: field offsets. Every *Offset is a
// file offset.
const (
	dumpTriageSizeOfDump       = 0x04
	dumpTriageValidOffset      = 0x08
	dumpTriageContextOffset    = 0x0c
	dumpTriageCallStackOffset  = 0x28
	dumpTriageSizeOfCallStack  = 0x2c
	dumpTriageDriverListOffset = 0x30
	dumpTriageDriverCount      = 0x34
	dumpTriageTopOfStack       = 0x48 // VA of the stack bytes' first byte
	dumpTriageDataBlocksOffset = 0x78
	dumpTriageDataBlocksCount  = 0x7c
	dumpTriageSize             = 0x80

	// dumpTriageValid is the ULONG at ValidOffset, 'DGRT' (TRIAGE_DUMP_VALID).
	dumpTriageValid = "TRGD"
	// TRIAGE_DATA_BLOCK64: {ULONG64 Address; ULONG Offset; ULONG Size}.
	dumpDataBlockSize = 0x10
)

// DUMP_DRIVER_ENTRY64: DriverNameOffset (file offset of a DUMP_STRING), four
// bytes of alignment, then a KLDR_DATA_TABLE_ENTRY64 (0x88 bytes).
const (
	dumpDriverEntrySize   = 0x90
	dumpDriverLdr         = 0x08
	dumpDriverDllBase     = dumpDriverLdr + 0x30
	dumpDriverSizeOfImage = dumpDriverLdr + 0x40
	dumpDriverCheckSum    = dumpDriverLdr + 0x78
	dumpDriverTimeStamp   = dumpDriverLdr + 0x80
	// A DUMP_STRING is a ULONG length then UTF-16. ntiodump.h says the
	// length counts bytes; real dumps count characters (33 for
	// "\SystemRoot\system32\ntoskrnl.exe"), as rizin reads it.
	dumpMaxNameChars = 1024
)

// KLDR_DATA_TABLE_ENTRY on x64 (the entries of PsLoadedModuleList, walked in
// full and bitmap dumps): InLoadOrderLinks at 0 (so an entry's address is its
// links' address), DllBase, SizeOfImage, BaseDllName (UNICODE_STRING:
// Length, MaximumLength, Buffer at +8), CheckSum. These offsets have not
// moved since Windows 7 (nt!_KLDR_DATA_TABLE_ENTRY, as `dt` prints it).
const (
	dumpLdrDllBase     = 0x30
	dumpLdrSizeOfImage = 0x40
	dumpLdrBaseDllName = 0x58
	dumpLdrCheckSum    = 0x78
	dumpLdrSize        = 0x80 // the bytes read of each entry
	dumpMaxModules     = 4096
	dumpMaxNameBytes   = 512
)

// The bitmap header after DUMP_HEADER64 (BMP_HEADER64 in kdmp-parser):
// "SDMP" or "FDMP", "DUMP", then at 0x20 FirstPage (file offset of the first
// page), TotalPresentPages, Pages (bits in the bitmap), and the bitmap.
const (
	dumpBmpFirstPage    = 0x20
	dumpBmpPresentPages = 0x28
	dumpBmpPages        = 0x30
	dumpBmpBitmap       = 0x38
)

const (
	// dumpStackWindow bounds how much stack above rsp frame recovery reads.
	dumpStackWindow = 64 << 10
	// dumpMaxRead bounds any single read: the largest thing read whole is
	// the page bitmap, 32 MB for 1 TB of RAM.
	dumpMaxRead = 64 << 20
)

// IsDump reports whether head, the first bytes of a file, look like a kernel
// dump: "PAGEDU64" (x64 and ARM64) or "PAGEDUMP" (32-bit). It tells dumps
// from crash text; ParseDump decides whether it can read one.
func IsDump(head []byte) bool {
	if len(head) < 8 || string(head[:4]) != "PAGE" {
		return false
	}
	valid := string(head[4:8])
	return valid == "DU64" || valid == "DUMP"
}

// ParseDump reads an x64 kernel dump of size bytes: the bugcheck and its
// arguments, the loaded modules, and the crashing thread's stack. Frames
// inside a module whose image is in images (matched by file name, checked by
// SizeOfImage and TimeDateStamp) are unwound exactly with the image's .pdata,
// and so are frames in modules whose headers and .pdata the dump's memory
// holds (full and bitmap dumps); elsewhere the stack is scanned for return
// addresses. images may be nil.
//
// ParseDump refuses ARM64 and 32-bit dumps with ErrDumpUnsupported, and files
// whose headers contradict them with ErrDumpMalformed; what it could read but
// not use goes to Crash.Notes.
func ParseDump(source string, r io.ReaderAt, size int64, images []ModuleImage) (Crash, error) {
	f := &dumpFile{src: source, r: r, size: size}
	h, err := f.header()
	if err != nil {
		return Crash{}, err
	}
	v, err := f.view(h)
	if err != nil {
		return Crash{}, err
	}
	c := Crash{
		Source:      source,
		HasBugCheck: true,
		BugCheck:    h.bugCheckCode,
		Args:        append([]uint64(nil), h.bugCheckParameters[:]...),
		Modules:     v.modules,
		Notes:       v.notes,
	}
	refs, notes := dumpMatchImages(v.modules, images)
	c.Notes = append(c.Notes, notes...)
	c.Frames, c.FramesFrom, notes = dumpRecoverFrames(v, refs, size)
	c.Notes = append(c.Notes, notes...)
	return c, nil
}

// dumpRecoverFrames walks the crashing thread's stack from the context: up
// to 64 KB above rsp, unwinding with the caller's images or the modules the
// dump's memory holds, scanning elsewhere.
func dumpRecoverFrames(v dumpView, refs []dumpModuleRef, size int64) (frames []Frame, from string, notes []string) {
	st := dumpReadStack(v.mem, v.ctx.rsp(), min(dumpStackWindow, size))
	if v.mem != nil && len(st.data) == 0 {
		notes = append(notes, fmt.Sprintf("rsp 0x%x is not in the dump's memory: only the context's frame is known", v.ctx.rsp()))
	}
	w := newDumpWalker(refs, st)
	budget := size // no more .pdata than the file holds
	w.fromMemory = func(m Module) dumpCode {
		if img := dumpLoadMemImage(v.mem, m, &budget); img != nil {
			return img
		}
		return nil
	}
	frames, scanned := w.walk(v.ctx)
	if !scanned {
		return frames, "unwind", notes
	}
	return frames, "scan", append(notes, "frames after the first that no image unwound come from a scan of the stack for return addresses: some may be stale")
}

// dumpFile reads one dump, checking every offset and size against the file.
type dumpFile struct {
	src  string
	r    io.ReaderAt
	size int64
}

func (f *dumpFile) errorf(kind error, format string, args ...any) error {
	return &dumpError{msg: f.src + ": " + fmt.Sprintf(format, args...), kind: kind}
}

// fits reports whether [off, off+n) lies inside the file.
func (f *dumpFile) fits(off, n uint64) bool {
	size := uint64(max(f.size, 0))
	return off <= size && n <= size-off
}

// read returns the n bytes at off; the caller has checked them with fits or
// accepts the error.
func (f *dumpFile) read(off, n uint64) ([]byte, error) {
	if !f.fits(off, n) {
		return nil, f.errorf(ErrDumpMalformed, "%d bytes at offset 0x%x are beyond the dump's %d bytes", n, off, f.size)
	}
	if n > dumpMaxRead {
		return nil, f.errorf(ErrDumpMalformed, "%d bytes at offset 0x%x: more than drvhazard reads at once", n, off)
	}
	b := make([]byte, n)
	if k, err := f.r.ReadAt(b, int64(off)); k < len(b) {
		return nil, &dumpError{msg: fmt.Sprintf("%s: reading %d bytes at offset 0x%x: %v", f.src, n, off, err), kind: err}
	}
	return b, nil
}

// readAt fills p from off, reporting whether all of it was read; for memory
// reads, where a missing page is not an error.
func (f *dumpFile) readAt(p []byte, off uint64) bool {
	if !f.fits(off, uint64(len(p))) {
		return false
	}
	k, _ := f.r.ReadAt(p, int64(off))
	return k == len(p)
}

// dumpHeader holds the DUMP_HEADER64 fields drvhazard uses or checks.
type dumpHeader struct {
	majorVersion, minorVersion uint32
	directoryTableBase         uint64
	psLoadedModuleList         uint64
	machine                    uint32
	numberProcessors           uint32
	bugCheckCode               uint32
	bugCheckParameters         [4]uint64
	// The exception record: in bugcheck dumps, often the KeBugCheckEx
	// breakpoint rather than the fault, which the context record holds.
	exceptionCode     uint32
	exceptionAddress  uint64
	dumpType          uint32
	requiredDumpSpace uint64
	systemTime        uint64
	raw               []byte // all 0x2000 bytes
}

// header reads and checks the DUMP_HEADER64: the signature, the machine (so
// ARM64 and 32-bit dumps get a clear refusal however short they are), then
// the full header.
func (f *dumpFile) header() (*dumpHeader, error) {
	head := make([]byte, dumpHdrMachineImageType+4)
	n, _ := f.r.ReadAt(head[:min(int64(len(head)), max(f.size, 0))], 0)
	head = head[:n]
	if !IsDump(head) {
		return nil, f.errorf(ErrDumpMalformed, "not a kernel dump: no PAGEDU64 signature")
	}
	if string(head[4:8]) == "DUMP" {
		return nil, f.errorf(ErrDumpUnsupported, "32-bit kernel dump (PAGEDUMP): drvhazard reads x64 dumps only")
	}
	if len(head) < dumpHdrMachineImageType+4 {
		return nil, f.errorf(ErrDumpMalformed, "truncated: %d bytes, the dump header alone is %d", f.size, dumpHeaderSize)
	}
	switch m := binary.LittleEndian.Uint32(head[dumpHdrMachineImageType:]); m {
	case dumpMachineAMD64:
	case dumpMachineARM64:
		return nil, f.errorf(ErrDumpUnsupported, "ARM64 kernel dump: drvhazard reads x64 dumps only")
	default:
		return nil, f.errorf(ErrDumpUnsupported, "kernel dump for machine 0x%x: drvhazard reads x64 dumps only", m)
	}
	if f.size < dumpHeaderSize {
		return nil, f.errorf(ErrDumpMalformed, "truncated: %d bytes, the dump header alone is %d", f.size, dumpHeaderSize)
	}
	raw, err := f.read(0, dumpHeaderSize)
	if err != nil {
		return nil, err
	}
	return dumpDecodeHeader(raw), nil
}

func dumpDecodeHeader(raw []byte) *dumpHeader {
	le32 := func(off int) uint32 { return binary.LittleEndian.Uint32(raw[off:]) }
	le64 := func(off int) uint64 { return binary.LittleEndian.Uint64(raw[off:]) }
	h := &dumpHeader{
		majorVersion:       le32(dumpHdrMajorVersion),
		minorVersion:       le32(dumpHdrMinorVersion),
		directoryTableBase: le64(dumpHdrDirectoryTableBase),
		psLoadedModuleList: le64(dumpHdrPsLoadedModuleList),
		machine:            le32(dumpHdrMachineImageType),
		numberProcessors:   le32(dumpHdrNumberProcessors),
		bugCheckCode:       le32(dumpHdrBugCheckCode),
		exceptionCode:      le32(dumpHdrException),
		exceptionAddress:   le64(dumpHdrExceptionAddress),
		dumpType:           le32(dumpHdrDumpType),
		requiredDumpSpace:  le64(dumpHdrRequiredDumpSpace),
		systemTime:         le64(dumpHdrSystemTime),
		raw:                raw,
	}
	for i := range h.bugCheckParameters {
		h.bugCheckParameters[i] = le64(dumpHdrBugCheckParameters + 8*i)
	}
	return h
}

// dumpView is what a dump's memory layout gives frame recovery: the crashing
// thread's registers, virtual memory to read its stack from, the modules.
type dumpView struct {
	ctx     dumpRegs
	mem     dumpMemory // nil when the dump holds no memory drvhazard reads
	modules []Module
	notes   []string
}

func (f *dumpFile) view(h *dumpHeader) (dumpView, error) {
	switch h.dumpType {
	case dumpTypeTriage:
		return f.triage(h)
	case dumpTypeFull:
		return f.full(h)
	case dumpTypeSummary, dumpTypeBitmapFull, dumpTypeBitmapKernel, dumpTypeAutomatic:
		return f.bitmap(h)
	}
	v := dumpView{ctx: dumpDecodeContext(h.raw[dumpHdrContextRecord:])}
	what := fmt.Sprintf("dump type %d", h.dumpType)
	if h.dumpType == dumpTypeHeader {
		what = "header-only dump (type 3)"
	}
	v.notes = append(v.notes, what+": no memory drvhazard can read, so no modules and no stack")
	return v, nil
}

// dumpDecodeContext reads the registers of an x64 CONTEXT record. Without
// CONTEXT_INTEGER only rsp and rip (CONTEXT_CONTROL) are taken as known.
func dumpDecodeContext(b []byte) dumpRegs {
	var g dumpRegs
	if len(b) < dumpContextSize {
		return g
	}
	flags := binary.LittleEndian.Uint32(b[dumpCtxContextFlags:])
	for i := range g.r {
		g.r[i] = binary.LittleEndian.Uint64(b[dumpCtxRax+8*i:])
	}
	g.rip = binary.LittleEndian.Uint64(b[dumpCtxRip:])
	g.known = 1 << dumpRegRSP
	if flags&dumpContextInteger != 0 {
		g.known = 0xffff
	}
	return g
}

// dumpTriage holds the TRIAGE_DUMP64 fields drvhazard uses.
type dumpTriage struct {
	sizeOfDump, validOffset, contextOffset uint32
	callStackOffset, sizeOfCallStack       uint32
	driverListOffset, driverCount          uint32
	topOfStack                             uint64
	dataBlocksOffset, dataBlocksCount      uint32
}

// triage reads a triage dump: the context record, the stack bytes (at
// TopOfStack, up to the stack base), the driver list, and the data blocks
// (other kernel memory the dump writer saved).
func (f *dumpFile) triage(h *dumpHeader) (dumpView, error) {
	var v dumpView
	if !f.fits(dumpHeaderSize, dumpTriageSize) {
		return v, f.errorf(ErrDumpMalformed, "triage dump: truncated: %d bytes, the triage header ends at 0x%x", f.size, dumpHeaderSize+dumpTriageSize)
	}
	b, err := f.read(dumpHeaderSize, dumpTriageSize)
	if err != nil {
		return v, err
	}
	le32 := func(off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
	t := dumpTriage{
		sizeOfDump:       le32(dumpTriageSizeOfDump),
		validOffset:      le32(dumpTriageValidOffset),
		contextOffset:    le32(dumpTriageContextOffset),
		callStackOffset:  le32(dumpTriageCallStackOffset),
		sizeOfCallStack:  le32(dumpTriageSizeOfCallStack),
		driverListOffset: le32(dumpTriageDriverListOffset),
		driverCount:      le32(dumpTriageDriverCount),
		topOfStack:       binary.LittleEndian.Uint64(b[dumpTriageTopOfStack:]),
		dataBlocksOffset: le32(dumpTriageDataBlocksOffset),
		dataBlocksCount:  le32(dumpTriageDataBlocksCount),
	}
	if int64(t.sizeOfDump) > f.size {
		v.notes = append(v.notes, fmt.Sprintf("triage dump: truncated: SizeOfDump is %d bytes, the file %d", t.sizeOfDump, f.size))
	} else if valid := make([]byte, 4); !f.readAt(valid, uint64(t.validOffset)) || string(valid) != dumpTriageValid {
		v.notes = append(v.notes, fmt.Sprintf("triage dump: no TRGD mark at ValidOffset 0x%x: the dump may be incomplete", t.validOffset))
	}
	ctx, err := f.triageContext(t)
	if err != nil {
		return v, err
	}
	v.ctx = ctx
	if v.modules, err = f.triageDrivers(t); err != nil {
		return v, err
	}
	mem, notes, err := f.triageMemory(t)
	if err != nil {
		return v, err
	}
	v.mem = mem
	v.notes = append(v.notes, notes...)
	return v, nil
}

func (f *dumpFile) triageContext(t dumpTriage) (dumpRegs, error) {
	if !f.fits(uint64(t.contextOffset), dumpContextSize) {
		return dumpRegs{}, f.errorf(ErrDumpMalformed, "triage dump: ContextOffset 0x%x: the context record is beyond the dump size", t.contextOffset)
	}
	b, err := f.read(uint64(t.contextOffset), dumpContextSize)
	if err != nil {
		return dumpRegs{}, err
	}
	return dumpDecodeContext(b), nil
}

// triageDrivers reads the DUMP_DRIVER_ENTRY64 array and the names it points
// to in the string pool.
func (f *dumpFile) triageDrivers(t dumpTriage) ([]Module, error) {
	off, n := uint64(t.driverListOffset), uint64(t.driverCount)
	if !f.fits(off, n*dumpDriverEntrySize) {
		return nil, f.errorf(ErrDumpMalformed, "triage dump: DriverCount %d at DriverListOffset 0x%x exceeds the dump size", t.driverCount, t.driverListOffset)
	}
	list, err := f.read(off, n*dumpDriverEntrySize)
	if err != nil {
		return nil, err
	}
	mods := make([]Module, 0, n)
	for i := uint64(0); i < n; i++ {
		e := list[i*dumpDriverEntrySize:]
		name, err := f.dumpString(binary.LittleEndian.Uint32(e))
		if err != nil {
			return nil, f.errorf(ErrDumpMalformed, "triage dump: driver %d: %v", i, err)
		}
		file := winpath.Base(name)
		mods = append(mods, Module{
			Name:      ModuleName(file),
			Image:     file,
			Base:      binary.LittleEndian.Uint64(e[dumpDriverDllBase:]),
			Size:      uint64(binary.LittleEndian.Uint32(e[dumpDriverSizeOfImage:])),
			Checksum:  binary.LittleEndian.Uint32(e[dumpDriverCheckSum:]),
			Timestamp: binary.LittleEndian.Uint32(e[dumpDriverTimeStamp:]),
		})
	}
	return mods, nil
}

// dumpString reads the DUMP_STRING at off.
func (f *dumpFile) dumpString(off uint32) (string, error) {
	lb := make([]byte, 4)
	if !f.readAt(lb, uint64(off)) {
		return "", fmt.Errorf("name at 0x%x is beyond the dump size", off)
	}
	chars := binary.LittleEndian.Uint32(lb)
	if chars > dumpMaxNameChars {
		return "", fmt.Errorf("name at 0x%x claims %d characters", off, chars)
	}
	b := make([]byte, 2*chars)
	if !f.readAt(b, uint64(off)+4) {
		return "", fmt.Errorf("name at 0x%x (%d characters) runs beyond the dump size", off, chars)
	}
	return dumpUTF16(b), nil
}

func dumpUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// triageMemory maps the stack bytes and the data blocks into a virtual
// memory. A data block that lies outside the file is skipped and counted.
func (f *dumpFile) triageMemory(t dumpTriage) (dumpMemory, []string, error) {
	var notes []string
	if !f.fits(uint64(t.callStackOffset), uint64(t.sizeOfCallStack)) {
		return nil, nil, f.errorf(ErrDumpMalformed, "triage dump: SizeOfCallStack %d at CallStackOffset 0x%x exceeds the dump size", t.sizeOfCallStack, t.callStackOffset)
	}
	off, n := uint64(t.dataBlocksOffset), uint64(t.dataBlocksCount)
	if !f.fits(off, n*dumpDataBlockSize) {
		return nil, nil, f.errorf(ErrDumpMalformed, "triage dump: DataBlocksCount %d at DataBlocksOffset 0x%x exceeds the dump size", t.dataBlocksCount, t.dataBlocksOffset)
	}
	mem := &dumpRegions{f: f, regs: make([]dumpRegion, 0, n+1)}
	mem.add(t.topOfStack, uint64(t.callStackOffset), uint64(t.sizeOfCallStack))
	blocks, err := f.read(off, n*dumpDataBlockSize)
	if err != nil {
		return nil, nil, err
	}
	bad := 0
	for i := uint64(0); i < n; i++ {
		b := blocks[i*dumpDataBlockSize:]
		va := binary.LittleEndian.Uint64(b)
		boff, bsize := uint64(binary.LittleEndian.Uint32(b[8:])), uint64(binary.LittleEndian.Uint32(b[12:]))
		if !f.fits(boff, bsize) {
			bad++
			continue
		}
		mem.add(va, boff, bsize)
	}
	if bad > 0 {
		notes = append(notes, fmt.Sprintf("triage dump: %d of %d data blocks lie beyond the dump size and were skipped", bad, n))
	}
	mem.build()
	return mem, notes, nil
}

// dumpMemory is a dump's view of kernel virtual memory.
type dumpMemory interface {
	// read fills p from va and returns how many bytes it read before the
	// first one the dump does not hold.
	read(va uint64, p []byte) int
}

// dumpReadStack reads up to limit bytes of stack from rsp, stopping at the
// first byte the dump does not hold.
func dumpReadStack(mem dumpMemory, rsp uint64, limit int64) *dumpStack {
	st := &dumpStack{base: rsp}
	if mem == nil || limit <= 0 {
		return st
	}
	if room := ^uint64(0) - rsp; room < uint64(limit) { // no wrap past 2^64
		limit = int64(room)
	}
	buf := make([]byte, limit)
	st.data = buf[:mem.read(rsp, buf)]
	return st
}

// dumpRegions is virtual memory made of file ranges: a triage dump's stack
// and data blocks. build turns them into sorted, disjoint segments (where
// ranges overlap, the one starting first wins: overlapping ranges of a real
// dump hold the same bytes), so a read costs a binary search however many
// blocks a hostile file lists.
type dumpRegions struct {
	f    *dumpFile
	regs []dumpRegion
}

type dumpRegion struct{ va, off, size uint64 }

func (r dumpRegion) end() uint64 { return r.va + r.size }

func (m *dumpRegions) add(va, off, size uint64) {
	if size == 0 || va+size < va {
		return
	}
	m.regs = append(m.regs, dumpRegion{va, off, size})
}

func (m *dumpRegions) build() {
	slices.SortStableFunc(m.regs, func(a, b dumpRegion) int { return cmp.Compare(a.va, b.va) })
	segs := make([]dumpRegion, 0, len(m.regs))
	for _, r := range m.regs {
		if n := len(segs); n > 0 {
			covered := segs[n-1].end()
			if r.end() <= covered {
				continue
			}
			if r.va < covered {
				skip := covered - r.va
				r = dumpRegion{va: covered, off: r.off + skip, size: r.size - skip}
			}
		}
		segs = append(segs, r)
	}
	m.regs = segs
}

func (m *dumpRegions) read(va uint64, p []byte) int {
	n := 0
	for n < len(p) {
		at := va + uint64(n)
		if at < va {
			break
		}
		k := m.readOne(at, p[n:])
		if k == 0 {
			break
		}
		n += k
	}
	return n
}

// readOne reads from the segment holding va.
func (m *dumpRegions) readOne(va uint64, p []byte) int {
	i := sort.Search(len(m.regs), func(i int) bool { return m.regs[i].va > va })
	if i == 0 {
		return 0
	}
	r := m.regs[i-1]
	if va-r.va >= r.size {
		return 0
	}
	k := min(uint64(len(p)), r.size-(va-r.va))
	if !m.f.readAt(p[:k], r.off+(va-r.va)) {
		return 0
	}
	return int(k)
}

// full reads a full dump: physical memory is the header's runs of pages,
// stored one after the other from offset 0x2000.
func (f *dumpFile) full(h *dumpHeader) (dumpView, error) {
	v := dumpView{ctx: dumpDecodeContext(h.raw[dumpHdrContextRecord:])}
	nruns := binary.LittleEndian.Uint32(h.raw[dumpHdrPhysicalMemoryBlock:])
	if nruns > dumpMaxRuns {
		return v, f.errorf(ErrDumpMalformed, "full dump: NumberOfRuns %d: the header holds at most %d", nruns, dumpMaxRuns)
	}
	phys := &dumpRuns{}
	next := uint64(dumpHeaderSize)
	for i := uint32(0); i < nruns; i++ {
		r := h.raw[dumpRunsOffset+dumpRunSize*int(i):]
		base, count := binary.LittleEndian.Uint64(r), binary.LittleEndian.Uint64(r[8:])
		if count > (^uint64(0)-next)/dumpPageSize || base+count < base {
			return v, f.errorf(ErrDumpMalformed, "full dump: run %d: PageCount %d overflows", i, count)
		}
		phys.runs = append(phys.runs, dumpRun{basePage: base, pages: count, off: next})
		next += count * dumpPageSize
	}
	if next > uint64(f.size) {
		v.notes = append(v.notes, fmt.Sprintf("full dump: truncated: the runs need %d bytes, the file has %d; missing pages read as absent", next, f.size))
	}
	return f.paged(h, v, phys), nil
}

// dumpPhysical maps physical addresses to file offsets.
type dumpPhysical interface {
	offset(pa uint64) (uint64, bool)
}

// dumpRuns is a full dump's physical memory.
type dumpRuns struct{ runs []dumpRun }

type dumpRun struct{ basePage, pages, off uint64 }

func (m *dumpRuns) offset(pa uint64) (uint64, bool) {
	pfn := pa / dumpPageSize
	for _, r := range m.runs {
		if pfn >= r.basePage && pfn-r.basePage < r.pages {
			return r.off + (pfn-r.basePage)*dumpPageSize + pa%dumpPageSize, true
		}
	}
	return 0, false
}

// bitmap reads a bitmap dump: bit i of the bitmap says physical page i is in
// the file; present pages are stored in order from FirstPage.
func (f *dumpFile) bitmap(h *dumpHeader) (dumpView, error) {
	v := dumpView{ctx: dumpDecodeContext(h.raw[dumpHdrContextRecord:])}
	if !f.fits(dumpHeaderSize, dumpBmpBitmap) {
		return v, f.errorf(ErrDumpMalformed, "bitmap dump: truncated: %d bytes, the bitmap header ends at 0x%x", f.size, dumpHeaderSize+dumpBmpBitmap)
	}
	b, err := f.read(dumpHeaderSize, dumpBmpBitmap)
	if err != nil {
		return v, err
	}
	sig, valid := string(b[:4]), string(b[4:8])
	if (sig != "SDMP" && sig != "FDMP") || valid != "DUMP" {
		return v, f.errorf(ErrDumpMalformed, "dump type %d: bitmap header at 0x2000 reads %q, want SDMPDUMP or FDMPDUMP", h.dumpType, b[:8])
	}
	first := binary.LittleEndian.Uint64(b[dumpBmpFirstPage:])
	present := binary.LittleEndian.Uint64(b[dumpBmpPresentPages:])
	pages := binary.LittleEndian.Uint64(b[dumpBmpPages:])
	nbytes := pages/8 + min(pages%8, 1)
	if !f.fits(dumpHeaderSize+dumpBmpBitmap, nbytes) {
		return v, f.errorf(ErrDumpMalformed, "bitmap dump: Pages %d needs a %d-byte bitmap, beyond the dump size", pages, nbytes)
	}
	raw, err := f.read(dumpHeaderSize+dumpBmpBitmap, nbytes)
	if err != nil {
		return v, err
	}
	phys := newDumpBitmap(raw, pages, first)
	if phys.total != present {
		v.notes = append(v.notes, fmt.Sprintf("bitmap dump: the bitmap has %d pages, TotalPresentPages says %d", phys.total, present))
	}
	if phys.total > (uint64(f.size)-min(first, uint64(f.size)))/dumpPageSize {
		v.notes = append(v.notes, fmt.Sprintf("bitmap dump: truncated: %d pages from offset 0x%x do not fit in %d bytes; missing pages read as absent", phys.total, first, f.size))
	}
	return f.paged(h, v, phys), nil
}

// dumpBitmap is a bitmap dump's physical memory. rank[i] counts the present
// pages before word i, so a page's file offset costs one popcount.
type dumpBitmap struct {
	words []uint64
	rank  []uint64
	pages uint64
	first uint64
	total uint64
}

func newDumpBitmap(raw []byte, pages, first uint64) *dumpBitmap {
	m := &dumpBitmap{pages: pages, first: first}
	m.words = make([]uint64, (len(raw)+7)/8)
	m.rank = make([]uint64, len(m.words))
	for i := range m.words {
		var w [8]byte
		copy(w[:], raw[8*i:])
		m.words[i] = binary.LittleEndian.Uint64(w[:])
	}
	if pages%64 != 0 && len(m.words) > 0 { // bits past Pages are not pages
		m.words[len(m.words)-1] &= 1<<(pages%64) - 1
	}
	for i, w := range m.words {
		m.rank[i] = m.total
		m.total += uint64(bits.OnesCount64(w))
	}
	return m
}

func (m *dumpBitmap) offset(pa uint64) (uint64, bool) {
	pfn := pa / dumpPageSize
	if pfn >= m.pages {
		return 0, false
	}
	w := m.words[pfn/64]
	bit := uint64(1) << (pfn % 64)
	if w&bit == 0 {
		return 0, false
	}
	index := m.rank[pfn/64] + uint64(bits.OnesCount64(w&(bit-1)))
	if index > (^uint64(0)-m.first)/dumpPageSize {
		return 0, false
	}
	return m.first + index*dumpPageSize + pa%dumpPageSize, true
}

// paged completes the view of a dump whose memory is physical pages: virtual
// memory through the page tables at DirectoryTableBase, and the module list
// walked from PsLoadedModuleList.
func (f *dumpFile) paged(h *dumpHeader, v dumpView, phys dumpPhysical) dumpView {
	mem := &dumpPaged{f: f, phys: phys, dtb: h.directoryTableBase}
	v.mem = mem
	mods, notes := dumpWalkModules(mem, h.psLoadedModuleList, f.size)
	v.modules = mods
	v.notes = append(v.notes, notes...)
	return v
}

// x64 4-level paging (Intel SDM vol. 3A, 4.5): a PML4, PDPT, PD and PT entry
// each index nine bits of the address; bit 0 is Present, bit 7 PS (a 1 GB
// page in a PDPTE, 2 MB in a PDE), bits 12-51 the frame address.
const (
	dumpPTEPresent   = 1 << 0
	dumpPTELarge     = 1 << 7
	dumpPTEFrame     = 0x000f_ffff_ffff_f000
	dumpPTEFrame2M   = 0x000f_ffff_ffe0_0000
	dumpPTEFrame1G   = 0x000f_ffff_c000_0000
	dumpPTEPrototype = 1 << 10
	// Windows marks a page that left the working set but still holds its
	// data with Transition set and Present clear (MMPTE_TRANSITION);
	// debuggers read such pages, and so do we.
	dumpPTETransition = 1 << 11
)

// dumpPaged is kernel virtual memory of a full or bitmap dump.
type dumpPaged struct {
	f    *dumpFile
	phys dumpPhysical
	dtb  uint64
}

// pte reads the page-table entry at index idx of the table at frame.
func (m *dumpPaged) pte(frame, idx uint64) (uint64, bool) {
	off, ok := m.phys.offset(frame&dumpPTEFrame + idx*8)
	if !ok {
		return 0, false
	}
	var b [8]byte
	if !m.f.readAt(b[:], off) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[:]), true
}

// translate walks the page tables from the DirectoryTableBase (whose low
// twelve bits, the PCID, are not part of the address).
func (m *dumpPaged) translate(va uint64) (uint64, bool) {
	if top := va >> 47; top != 0 && top != 0x1ffff { // not canonical
		return 0, false
	}
	pml4e, ok := m.pte(m.dtb, va>>39&0x1ff)
	if !ok || pml4e&dumpPTEPresent == 0 {
		return 0, false
	}
	pdpte, ok := m.pte(pml4e, va>>30&0x1ff)
	if !ok || pdpte&dumpPTEPresent == 0 {
		return 0, false
	}
	if pdpte&dumpPTELarge != 0 {
		return pdpte&dumpPTEFrame1G | va&0x3fff_ffff, true
	}
	pde, ok := m.pte(pdpte, va>>21&0x1ff)
	if !ok || pde&dumpPTEPresent == 0 {
		return 0, false
	}
	if pde&dumpPTELarge != 0 {
		return pde&dumpPTEFrame2M | va&0x1f_ffff, true
	}
	pte, ok := m.pte(pde, va>>12&0x1ff)
	if !ok {
		return 0, false
	}
	transition := pte&(dumpPTETransition|dumpPTEPrototype) == dumpPTETransition
	if pte&dumpPTEPresent == 0 && !transition {
		return 0, false
	}
	return pte&dumpPTEFrame | va&0xfff, true
}

func (m *dumpPaged) read(va uint64, p []byte) int {
	n := 0
	for n < len(p) {
		at := va + uint64(n)
		if at < va {
			break
		}
		k := min(len(p)-n, int(dumpPageSize-at%dumpPageSize))
		pa, ok := m.translate(at)
		if !ok {
			break
		}
		off, ok := m.phys.offset(pa)
		if !ok || !m.f.readAt(p[n:n+k], off) {
			break
		}
		n += k
	}
	return n
}

func dumpU64(mem dumpMemory, va uint64) (uint64, bool) {
	var b [8]byte
	if mem.read(va, b[:]) != 8 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[:]), true
}

// dumpWalkModules walks PsLoadedModuleList. The walk stops at the list head,
// at an entry seen before, at an entry the dump does not hold, or at a bound:
// no more entries than the file could hold (0x80 bytes each) or 4096.
func dumpWalkModules(mem dumpMemory, head uint64, size int64) ([]Module, []string) {
	limit := min(dumpMaxModules, int(size/dumpLdrSize))
	var mods []Module
	seen := map[uint64]bool{head: true}
	entry, ok := dumpU64(mem, head)
	if !ok {
		return nil, []string{fmt.Sprintf("PsLoadedModuleList 0x%x is not in the dump's memory: no module list", head)}
	}
	for !seen[entry] {
		if len(mods) == limit {
			return mods, []string{fmt.Sprintf("module list: cut at %d entries", limit)}
		}
		seen[entry] = true
		b := make([]byte, dumpLdrSize)
		if mem.read(entry, b) != len(b) {
			return mods, []string{fmt.Sprintf("module list: entry 0x%x is not in the dump's memory: list cut after %d modules", entry, len(mods))}
		}
		mods = append(mods, dumpLdrModule(mem, b))
		entry = binary.LittleEndian.Uint64(b) // InLoadOrderLinks.Flink
	}
	if entry != head {
		return mods, []string{fmt.Sprintf("module list: entry 0x%x comes back: list cut after %d modules", entry, len(mods))}
	}
	return mods, nil
}

// dumpLdrModule decodes one KLDR_DATA_TABLE_ENTRY. The TimeDateStamp comes
// from the image's own PE header in memory: its place in the entry moved
// between Windows versions.
func dumpLdrModule(mem dumpMemory, b []byte) Module {
	m := Module{
		Base:     binary.LittleEndian.Uint64(b[dumpLdrDllBase:]),
		Size:     uint64(binary.LittleEndian.Uint32(b[dumpLdrSizeOfImage:])),
		Checksum: binary.LittleEndian.Uint32(b[dumpLdrCheckSum:]),
	}
	nameLen := int(binary.LittleEndian.Uint16(b[dumpLdrBaseDllName:])) &^ 1
	nameBuf := binary.LittleEndian.Uint64(b[dumpLdrBaseDllName+8:])
	name := make([]byte, min(nameLen, dumpMaxNameBytes))
	name = name[:mem.read(nameBuf, name)&^1]
	m.Image = winpath.Base(dumpUTF16(name))
	m.Name = ModuleName(m.Image)
	m.Timestamp = dumpPETimestamp(mem, m.Base)
	return m
}

// dumpPETimestamp reads IMAGE_FILE_HEADER.TimeDateStamp of the image mapped
// at base: e_lfanew at 0x3c, then "PE\0\0", Machine, NumberOfSections,
// TimeDateStamp. Zero when the header is not in the dump.
func dumpPETimestamp(mem dumpMemory, base uint64) uint32 {
	var mz [0x40]byte
	if mem.read(base, mz[:]) != len(mz) || mz[0] != 'M' || mz[1] != 'Z' {
		return 0
	}
	lfanew := uint64(binary.LittleEndian.Uint32(mz[0x3c:]))
	var pe [12]byte
	if lfanew > 0x1000 || mem.read(base+lfanew, pe[:]) != len(pe) || string(pe[:4]) != "PE\x00\x00" {
		return 0
	}
	return binary.LittleEndian.Uint32(pe[8:])
}

// dumpMemImage is a loaded module as the dump's memory holds it: its section
// table and, when all of it is there, its .pdata, so modules the caller has
// no file for (nt, FLTMGR, ...) unwind exactly too. Code and unwind data are
// read on demand; a page the dump lacks makes the unwinder fall back to the
// scan. With the headers alone (triage dumps keep some modules' header page)
// the scan can still tell code from data in the module.
type dumpMemImage struct {
	mem   dumpMemory
	base  uint64
	size  uint64
	execs []dumpRegion // executable sections: va and size are RVAs
	funcs []dumpFunc   // sorted by begin
}

// PE32+ header fields (the PE/COFF specification: IMAGE_NT_HEADERS64).
const (
	dumpPEFileHeader    = 4                     // after "PE\0\0"
	dumpPEOptHeader     = dumpPEFileHeader + 20 // IMAGE_OPTIONAL_HEADER64
	dumpPEDirCount      = dumpPEOptHeader + 108 // NumberOfRvaAndSizes
	dumpPEExceptionDir  = dumpPEOptHeader + 112 + 3*8
	dumpPEHeadersSize   = dumpPEExceptionDir + 8
	dumpPESectionSize   = 40
	dumpPEMaxSections   = 96
	dumpPEScnExecute    = 0x20000000
	dumpPEOptMagic64    = 0x20b
	dumpRuntimeFuncSize = 12
)

// dumpLoadMemImage reads the module's headers and .pdata from memory. It
// returns nil without the headers; without the whole .pdata, or when reading
// it would exceed budget (the bytes of .pdata the whole parse may still
// read), the image has no functions and does not unwind.
func dumpLoadMemImage(mem dumpMemory, m Module, budget *int64) *dumpMemImage {
	if mem == nil || m.Size == 0 || m.Size > 1<<32 {
		return nil
	}
	var dos [0x40]byte
	if mem.read(m.Base, dos[:]) != len(dos) || dos[0] != 'M' || dos[1] != 'Z' {
		return nil
	}
	lfanew := uint64(binary.LittleEndian.Uint32(dos[0x3c:]))
	var nt [dumpPEHeadersSize]byte
	if lfanew > 0x1000 || mem.read(m.Base+lfanew, nt[:]) != len(nt) || string(nt[:4]) != "PE\x00\x00" ||
		binary.LittleEndian.Uint16(nt[dumpPEFileHeader:]) != dumpMachineAMD64 ||
		binary.LittleEndian.Uint16(nt[dumpPEOptHeader:]) != dumpPEOptMagic64 ||
		binary.LittleEndian.Uint32(nt[dumpPEDirCount:]) < 4 {
		return nil
	}
	img := &dumpMemImage{mem: mem, base: m.Base, size: m.Size}
	nsec := uint64(binary.LittleEndian.Uint16(nt[dumpPEFileHeader+2:]))
	optSize := uint64(binary.LittleEndian.Uint16(nt[dumpPEFileHeader+16:]))
	if nsec > dumpPEMaxSections {
		return nil
	}
	secs := make([]byte, nsec*dumpPESectionSize)
	if mem.read(m.Base+lfanew+dumpPEOptHeader+optSize, secs) != len(secs) {
		return nil
	}
	for i := uint64(0); i < nsec; i++ {
		s := secs[i*dumpPESectionSize:]
		if binary.LittleEndian.Uint32(s[36:])&dumpPEScnExecute == 0 {
			continue
		}
		size := binary.LittleEndian.Uint32(s[8:]) // VirtualSize
		if size == 0 {
			size = binary.LittleEndian.Uint32(s[16:]) // SizeOfRawData
		}
		img.execs = append(img.execs, dumpRegion{va: uint64(binary.LittleEndian.Uint32(s[12:])), size: uint64(size)})
	}
	if len(img.execs) == 0 {
		// A driver without code: the header page is not what it seems
		// (zero-filled in the dump, say). Trusting it would reject every
		// return address in the module.
		return nil
	}
	if !img.readPdata(binary.LittleEndian.Uint32(nt[dumpPEExceptionDir:]), binary.LittleEndian.Uint32(nt[dumpPEExceptionDir+4:]), budget) {
		img.funcs = nil
	}
	return img
}

// readPdata reads the IMAGE_RUNTIME_FUNCTION_ENTRY table, keeping the
// entries that lie inside the image. It reads a page at a time and gives up
// at the first page the dump lacks, so a missing table costs no more than
// one page.
func (img *dumpMemImage) readPdata(rva, size uint32, budget *int64) bool {
	size -= size % dumpRuntimeFuncSize
	if size == 0 || uint64(rva)+uint64(size) > img.size || int64(size) > *budget {
		return false
	}
	*budget -= int64(size)
	const chunk = dumpPageSize / dumpRuntimeFuncSize * dumpRuntimeFuncSize
	buf := make([]byte, min(size, chunk))
	for off := uint32(0); off < size; off += uint32(len(buf)) {
		b := buf[:min(size-off, uint32(len(buf)))]
		if img.mem.read(img.base+uint64(rva+off), b) != len(b) {
			return false
		}
		for i := 0; i < len(b); i += dumpRuntimeFuncSize {
			f := dumpFunc{
				begin:  binary.LittleEndian.Uint32(b[i:]),
				end:    binary.LittleEndian.Uint32(b[i+4:]),
				unwind: binary.LittleEndian.Uint32(b[i+8:]),
			}
			if f.begin < f.end && uint64(f.end) <= img.size && uint64(f.unwind) < img.size {
				img.funcs = append(img.funcs, f)
			}
		}
	}
	less := func(a, b dumpFunc) int { return cmp.Compare(a.begin, b.begin) }
	if !slices.IsSortedFunc(img.funcs, less) {
		slices.SortFunc(img.funcs, less)
	}
	return len(img.funcs) > 0
}

func (img *dumpMemImage) unwinds() bool { return len(img.funcs) > 0 }

func (img *dumpMemImage) function(rva uint32) (dumpFunc, bool) {
	i := sort.Search(len(img.funcs), func(i int) bool { return img.funcs[i].end > rva })
	if i < len(img.funcs) && img.funcs[i].begin <= rva {
		return img.funcs[i], true
	}
	return dumpFunc{}, false
}

func (img *dumpMemImage) bytes(rva, n uint32) []byte {
	if uint64(rva) >= img.size {
		return nil
	}
	b := make([]byte, min(uint64(n), img.size-uint64(rva)))
	return b[:img.mem.read(img.base+uint64(rva), b)]
}

func (img *dumpMemImage) executable(rva uint32) bool {
	for _, s := range img.execs {
		if uint64(rva) >= s.va && uint64(rva)-s.va < s.size {
			return true
		}
	}
	return false
}

// dumpMatchImages pairs the dump's modules with the caller's images by file
// name. An image whose SizeOfImage or TimeDateStamp differs from the loaded
// module's is another build: it is not used, and a note says why.
func dumpMatchImages(mods []Module, images []ModuleImage) ([]dumpModuleRef, []string) {
	refs := make([]dumpModuleRef, len(mods))
	for i, m := range mods {
		refs[i].mod = m
	}
	var notes []string
	for _, im := range images {
		if im.Image == nil {
			continue
		}
		file := winpath.Base(im.Name)
		found := false
		for i := range refs {
			m := &refs[i].mod
			if !strings.EqualFold(m.Image, file) {
				continue
			}
			found = true
			if why := dumpImageMismatch(m, im); why != "" {
				notes = append(notes, fmt.Sprintf("%s: %s: not used for unwinding", file, why))
				continue
			}
			refs[i].code = dumpImageCode{im.Image}
		}
		if !found {
			notes = append(notes, fmt.Sprintf("%s: not among the dump's %d loaded modules", file, len(mods)))
		}
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].mod.Base < refs[j].mod.Base })
	return refs, notes
}

func dumpImageMismatch(m *Module, im ModuleImage) string {
	if m.Size != 0 && m.Size != uint64(im.Image.SizeOfImage) {
		return fmt.Sprintf("the image's SizeOfImage is 0x%x, the loaded module's 0x%x", im.Image.SizeOfImage, m.Size)
	}
	if m.Timestamp != 0 && im.TimeDateStamp != 0 && m.Timestamp != im.TimeDateStamp {
		return fmt.Sprintf("the image's TimeDateStamp is 0x%x, the loaded module's 0x%x", im.TimeDateStamp, m.Timestamp)
	}
	return ""
}
