package dumpcorr

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"sort"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
)

// dtCode is a hand-built image for the unwinder: bytes indexed by RVA,
// .pdata entries, and code at [0x1000, 0x2000).
type dtCode struct {
	img   []byte
	funcs []dumpFunc
}

func dtNewCode() *dtCode { return &dtCode{img: make([]byte, 0x4000)} }

// fn adds a .pdata entry for [begin, end) with its UNWIND_INFO at at.
func (c *dtCode) fn(begin, end, at uint32, info []byte) {
	copy(c.img[at:], info)
	c.funcs = append(c.funcs, dumpFunc{begin: begin, end: end, unwind: at})
	sort.Slice(c.funcs, func(i, j int) bool { return c.funcs[i].begin < c.funcs[j].begin })
}

func (c *dtCode) code(rva uint32, b ...byte) { copy(c.img[rva:], b) }

func (c *dtCode) unwinds() bool { return true }

func (c *dtCode) function(rva uint32) (dumpFunc, bool) {
	for _, f := range c.funcs {
		if rva >= f.begin && rva < f.end {
			return f, true
		}
	}
	return dumpFunc{}, false
}

func (c *dtCode) bytes(rva, n uint32) []byte {
	if rva >= uint32(len(c.img)) {
		return nil
	}
	return c.img[rva:min(uint32(len(c.img)), rva+n)]
}

func (c *dtCode) executable(rva uint32) bool { return rva >= 0x1000 && rva < 0x2000 }

// dtUC encodes an UNWIND_CODE slot.
func dtUC(offset, op, info uint8) uint16 { return uint16(offset) | uint16(op)<<8 | uint16(info)<<12 }

// dtUnwindInfo encodes a version 1 UNWIND_INFO; frameOff is FrameOffset
// (the offset divided by 16).
func dtUnwindInfo(flags, prolog, frameReg, frameOff uint8, codes ...uint16) []byte {
	b := []byte{1 | flags<<3, prolog, uint8(len(codes)), frameReg | frameOff<<4}
	for _, c := range codes {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	if len(codes)%2 == 1 {
		b = append(b, 0, 0)
	}
	return b
}

// dtChained encodes a chained UNWIND_INFO pointing at parent.
func dtChained(parent dumpFunc, codes ...uint16) []byte {
	b := dtUnwindInfo(dumpUnwFlagChainInfo, 0, 0, 0, codes...)
	b = binary.LittleEndian.AppendUint32(b, parent.begin)
	b = binary.LittleEndian.AppendUint32(b, parent.end)
	return binary.LittleEndian.AppendUint32(b, parent.unwind)
}

// dtStack is a stack window at base holding size bytes, with qwords set
// at the given offsets.
func dtStack(base uint64, size int, at map[uint64]uint64) *dumpStack {
	st := &dumpStack{base: base, data: make([]byte, size)}
	for off, v := range at {
		binary.LittleEndian.PutUint64(st.data[off:], v)
	}
	return st
}

// dtRegs is a full register context with every register known.
func dtRegs(rip, rsp uint64) dumpRegs {
	g := dumpRegs{rip: rip, known: 0xffff}
	for i := range g.r {
		g.r[i] = 0xdead0000 + uint64(i)
	}
	g.r[dumpRegRSP] = rsp
	return g
}

const (
	dtBase = 0xfffff80010000000
	dtRSP  = 0xffffa00000010000
	dtRet  = 0xfffff80020001234
)

// Register numbers for readability.
const (
	dtRBX = 3
	dtRBP = 5
	dtRSI = 6
	dtRDI = 7
	dtR14 = 14
)

func dtMustUnwind(t *testing.T, code dumpCode, g dumpRegs, st *dumpStack) dumpRegs {
	t.Helper()
	next, err := dumpVirtualUnwind(code, dtBase, g, st)
	if err != nil {
		t.Fatalf("unwind: %v", err)
	}
	return next
}

func dtCheckReturn(t *testing.T, g dumpRegs, rip, rsp uint64) {
	t.Helper()
	if g.rip != rip || g.rsp() != rsp {
		t.Errorf("unwound to rip 0x%x rsp 0x%x, want rip 0x%x rsp 0x%x", g.rip, g.rsp(), rip, rsp)
	}
}

func dtCheckReg(t *testing.T, g dumpRegs, reg int, want uint64) {
	t.Helper()
	if !g.has(reg) || g.r[reg] != want {
		t.Errorf("register %d = 0x%x (known %v), want 0x%x", reg, g.r[reg], g.has(reg), want)
	}
}

func TestUnwindPushAndAlloc(t *testing.T) {
	c := dtNewCode()
	// push rbx; push rsi; sub rsp, 0x1000 (UWOP_ALLOC_LARGE, 16-bit form)
	c.fn(0x1000, 0x1100, 0x3000, dtUnwindInfo(0, 9, 0, 0,
		dtUC(9, dumpUwopAllocLarge, 0), 0x1000/8, dtUC(2, dumpUwopPushNonvol, dtRSI), dtUC(1, dumpUwopPushNonvol, dtRBX)))
	st := dtStack(dtRSP, 0x1020, map[uint64]uint64{0x1000: 0x51, 0x1008: 0xb1, 0x1010: dtRet})
	g := dtMustUnwind(t, c, dtRegs(dtBase+0x1040, dtRSP), st)
	dtCheckReturn(t, g, dtRet, dtRSP+0x1018)
	dtCheckReg(t, g, dtRSI, 0x51)
	dtCheckReg(t, g, dtRBX, 0xb1)
}

func TestUnwindAllocLargeFar(t *testing.T) {
	c := dtNewCode()
	// sub rsp, 0x12340 (UWOP_ALLOC_LARGE, 32-bit form, unscaled)
	c.fn(0x1000, 0x1100, 0x3000, dtUnwindInfo(0, 7, 0, 0, dtUC(7, dumpUwopAllocLarge, 1), 0x2340, 0x1))
	st := dtStack(dtRSP, 0x12350, map[uint64]uint64{0x12340: dtRet})
	g := dtMustUnwind(t, c, dtRegs(dtBase+0x1040, dtRSP), st)
	dtCheckReturn(t, g, dtRet, dtRSP+0x12348)
}

func TestUnwindSaveNonvol(t *testing.T) {
	c := dtNewCode()
	// sub rsp, 0x28; mov [rsp+0x30], rbx; mov [rsp+0x10008], rdi;
	// movaps [rsp+0x20], xmm6; movaps [rsp+0x20000], xmm7; the XMM saves
	// must be skipped slot-exactly for the codes after them to decode.
	c.fn(0x1000, 0x1100, 0x3000, dtUnwindInfo(0, 0x20, 0, 0,
		dtUC(0x20, dumpUwopSaveXMM128Far, 7), 0x0000, 0x2,
		dtUC(0x18, dumpUwopSaveXMM128, 6), 2,
		dtUC(0x10, dumpUwopSaveNonvolFar, dtRDI), 0x0008, 0x1,
		dtUC(9, dumpUwopSaveNonvol, dtRBX), 0x30/8,
		dtUC(4, dumpUwopAllocSmall, 4)))
	st := dtStack(dtRSP, 0x10010, map[uint64]uint64{0x28: dtRet, 0x30: 0xb1, 0x10008: 0xd1})
	g := dtMustUnwind(t, c, dtRegs(dtBase+0x1040, dtRSP), st)
	dtCheckReturn(t, g, dtRet, dtRSP+0x30)
	dtCheckReg(t, g, dtRBX, 0xb1)
	dtCheckReg(t, g, dtRDI, 0xd1)
}

// dtFramePointerCode is a function with a frame pointer: push rbp (1);
// sub rsp, 0x40 (5); lea rbp, [rsp+0x20] (10); mov [rsp+0x50], rsi (14).
func dtFramePointerCode() *dtCode {
	c := dtNewCode()
	c.fn(0x1000, 0x1100, 0x3000, dtUnwindInfo(0, 14, dtRBP, 2,
		dtUC(14, dumpUwopSaveNonvol, dtRSI), 0x50/8,
		dtUC(10, dumpUwopSetFPReg, 0),
		dtUC(5, dumpUwopAllocSmall, 7),
		dtUC(1, dumpUwopPushNonvol, dtRBP)))
	return c
}

func TestUnwindFramePointer(t *testing.T) {
	// S0 is where the return address sits. After the prologue rbp is
	// S0-0x28 and the frame base S0-0x48; the body then allocated 0x100
	// more, so only the frame pointer finds the frame.
	const s0 = dtRSP + 0x200
	st := dtStack(dtRSP, 0x300, map[uint64]uint64{0x200: dtRet, 0x1f8: 0xbb, 0x208: 0x51})
	g := dtRegs(dtBase+0x1040, s0-0x48-0x100)
	g.r[dtRBP] = s0 - 0x28
	g = dtMustUnwind(t, dtFramePointerCode(), g, st)
	dtCheckReturn(t, g, dtRet, s0+8)
	dtCheckReg(t, g, dtRBP, 0xbb)
	dtCheckReg(t, g, dtRSI, 0x51)
}

func TestUnwindMidProlog(t *testing.T) {
	// At offset 5 the push and the allocation have run, the frame pointer
	// is not set yet: rbp is the caller's, unknown here, and not needed.
	const s0 = dtRSP + 0x48
	st := dtStack(dtRSP, 0x100, map[uint64]uint64{0x48: dtRet, 0x40: 0xbb})
	g := dumpRegs{rip: dtBase + 0x1005}
	g.set(dumpRegRSP, s0-0x48)
	g = dtMustUnwind(t, dtFramePointerCode(), g, st)
	dtCheckReturn(t, g, dtRet, s0+8)
	dtCheckReg(t, g, dtRBP, 0xbb)
}

func TestUnwindUnknownFrameRegister(t *testing.T) {
	st := dtStack(dtRSP, 0x100, nil)
	g := dumpRegs{rip: dtBase + 0x1040}
	g.set(dumpRegRSP, dtRSP)
	if _, err := dumpVirtualUnwind(dtFramePointerCode(), dtBase, g, st); !errors.Is(err, errDumpUnwind) {
		t.Errorf("unwinding with an unknown frame register: err = %v, want an unwind error", err)
	}
}

func TestUnwindMachineFrame(t *testing.T) {
	for _, errorCode := range []uint8{0, 1} {
		c := dtNewCode()
		// An interrupt handler: the CPU pushed a machine frame (with an
		// error code or not), then the handler pushed rbp.
		c.fn(0x1000, 0x1100, 0x3000, dtUnwindInfo(0, 1, 0, 0,
			dtUC(1, dumpUwopPushNonvol, dtRBP), dtUC(0, dumpUwopPushMachframe, errorCode)))
		at := 8 + 8*uint64(errorCode)
		const trapRSP = dtRSP + 0x1000
		st := dtStack(dtRSP, 0x100, map[uint64]uint64{0: 0xbb, at: dtRet, at + 0x18: trapRSP})
		g := dtMustUnwind(t, c, dtRegs(dtBase+0x1040, dtRSP), st)
		dtCheckReturn(t, g, dtRet, trapRSP)
		dtCheckReg(t, g, dtRBP, 0xbb)
	}
}

func TestUnwindChained(t *testing.T) {
	c := dtNewCode()
	parent := dumpFunc{begin: 0x1000, end: 0x1100, unwind: 0x3000}
	// The parent pushes rbx and allocates 0x20; its cold fragment, chained
	// to it, saves rdi on top.
	c.fn(parent.begin, parent.end, parent.unwind, dtUnwindInfo(0, 5, 0, 0,
		dtUC(5, dumpUwopAllocSmall, 3), dtUC(1, dumpUwopPushNonvol, dtRBX)))
	c.fn(0x1200, 0x1210, 0x3100, dtChained(parent, dtUC(1, dumpUwopPushNonvol, dtRDI)))
	st := dtStack(dtRSP, 0x100, map[uint64]uint64{0: 0xd1, 0x28: 0xb1, 0x30: dtRet})
	g := dtMustUnwind(t, c, dtRegs(dtBase+0x1205, dtRSP), st)
	dtCheckReturn(t, g, dtRet, dtRSP+0x38)
	dtCheckReg(t, g, dtRDI, 0xd1)
	dtCheckReg(t, g, dtRBX, 0xb1)
}

func TestUnwindBadInfo(t *testing.T) {
	self := dumpFunc{begin: 0x1000, end: 0x1100, unwind: 0x3000}
	tests := []struct {
		name string
		info []byte
	}{
		{"version 3", []byte{3, 0, 0, 0}},
		{"undefined op 11", dtUnwindInfo(0, 1, 0, 0, dtUC(1, 11, 0))},
		{"ALLOC_LARGE without its size", dtUnwindInfo(0, 1, 0, 0, dtUC(1, dumpUwopAllocLarge, 0))},
		{"machine frame OpInfo 2", dtUnwindInfo(0, 1, 0, 0, dtUC(0, dumpUwopPushMachframe, 2))},
		{"chained to itself", dtChained(self)},
	}
	for _, tt := range tests {
		c := dtNewCode()
		c.fn(self.begin, self.end, self.unwind, tt.info)
		st := dtStack(dtRSP, 0x100, nil)
		if _, err := dumpVirtualUnwind(c, dtBase, dtRegs(dtBase+0x1040, dtRSP), st); !errors.Is(err, errDumpUnwind) {
			t.Errorf("%s: err = %v, want an unwind error", tt.name, err)
		}
	}
	c := dtNewCode()
	c.funcs = []dumpFunc{{begin: 0x1000, end: 0x1100, unwind: 0x10000}}
	if _, err := dumpVirtualUnwind(c, dtBase, dtRegs(dtBase+0x1040, dtRSP), dtStack(dtRSP, 8, nil)); err == nil {
		t.Error("UNWIND_INFO outside the image: no error")
	}
}

func TestUnwindLeaf(t *testing.T) {
	st := dtStack(dtRSP, 0x10, map[uint64]uint64{0: dtRet})
	g := dtMustUnwind(t, dtNewCode(), dtRegs(dtBase+0x1800, dtRSP), st)
	dtCheckReturn(t, g, dtRet, dtRSP+8)
	if _, err := dumpVirtualUnwind(dtNewCode(), dtBase, dtRegs(dtBase+0x1800, dtRSP+0x10), st); err == nil {
		t.Error("return address beyond the stack window: no error")
	}
}

func TestUnwindEpilog(t *testing.T) {
	// The code under test sits at 0x1040, in a function [0x1000, 0x1100)
	// that pushes rbx and allocates 0x20 (no frame pointer), or pushes rbp
	// and makes it the frame pointer at offset 0x10. Another function
	// spans [0x1800, 0x1900).
	plain := dtUnwindInfo(0, 5, 0, 0, dtUC(5, dumpUwopAllocSmall, 3), dtUC(1, dumpUwopPushNonvol, dtRBX))
	withFP := dtUnwindInfo(0, 5, dtRBP, 1, dtUC(5, dumpUwopSetFPReg, 0), dtUC(1, dumpUwopPushNonvol, dtRBP))
	tests := []struct {
		name     string
		info     []byte
		code     []byte
		epilogue bool
		adjust   uint64 // what the epilogue adds to rsp before popping
		popReg   int
	}{
		{"add rsp, imm8", plain, []byte{0x48, 0x83, 0xc4, 0x20, 0x5b, 0xc3}, true, 0x20, dtRBX},
		{"add rsp, imm32", plain, []byte{0x48, 0x81, 0xc4, 0x20, 0, 0, 0, 0x5b, 0xc3}, true, 0x20, dtRBX},
		{"pop then rep ret", plain, []byte{0x5b, 0xf3, 0xc3}, true, 0, dtRBX},
		{"pop then ret imm16", plain, []byte{0x5b, 0xc2, 0, 0}, true, 0, dtRBX},
		{"pop r14, ret", plain, []byte{0x41, 0x5e, 0xc3}, true, 0, dtR14},
		{"pop then jmp [rip]", plain, []byte{0x5b, 0xff, 0x25, 0, 0, 0, 0}, true, 0, dtRBX},
		{"pop then rex.w jmp rax", plain, []byte{0x5b, 0x48, 0xff, 0xe0}, true, 0, dtRBX},
		{"pop then jmp to another function", plain, []byte{0x5b, 0xe9, 0xba, 0x07, 0, 0}, true, 0, dtRBX},  // -> 0x1800
		{"pop then jmp out of all functions", plain, []byte{0x5b, 0xe9, 0xba, 0x08, 0, 0}, true, 0, dtRBX}, // -> 0x1900
		{"pop then jmp to own start", plain, []byte{0x5b, 0xeb, 0xbd}, true, 0, dtRBX},                     // -> 0x1000
		{"pop then jmp into another body", plain, []byte{0x5b, 0xe9, 0xfa, 0x07, 0, 0}, false, 0, 0},       // -> 0x1840
		{"jmp within this body", plain, []byte{0xeb, 0xfe}, false, 0, 0},
		{"lea rsp, [rbp+0x10]", withFP, []byte{0x48, 0x8d, 0x65, 0x10, 0x5d, 0xc3}, true, 0, dtRBP},
		{"lea with another register", withFP, []byte{0x48, 0x8d, 0x63, 0x10, 0x5d, 0xc3}, false, 0, 0},
		{"not an epilogue", plain, []byte{0x89, 0xc7, 0xc3}, false, 0, 0},
	}
	for _, tt := range tests {
		c := dtNewCode()
		c.fn(0x1000, 0x1100, 0x3000, tt.info)
		c.fn(0x1800, 0x1900, 0x3100, dtUnwindInfo(0, 0, 0, 0))
		c.code(0x1040, tt.code...)
		ui, err := dumpReadUnwindInfo(c, 0x3000)
		if err != nil {
			t.Fatal(err)
		}
		ep := dumpParseEpilog(c, dumpFunc{begin: 0x1000, end: 0x1100, unwind: 0x3000}, ui, 0x1040)
		if ep.epilogue != tt.epilogue {
			t.Errorf("%s: epilogue = %v, want %v", tt.name, ep.epilogue, tt.epilogue)
			continue
		}
		if !tt.epilogue {
			continue
		}
		g := dtRegs(dtBase+0x1040, dtRSP)
		g.r[dtRBP] = dtRSP - 0x10 // for lea rsp, [rbp+0x10]
		st := dtStack(dtRSP, 0x100, map[uint64]uint64{tt.adjust: 0x77, tt.adjust + 8: dtRet})
		next, err := dumpVirtualUnwind(c, dtBase, g, st)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		dtCheckReturn(t, next, dtRet, dtRSP+tt.adjust+16)
		dtCheckReg(t, next, tt.popReg, 0x77)
	}
}

func TestFollowsCall(t *testing.T) {
	pad := func(b ...byte) []byte { return append(make([]byte, 8-len(b)), b...) }
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"call rel32", pad(0xe8, 1, 2, 3, 4), true},
		{"call [rip+disp32]", pad(0xff, 0x15, 1, 2, 3, 4), true},
		{"call rax", pad(0xff, 0xd0), true},
		{"call r11", pad(0x41, 0xff, 0xd3), true},
		{"call [rax+8]", pad(0xff, 0x50, 0x08), true},
		{"call [rsp]", pad(0xff, 0x14, 0x24), true},
		{"call [rsp+disp32]", pad(0xff, 0x94, 0x24, 1, 2, 3, 4), true},
		{"call [rax+disp32]", pad(0xff, 0x90, 1, 2, 3, 4), true},
		{"jmp rax", pad(0xff, 0xe0), false},
		{"nops", pad(0x90, 0x90), false},
		{"short", []byte{0xe8, 0, 0, 0, 0}, false},
	}
	for _, tt := range tests {
		if got := dumpFollowsCall(tt.b); got != tt.want {
			t.Errorf("%s: dumpFollowsCall(% x) = %v, want %v", tt.name, tt.b, got, tt.want)
		}
	}
}

// dtLoadFixture loads a committed test driver.
func dtLoadFixture(t testing.TB, name string) *loader.Image {
	t.Helper()
	img, err := loader.Load(filepath.Join("..", "testdata", "bin", name))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// The fixture msvc_patterns.clang.sys (testdata/src/msvc_patterns.c, built by
// clang in MSVC mode) has a frame-pointer function with unwind codes, a
// cold fragment with chained unwind info, and leaf functions without
// .pdata. Its RVAs, from llvm-objdump -d and llvm-readobj --unwind:
const (
	dtFixColdPathWork = 0x1150 // leaf, no .pdata
	dtFixProbeValue   = 0x1160 // leaf, no .pdata
	dtFixColdRet      = 0x1115 // in the cold fragment 0x1110-0x1117, after its call
	dtFixDriverRet    = 0x1222 // DriverEntry after "call ParentWithCold"
	dtFixSehUser      = 0x1190 // push rbp; push rsi; sub rsp,40; lea rbp,[rsp+32]
	dtFixSehUserRet   = 0x11a9 // SehUser after "call ProbeValue"
	dtFixSehEpilog    = 0x11c7 // add rsp,40; pop rsi; pop rbp; ret
	dtFixSehPopRBP    = 0x11cc // pop rbp; ret
)

func TestUnwindFixture(t *testing.T) {
	code := dumpImageCode{dtLoadFixture(t, "msvc_patterns.clang.sys")}
	const s0 = dtRSP + 0x400 // SehUser's return address slot
	st := dtStack(dtRSP, 0x800, map[uint64]uint64{
		0x400 - 8: 0xbb, 0x400 - 16: 0x51, 0x400: dtRet, // SehUser's saved rbp, rsi, return
	})
	t.Run("frame pointer below a deeper rsp", func(t *testing.T) {
		g := dtRegs(dtBase+dtFixSehUserRet, s0-0x38-0x80)
		g.r[dtRBP] = s0 - 0x18 // lea rbp, [rsp+32] after sub rsp,40 below two pushes
		g = dtMustUnwind(t, code, g, st)
		dtCheckReturn(t, g, dtRet, s0+8)
		dtCheckReg(t, g, dtRBP, 0xbb)
		dtCheckReg(t, g, dtRSI, 0x51)
	})
	t.Run("after the first push", func(t *testing.T) {
		g := dtRegs(dtBase+dtFixSehUser+1, s0-8)
		g = dtMustUnwind(t, code, g, st)
		dtCheckReturn(t, g, dtRet, s0+8)
		dtCheckReg(t, g, dtRBP, 0xbb)
	})
	t.Run("epilogue", func(t *testing.T) {
		g := dtMustUnwind(t, code, dtRegs(dtBase+dtFixSehEpilog, s0-0x38), st)
		dtCheckReturn(t, g, dtRet, s0+8)
		dtCheckReg(t, g, dtRSI, 0x51)
		g = dtMustUnwind(t, code, dtRegs(dtBase+dtFixSehPopRBP, s0-8), st)
		dtCheckReturn(t, g, dtRet, s0+8)
		dtCheckReg(t, g, dtRBP, 0xbb)
	})
	t.Run("chained cold fragment", func(t *testing.T) {
		// In the fragment rsp is the parent's: 40 bytes of locals.
		st := dtStack(dtRSP, 0x100, map[uint64]uint64{0x28: dtBase + dtFixDriverRet})
		g := dtMustUnwind(t, code, dtRegs(dtBase+dtFixColdRet, dtRSP), st)
		dtCheckReturn(t, g, dtBase+dtFixDriverRet, dtRSP+0x30)
	})
}

func TestWalk(t *testing.T) {
	code := dumpImageCode{dtLoadFixture(t, "msvc_patterns.clang.sys")}
	const ntBase = 0xfffff80000000000
	mods := []dumpModuleRef{
		{mod: Module{Name: "nt", Image: "ntoskrnl.exe", Base: ntBase, Size: 0x100000}},
		{mod: Module{Name: "msvcpat", Image: "msvcpat.sys", Base: dtBase, Size: 0x5000}, code: code},
	}
	// ColdPathWork (leaf) <- cold fragment <- DriverEntry <- nt (no image:
	// scanned from there) <- a value in the driver's code that follows no
	// call (rejected) <- nt again <- SehUser (scanned, then unwound) <- nt.
	st := dtStack(dtRSP, 0x200, map[uint64]uint64{
		0x00: dtBase + dtFixColdRet,
		0x30: dtBase + dtFixDriverRet,
		0x58: 0xb1, 0x60: 0xd1, 0x68: 0x51, // DriverEntry's rbx, rdi, rsi
		0x70: ntBase + 0x1234,
		0x78: 0x4141,
		0x80: dtBase + 0x1003,
		0x88: ntBase + 0x5678,
		0x90: dtBase + dtFixSehUserRet,
		// SehUser's frame, unwound from a scan: rbp is unknown, so its
		// frame-pointer unwind fails and the scan goes on.
		0xa0: ntBase + 0x9abc,
	})
	frames, scanned := newDumpWalker(mods, st).walk(dtRegs(dtBase+dtFixColdPathWork, dtRSP))
	want := []Frame{
		{Module: "msvcpat", Offset: dtFixColdPathWork},
		{Module: "msvcpat", Offset: dtFixColdRet},
		{Module: "msvcpat", Offset: dtFixDriverRet},
		{Module: "nt", Offset: 0x1234},
		{Module: "nt", Offset: 0x5678},
		{Module: "msvcpat", Offset: dtFixSehUserRet},
		{Module: "nt", Offset: 0x9abc},
	}
	if !scanned {
		t.Error("scanned = false, want true")
	}
	if len(frames) != len(want) {
		t.Fatalf("got %d frames %+v, want %d", len(frames), frames, len(want))
	}
	for i, f := range frames {
		w := want[i]
		base := uint64(dtBase)
		if w.Module == "nt" {
			base = ntBase
		}
		if f.Index != i || f.Module != w.Module || f.Offset != w.Offset || !f.HasAddress || f.Address != base+w.Offset {
			t.Errorf("frame %d = %+v, want %s+0x%x", i, f, w.Module, w.Offset)
		}
	}
}

func TestWalkStopsOnDamage(t *testing.T) {
	// A leaf whose return address points back into itself with rsp not
	// moving up would loop; unwinding must stop when rsp does not grow.
	mods := []dumpModuleRef{{mod: Module{Name: "drv", Base: dtBase, Size: 0x4000}, code: dtNewCode()}}
	st := dtStack(dtRSP, 0x40, map[uint64]uint64{0: dtBase + 0x1800, 8: dtBase + 0x1800})
	frames, _ := newDumpWalker(mods, st).walk(dtRegs(dtBase+0x1800, dtRSP))
	if len(frames) > 8 {
		t.Errorf("got %d frames from a 64-byte stack", len(frames))
	}
	// Outside every module the innermost frame is still reported.
	frames, scanned := newDumpWalker(nil, &dumpStack{}).walk(dtRegs(0x1234, dtRSP))
	if len(frames) != 1 || frames[0].Module != "" || frames[0].Address != 0x1234 || scanned {
		t.Errorf("frames = %+v, scanned = %v", frames, scanned)
	}
}
