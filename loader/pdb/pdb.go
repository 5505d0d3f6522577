package pdb

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/drvhazard/drvhazard/loader"
)

// MaxFileSize is the largest file Open and Parse read. Kernel driver PDBs
// are megabytes, tens for the largest; anything past this is refused
// before it is read.
const MaxFileSize = 1 << 30

// maxWarnings caps File.Warnings; the rest are counted in a last entry.
const maxWarnings = 50

// A File is a parsed PDB. Its symbols and lines are read when it is parsed;
// it holds no reference to the file afterwards, and its methods may be
// called from several goroutines.
type File struct {
	// GUID and Age identify the PDB; an image's CodeView (RSDS) record
	// names the PDB it was linked with by the same GUID and age. The GUID
	// is the raw GUID structure as stored (Data1, Data2, Data3 little
	// endian, then Data4), which is also how loader.CodeView keeps it.
	GUID      [16]byte
	Age       uint32 // PDB info stream age: incremented each time the PDB is written
	DBIAge    uint32 // DBI stream age: the age the linker put in the image (0 when there is no DBI stream)
	Signature uint32 // PDB info stream time stamp
	Machine   uint16 // IMAGE_FILE_MACHINE_* of the DBI header (0x8664 for x64)

	Modules  []Module  // in module index order
	Sections []Section // the image's section headers, in section number order
	// Warnings lists damage that did not refuse the file: a module whose
	// symbols or lines could not be read, symbols that name no section.
	Warnings []string

	path      string
	functions []Function
	publics   []Public
	variables []Variable
	classes   map[string]loader.Class
	lines     []lineEntry
	files     []string
	contribs  []contribution
}

// Open reads the PDB at path. Errors name the path.
func Open(path string) (*File, error) {
	fd, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	f, err := Parse(fd, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.path = path
	return f, nil
}

// openRegular opens path if it is a regular file (checked before opening,
// so that a named pipe cannot block the open).
func openRegular(path string) (*os.File, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: not a regular file", path)
	}
	fd, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	return fd, st.Size(), nil
}

// Parse reads a PDB of size bytes from r. Its errors do not name a file.
func Parse(r io.ReaderAt, size int64) (f *File, err error) {
	defer func() {
		if v := recover(); v != nil {
			f, err = nil, fileErr(ErrMalformed, -1, "internal error (a bug in drvhazard's PDB reader): %v", v)
		}
	}()
	m, err := openMSF(r, size)
	if err != nil {
		return nil, err
	}
	info, err := m.parseInfo()
	if err != nil {
		return nil, err
	}
	f = &File{GUID: info.guid, Age: info.age, Signature: info.signature}
	p := &parser{m: m, f: f, fileIdx: map[string]uint32{}, nameFiles: map[uint32]uint32{}}
	if !m.exists(streamDBI) || m.streams[streamDBI].size == 0 {
		p.warn("no DBI stream: the PDB has no symbols or lines")
		return f, nil
	}
	dbi, err := m.parseDBI(p.warn)
	if err != nil {
		return nil, err
	}
	f.DBIAge, f.Machine, f.Modules = dbi.age, dbi.machine, dbi.modules
	if err := p.readSections(dbi); err != nil {
		return nil, err
	}
	if s, ok := info.named[namesStream]; ok {
		p.readNames(s)
	}
	p.readSymbols(dbi)
	p.readClasses()
	p.finish(dbi)
	return f, nil
}

// parser holds the state of one Parse.
type parser struct {
	m *msf
	f *File

	// sections are the headers that segment numbers index: the image's,
	// or, when the image was rewritten after linking (OMAP), the original
	// ones; then om maps original RVAs to final ones.
	sections []Section
	om       omap

	names     stringTable       // nil when there is no usable /names stream
	noNames   bool              // a line needed a file name that names could not give
	nameFiles map[uint32]uint32 // offset in names -> index in files
	symrecs   []byte

	functions  []Function
	publicSyms []Public
	variables  []Variable
	lines      []lineEntry
	scratch    []fragmentLine
	files      []string
	fileIdx    map[string]uint32
	unplaced   int // symbols and lines that name no section
	nwarnings  int
}

func (p *parser) warn(format string, args ...any) {
	p.nwarnings++
	if p.nwarnings <= maxWarnings {
		p.f.Warnings = append(p.f.Warnings, fmt.Sprintf(format, args...))
	}
}

// rva converts a segment:offset address to an RVA.
func (p *parser) rva(seg uint16, off uint32) (uint32, bool) {
	if seg == 0 || int(seg) > len(p.sections) {
		return 0, false
	}
	r := uint64(p.sections[seg-1].RVA) + uint64(off)
	if r >= 1<<32 {
		return 0, false
	}
	if p.om != nil {
		return p.om.lookup(uint32(r))
	}
	return uint32(r), true
}

func (p *parser) readSections(dbi *dbiStream) error {
	hdr := dbi.dbg[dbgSectionHdr]
	if hdr < 0 || !p.m.exists(hdr) {
		p.warn("no section header stream: symbol addresses cannot be converted to RVAs")
		return nil
	}
	p.m.names[hdr] = "section headers"
	secs, err := p.m.parseSections(hdr)
	if err != nil {
		return err
	}
	p.f.Sections, p.sections = secs, secs
	orig, from := dbi.dbg[dbgSectionHdrOrig], dbi.dbg[dbgOmapFromSrc]
	if orig < 0 || !p.m.exists(orig) {
		return nil
	}
	if from < 0 || !p.m.exists(from) {
		return p.m.streamErr(ErrMalformed, streamDBI, -1, "original section headers (stream %d) without an OMAP from them", orig)
	}
	p.m.names[orig], p.m.names[from] = "original section headers", "OMAP from source"
	if p.sections, err = p.m.parseSections(orig); err != nil {
		return err
	}
	p.om, err = p.m.parseOmap(from)
	return err
}

func (p *parser) readNames(s int) {
	if s < 0 || !p.m.exists(s) {
		p.warn("the /names stream %d does not exist", s)
		return
	}
	p.m.names[s] = "/names"
	b, err := p.m.stream(s)
	if err == nil {
		p.names, err = parseStringTable(b)
	}
	if err != nil {
		p.warn("/names (stream %d): %v", s, err)
	}
}

// readSymbols reads the public and global symbols and each module's
// symbols and lines. Damage in one of them is a warning.
func (p *parser) readSymbols(dbi *dbiStream) {
	if dbi.symrecs >= 0 {
		b, err := p.m.stream(dbi.symrecs)
		if err != nil {
			p.warn("symbol records (stream %d): %v", dbi.symrecs, err)
		}
		p.symrecs = b
	}
	if dbi.publics >= 0 && p.symrecs != nil {
		if err := p.publics(dbi.publics); err != nil {
			p.warn("publics (stream %d): %v", dbi.publics, err)
		}
	}
	if dbi.globals >= 0 && p.symrecs != nil {
		if err := p.globals(dbi.globals); err != nil {
			p.warn("globals (stream %d): %v", dbi.globals, err)
		}
	}
	for i := range p.f.Modules {
		mod := &p.f.Modules[i]
		if mod.stream < 0 {
			continue
		}
		b, err := p.m.stream(mod.stream)
		if err != nil {
			p.warn("module %d (%s): %v", i, mod.Name, err)
			continue
		}
		sym, c11, c13 := uint64(mod.symBytes), uint64(mod.c11), uint64(mod.c13)
		if sym+c11+c13 > uint64(len(b)) {
			p.warn("module %d (%s): %d bytes of symbols, %d of C11 and %d of C13 lines, the stream holds %d",
				i, mod.Name, sym, c11, c13, len(b))
			continue
		}
		if sym > 0 {
			if err := p.moduleSymbols(b[:sym]); err != nil {
				p.warn("module %d (%s) symbols: %v", i, mod.Name, err)
			}
		}
		if c13 > 0 {
			if err := p.moduleLines(b[sym+c11 : sym+c11+c13]); err != nil {
				p.warn("module %d (%s) lines: %v", i, mod.Name, err)
			}
		} else if c11 > 0 {
			p.warn("module %d (%s): only C11 line information, which is not read", i, mod.Name)
		}
	}
}

// finish sorts what was read and completes the functions with the public
// symbols of code that no procedure or thunk covers.
func (p *parser) finish(dbi *dbiStream) {
	f := p.f
	sortFunctions(p.functions)
	procs := p.functions
	// maxEnd[i]: the furthest end of procs[0..i], to test coverage.
	maxEnd := make([]uint64, len(procs))
	for i, fn := range procs {
		maxEnd[i] = uint64(fn.RVA) + uint64(max(fn.Size, 1))
		if i > 0 {
			maxEnd[i] = max(maxEnd[i], maxEnd[i-1])
		}
	}
	covered := func(rva uint32) bool {
		i := sort.Search(len(procs), func(i int) bool { return procs[i].RVA > rva }) - 1
		return i >= 0 && uint64(rva) < maxEnd[i]
	}
	all := procs
	code := codeRanges(f.Sections)
	for _, pub := range p.publicSyms {
		if (pub.Code || pub.Function) && executable(code, pub.RVA) && !covered(pub.RVA) {
			all = append(all, Function{Name: pub.Name, RVA: pub.RVA, Kind: KindPublic})
		}
	}
	sortFunctions(all)
	f.functions = dedupe(all, func(a, b Function) bool { return a.RVA == b.RVA && a.Name == b.Name })

	sort.Slice(p.publicSyms, func(i, j int) bool {
		return lessNamed(p.publicSyms[i].RVA, p.publicSyms[i].Name, p.publicSyms[j].RVA, p.publicSyms[j].Name)
	})
	f.publics = dedupe(p.publicSyms, func(a, b Public) bool { return a == b })
	sort.Slice(p.variables, func(i, j int) bool {
		return lessNamed(p.variables[i].RVA, p.variables[i].Name, p.variables[j].RVA, p.variables[j].Name)
	})
	f.variables = dedupe(p.variables, func(a, b Variable) bool { return a.RVA == b.RVA && a.Name == b.Name })

	sort.Slice(p.lines, func(i, j int) bool {
		a, b := p.lines[i], p.lines[j]
		return a.rva < b.rva || a.rva == b.rva && a.end < b.end
	})
	f.lines, f.files = p.lines, p.files

	for _, c := range dbi.contribs {
		rva, ok := p.rva(c.section, c.off)
		if !ok || c.size == 0 || c.size > 0xFFFFFFFF-rva {
			continue
		}
		c.rva = rva
		f.contribs = append(f.contribs, c)
	}
	sort.Slice(f.contribs, func(i, j int) bool { return f.contribs[i].rva < f.contribs[j].rva })

	if p.noNames {
		p.warn("no usable /names stream: lines have no file names")
	}
	if p.unplaced > 0 {
		p.warn("%d symbols and lines name an address in no section of the image; they were dropped", p.unplaced)
	}
	if p.nwarnings > maxWarnings {
		f.Warnings = append(f.Warnings, fmt.Sprintf("... and %d more warnings", p.nwarnings-maxWarnings))
	}
}

func sortFunctions(fns []Function) {
	sort.Slice(fns, func(i, j int) bool {
		a, b := fns[i], fns[j]
		if a.RVA != b.RVA {
			return a.RVA < b.RVA
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
}

func lessNamed(ra uint32, na string, rb uint32, nb string) bool {
	return ra < rb || ra == rb && na < nb
}

// dedupe drops each element equal to its predecessor (s is sorted).
func dedupe[T any](s []T, eq func(a, b T) bool) []T {
	out := s[:0]
	for i, v := range s {
		if i > 0 && eq(v, out[len(out)-1]) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// codeRanges returns the [start, end) ranges of the executable sections,
// sorted by start, for executable to search.
func codeRanges(secs []Section) [][2]uint64 {
	var r [][2]uint64
	for i := range secs {
		if s := &secs[i]; s.Executable() {
			r = append(r, [2]uint64{uint64(s.RVA), uint64(s.RVA) + uint64(s.Size)})
		}
	}
	sort.Slice(r, func(i, j int) bool { return r[i][0] < r[j][0] })
	return r
}

// executable reports whether rva lies in one of the ranges.
func executable(ranges [][2]uint64, rva uint32) bool {
	i := sort.Search(len(ranges), func(i int) bool { return ranges[i][0] > uint64(rva) }) - 1
	return i >= 0 && uint64(rva) < ranges[i][1]
}

// Functions returns the functions the PDB names, sorted by RVA: the
// procedures of the module streams (with their code size), the linker's
// thunks, and the public symbols in code sections that none of those
// covers (hand-written assembly, stripped "public" PDBs), whose size is 0.
// The caller must not modify the slice.
func (f *File) Functions() []Function { return f.functions }

// Publics returns the S_PUB32 records of the publics stream, sorted by
// RVA. The caller must not modify the slice.
func (f *File) Publics() []Public { return f.publics }

// Variables returns the global and static variables (S_GDATA32,
// S_LDATA32) of the globals stream and the module streams, sorted by RVA.
// The caller must not modify the slice.
func (f *File) Variables() []Variable { return f.variables }

// LineAt returns the source line whose code covers rva. It reports false
// for code with no line (compiler-generated code, hidden lines) and for
// addresses the line tables do not cover.
func (f *File) LineAt(rva uint32) (Line, bool) {
	i := sort.Search(len(f.lines), func(i int) bool { return f.lines[i].rva > rva }) - 1
	if i < 0 {
		return Line{}, false
	}
	e := f.lines[i]
	if rva >= e.end || e.line == 0 {
		return Line{}, false
	}
	return Line{File: f.files[e.file], Line: int(e.line)}, true
}

// ModuleAt returns the module whose section contribution covers rva: the
// object file or library member the code or data at rva came from.
func (f *File) ModuleAt(rva uint32) (*Module, bool) {
	i := sort.Search(len(f.contribs), func(i int) bool { return f.contribs[i].rva > rva }) - 1
	if i < 0 || rva-f.contribs[i].rva >= f.contribs[i].size {
		return nil, false
	}
	return &f.Modules[f.contribs[i].module], true
}

// Matches checks that the PDB is the one the image was linked with. As in
// Microsoft's PDB1::OpenValidate4 (microsoft-pdb PDB/dbi/pdb.cpp), the
// GUIDs must be equal, the PDB's age must be at least the image's, and the
// DBI age, unless it is 0 (old PDBs), must equal the image's age. The error
// wraps ErrMismatch and names both identities.
func (f *File) Matches(cv loader.CodeView) error {
	if cv.GUID == f.GUID && f.Age >= cv.Age && (f.DBIAge == 0 || f.DBIAge == cv.Age) {
		return nil
	}
	what := "the PDB"
	if f.path != "" {
		what = f.path
	}
	img := cv.Path
	if img == "" {
		img = "a PDB"
	}
	return fmt.Errorf("%w: %s is GUID %s age %d (DBI age %d), the image was linked with %s, GUID %s age %d",
		ErrMismatch, what, guidString(f.GUID), f.Age, f.DBIAge, img, guidString(cv.GUID), cv.Age)
}

// guidString formats a GUID as symbol stores name it: Data1, Data2, Data3
// and the eight bytes of Data4 in upper-case hex, without dashes (the same
// form as loader.CodeView.GUIDString).
func guidString(g [16]byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08X%04X%04X%X", le.Uint32(g[0:]), le.Uint16(g[4:]), le.Uint16(g[6:]), g[8:16])
}
