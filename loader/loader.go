package loader

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// MaxFileSize is the largest file Load reads. The largest Windows drivers are
// tens of megabytes; anything past this is refused before it is read so that
// a scan of an arbitrary folder cannot exhaust memory.
const MaxFileSize = 256 << 20

// Machine is the COFF machine type (IMAGE_FILE_MACHINE_*).
type Machine uint16

// Machine types named in refusals. Only MachineAMD64 is analysed.
const (
	MachineI386  Machine = 0x14c
	MachineARM   Machine = 0x1c4
	MachineIA64  Machine = 0x200
	MachineAMD64 Machine = 0x8664
	MachineARM64 Machine = 0xaa64
)

func (m Machine) String() string {
	switch m {
	case MachineI386:
		return "x86 (32-bit)"
	case MachineARM:
		return "ARM (32-bit)"
	case MachineIA64:
		return "IA-64"
	case MachineAMD64:
		return "amd64"
	case MachineARM64:
		return "arm64"
	}
	return fmt.Sprintf("machine %#x", uint16(m))
}

// Section characteristics (IMAGE_SCN_*), PE/COFF specification §3.1.
const (
	scnCntCode        = 0x00000020
	scnMemDiscardable = 0x02000000
	scnMemNotPaged    = 0x08000000
	scnMemExecute     = 0x20000000
	scnMemRead        = 0x40000000
	scnMemWrite       = 0x80000000
)

// A Section is one entry of the section table, with its bytes in the file.
type Section struct {
	Name            string
	RVA             uint32 // VirtualAddress
	VirtualSize     uint32
	Offset          uint32 // PointerToRawData
	RawSize         uint32 // SizeOfRawData
	Characteristics uint32
}

// Size is the section's size in memory: VirtualSize, or SizeOfRawData for
// old linkers that leave VirtualSize zero.
func (s *Section) Size() uint32 {
	if s.VirtualSize != 0 {
		return s.VirtualSize
	}
	return s.RawSize
}

// End is the first RVA past the section.
func (s *Section) End() uint32 { return s.RVA + s.Size() }

// Contains reports whether rva lies inside the section in memory.
func (s *Section) Contains(rva uint32) bool { return rva >= s.RVA && rva < s.End() }

// Executable reports whether the section holds code (IMAGE_SCN_MEM_EXECUTE
// or IMAGE_SCN_CNT_CODE).
func (s *Section) Executable() bool {
	return s.Characteristics&(scnMemExecute|scnCntCode) != 0
}

// Writable reports IMAGE_SCN_MEM_WRITE.
func (s *Section) Writable() bool { return s.Characteristics&scnMemWrite != 0 }

// Discardable reports IMAGE_SCN_MEM_DISCARDABLE: the kernel frees the section
// after DriverEntry returns (INIT).
func (s *Section) Discardable() bool { return s.Characteristics&scnMemDiscardable != 0 }

// Pageable reports whether the kernel may page the section out. The kernel
// loader treats sections whose names begin with "PAGE" as pageable
// (MmPageEntireDriver, #pragma alloc_text(PAGE, ...)); everything else of a
// driver is resident.
func (s *Section) Pageable() bool { return strings.HasPrefix(s.Name, "PAGE") }

// An Import is one imported routine, identified by the RVA of its IAT slot:
// code calls it through that slot (call [rip+slot]).
type Import struct {
	Module    string // DLL name as written in the import directory, e.g. "ntoskrnl.exe"
	Name      string // routine name; empty when imported by ordinal
	Ordinal   uint16 // valid when ByOrdinal
	ByOrdinal bool
	Slot      uint32 // RVA of the IAT slot
}

// String names the import as module!name (module!#ordinal by ordinal).
func (i *Import) String() string {
	if i.ByOrdinal {
		return fmt.Sprintf("%s!#%d", i.Module, i.Ordinal)
	}
	return i.Module + "!" + i.Name
}

// An Export is one entry of the export directory.
type Export struct {
	Name      string // empty when exported by ordinal only
	Ordinal   uint32
	RVA       uint32 // zero for forwarders
	Forwarder string // "module.Name" for forwarded exports
}

// A RuntimeFunction is a .pdata entry (IMAGE_RUNTIME_FUNCTION_ENTRY).
type RuntimeFunction struct {
	Begin, End uint32 // RVAs, End exclusive
	UnwindInfo uint32 // RVA of UNWIND_INFO
	// Chained is set when the unwind info carries UNW_FLAG_CHAININFO: the
	// entry describes a fragment of another function (PGO hot/cold
	// splitting, shrink-wrapping), not a function start. Parent is then the
	// Begin of the entry it chains to.
	Chained bool
	Parent  uint32
	// Handler is the RVA of the language-specific exception handler
	// (__C_specific_handler, __GSHandlerCheck_SEH, ...) when the unwind info
	// has UNW_FLAG_EHANDLER or UNW_FLAG_UHANDLER, and HandlerData the RVA of
	// the data that follows it (for __C_specific_handler, the scope table).
	Handler, HandlerData uint32
}

// A Class is a C++ class, structure or interface a symbol file defines:
// its direct base classes in declaration order, and whether its objects
// start with a vtable pointer (it has virtual functions, its own or
// inherited).
type Class struct {
	Bases       []string
	Polymorphic bool
}

// A Vtable is a C++ class's virtual function table: Class's, or, in a
// class with several bases, the one for its Base subobject.
type Vtable struct {
	Class, Base string
}

// A Symbol is a COFF symbol that names a location in a section.
type Symbol struct {
	Name     string
	RVA      uint32
	Function bool // the symbol names a function: type DT_FCN in an executable section
}

// CodeView is the RSDS debug record that ties an image to its PDB.
type CodeView struct {
	GUID [16]byte // in file byte order
	Age  uint32
	Path string
}

// GUIDString formats the GUID as symbol servers do (upper-case, no dashes).
func (c *CodeView) GUIDString() string {
	g := c.GUID
	return fmt.Sprintf("%08X%04X%04X%X", binary.LittleEndian.Uint32(g[0:]),
		binary.LittleEndian.Uint16(g[4:]), binary.LittleEndian.Uint16(g[6:]), g[8:16])
}

// GuardCF holds the Control Flow Guard slots from the load configuration.
// Compilers emit call [rip+DispatchSlot] with the real target in rax.
type GuardCF struct {
	CheckSlot    uint32 // RVA of __guard_check_icall_fptr, 0 if absent
	DispatchSlot uint32 // RVA of __guard_dispatch_icall_fptr, 0 if absent
	// Functions is the GuardCFFunctionTable: the RVAs of every function
	// whose address is taken, sorted. Empty when the image has no CFG.
	Functions []uint32
}

// IsGuardFunction reports whether rva is in the CFG function table.
func (g *GuardCF) IsGuardFunction(rva uint32) bool {
	i := sort.Search(len(g.Functions), func(i int) bool { return g.Functions[i] >= rva })
	return i < len(g.Functions) && g.Functions[i] == rva
}

// Image is a loaded x64 PE image. All addresses are RVAs unless named VA.
type Image struct {
	Machine            Machine
	ImageBase          uint64
	EntryRVA           uint32
	SizeOfImage        uint32
	SectionAlignment   uint32
	FileAlignment      uint32
	Subsystem          uint16
	DllCharacteristics uint16
	Sections           []Section         // sorted by RVA
	Imports            []Import          // sorted by Slot
	Exports            []Export          // in ordinal order
	ExportName         string            // the export directory's name of the module (FLTMGR.SYS), "" when none
	Relocs             []uint32          // RVAs of IMAGE_REL_BASED_DIR64 fixups, sorted
	OtherRelocs        int               // fixups of other types (not expected in x64 images)
	RuntimeFunctions   []RuntimeFunction // .pdata, sorted by Begin
	Symbols            []Symbol          // COFF symbols in sections (and a PDB's functions), sorted by RVA
	// Classes and Vtables are what a symbol file says of the image's C++
	// classes (package pdb's File.AddTo): each class by its qualified name,
	// and the class of each virtual function table by its RVA. Empty
	// without one: the image itself does not say.
	Classes  map[string]Class
	Vtables  map[uint32]Vtable
	CodeView *CodeView // nil when the image has no RSDS record
	GuardCF  GuardCF
	// SecurityCookie is the RVA of the /GS cookie (__security_cookie) the
	// load configuration names, 0 when it names none.
	SecurityCookie uint32
	// Warnings lists problems that did not stop the analysis: a damaged
	// directory that was skipped, entries dropped as out of range.
	Warnings []string

	data   []byte
	dirs   [16]dataDir
	bySlot map[uint32]int // IAT slot RVA -> index in Imports
}

type dataDir struct{ RVA, Size uint32 }

// Data directory indexes (IMAGE_DIRECTORY_ENTRY_*).
const (
	dirExport     = 0
	dirImport     = 1
	dirException  = 3
	dirSecurity   = 4
	dirBaseReloc  = 5
	dirDebug      = 6
	dirLoadConfig = 10
	dirIAT        = 12
)

// Load reads and parses the file at path. Errors name the path.
func Load(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: %w", path, formatErr(ErrTooLarge, -1,
			"%d bytes, more than the %d MiB limit", st.Size(), MaxFileSize>>20))
	}
	// Read at most MaxFileSize+1 so a file that grows under us is still bounded.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	img, err := LoadBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// LoadBytes parses an image held in memory. The Image keeps data; the caller
// must not modify it afterwards.
func LoadBytes(data []byte) (*Image, error) {
	if len(data) > MaxFileSize {
		return nil, formatErr(ErrTooLarge, -1, "%d bytes, more than the %d MiB limit", len(data), MaxFileSize>>20)
	}
	img := &Image{data: data}
	if err := img.parseHeaders(); err != nil {
		return nil, err
	}
	if err := img.parseDirectories(); err != nil {
		return nil, err
	}
	return img, nil
}

// parseHeaders decodes and checks the DOS, COFF and optional headers and the
// section table. It is written against the PE/COFF specification directly
// because every field here decides whether later reads are in bounds.
func (img *Image) parseHeaders() error {
	d := img.data
	if len(d) < 0x40 || d[0] != 'M' || d[1] != 'Z' {
		if len(d) < 2 || d[0] != 'M' || d[1] != 'Z' {
			return formatErr(ErrNotPE, 0, "no MZ signature")
		}
		return formatErr(ErrNotPE, 0, "file is %d bytes, too short for a DOS header", len(d))
	}
	lfanew := binary.LittleEndian.Uint32(d[0x3c:])
	const coffSize = 20
	if uint64(lfanew)+4+coffSize > uint64(len(d)) {
		return formatErr(ErrNotPE, 0x3c, "e_lfanew %#x points past the end of the %d-byte file", lfanew, len(d))
	}
	if string(d[lfanew:lfanew+4]) != "PE\x00\x00" {
		return formatErr(ErrNotPE, int64(lfanew), "no PE signature at e_lfanew %#x", lfanew)
	}
	coff := int64(lfanew) + 4
	img.Machine = Machine(binary.LittleEndian.Uint16(d[coff:]))
	if img.Machine != MachineAMD64 {
		return formatErr(ErrUnsupportedMachine, coff, "%v image: drvhazard analyses x64 (AMD64) drivers only", img.Machine)
	}
	nsec := int(binary.LittleEndian.Uint16(d[coff+2:]))
	optSize := int64(binary.LittleEndian.Uint16(d[coff+16:]))
	opt := coff + coffSize
	// PE32+ optional header: 112 bytes of fields, then the data directories.
	const optFixed = 112
	if optSize < optFixed {
		return formatErr(ErrMalformed, coff+16, "SizeOfOptionalHeader %#x is smaller than a PE32+ header (%#x)", optSize, optFixed)
	}
	if opt+optSize > int64(len(d)) {
		return formatErr(ErrMalformed, opt, "optional header (%#x bytes) runs past the end of the %d-byte file", optSize, len(d))
	}
	magic := binary.LittleEndian.Uint16(d[opt:])
	if magic != 0x20b {
		return formatErr(ErrMalformed, opt, "optional header magic %#x is not PE32+ (0x20b) in an x64 image", magic)
	}
	img.EntryRVA = binary.LittleEndian.Uint32(d[opt+16:])
	img.ImageBase = binary.LittleEndian.Uint64(d[opt+24:])
	img.SectionAlignment = binary.LittleEndian.Uint32(d[opt+32:])
	img.FileAlignment = binary.LittleEndian.Uint32(d[opt+36:])
	img.SizeOfImage = binary.LittleEndian.Uint32(d[opt+56:])
	img.Subsystem = binary.LittleEndian.Uint16(d[opt+68:])
	img.DllCharacteristics = binary.LittleEndian.Uint16(d[opt+70:])
	ndirs := int64(binary.LittleEndian.Uint32(d[opt+108:]))
	if ndirs > 16 {
		ndirs = 16 // the loader ignores entries past 16
	}
	if avail := (optSize - optFixed) / 8; ndirs > avail {
		ndirs = avail
	}
	for i := int64(0); i < ndirs; i++ {
		p := opt + optFixed + 8*i
		img.dirs[i] = dataDir{binary.LittleEndian.Uint32(d[p:]), binary.LittleEndian.Uint32(d[p+4:])}
	}

	// The Windows loader accepts at most 96 sections.
	if nsec == 0 || nsec > 96 {
		return formatErr(ErrMalformed, coff+2, "NumberOfSections %d is outside 1..96", nsec)
	}
	sh := opt + optSize
	if sh+int64(nsec)*40 > int64(len(d)) {
		return formatErr(ErrMalformed, sh, "section table (%d entries) runs past the end of the %d-byte file", nsec, len(d))
	}
	img.Sections = make([]Section, nsec)
	for i := range img.Sections {
		p := sh + int64(i)*40
		s := &img.Sections[i]
		s.Name = strings.TrimRight(string(d[p:p+8]), "\x00")
		s.VirtualSize = binary.LittleEndian.Uint32(d[p+8:])
		s.RVA = binary.LittleEndian.Uint32(d[p+12:])
		s.RawSize = binary.LittleEndian.Uint32(d[p+16:])
		s.Offset = binary.LittleEndian.Uint32(d[p+20:])
		s.Characteristics = binary.LittleEndian.Uint32(d[p+36:])
		if s.RawSize == 0 {
			s.Offset = 0 // uninitialised data; the offset means nothing
		}
		if uint64(s.Offset)+uint64(s.RawSize) > uint64(len(d)) {
			return formatErr(ErrMalformed, p+16, "section %q raw data [%#x, %#x) runs past the end of the %d-byte file (truncated?)",
				s.Name, s.Offset, uint64(s.Offset)+uint64(s.RawSize), len(d))
		}
		if end := uint64(s.RVA) + uint64(s.Size()); end > uint64(img.SizeOfImage) {
			return formatErr(ErrMalformed, p+8, "section %q [%#x, %#x) extends past SizeOfImage %#x",
				s.Name, s.RVA, end, img.SizeOfImage)
		}
	}
	if err := img.checkTail(coff); err != nil {
		return err
	}
	sort.SliceStable(img.Sections, func(i, j int) bool { return img.Sections[i].RVA < img.Sections[j].RVA })
	for i := 1; i < len(img.Sections); i++ {
		a, b := &img.Sections[i-1], &img.Sections[i]
		if a.Size() != 0 && b.RVA < a.End() {
			return formatErr(ErrMalformed, -1, "sections %q [%#x, %#x) and %q [%#x, %#x) overlap",
				a.Name, a.RVA, a.End(), b.Name, b.RVA, b.End())
		}
	}
	return nil
}

// checkTail checks the structures stored after the sections, the COFF symbol
// and string tables and the certificate table, against the file length: a
// file cut short there loses no code, but it is a damaged copy, and the user
// should hear so rather than get results from it.
func (img *Image) checkTail(coff int64) error {
	d := img.data
	symPtr := uint64(binary.LittleEndian.Uint32(d[coff+8:]))
	nsyms := uint64(binary.LittleEndian.Uint32(d[coff+12:]))
	if symPtr != 0 {
		strtab := symPtr + 18*nsyms
		if strtab+4 > uint64(len(d)) {
			return formatErr(ErrMalformed, coff+8, "COFF symbol table (%d symbols at %#x) runs past the end of the %d-byte file (truncated?)",
				nsyms, symPtr, len(d))
		}
		if n := uint64(binary.LittleEndian.Uint32(d[strtab:])); strtab+n > uint64(len(d)) {
			return formatErr(ErrMalformed, int64(strtab), "COFF string table (%#x bytes) runs past the end of the %d-byte file (truncated?)",
				n, len(d))
		}
	}
	// The certificate table's "RVA" is a file offset (PE/COFF §4.7).
	if cert := img.dirs[dirSecurity]; cert.RVA != 0 && uint64(cert.RVA)+uint64(cert.Size) > uint64(len(d)) {
		return formatErr(ErrMalformed, int64(cert.RVA), "certificate table [%#x, %#x) runs past the end of the %d-byte file (truncated?)",
			cert.RVA, uint64(cert.RVA)+uint64(cert.Size), len(d))
	}
	return nil
}

// Section returns the section holding rva, or nil.
func (img *Image) Section(rva uint32) *Section {
	// The first section ending past rva, searched by hand: the descent
	// asks at every instruction it decodes.
	s := img.Sections
	lo, hi := 0, len(s)
	for lo < hi {
		if m := int(uint(lo+hi) >> 1); s[m].End() > rva {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if lo < len(s) && s[lo].Contains(rva) {
		return &s[lo]
	}
	return nil
}

// Data returns the file-backed bytes of s as they appear in memory. The part
// of a section past its raw data (zero-filled by the loader) is not included.
func (img *Image) Data(s *Section) []byte {
	n := s.RawSize
	if s.VirtualSize != 0 && s.VirtualSize < n {
		n = s.VirtualSize
	}
	return img.data[s.Offset : s.Offset+n : s.Offset+n]
}

// Bytes returns up to n file-backed bytes starting at rva, stopping at the end
// of the section's raw data. It returns nil when rva is not file-backed.
func (img *Image) Bytes(rva, n uint32) []byte {
	s := img.Section(rva)
	if s == nil {
		return nil
	}
	b := img.Data(s)
	off := rva - s.RVA
	if off >= uint32(len(b)) {
		return nil
	}
	b = b[off:]
	if uint32(len(b)) > n {
		b = b[:n]
	}
	return b
}

// Uint64 reads a little-endian uint64 at rva.
func (img *Image) Uint64(rva uint32) (uint64, bool) {
	b := img.Bytes(rva, 8)
	if len(b) < 8 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

// Uint32 reads a little-endian uint32 at rva.
func (img *Image) Uint32(rva uint32) (uint32, bool) {
	b := img.Bytes(rva, 4)
	if len(b) < 4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// CString reads a NUL-terminated string of at most max bytes at rva.
func (img *Image) CString(rva uint32, max uint32) (string, bool) {
	b := img.Bytes(rva, max)
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), true
		}
	}
	return "", false
}

// VA converts an RVA to a virtual address at the preferred image base.
func (img *Image) VA(rva uint32) uint64 { return img.ImageBase + uint64(rva) }

// RVA converts a virtual address at the preferred base to an RVA inside the
// image.
func (img *Image) RVA(va uint64) (uint32, bool) {
	if va < img.ImageBase || va-img.ImageBase >= uint64(img.SizeOfImage) {
		return 0, false
	}
	return uint32(va - img.ImageBase), true
}

// RVAOrZero converts a virtual address to an RVA, or 0 when it is not in
// the image.
func (img *Image) RVAOrZero(va uint64) uint32 {
	rva, _ := img.RVA(va)
	return rva
}

// ImportAt returns the import whose IAT slot is at rva.
func (img *Image) ImportAt(rva uint32) (*Import, bool) {
	i, ok := img.bySlot[rva]
	if !ok {
		return nil, false
	}
	return &img.Imports[i], true
}

// HasReloc reports whether a DIR64 base relocation fixes up the 8 bytes at
// rva: a strong sign that they hold a pointer into the image.
func (img *Image) HasReloc(rva uint32) bool {
	r := img.Relocs
	i := sort.Search(len(r), func(i int) bool { return r[i] >= rva })
	return i < len(r) && r[i] == rva
}

// PointerAt returns the RVA that the relocated pointer at rva points to.
func (img *Image) PointerAt(rva uint32) (uint32, bool) {
	if !img.HasReloc(rva) {
		return 0, false
	}
	v, ok := img.Uint64(rva)
	if !ok {
		return 0, false
	}
	return img.RVA(v)
}

// RuntimeFunction returns the .pdata entry covering rva.
func (img *Image) RuntimeFunction(rva uint32) (*RuntimeFunction, bool) {
	r := img.RuntimeFunctions
	i := sort.Search(len(r), func(i int) bool { return r[i].End > rva })
	if i < len(r) && r[i].Begin <= rva {
		return &r[i], true
	}
	return nil, false
}

// Executable reports whether rva lies in an executable section.
func (img *Image) Executable(rva uint32) bool {
	s := img.Section(rva)
	return s != nil && s.Executable()
}

func (img *Image) warnf(format string, args ...any) {
	img.Warnings = append(img.Warnings, fmt.Sprintf(format, args...))
}
