package dumpcorr

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// Synthetic dumps, built at test time for what no real file covers: full and
// bitmap dumps with page tables, triage dumps with a driver whose image we
// have, and damaged or hostile variants of each. No dump is committed.

// dtHeader is a DUMP_HEADER64 under construction, filled with "PAGE" as
// the dump writer leaves unused bytes.
type dtHeader struct{ b []byte }

func dtNewHeader(dumpType uint32) *dtHeader {
	h := &dtHeader{b: bytes.Repeat([]byte("PAGE"), dumpHeaderSize/4)}
	copy(h.b, "PAGEDU64")
	h.u32(dumpHdrMajorVersion, 0xf)
	h.u32(dumpHdrMinorVersion, 19041)
	h.u32(dumpHdrMachineImageType, dumpMachineAMD64)
	h.u32(dumpHdrNumberProcessors, 2)
	h.u32(dumpHdrBugCheckCode, 0x7f)
	for i, v := range []uint64{8, 0x1111, 0x2222, 0x3333} {
		h.u64(dumpHdrBugCheckParameters+8*i, v)
	}
	h.u32(dumpHdrDumpType, dumpType)
	return h
}

func (h *dtHeader) grow(n int) {
	if len(h.b) < n {
		h.b = append(h.b, make([]byte, n-len(h.b))...)
	}
}

func (h *dtHeader) u32(off int, v uint32) {
	h.grow(off + 4)
	binary.LittleEndian.PutUint32(h.b[off:], v)
}

func (h *dtHeader) u64(off int, v uint64) {
	h.grow(off + 8)
	binary.LittleEndian.PutUint64(h.b[off:], v)
}

func (h *dtHeader) put(off int, p []byte) {
	h.grow(off + len(p))
	copy(h.b[off:], p)
}

// context writes an x64 CONTEXT record with all of g's registers.
func (h *dtHeader) context(off int, g dumpRegs) {
	h.put(off, make([]byte, dumpContextSize))
	h.u32(off+dumpCtxContextFlags, dumpContextAMD64|dumpContextInteger|0x1)
	for i, v := range g.r {
		h.u64(off+dumpCtxRax+8*i, v)
	}
	h.u64(off+dumpCtxRip, g.rip)
}

// dtMachine is physical memory with x64 page tables, for full and bitmap
// dumps. Only the 4 KB frames written to exist, so large pages cost nothing.
type dtMachine struct {
	pages map[uint64][]byte // by frame number
	next  uint64
	pml4  uint64
}

func dtNewMachine() *dtMachine {
	m := &dtMachine{pages: map[uint64][]byte{}, next: 1}
	m.pml4 = m.alloc()
	return m
}

func (m *dtMachine) alloc() uint64 {
	pfn := m.next
	m.next++
	m.pages[pfn] = make([]byte, dumpPageSize)
	return pfn
}

func (m *dtMachine) page(pfn uint64) []byte {
	if m.pages[pfn] == nil {
		m.pages[pfn] = make([]byte, dumpPageSize)
	}
	return m.pages[pfn]
}

func (m *dtMachine) entry(table, idx uint64) uint64 {
	return binary.LittleEndian.Uint64(m.page(table)[idx*8:])
}

func (m *dtMachine) setEntry(table, idx, v uint64) {
	binary.LittleEndian.PutUint64(m.page(table)[idx*8:], v)
}

// table returns the next-level table under entry idx of table, making it.
func (m *dtMachine) table(table, idx uint64) uint64 {
	e := m.entry(table, idx)
	if e&dumpPTEPresent == 0 {
		e = m.alloc()<<12 | 3 // present, writable
		m.setEntry(table, idx, e)
	}
	return e & dumpPTEFrame >> 12
}

// pte is the page-table entry slot for va, making the tables above it.
func (m *dtMachine) pte(va uint64) (table, idx uint64) {
	pdpt := m.table(m.pml4, va>>39&0x1ff)
	pd := m.table(pdpt, va>>30&0x1ff)
	return m.table(pd, va>>21&0x1ff), va >> 12 & 0x1ff
}

func (m *dtMachine) map4K(va uint64) {
	if t, i := m.pte(va); m.entry(t, i)&dumpPTEPresent == 0 {
		m.setEntry(t, i, m.alloc()<<12|3)
	}
}

func (m *dtMachine) map2M(va, pa uint64) {
	pdpt := m.table(m.pml4, va>>39&0x1ff)
	pd := m.table(pdpt, va>>30&0x1ff)
	m.setEntry(pd, va>>21&0x1ff, pa|dumpPTELarge|3)
}

func (m *dtMachine) map1G(va, pa uint64) {
	pdpt := m.table(m.pml4, va>>39&0x1ff)
	m.setEntry(pdpt, va>>30&0x1ff, pa|dumpPTELarge|3)
}

// pa translates va for the builder, independently of the parser.
func (m *dtMachine) pa(va uint64) uint64 {
	e := m.entry(m.pml4, va>>39&0x1ff)
	e = m.entry(e&dumpPTEFrame>>12, va>>30&0x1ff)
	if e&dumpPTELarge != 0 {
		return e&dumpPTEFrame1G + va&(1<<30-1)
	}
	e = m.entry(e&dumpPTEFrame>>12, va>>21&0x1ff)
	if e&dumpPTELarge != 0 {
		return e&dumpPTEFrame2M + va&(1<<21-1)
	}
	e = m.entry(e&dumpPTEFrame>>12, va>>12&0x1ff)
	return e&dumpPTEFrame + va&0xfff
}

func (m *dtMachine) write(va uint64, p []byte) {
	for len(p) > 0 {
		pa := m.pa(va)
		n := copy(m.page(pa >> 12)[pa&0xfff:], p)
		p, va = p[n:], va+uint64(n)
	}
}

func (m *dtMachine) u64(va, v uint64) { m.write(va, binary.LittleEndian.AppendUint64(nil, v)) }

func (m *dtMachine) pfns() []uint64 {
	var out []uint64
	for pfn := range m.pages {
		out = append(out, pfn)
	}
	slices.Sort(out)
	return out
}

// full lays the memory out as a full dump: runs of consecutive frames in the
// header, their pages from 0x2000.
func (m *dtMachine) full(h *dtHeader) []byte {
	pfns := m.pfns()
	type run struct{ base, count uint64 }
	var runs []run
	for _, pfn := range pfns {
		if n := len(runs); n > 0 && runs[n-1].base+runs[n-1].count == pfn {
			runs[n-1].count++
			continue
		}
		runs = append(runs, run{pfn, 1})
	}
	h.u32(dumpHdrPhysicalMemoryBlock, uint32(len(runs)))
	h.u64(dumpHdrPhysicalMemoryBlock+8, uint64(len(pfns)))
	for i, r := range runs {
		h.u64(dumpRunsOffset+dumpRunSize*i, r.base)
		h.u64(dumpRunsOffset+dumpRunSize*i+8, r.count)
	}
	out := slices.Clone(h.b[:dumpHeaderSize])
	for _, pfn := range pfns {
		out = append(out, m.pages[pfn]...)
	}
	return out
}

// bitmap lays the memory out as a bitmap dump with the given signature.
func (m *dtMachine) bitmap(h *dtHeader, sig string) []byte {
	pfns := m.pfns()
	pages := pfns[len(pfns)-1] + 1
	bitmap := make([]byte, (pages+7)/8)
	for _, pfn := range pfns {
		bitmap[pfn/8] |= 1 << (pfn % 8)
	}
	first := (dumpHeaderSize + dumpBmpBitmap + uint64(len(bitmap)) + dumpPageSize - 1) &^ (dumpPageSize - 1)
	h.put(dumpHeaderSize, []byte(sig+"DUMP"))
	h.u64(dumpHeaderSize+dumpBmpFirstPage, first)
	h.u64(dumpHeaderSize+dumpBmpPresentPages, uint64(len(pfns)))
	h.u64(dumpHeaderSize+dumpBmpPages, pages)
	h.put(dumpHeaderSize+dumpBmpBitmap, bitmap)
	out := slices.Clone(h.b)
	out = append(out, make([]byte, int(first)-len(out))...)
	for _, pfn := range pfns {
		out = append(out, m.pages[pfn]...)
	}
	return out
}

func dtUTF16(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// The kernel of the synthetic full and bitmap dumps.
const (
	dtNtBase    = 0xfffff80000000000 // a 2 MB page at physical 2 GB
	dtNtPA      = 0x80000000
	dtListHead  = dtNtBase + 0x1000  // PsLoadedModuleList
	dtPool      = 0xffffc00000000000 // a 1 GB page at physical 4 GB
	dtPoolPA    = 0x100000000
	dtDrvBase   = dtBase
	dtStackVA   = 0xffffa00000010000 // two 4 KB pages, the second in transition
	dtNtStamp   = 0x5eadbeef
	dtDrvStamp  = 0xc03cf8b8 // msvc_patterns.clang.sys's TimeDateStamp
	dtDrvSize   = 0x5000     // and its SizeOfImage
	dtKernelRSP = dtStackVA + 0xfe0
	dtDrvName   = "msvcpat.sys"
	dtNtImage   = "ntoskrnl.exe"
	dtNtSize    = 0x200000
)

// dtKernel builds memory holding a module list (nt, then the fixture
// driver) and a stack that unwinds through the fixture: ColdPathWork (a
// leaf) <- its cold fragment (chained unwind info) <- DriverEntry <- nt, then
// scanned: junk, a driver address after no call, and an nt return address.
func dtKernel() (*dtMachine, dumpRegs) {
	m := dtNewMachine()
	m.map2M(dtNtBase, dtNtPA)
	m.map1G(dtPool, dtPoolPA)
	m.map4K(dtDrvBase)
	m.map4K(dtStackVA)
	m.map4K(dtStackVA + 0x1000)
	// The second stack page left the working set but keeps its data: a
	// transition PTE. The third is not present at all.
	t, i := m.pte(dtStackVA + 0x1000)
	m.setEntry(t, i, m.entry(t, i)&^dumpPTEPresent|dumpPTETransition)
	t, i = m.pte(dtStackVA + 0x2000)
	m.setEntry(t, i, 0x1234000) // a frame but not present

	dtPEHeader(m, dtNtBase, dtNtStamp)
	dtPEHeader(m, dtDrvBase, dtDrvStamp)
	e1, e2 := uint64(dtPool+0x100), uint64(dtPool+0x200)
	m.u64(dtListHead, e1)
	dtLdrEntry(m, e1, e2, dtNtBase, dtNtSize, dtPool+0x800, dtNtImage)
	dtLdrEntry(m, e2, dtListHead, dtDrvBase, dtDrvSize, dtPool+0x880, dtDrvName)

	for off, v := range map[uint64]uint64{
		0x00: dtDrvBase + dtFixColdRet,
		0x30: dtDrvBase + dtFixDriverRet,
		0x58: 0xb1, 0x60: 0xd1, 0x68: 0x51,
		0x70: dtNtBase + 0x1234,
		0x78: 0x4141,
		0x80: dtDrvBase + 0x1003,
		0x88: dtNtBase + 0x5678,
	} {
		m.u64(dtKernelRSP+off, v)
	}
	return m, dtRegs(dtDrvBase+dtFixColdPathWork, dtKernelRSP)
}

func dtPEHeader(m *dtMachine, base uint64, stamp uint32) {
	mz := make([]byte, 0x90)
	copy(mz, "MZ")
	binary.LittleEndian.PutUint32(mz[0x3c:], 0x80)
	copy(mz[0x80:], "PE\x00\x00\x64\x86\x05\x00")
	binary.LittleEndian.PutUint32(mz[0x88:], stamp)
	m.write(base, mz)
}

func dtLdrEntry(m *dtMachine, at, flink, base, size, nameVA uint64, name string) {
	e := make([]byte, dumpLdrSize)
	binary.LittleEndian.PutUint64(e, flink)
	binary.LittleEndian.PutUint64(e[dumpLdrDllBase:], base)
	binary.LittleEndian.PutUint32(e[dumpLdrSizeOfImage:], uint32(size))
	n := dtUTF16(name)
	binary.LittleEndian.PutUint16(e[dumpLdrBaseDllName:], uint16(len(n)))
	binary.LittleEndian.PutUint16(e[dumpLdrBaseDllName+2:], uint16(len(n)+2))
	binary.LittleEndian.PutUint64(e[dumpLdrBaseDllName+8:], nameVA)
	binary.LittleEndian.PutUint32(e[dumpLdrCheckSum:], uint32(size)^0xc5)
	m.write(at, e)
	m.write(nameVA, n)
}

// dtKernelHeader is the header of the synthetic kernel's dumps.
func dtKernelHeader(m *dtMachine, dumpType uint32, ctx dumpRegs) *dtHeader {
	h := dtNewHeader(dumpType)
	h.u64(dumpHdrDirectoryTableBase, m.pml4<<12|0x2) // PCID bits must be ignored
	h.u64(dumpHdrPsLoadedModuleList, dtListHead)
	h.context(dumpHdrContextRecord, ctx)
	return h
}

func dtParse(t testing.TB, b []byte, images []ModuleImage) (Crash, error) {
	t.Helper()
	return ParseDump("test.dmp", bytes.NewReader(b), int64(len(b)), images)
}

func dtMustParse(t testing.TB, b []byte, images []ModuleImage) Crash {
	t.Helper()
	c, err := dtParse(t, b, images)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dtFixtureImages(t testing.TB) []ModuleImage {
	return []ModuleImage{{Name: dtDrvName, Image: dtLoadFixture(t, "msvc_patterns.clang.sys"), TimeDateStamp: dtDrvStamp}}
}

// dtCheckKernelCrash checks what ParseDump makes of the synthetic kernel.
func dtCheckKernelCrash(t *testing.T, c Crash) {
	t.Helper()
	if !c.HasBugCheck || c.BugCheck != 0x7f || !slices.Equal(c.Args, []uint64{8, 0x1111, 0x2222, 0x3333}) {
		t.Errorf("bugcheck 0x%x %x, want 0x7f [8 1111 2222 3333]", c.BugCheck, c.Args)
	}
	wantMods := []Module{
		{Name: "nt", Image: dtNtImage, Base: dtNtBase, Size: dtNtSize, Timestamp: dtNtStamp, Checksum: dtNtSize ^ 0xc5},
		{Name: "msvcpat", Image: dtDrvName, Base: dtDrvBase, Size: dtDrvSize, Timestamp: dtDrvStamp, Checksum: dtDrvSize ^ 0xc5},
	}
	if !slices.Equal(c.Modules, wantMods) {
		t.Errorf("modules:\n got %+v\nwant %+v", c.Modules, wantMods)
	}
	want := []string{"msvcpat+0x1150", "msvcpat+0x1115", "msvcpat+0x1222", "nt+0x1234", "nt+0x5678"}
	if got := dtFrameStrings(c.Frames); !slices.Equal(got, want) {
		t.Errorf("frames %v, want %v", got, want)
	}
	if c.FramesFrom != "scan" || !dtHasNote(c, "scan of the stack") {
		t.Errorf("FramesFrom %q, notes %q: want scan, with a note", c.FramesFrom, c.Notes)
	}
}

func dtFrameStrings(frames []Frame) []string {
	var out []string
	for i, f := range frames {
		if f.Index != i || !f.HasAddress {
			return []string{"bad index or address"}
		}
		out = append(out, fmt.Sprintf("%s+0x%x", f.Module, f.Offset))
	}
	return out
}

func dtHasNote(c Crash, sub string) bool {
	return slices.ContainsFunc(c.Notes, func(n string) bool { return strings.Contains(n, sub) })
}

func TestParseDumpFull(t *testing.T) {
	m, ctx := dtKernel()
	c := dtMustParse(t, m.full(dtKernelHeader(m, dumpTypeFull, ctx)), dtFixtureImages(t))
	dtCheckKernelCrash(t, c)
	if c.Source != "test.dmp" {
		t.Errorf("Source %q", c.Source)
	}
}

func TestParseDumpBitmap(t *testing.T) {
	for _, tt := range []struct {
		dumpType uint32
		sig      string
	}{{dumpTypeBitmapFull, "SDMP"}, {dumpTypeBitmapKernel, "FDMP"}, {dumpTypeSummary, "SDMP"}, {dumpTypeAutomatic, "SDMP"}} {
		m, ctx := dtKernel()
		c := dtMustParse(t, m.bitmap(dtKernelHeader(m, tt.dumpType, ctx), tt.sig), dtFixtureImages(t))
		dtCheckKernelCrash(t, c)
	}
}

func TestPagedTranslate(t *testing.T) {
	m, ctx := dtKernel()
	b := m.full(dtKernelHeader(m, dumpTypeFull, ctx))
	f := &dumpFile{src: "t", r: bytes.NewReader(b), size: int64(len(b))}
	h, err := f.header()
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.full(h)
	if err != nil {
		t.Fatal(err)
	}
	mem := v.mem.(*dumpPaged)
	tests := []struct {
		va uint64
		pa uint64
		ok bool
	}{
		{dtNtBase + 0x1008, dtNtPA + 0x1008, true},           // 2 MB page
		{dtPool + 0x123456, dtPoolPA + 0x123456, true},       // 1 GB page
		{dtStackVA + 0x10, m.pa(dtStackVA + 0x10), true},     // 4 KB page
		{dtStackVA + 0x1010, m.pa(dtStackVA + 0x1010), true}, // transition
		{dtStackVA + 0x2010, 0, false},                       // not present
		{dtStackVA + 0x3010, 0, false},                       // no table entry at all
		{0x0000800000000000, 0, false},                       // not canonical
	}
	for _, tt := range tests {
		pa, ok := mem.translate(tt.va)
		if ok != tt.ok || pa != tt.pa {
			t.Errorf("translate(0x%x) = 0x%x, %v; want 0x%x, %v", tt.va, pa, ok, tt.pa, tt.ok)
		}
	}
	// The stack window stops at the page that is not present.
	if st := dumpReadStack(mem, dtKernelRSP, dumpStackWindow); st.base != dtKernelRSP || len(st.data) != int(dtStackVA+0x2000-dtKernelRSP) {
		t.Errorf("stack window of %d bytes, want %d", len(st.data), dtStackVA+0x2000-dtKernelRSP)
	}
}

func TestParseDumpModuleList(t *testing.T) {
	t.Run("cycle", func(t *testing.T) {
		m, ctx := dtKernel()
		m.u64(dtPool+0x200, dtPool+0x100) // the driver's Flink back to nt's entry
		c := dtMustParse(t, m.full(dtKernelHeader(m, dumpTypeFull, ctx)), nil)
		if len(c.Modules) != 2 || !dtHasNote(c, "comes back") {
			t.Errorf("%d modules, notes %q", len(c.Modules), c.Notes)
		}
	})
	t.Run("self loop", func(t *testing.T) {
		m, ctx := dtKernel()
		m.u64(dtPool+0x100, dtPool+0x100)
		c := dtMustParse(t, m.full(dtKernelHeader(m, dumpTypeFull, ctx)), nil)
		if len(c.Modules) != 1 || !dtHasNote(c, "comes back") {
			t.Errorf("%d modules, notes %q", len(c.Modules), c.Notes)
		}
	})
	t.Run("entry not in memory", func(t *testing.T) {
		m, ctx := dtKernel()
		m.u64(dtPool+0x200, 0xffffb00000000000)
		c := dtMustParse(t, m.full(dtKernelHeader(m, dumpTypeFull, ctx)), nil)
		if len(c.Modules) != 2 || !dtHasNote(c, "not in the dump's memory") {
			t.Errorf("%d modules, notes %q", len(c.Modules), c.Notes)
		}
	})
	t.Run("head not in memory", func(t *testing.T) {
		m, ctx := dtKernel()
		h := dtKernelHeader(m, dumpTypeFull, ctx)
		h.u64(dumpHdrPsLoadedModuleList, 0xffffb00000000000)
		c := dtMustParse(t, m.full(h), nil)
		if len(c.Modules) != 0 || !dtHasNote(c, "no module list") || len(c.Frames) != 1 {
			t.Errorf("%d modules, %d frames, notes %q", len(c.Modules), len(c.Frames), c.Notes)
		}
	})
}

func TestParseDumpImageChecks(t *testing.T) {
	m, ctx := dtKernel()
	b := m.full(dtKernelHeader(m, dumpTypeFull, ctx))
	img := dtLoadFixture(t, "msvc_patterns.clang.sys")
	tests := []struct {
		name   string
		images []ModuleImage
		note   string
	}{
		{"other timestamp", []ModuleImage{{Name: dtDrvName, Image: img, TimeDateStamp: 1}}, "TimeDateStamp is 0x1"},
		{"other size", []ModuleImage{{Name: "MSVCPAT.SYS", Image: dtLoadFixture(t, "callforms.clang.sys")}}, "MSVCPAT.SYS: the image's SizeOfImage is 0x6000, the loaded module's 0x5000"},
		{"not loaded", []ModuleImage{{Name: "other.sys", Image: img}}, "other.sys: not among the dump's 2 loaded modules"},
	}
	for _, tt := range tests {
		c := dtMustParse(t, b, tt.images)
		if !dtHasNote(c, tt.note) {
			t.Errorf("%s: notes %q, want one with %q", tt.name, c.Notes, tt.note)
		}
	}
	// Without a usable image the driver frames come from the scan: every
	// qword in a module's range counts.
	c := dtMustParse(t, b, nil)
	want := []string{"msvcpat+0x1150", "msvcpat+0x1115", "msvcpat+0x1222", "nt+0x1234", "msvcpat+0x1003", "nt+0x5678"}
	if got := dtFrameStrings(c.Frames); !slices.Equal(got, want) {
		t.Errorf("frames %v, want %v", got, want)
	}
	// A path and another case still match by file name.
	c = dtMustParse(t, b, []ModuleImage{{Name: `C:\drivers\MsvcPat.SYS`, Image: img}})
	if got := dtFrameStrings(c.Frames); len(got) != 5 {
		t.Errorf("frames %v with the image named by a path", got)
	}
}

// dtMapFixture writes a fixture driver into the synthetic kernel's memory at
// base, as the loader maps it: headers, then each section at its RVA.
// Sections listed in skip (or "headers") are left out, as pages the dump
// does not hold.
func dtMapFixture(t testing.TB, m *dtMachine, base uint64, name string, skip ...string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "bin", name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := pe.NewFile(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	opt := f.OptionalHeader.(*pe.OptionalHeader64)
	for va := base; va < base+uint64(opt.SizeOfImage); va += dumpPageSize {
		m.map4K(va)
	}
	m.write(base, raw[:opt.SizeOfHeaders])
	if slices.Contains(skip, "headers") {
		t, i := m.pte(base)
		m.setEntry(t, i, 0)
	}
	for _, s := range f.Sections {
		if slices.Contains(skip, s.Name) {
			t, i := m.pte(base + uint64(s.VirtualAddress))
			m.setEntry(t, i, 0)
			continue
		}
		data, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		m.write(base+uint64(s.VirtualAddress), data[:min(len(data), int(s.VirtualSize))])
	}
}

func TestParseDumpMemoryImage(t *testing.T) {
	// With the driver's pages in the dump, no image is needed: its headers
	// and .pdata are read from memory and the frames unwind as with the file.
	m, ctx := dtKernel()
	dtMapFixture(t, m, dtDrvBase, "msvc_patterns.clang.sys")
	full := m.full(dtKernelHeader(m, dumpTypeFull, ctx))
	dtCheckKernelCrash(t, dtMustParse(t, full, nil))
	dtCheckKernelCrash(t, dtMustParse(t, m.bitmap(dtKernelHeader(m, dumpTypeBitmapFull, ctx), "SDMP"), nil))

	// Each part the dump can lack: the frames then come from the scan, which
	// still checks call sites where the code is there.
	tests := []struct {
		skip string
		want []string
	}{
		// No headers: nothing is known of the module, so every value in its
		// range counts.
		{"headers", []string{"msvcpat+0x1150", "msvcpat+0x1115", "msvcpat+0x1222", "nt+0x1234", "msvcpat+0x1003", "nt+0x5678"}},
		// No .pdata: nothing unwinds, but the headers and code let the scan
		// keep only return addresses in code after a call.
		{".pdata", []string{"msvcpat+0x1150", "msvcpat+0x1115", "msvcpat+0x1222", "nt+0x1234", "nt+0x5678"}},
		// No unwind data: the leaf still pops its return address, the cold
		// fragment cannot be unwound, the scan takes over and checks calls.
		{".rdata", []string{"msvcpat+0x1150", "msvcpat+0x1115", "msvcpat+0x1222", "nt+0x1234", "nt+0x5678"}},
		// No code: nothing to check the scanned values against.
		{".text", []string{"msvcpat+0x1150", "msvcpat+0x1115", "msvcpat+0x1222", "nt+0x1234", "msvcpat+0x1003", "nt+0x5678"}},
	}
	// The fixture's section table: e_lfanew 0x78, + 24, + SizeOfOptionalHeader
	// 0xf0; .text is its first entry.
	const secTable = 0x180
	t.Run("text with VirtualSize 0", func(t *testing.T) {
		m, ctx := dtKernel()
		dtMapFixture(t, m, dtDrvBase, "msvc_patterns.clang.sys")
		m.write(dtDrvBase+secTable+8, make([]byte, 4)) // VirtualSize 0: SizeOfRawData stands in
		// A return address the scan finds in the driver: accepted only if
		// .text still counts as code.
		m.u64(dtKernelRSP+0x90, dtDrvBase+dtFixSehUserRet)
		c := dtMustParse(t, m.full(dtKernelHeader(m, dumpTypeFull, ctx)), nil)
		want := []string{"msvcpat+0x1150", "msvcpat+0x1115", "msvcpat+0x1222", "nt+0x1234", "nt+0x5678", "msvcpat+0x11a9"}
		if got := dtFrameStrings(c.Frames); !slices.Equal(got, want) {
			t.Errorf("frames %v, want %v", got, want)
		}
	})
	tests = append(tests, struct {
		skip string
		want []string
	}{"section table", tests[0].want})
	for _, tt := range tests {
		m, ctx := dtKernel()
		dtMapFixture(t, m, dtDrvBase, "msvc_patterns.clang.sys", tt.skip)
		if tt.skip == "section table" {
			// Zeros name no code: not trusted, as if the headers were absent.
			m.write(dtDrvBase+secTable, make([]byte, 4*dumpPESectionSize))
		}
		c := dtMustParse(t, m.full(dtKernelHeader(m, dumpTypeFull, ctx)), nil)
		if got := dtFrameStrings(c.Frames); !slices.Equal(got, tt.want) {
			t.Errorf("without %s: frames %v, want %v", tt.skip, got, tt.want)
		}
	}
}

// dtTriage describes a synthetic triage dump.
type dtTriage struct {
	ctx     dumpRegs
	stackVA uint64
	stack   []byte
	drivers []Module // Image is the path written to the string pool
	blocks  map[uint64][]byte
}

// Offsets of a synthetic triage dump's parts, for the hostile variants.
const (
	dtTriageStack      = 0x3000
	dtTriageDriverList = 0x5000
)

// build lays a triage dump out: header and context, triage header, stack,
// driver list, string pool, data block table and data, validity mark.
func (tt *dtTriage) build() []byte {
	h := dtNewHeader(dumpTypeTriage)
	h.context(dumpHdrContextRecord, tt.ctx)
	tri := dumpHeaderSize
	h.u32(tri+dumpTriageContextOffset, dumpHdrContextRecord)
	h.u32(tri+dumpTriageCallStackOffset, dtTriageStack)
	h.u32(tri+dumpTriageSizeOfCallStack, uint32(len(tt.stack)))
	h.u64(tri+dumpTriageTopOfStack, tt.stackVA)
	h.put(dtTriageStack, tt.stack)
	h.u32(tri+dumpTriageDriverListOffset, dtTriageDriverList)
	h.u32(tri+dumpTriageDriverCount, uint32(len(tt.drivers)))
	pool := dtTriageDriverList + dumpDriverEntrySize*len(tt.drivers)
	for i, d := range tt.drivers {
		e := dtTriageDriverList + dumpDriverEntrySize*i
		h.u32(e, uint32(pool))
		h.u64(e+dumpDriverDllBase, d.Base)
		h.u32(e+dumpDriverSizeOfImage, uint32(d.Size))
		h.u32(e+dumpDriverCheckSum, d.Checksum)
		h.u32(e+dumpDriverTimeStamp, d.Timestamp)
		name := dtUTF16(d.Image)
		h.u32(pool, uint32(len(name)/2))
		h.put(pool+4, append(name, 0, 0))
		pool = (pool + 4 + len(name) + 2 + 7) &^ 7
	}
	table := pool
	h.u32(tri+dumpTriageDataBlocksOffset, uint32(table))
	h.u32(tri+dumpTriageDataBlocksCount, uint32(len(tt.blocks)))
	data := table + dumpDataBlockSize*len(tt.blocks)
	vas := make([]uint64, 0, len(tt.blocks))
	for va := range tt.blocks {
		vas = append(vas, va)
	}
	slices.Sort(vas)
	for i, va := range vas {
		h.u64(table+dumpDataBlockSize*i, va)
		h.u32(table+dumpDataBlockSize*i+8, uint32(data))
		h.u32(table+dumpDataBlockSize*i+12, uint32(len(tt.blocks[va])))
		h.put(data, tt.blocks[va])
		data += len(tt.blocks[va])
	}
	h.u32(tri+dumpTriageValidOffset, uint32(data))
	h.put(data, []byte(dumpTriageValid))
	h.u32(tri+dumpTriageSizeOfDump, uint32(data+4))
	return h.b
}

// dtNewTriage is the synthetic kernel as a triage dump: the same stack,
// from rsp to the stack base, and the same two drivers.
func dtNewTriage() *dtTriage {
	m, ctx := dtKernel()
	stack := make([]byte, 0x100)
	for i := range stack {
		pa := m.pa(dtKernelRSP + uint64(i))
		stack[i] = m.pages[pa>>12][pa&0xfff]
	}
	return &dtTriage{
		ctx:     ctx,
		stackVA: dtKernelRSP,
		stack:   stack,
		drivers: []Module{
			{Image: `\SystemRoot\system32\ntoskrnl.exe`, Base: dtNtBase, Size: dtNtSize, Timestamp: dtNtStamp, Checksum: dtNtSize ^ 0xc5},
			{Image: `\SystemRoot\System32\drivers\msvcpat.sys`, Base: dtDrvBase, Size: dtDrvSize, Timestamp: dtDrvStamp, Checksum: dtDrvSize ^ 0xc5},
		},
		blocks: map[uint64][]byte{dtNtBase + 0x1000: {1, 2, 3, 4}, 0xffffc00000001000: bytes.Repeat([]byte{7}, 0x40)},
	}
}

func TestParseDumpTriage(t *testing.T) {
	c := dtMustParse(t, dtNewTriage().build(), dtFixtureImages(t))
	dtCheckKernelCrash(t, c)
	if len(c.Notes) != 1 { // only the scan note
		t.Errorf("notes %q", c.Notes)
	}
}

func TestTriageMemory(t *testing.T) {
	b := dtNewTriage().build()
	f := &dumpFile{src: "t", r: bytes.NewReader(b), size: int64(len(b))}
	h, _ := f.header()
	v, err := f.triage(h)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 8)
	if n := v.mem.read(dtNtBase+0x1000, p); n != 4 || !bytes.Equal(p[:4], []byte{1, 2, 3, 4}) {
		t.Errorf("data block read %d bytes % x", n, p[:n])
	}
	if n := v.mem.read(dtKernelRSP+0xfc, p); n != 4 {
		t.Errorf("read across the stack's end: %d bytes, want 4", n)
	}
}

func TestDumpRegions(t *testing.T) {
	// The file's byte i is i, so a read shows which range served it.
	file := make([]byte, 256)
	for i := range file {
		file[i] = byte(i)
	}
	mem := &dumpRegions{f: &dumpFile{r: bytes.NewReader(file), size: int64(len(file))}}
	mem.add(100, 0, 10)         // [100, 110) from 0
	mem.add(105, 50, 15)        // [105, 120) from 50: only [110, 120) is new
	mem.add(102, 200, 2)        // inside the first: dropped
	mem.add(120, 80, 10)        // [120, 130) from 80
	mem.add(140, 90, 0)         // empty: dropped
	mem.add(^uint64(0)-1, 0, 8) // wraps: dropped
	mem.build()
	p := make([]byte, 40)
	n := mem.read(98, p)
	if n != 0 {
		t.Errorf("read below every range: %d bytes", n)
	}
	n = mem.read(100, p)
	want := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89}
	if !bytes.Equal(p[:n], want) {
		t.Errorf("read % d, want % d", p[:n], want)
	}
}

// dtSetU32 returns a copy of b with the ULONG at off set to v.
func dtSetU32(b []byte, off int, v uint32) []byte {
	b = slices.Clone(b)
	binary.LittleEndian.PutUint32(b[off:], v)
	return b
}

func dtSetU64(b []byte, off int, v uint64) []byte {
	b = slices.Clone(b)
	binary.LittleEndian.PutUint64(b[off:], v)
	return b
}

func TestParseDumpHostile(t *testing.T) {
	triage := dtNewTriage().build()
	m, ctx := dtKernel()
	full := m.full(dtKernelHeader(m, dumpTypeFull, ctx))
	bitmap := m.bitmap(dtKernelHeader(m, dumpTypeBitmapFull, ctx), "SDMP")
	tri := dumpHeaderSize
	tests := []struct {
		name string
		b    []byte
		err  string
	}{
		{"DriverCount", dtSetU32(triage, tri+dumpTriageDriverCount, 4000000), "test.dmp: triage dump: DriverCount 4000000 at DriverListOffset 0x5000 exceeds the dump size"},
		{"DriverListOffset", dtSetU32(triage, tri+dumpTriageDriverListOffset, 0xffffff00), "DriverListOffset 0xffffff00 exceeds the dump size"},
		{"ContextOffset", dtSetU32(triage, tri+dumpTriageContextOffset, uint32(len(triage)-8)), "ContextOffset"},
		{"SizeOfCallStack", dtSetU32(triage, tri+dumpTriageSizeOfCallStack, 0x7fffffff), "SizeOfCallStack 2147483647"},
		{"CallStackOffset", dtSetU32(triage, tri+dumpTriageCallStackOffset, 0xfffffff0), "CallStackOffset 0xfffffff0"},
		{"DataBlocksCount", dtSetU32(triage, tri+dumpTriageDataBlocksCount, 0x10000000), "DataBlocksCount 268435456"},
		{"driver name offset", dtSetU32(triage, dtTriageDriverList, 0xfffffff0), "driver 0: name at 0xfffffff0 is beyond the dump size"},
		{"driver name length", dtSetU32(triage, int(binary.LittleEndian.Uint32(triage[dtTriageDriverList:])), 100000), "claims 100000 characters"},
		{"no triage header", triage[:dumpHeaderSize+0x10], "triage header ends"},
		{"NumberOfRuns", dtSetU32(full, dumpHdrPhysicalMemoryBlock, 1000), "NumberOfRuns 1000: the header holds at most 43"},
		{"PageCount", dtSetU64(full, dumpRunsOffset+8, 1<<62), "PageCount 4611686018427387904 overflows"},
		{"bitmap Pages", dtSetU64(bitmap, dumpHeaderSize+dumpBmpPages, 1<<40), "Pages 1099511627776 needs a 137438953472-byte bitmap"},
		{"bitmap signature", dtSetU32(bitmap, dumpHeaderSize, 0x41414141), `bitmap header at 0x2000 reads "AAAADUMP"`},
		{"bitmap header cut", bitmap[:dumpHeaderSize+0x20], "bitmap header ends"},
	}
	for _, tt := range tests {
		_, err := dtParse(t, tt.b, dtFixtureImages(t))
		if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrDumpMalformed) {
			t.Errorf("%s: err = %v, want ErrDumpMalformed with %q", tt.name, err, tt.err)
		}
	}
}

func TestParseDumpDamaged(t *testing.T) {
	// Damage that leaves something to read: a note, not an error.
	triage := dtNewTriage().build()
	badBlock := slices.Clone(triage)
	table := int(binary.LittleEndian.Uint32(triage[dumpHeaderSize+dumpTriageDataBlocksOffset:]))
	binary.LittleEndian.PutUint32(badBlock[table+8:], 0xfffffff0)
	m, ctx := dtKernel()
	full := m.full(dtKernelHeader(m, dumpTypeFull, ctx))
	bitmap := m.bitmap(dtKernelHeader(m, dumpTypeBitmapFull, ctx), "SDMP")
	tests := []struct {
		name string
		b    []byte
		note string
	}{
		{"data block beyond the file", badBlock, "1 of 2 data blocks lie beyond the dump size"},
		{"SizeOfDump", dtSetU32(triage, dumpHeaderSize+dumpTriageSizeOfDump, 1<<30), "SizeOfDump is 1073741824 bytes"},
		{"ValidOffset", dtSetU32(triage, dumpHeaderSize+dumpTriageValidOffset, 0x10), "no TRGD mark"},
		{"full dump cut", full[:len(full)-0x3000], "full dump: truncated"},
		{"bitmap dump cut", bitmap[:len(bitmap)-0x3000], "bitmap dump: truncated"},
		{"TotalPresentPages", dtSetU64(bitmap, dumpHeaderSize+dumpBmpPresentPages, 3), "TotalPresentPages says 3"},
		{"rsp outside memory", dtSetU64(full, dumpHdrContextRecord+dumpCtxRax+8*dumpRegRSP, 0xffffb00000000000), "rsp 0xffffb00000000000 is not in the dump's memory"},
		{"header-only dump", dtSetU32(full, dumpHdrDumpType, dumpTypeHeader), "header-only dump (type 3)"},
		{"unknown dump type", dtSetU32(full, dumpHdrDumpType, 9), "dump type 9: no memory"},
	}
	for _, tt := range tests {
		c, err := dtParse(t, tt.b, dtFixtureImages(t))
		if err != nil || !dtHasNote(c, tt.note) || len(c.Frames) == 0 {
			t.Errorf("%s: err = %v, %d frames, notes %q; want a note with %q", tt.name, err, len(c.Frames), c.Notes, tt.note)
		}
	}
}

func TestParseDumpTruncations(t *testing.T) {
	// Every cut of every layout parses or refuses; none panics.
	m, ctx := dtKernel()
	for _, b := range [][]byte{
		dtNewTriage().build(),
		m.full(dtKernelHeader(m, dumpTypeFull, ctx)),
		m.bitmap(dtKernelHeader(m, dumpTypeBitmapFull, ctx), "SDMP"),
	} {
		for n := 0; n <= len(b); n += 0x100 {
			dtParse(t, b[:n], dtFixtureImages(t))
		}
	}
}

func TestParseDumpRefusals(t *testing.T) {
	arm := dtNewHeader(dumpTypeTriage)
	arm.u32(dumpHdrMachineImageType, dumpMachineARM64)
	i386 := dtNewHeader(dumpTypeTriage)
	i386.u32(dumpHdrMachineImageType, 0x14c)
	tests := []struct {
		name string
		b    []byte
		kind error
		err  string
	}{
		{"empty", nil, ErrDumpMalformed, "test.dmp: not a kernel dump"},
		{"text", []byte("Microsoft (R) Windows Debugger Version 10.0"), ErrDumpMalformed, "not a kernel dump"},
		{"32-bit", []byte("PAGEDUMP\x0f\x00\x00\x00"), ErrDumpUnsupported, "32-bit kernel dump (PAGEDUMP): drvhazard reads x64 dumps only"},
		{"ARM64, header only", arm.b[:0x40], ErrDumpUnsupported, "test.dmp: ARM64 kernel dump: drvhazard reads x64 dumps only"},
		{"other machine", i386.b, ErrDumpUnsupported, "machine 0x14c"},
		{"signature only", []byte("PAGEDU64"), ErrDumpMalformed, "truncated: 8 bytes"},
		{"half a header", dtNewHeader(dumpTypeFull).b[:0x1000], ErrDumpMalformed, "truncated: 4096 bytes, the dump header alone is 8192"},
	}
	for _, tt := range tests {
		_, err := dtParse(t, tt.b, nil)
		if err == nil || !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: err = %v, want %v with %q", tt.name, err, tt.kind, tt.err)
		}
	}
}

// dtFailingReader fails every read that reaches past limit.
type dtFailingReader struct {
	r     *bytes.Reader
	limit int64
}

var errDumpTestDisk = errors.New("disk on fire")

func (f dtFailingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.limit {
		return 0, errDumpTestDisk
	}
	return f.r.ReadAt(p, off)
}

func TestParseDumpReadError(t *testing.T) {
	b := dtNewTriage().build()
	for _, limit := range []int64{0x40, dumpHeaderSize, dtTriageDriverList} {
		_, err := ParseDump("test.dmp", dtFailingReader{bytes.NewReader(b), limit}, int64(len(b)), nil)
		if limit == 0x40 {
			// The signature and machine were read: the header read fails.
			limit = dumpHeaderSize
		}
		if !errors.Is(err, errDumpTestDisk) || !strings.HasPrefix(err.Error(), "test.dmp: reading ") {
			t.Errorf("reads failing past 0x%x: err = %v, want the reader's error", limit, err)
		}
	}
}

func TestIsDump(t *testing.T) {
	for in, want := range map[string]bool{
		"PAGEDU64...": true, "PAGEDUMP": true, "PAGEDU6": false, "MDMP....": false, "": false, "PAGEPAGE": false,
	} {
		if got := IsDump([]byte(in)); got != want {
			t.Errorf("IsDump(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestModuleNames(t *testing.T) {
	for in, want := range map[string]string{
		"ntoskrnl.exe": "nt", "NTKRNLMP.EXE": "nt", "hal.dll": "hal", "halmacpi.dll": "hal",
		"FLTMGR.SYS": "FLTMGR", "amdppm.sys": "amdppm", "Microsoft.Bluetooth.Legacy.sys": "Microsoft_Bluetooth_Legacy",
		"HalExtIntcLpioDMA.dll": "HalExtIntcLpioDMA", "noext": "noext",
		`\SystemRoot\system32\DRIVERS\npcap.sys`: "npcap", "../bin/mf_rdata.gcc.sys": "mf_rdata_gcc",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

// dtRealDump reads one of the real dumps in shared/dumps, in place.
func dtRealDump(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "dumps", name)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is absent: the real kernel dumps live in /work/shared/dumps beside the repository", p)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The real triage dump (shared/dumps/README.md): Windows 10 build 19041,
// KERNEL_MODE_EXCEPTION_NOT_HANDLED_M (0x1000007E) with an access violation
// (0xC0000005) at amdppm+0x334c. The header's context record is the
// exception's context: its rip is the faulting address, the bugcheck's second
// argument (the exception record itself is the KeBugCheckEx breakpoint).
func TestParseDumpRealTriage(t *testing.T) {
	b := dtRealDump(t, "triage_x64_amdppm_0x1000007e.dmp")
	c := dtMustParse(t, b, nil)
	if c.BugCheck != 0x1000007e {
		t.Errorf("bugcheck 0x%x, want 0x1000007e", c.BugCheck)
	}
	wantArgs := []uint64{0xffffffffc0000005, 0xfffff8048b58334c, 0xffff850429891ee8, 0xffff850429891720}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args %x, want %x", c.Args, wantArgs)
	}
	if len(c.Modules) != 151 {
		t.Errorf("%d modules, want 151", len(c.Modules))
	}
	byName := map[string]Module{}
	for _, m := range c.Modules {
		byName[m.Name] = m
	}
	for _, name := range []string{"nt", "hal", "npcap", "VBoxDrv", "WdFilter", "FLTMGR", "amdppm"} {
		if _, ok := byName[name]; !ok {
			t.Errorf("no module %q", name)
		}
	}
	wantAmd := Module{Name: "amdppm", Image: "amdppm.sys", Base: 0xfffff8048b580000, Size: 0x3b000, Timestamp: 0xc9c03000, Checksum: 0x38e6b}
	if byName["amdppm"] != wantAmd {
		t.Errorf("amdppm = %+v, want %+v", byName["amdppm"], wantAmd)
	}
	if nt := byName["nt"]; nt.Image != "ntoskrnl.exe" || nt.Base != 0xfffff8047ba00000 || nt.Size != 0x1046000 {
		t.Errorf("nt = %+v", nt)
	}
	if len(c.Frames) < 2 {
		t.Fatalf("%d frames", len(c.Frames))
	}
	if f := c.Frames[0]; f.Module != "amdppm" || f.Offset != 0x334c || f.Address != wantArgs[1] {
		t.Errorf("frame 0 = %+v, want amdppm+0x334c at the faulting address", f)
	}
	// No image is given, so every other frame comes from the scan, and the
	// scan stays within the stack the dump holds (TopOfStack 0x...0ee8,
	// 0x2118 bytes: it ends at the stack base 0xffff850429893000).
	if c.FramesFrom != "scan" || len(c.Frames) > dumpMaxFrames {
		t.Errorf("FramesFrom %q with %d frames", c.FramesFrom, len(c.Frames))
	}
	for _, f := range c.Frames {
		if f.Module == "" {
			t.Errorf("frame %d at 0x%x names no module", f.Index, f.Address)
		}
		// The dump keeps nt's header page, so the scan knows nt's code:
		// .text at 0x200000 up to the end of INIT at 0xaa33b8. Pointers
		// into .rdata and .data (nt+0xea30, nt+0xc441e0 on this stack)
		// are not return addresses.
		if f.Module == "nt" && (f.Offset < 0x200000 || f.Offset >= 0xaa33b8) {
			t.Errorf("frame %d at nt+0x%x is outside nt's code", f.Index, f.Offset)
		}
	}
	// Notes: the scan only. The dump is complete (SizeOfDump = file size,
	// TRGD mark present) and all 1831 data blocks lie in the file.
	if len(c.Notes) != 1 {
		t.Errorf("notes %q", c.Notes)
	}
}

func TestDumpHeaderReal(t *testing.T) {
	b := dtRealDump(t, "triage_x64_amdppm_0x1000007e.dmp")
	f := &dumpFile{src: "t", r: bytes.NewReader(b), size: int64(len(b))}
	h, err := f.header()
	if err != nil {
		t.Fatal(err)
	}
	h.raw = nil
	want := dumpHeader{
		majorVersion:       0xf, // free build
		minorVersion:       19041,
		directoryTableBase: 0x1ad000,
		psLoadedModuleList: 0xfffff8047c62a390,
		machine:            dumpMachineAMD64,
		numberProcessors:   16,
		bugCheckCode:       0x1000007e,
		bugCheckParameters: [4]uint64{0xffffffffc0000005, 0xfffff8048b58334c, 0xffff850429891ee8, 0xffff850429891720},
		// STATUS_BREAKPOINT at nt+0x3f5a80: KeBugCheckEx's, not the fault.
		exceptionCode:     0x80000003,
		exceptionAddress:  0xfffff8047bdf5a80,
		dumpType:          dumpTypeTriage,
		requiredDumpSpace: 0x197915,
		systemTime:        0x1d707f23dbb3399, // FILETIME: 2021-02-21 01:38:22 UTC
	}
	if !reflect.DeepEqual(*h, want) {
		t.Errorf("header\n got %+v\nwant %+v", *h, want)
	}
}

func TestParseDumpRealTriageImageMismatch(t *testing.T) {
	b := dtRealDump(t, "triage_x64_amdppm_0x1000007e.dmp")
	c := dtMustParse(t, b, []ModuleImage{{Name: "amdppm.sys", Image: dtLoadFixture(t, "msvc_patterns.clang.sys")}})
	if !dtHasNote(c, "amdppm.sys: the image's SizeOfImage is 0x5000, the loaded module's 0x3b000: not used for unwinding") {
		t.Errorf("notes %q", c.Notes)
	}
}

func TestParseDumpRealARM64(t *testing.T) {
	b := dtRealDump(t, "triage_arm64.dmp")
	if !IsDump(b) {
		t.Error("IsDump(ARM64 dump) = false")
	}
	_, err := dtParse(t, b, nil)
	if !errors.Is(err, ErrDumpUnsupported) || err.Error() != "test.dmp: ARM64 kernel dump: drvhazard reads x64 dumps only" {
		t.Errorf("err = %v, want the ARM64 refusal", err)
	}
}

func BenchmarkParseDump(b *testing.B) {
	dump := dtRealDump(b, "triage_x64_amdppm_0x1000007e.dmp")
	b.SetBytes(int64(len(dump)))
	for b.Loop() {
		if _, err := ParseDump("triage.dmp", bytes.NewReader(dump), int64(len(dump)), nil); err != nil {
			b.Fatal(err)
		}
	}
}
