package dumpcorr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/loader"
)

// Frame recovery for kernel dumps: x64 virtual unwinding with an image's
// .pdata and UNWIND_INFO where the caller gave us the image, and a
// return-address scan of the stack everywhere else.
//
// The unwinder follows Microsoft's "x64 exception handling" documentation
// (learn.microsoft.com/cpp/build/exception-handling-x64: UNWIND_INFO,
// UNWIND_CODE, chained unwind info, the unwind procedure) and the system
// unwinder Microsoft publishes with .NET
// (dotnet/runtime src/coreclr/unwinder/amd64/unwinder.cpp, "must be kept in
// sync with the system unwinder"): its epilogue detection, the establisher
// frame rule, the slot count of each code and the handling of chained entries.

// Register numbers as UNWIND_CODE.OpInfo and UNWIND_INFO.FrameRegister use
// them: the x64 encoding order RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15.
const (
	dumpRegRSP  = 4
	dumpNumRegs = 16
)

// UNWIND_CODE operations (UnwindOp, the low nibble of the code's second byte):
// dumpUwopPushNonvol is UWOP_PUSH_NONVOL, and so on.
const (
	dumpUwopPushNonvol    = 0
	dumpUwopAllocLarge    = 1
	dumpUwopAllocSmall    = 2
	dumpUwopSetFPReg      = 3
	dumpUwopSaveNonvol    = 4
	dumpUwopSaveNonvolFar = 5
	dumpUwopEpilog        = 6 // version 2 epilogue description; UWOP_SAVE_XMM in old docs
	dumpUwopSpareCode     = 7 // UWOP_SAVE_XMM_FAR in old docs
	dumpUwopSaveXMM128    = 8
	dumpUwopSaveXMM128Far = 9
	dumpUwopPushMachframe = 10
)

// UNW_FLAG_CHAININFO, in the high five bits of an UNWIND_INFO's first byte.
const dumpUnwFlagChainInfo = 0x4

const (
	// dumpMaxChain bounds how many chained UNWIND_INFO records one frame may
	// follow (the system unwinder asserts a limit of the same order).
	dumpMaxChain = 32
	// dumpMaxFrames bounds the recovered stack: deeper stacks are cut.
	dumpMaxFrames = 256
)

// dumpRegs is the integer register file of one frame while unwinding. known
// has bit i set when r[i] is the frame's true value: everything the context
// record gave for the innermost frame, and what unwinding restored since.
type dumpRegs struct {
	r     [dumpNumRegs]uint64
	known uint16
	rip   uint64
}

func (g *dumpRegs) rsp() uint64 { return g.r[dumpRegRSP] }

func (g *dumpRegs) set(reg int, v uint64) {
	g.r[reg] = v
	g.known |= 1 << reg
}

func (g *dumpRegs) has(reg int) bool { return g.known&(1<<reg) != 0 }

// dumpStack is the stack memory the dump holds: the bytes at
// [base, base+len(data)).
type dumpStack struct {
	base uint64
	data []byte
}

// u64 reads the qword at va, if all of it is in the window.
func (s *dumpStack) u64(va uint64) (uint64, bool) {
	if va < s.base || len(s.data) < 8 || va-s.base > uint64(len(s.data)-8) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(s.data[va-s.base:]), true
}

// dumpFunc is one RUNTIME_FUNCTION: [begin, end) and its UNWIND_INFO, as RVAs.
type dumpFunc struct {
	begin, end, unwind uint32
}

// dumpCode is what frame recovery needs from an image: its .pdata lookup,
// its bytes (unwind data, and code for epilogue and call-site checks) and
// which RVAs are code. loader.Image provides it through dumpImageCode, the
// dump's memory through dumpMemImage; tests use hand-built tables.
type dumpCode interface {
	// unwinds reports whether the .pdata is known: without it every
	// function would look like a leaf, so the image serves the scan only.
	unwinds() bool
	function(rva uint32) (dumpFunc, bool)
	bytes(rva, n uint32) []byte
	executable(rva uint32) bool
}

// dumpImageCode adapts a loaded image to dumpCode.
type dumpImageCode struct{ img *loader.Image }

func (c dumpImageCode) unwinds() bool { return true }

func (c dumpImageCode) function(rva uint32) (dumpFunc, bool) {
	rf, ok := c.img.RuntimeFunction(rva)
	if !ok {
		return dumpFunc{}, false
	}
	return dumpFunc{begin: rf.Begin, end: rf.End, unwind: rf.UnwindInfo}, true
}

func (c dumpImageCode) bytes(rva, n uint32) []byte { return c.img.Bytes(rva, n) }

func (c dumpImageCode) executable(rva uint32) bool { return c.img.Executable(rva) }

// dumpUnwindInfo is a decoded UNWIND_INFO.
type dumpUnwindInfo struct {
	version    uint8
	flags      uint8
	prologSize uint8
	frameReg   uint8
	frameOff   uint64 // bytes: FrameOffset scaled by 16
	codes      []uint16
	parent     dumpFunc // the chained RUNTIME_FUNCTION, with dumpUnwFlagChainInfo
}

func (ui *dumpUnwindInfo) chained() bool { return ui.flags&dumpUnwFlagChainInfo != 0 }

// errDumpUnwind marks unwind data or stack contents the unwinder cannot
// follow; the caller falls back to the stack scan.
var errDumpUnwind = errors.New("unwind")

func dumpUnwindErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errDumpUnwind}, args...)...)
}

// dumpReadUnwindInfo decodes the UNWIND_INFO at rva: a four-byte header, the
// codes (CountOfCodes 16-bit slots, padded to an even count), then for
// UNW_FLAG_CHAININFO the parent RUNTIME_FUNCTION.
func dumpReadUnwindInfo(code dumpCode, rva uint32) (*dumpUnwindInfo, error) {
	hdr := code.bytes(rva, 4)
	if len(hdr) < 4 {
		return nil, dumpUnwindErrorf("UNWIND_INFO at RVA 0x%x is not in the image", rva)
	}
	ui := &dumpUnwindInfo{
		version:    hdr[0] & 7,
		flags:      hdr[0] >> 3,
		prologSize: hdr[1],
		frameReg:   hdr[3] & 0xf,
		frameOff:   uint64(hdr[3]>>4) * 16,
	}
	if ui.version != 1 && ui.version != 2 {
		return nil, dumpUnwindErrorf("UNWIND_INFO at RVA 0x%x has version %d", rva, ui.version)
	}
	count := uint32(hdr[2])
	size := 4 + 2*((count+1)&^1)
	if ui.chained() {
		size += 12
	}
	b := code.bytes(rva, size)
	if uint32(len(b)) < size {
		return nil, dumpUnwindErrorf("UNWIND_INFO at RVA 0x%x is cut short", rva)
	}
	ui.codes = make([]uint16, count)
	for i := range ui.codes {
		ui.codes[i] = binary.LittleEndian.Uint16(b[4+2*i:])
	}
	if ui.chained() {
		p := b[size-12:]
		ui.parent = dumpFunc{
			begin:  binary.LittleEndian.Uint32(p),
			end:    binary.LittleEndian.Uint32(p[4:]),
			unwind: binary.LittleEndian.Uint32(p[8:]),
		}
	}
	return ui, nil
}

// dumpCodeSlots is how many 16-bit slots an unwind code takes, or 0 for an
// operation the format does not define.
func dumpCodeSlots(op, info uint8) int {
	switch op {
	case dumpUwopPushNonvol, dumpUwopAllocSmall, dumpUwopSetFPReg, dumpUwopPushMachframe:
		return 1
	case dumpUwopAllocLarge:
		if info == 0 {
			return 2
		}
		return 3
	case dumpUwopSaveNonvol, dumpUwopEpilog, dumpUwopSaveXMM128:
		return 2
	case dumpUwopSaveNonvolFar, dumpUwopSpareCode, dumpUwopSaveXMM128Far:
		return 3
	}
	return 0
}

// dumpVirtualUnwind unwinds the frame whose registers are g, in a function of
// code loaded at base, and returns its caller's registers (rip is the return
// address). A function without a .pdata entry is a leaf: its return address
// is at [rsp].
func dumpVirtualUnwind(code dumpCode, base uint64, g dumpRegs, st *dumpStack) (dumpRegs, error) {
	if g.rip-base > 0xffffffff {
		return g, dumpUnwindErrorf("rip 0x%x is not in the image", g.rip)
	}
	rva := uint32(g.rip - base)
	fn, ok := code.function(rva)
	if !ok {
		return dumpPopReturn(g, st)
	}
	ui, err := dumpReadUnwindInfo(code, fn.unwind)
	if err != nil {
		return g, err
	}
	// The instruction-pattern check below is the one the system unwinder
	// uses for version 1; version 2 adds epilogue codes but the epilogues
	// themselves keep the same shape, so the check holds for both.
	if next, ok, err := dumpUnwindEpilog(code, fn, ui, rva, g, st); ok || err != nil {
		return next, err
	}
	return dumpUnwindProlog(code, ui, rva-fn.begin, g, st)
}

// dumpPopReturn pops the return address: rip = [rsp], rsp += 8.
func dumpPopReturn(g dumpRegs, st *dumpStack) (dumpRegs, error) {
	v, ok := st.u64(g.rsp())
	if !ok {
		return g, dumpUnwindErrorf("return address at 0x%x is not in the dump's stack", g.rsp())
	}
	g.rip = v
	g.r[dumpRegRSP] += 8
	return g, nil
}

// dumpEstablisherFrame is the frame base that UWOP_SAVE_* offsets are relative
// to: rsp for functions without a frame register; the frame register minus
// its offset once the prologue has set it (or always in chained info, whose
// prologue has run). ok is false when it would need an unknown register.
func dumpEstablisherFrame(ui *dumpUnwindInfo, off uint32, g *dumpRegs) (uint64, bool) {
	if ui.frameReg == 0 {
		return g.rsp(), true
	}
	useFP := off >= uint32(ui.prologSize) || ui.chained()
	if !useFP {
		for i := 0; i < len(ui.codes); {
			c := ui.codes[i]
			op, info := uint8(c>>8)&0xf, uint8(c>>12)
			if op == dumpUwopSetFPReg {
				useFP = off >= uint32(uint8(c))
				break
			}
			n := dumpCodeSlots(op, info)
			if n == 0 {
				break
			}
			i += n
		}
	}
	if !useFP {
		return g.rsp(), true
	}
	if !g.has(int(ui.frameReg)) {
		return 0, false
	}
	return g.r[ui.frameReg] - ui.frameOff, true
}

// dumpUnwindProlog undoes the prologue: it applies, last first, the unwind
// codes whose CodeOffset the function has reached (all of them past the
// prologue), then those of every chained parent, whose prologue has run in
// full, and finally pops the return address unless a machine frame gave it.
//
// As in the system unwinder, the establisher frame comes from the primary
// entry and serves the chained ones too.
func dumpUnwindProlog(code dumpCode, ui *dumpUnwindInfo, off uint32, g dumpRegs, st *dumpStack) (dumpRegs, error) {
	machframe := false
	frame, frameOK := dumpEstablisherFrame(ui, off, &g)
	for depth := 0; ; depth++ {
		if err := dumpApplyCodes(ui, off, frame, frameOK, &g, st, &machframe); err != nil {
			return g, err
		}
		if !ui.chained() {
			break
		}
		if depth == dumpMaxChain {
			return g, dumpUnwindErrorf("more than %d chained UNWIND_INFO records", dumpMaxChain)
		}
		var err error
		if ui, err = dumpReadUnwindInfo(code, ui.parent.unwind); err != nil {
			return g, err
		}
		off = ^uint32(0)
	}
	if machframe {
		return g, nil
	}
	return dumpPopReturn(g, st)
}

// dumpApplyCodes applies the codes of one UNWIND_INFO to g.
func dumpApplyCodes(ui *dumpUnwindInfo, off uint32, frame uint64, frameOK bool, g *dumpRegs, st *dumpStack, machframe *bool) error {
	codes := ui.codes
	for i := 0; i < len(codes); {
		c := codes[i]
		op, info := uint8(c>>8)&0xf, uint8(c>>12)
		n := dumpCodeSlots(op, info)
		if n == 0 || i+n > len(codes) {
			return dumpUnwindErrorf("bad unwind code 0x%04x at slot %d", c, i)
		}
		if uint32(uint8(c)) <= off {
			arg := dumpCodeArg(codes[i+1 : i+n])
			if err := dumpApplyCode(ui, op, info, arg, frame, frameOK, g, st, machframe); err != nil {
				return err
			}
		}
		i += n
	}
	return nil
}

// dumpCodeArg is the operand held in a code's extra slots: one 16-bit slot,
// or two slots forming a 32-bit value, low half first.
func dumpCodeArg(extra []uint16) uint64 {
	switch len(extra) {
	case 1:
		return uint64(extra[0])
	case 2:
		return uint64(extra[0]) | uint64(extra[1])<<16
	}
	return 0
}

// dumpApplyCode undoes one prologue operation.
func dumpApplyCode(ui *dumpUnwindInfo, op, info uint8, arg, frame uint64, frameOK bool, g *dumpRegs, st *dumpStack, machframe *bool) error {
	switch op {
	case dumpUwopPushNonvol:
		v, ok := st.u64(g.rsp())
		if !ok {
			return dumpUnwindErrorf("pushed register at 0x%x is not in the dump's stack", g.rsp())
		}
		g.set(int(info), v)
		g.r[dumpRegRSP] += 8
	case dumpUwopAllocLarge:
		if info == 0 {
			arg *= 8 // the 16-bit form counts qwords
		}
		g.r[dumpRegRSP] += arg
	case dumpUwopAllocSmall:
		g.r[dumpRegRSP] += uint64(info)*8 + 8
	case dumpUwopSetFPReg:
		if ui.frameReg == 0 || !g.has(int(ui.frameReg)) {
			return dumpUnwindErrorf("frame register %d is unknown", ui.frameReg)
		}
		g.r[dumpRegRSP] = g.r[ui.frameReg] - ui.frameOff
	case dumpUwopSaveNonvol, dumpUwopSaveNonvolFar:
		if op == dumpUwopSaveNonvol {
			arg *= 8 // the 16-bit form counts qwords
		}
		if !frameOK {
			return dumpUnwindErrorf("frame register %d is unknown", ui.frameReg)
		}
		v, ok := st.u64(frame + arg)
		if !ok {
			return dumpUnwindErrorf("saved register at 0x%x is not in the dump's stack", frame+arg)
		}
		g.set(int(info), v)
	case dumpUwopPushMachframe:
		return dumpPopMachframe(info, g, st, machframe)
	}
	// UWOP_EPILOG and the spare code describe nothing to undo; the XMM saves
	// restore registers frame recovery does not need.
	return nil
}

// dumpPopMachframe undoes the machine frame an interrupt or trap pushed:
// RIP, CS, EFLAGS, old RSP, SS, above an optional error code (OpInfo 1).
func dumpPopMachframe(info uint8, g *dumpRegs, st *dumpStack, machframe *bool) error {
	if info > 1 {
		return dumpUnwindErrorf("UWOP_PUSH_MACHFRAME with OpInfo %d", info)
	}
	at := g.rsp() + 8*uint64(info)
	rip, ok1 := st.u64(at)
	rsp, ok2 := st.u64(at + 0x18)
	if !ok1 || !ok2 {
		return dumpUnwindErrorf("machine frame at 0x%x is not in the dump's stack", at)
	}
	g.rip = rip
	g.r[dumpRegRSP] = rsp
	*machframe = true
	return nil
}

// dumpEpilog is an epilogue recognised at rip: the stack adjustment, the
// registers it pops in order.
type dumpEpilog struct {
	lea      bool   // lea rsp, [frame register + disp]
	add      uint64 // add rsp, imm (or the lea displacement)
	pops     []int
	epilogue bool
}

// dumpUnwindEpilog reports whether rip is in an epilogue and, if so, emulates
// the rest of it: "add rsp, imm" or "lea rsp, [fp+disp]", then pops, then a
// ret or a jump out of the function (a tail call). This is the instruction
// check of the system unwinder for unwind info version 1.
func dumpUnwindEpilog(code dumpCode, fn dumpFunc, ui *dumpUnwindInfo, rva uint32, g dumpRegs, st *dumpStack) (dumpRegs, bool, error) {
	ep := dumpParseEpilog(code, fn, ui, rva)
	if !ep.epilogue {
		return g, false, nil
	}
	if ep.lea {
		if !g.has(int(ui.frameReg)) {
			return g, true, dumpUnwindErrorf("frame register %d is unknown", ui.frameReg)
		}
		g.r[dumpRegRSP] = g.r[ui.frameReg]
	}
	g.r[dumpRegRSP] += ep.add
	for _, reg := range ep.pops {
		v, ok := st.u64(g.rsp())
		if !ok {
			return g, true, dumpUnwindErrorf("popped register at 0x%x is not in the dump's stack", g.rsp())
		}
		g.set(reg, v)
		g.r[dumpRegRSP] += 8
	}
	next, err := dumpPopReturn(g, st)
	return next, true, err
}

// dumpEpilogWindow is how many code bytes the epilogue check reads: the
// longest epilogue is a 7-byte stack adjustment, 16 two-byte pops and a
// 3-byte return or 6-byte jump.
const dumpEpilogWindow = 64

func dumpParseEpilog(code dumpCode, fn dumpFunc, ui *dumpUnwindInfo, rva uint32) dumpEpilog {
	b := code.bytes(rva, dumpEpilogWindow)
	at := func(i int) byte {
		if i < len(b) {
			return b[i]
		}
		return 0
	}
	var ep dumpEpilog
	i := 0
	switch {
	case at(0) == 0x48 && at(1) == 0x83 && at(2) == 0xc4: // add rsp, imm8
		ep.add = uint64(int64(int8(at(3))))
		i = 4
	case at(0) == 0x48 && at(1) == 0x81 && at(2) == 0xc4: // add rsp, imm32
		ep.add = uint64(int64(int32(dumpLE32(b, 3))))
		i = 7
	case at(0)&0xfe == 0x48 && at(1) == 0x8d: // lea rsp, [fp+disp]
		reg := (at(0)&1)<<3 | at(2)&7
		if reg != 0 && reg == ui.frameReg {
			switch at(2) & 0xf8 {
			case 0x60:
				ep.lea, ep.add, i = true, uint64(int64(int8(at(3)))), 4
			case 0xa0:
				ep.lea, ep.add, i = true, uint64(int64(int32(dumpLE32(b, 3)))), 7
			}
		}
	}
	for {
		switch {
		case at(i)&0xf8 == 0x58: // pop r64
			ep.pops = append(ep.pops, int(at(i)&7))
			i++
			continue
		case at(i)&0xf0 == 0x40 && at(i+1)&0xf8 == 0x58: // REX pop r8-r15
			ep.pops = append(ep.pops, int((at(i)&1)<<3|at(i+1)&7))
			i += 2
			continue
		}
		break
	}
	if at(i) == 0xf2 { // a REPNE prefix before the branch changes nothing
		i++
	}
	ep.epilogue = dumpEpilogEnd(code, fn, ui, rva, b, i)
	return ep
}

// dumpEpilogEnd reports whether the instruction at b[i] ends an epilogue: a
// return, or an unconditional jump that leaves the function.
func dumpEpilogEnd(code dumpCode, fn dumpFunc, ui *dumpUnwindInfo, rva uint32, b []byte, i int) bool {
	at := func(j int) byte {
		if j < len(b) {
			return b[j]
		}
		return 0
	}
	switch {
	case at(i) == 0xc3 || at(i) == 0xc2 || (at(i) == 0xf3 && at(i+1) == 0xc3):
		return true
	case at(i) == 0xeb && i+2 <= len(b):
		return dumpJumpLeaves(code, fn, ui, int64(rva)+int64(i)+2+int64(int8(at(i+1))))
	case at(i) == 0xe9 && i+5 <= len(b):
		return dumpJumpLeaves(code, fn, ui, int64(rva)+int64(i)+5+int64(int32(dumpLE32(b, i+1))))
	case at(i) == 0xff && at(i+1) == 0x25: // jmp [rip+disp32]: an import tail call
		return true
	case at(i)&0xf8 == 0x48 && at(i+1) == 0xff && at(i+2)&0x38 == 0x20:
		// REX.W jmp r/m64: the redundant REX.W marks a tail call.
		return true
	}
	return false
}

// dumpJumpLeaves reports whether a jump to target is a tail call: it leaves
// the function for code that is not the body of another .pdata entry (a
// chained fragment's jump back into its parent is not), or it re-enters this
// function at its start (a recursive tail call).
func dumpJumpLeaves(code dumpCode, fn dumpFunc, ui *dumpUnwindInfo, target int64) bool {
	if target < 0 || target > 0xffffffff {
		return true
	}
	t := uint32(target)
	if t >= fn.begin && t < fn.end {
		return t == fn.begin && !ui.chained()
	}
	other, ok := code.function(t)
	return !ok || t == other.begin
}

func dumpLE32(b []byte, i int) uint32 {
	if i < 0 || i+4 > len(b) {
		return 0
	}
	return binary.LittleEndian.Uint32(b[i:])
}

// dumpModuleRef is a loaded module and the code to unwind it with: the
// caller's image, or the module as the dump's memory holds it.
type dumpModuleRef struct {
	mod   Module
	code  dumpCode
	tried bool // the dump's memory has been searched for its code
}

// dumpWalker recovers the frames of one stack.
type dumpWalker struct {
	mods []dumpModuleRef // sorted by base
	st   *dumpStack
	// fromMemory, when set, reads the code of a module the caller gave no
	// image of from the dump; it returns nil when the dump lacks it.
	fromMemory func(Module) dumpCode
}

func newDumpWalker(mods []dumpModuleRef, st *dumpStack) *dumpWalker {
	sorted := append([]dumpModuleRef(nil), mods...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].mod.Base < sorted[j].mod.Base })
	return &dumpWalker{mods: sorted, st: st}
}

// module returns the module whose [Base, Base+Size) holds va.
func (w *dumpWalker) module(va uint64) *dumpModuleRef {
	i := sort.Search(len(w.mods), func(i int) bool { return w.mods[i].mod.Base > va })
	if i == 0 {
		return nil
	}
	m := &w.mods[i-1]
	if va-m.mod.Base >= m.mod.Size {
		return nil
	}
	return m
}

// walk recovers the stack from the innermost frame's registers. While the
// frame's module has an image, its .pdata unwinds it exactly; otherwise the
// stack is scanned upwards from rsp for the next qword that looks like a
// return address, and unwinding resumes if that lands in a module with an
// image. scanned reports whether any frame came from the scan.
func (w *dumpWalker) walk(ctx dumpRegs) (frames []Frame, scanned bool) {
	frames = append(frames, w.frame(ctx.rip))
	g := ctx
	for len(frames) < dumpMaxFrames {
		if m := w.module(g.rip); m != nil && w.code(m) != nil && m.code.unwinds() {
			next, err := dumpVirtualUnwind(m.code, m.mod.Base, g, w.st)
			// Unwinding moves up the stack; anything else is damage.
			if err == nil && next.rsp() > g.rsp() {
				if next.rip == 0 { // the bottom of a thread's stack
					break
				}
				frames = append(frames, w.frame(next.rip))
				g = next
				continue
			}
		}
		slot, ret, ok := w.scan(g.rsp())
		if !ok {
			break
		}
		frames = append(frames, w.frame(ret))
		scanned = true
		g = dumpRegs{rip: ret}
		g.set(dumpRegRSP, slot+8)
	}
	for i := range frames {
		frames[i].Index = i
	}
	return frames, scanned
}

// scan finds the first 8-aligned stack slot at or above from that holds a
// plausible return address.
func (w *dumpWalker) scan(from uint64) (slot, ret uint64, ok bool) {
	va := (from + 7) &^ 7
	if va < from { // wrapped around
		return 0, 0, false
	}
	for ; ; va += 8 {
		v, ok := w.st.u64(va)
		if !ok {
			return 0, 0, false
		}
		if w.returnAddress(v) {
			return va, v, true
		}
	}
}

// returnAddress reports whether v can be a return address: it lies in a
// loaded module and, where we have the module's image, in its code, right
// after a call instruction.
func (w *dumpWalker) returnAddress(v uint64) bool {
	m := w.module(v)
	if m == nil {
		return false
	}
	code := w.code(m)
	if code == nil {
		return true
	}
	rva := v - m.mod.Base
	if rva < 8 || rva > 0xffffffff || !code.executable(uint32(rva)) {
		return false
	}
	b := dumpBytesBefore(code, uint32(rva))
	if b == nil {
		// A caller's image lacks no code bytes; a module read from the
		// dump's memory may miss the page, and then nothing can be checked.
		_, fromMemory := code.(*dumpMemImage)
		return fromMemory
	}
	return dumpFollowsCall(b)
}

// dumpBytesBefore returns the eight bytes before rva, zero-padded in front
// when fewer exist (at the start of a section or of the pages the dump
// holds), or nil when not even two do. Padding cannot fake a call: the
// opcodes checked are nonzero.
func dumpBytesBefore(code dumpCode, rva uint32) []byte {
	for k := uint32(8); k >= 2; k-- {
		if rva < k {
			continue
		}
		if b := code.bytes(rva-k, k); uint32(len(b)) == k {
			return append(make([]byte, 8-k), b...)
		}
	}
	return nil
}

// code is the module's code, looked for in the dump's memory the first time
// a module without a caller's image needs it.
func (w *dumpWalker) code(m *dumpModuleRef) dumpCode {
	if m.code == nil && !m.tried && w.fromMemory != nil {
		m.tried = true
		m.code = w.fromMemory(m.mod)
	}
	return m.code
}

// dumpFollowsCall reports whether the eight bytes before a return address
// end with a call instruction: some suffix of them decodes, whole, as one
// (E8 rel32, FF /2 in any ModRM form, with or without REX).
func dumpFollowsCall(b []byte) bool {
	if len(b) != 8 {
		return false
	}
	for n := 2; n <= len(b); n++ {
		inst, err := x86asm.Decode(b[len(b)-n:], 64)
		if err == nil && inst.Len == n && inst.Op == x86asm.CALL {
			return true
		}
	}
	return false
}

// frame names the frame at addr after the module holding it, as WinDbg
// prints a frame without symbols: module+offset.
func (w *dumpWalker) frame(addr uint64) Frame {
	f := Frame{Address: addr, HasAddress: true}
	if m := w.module(addr); m != nil {
		f.Module = m.mod.Name
		f.Offset = addr - m.mod.Base
	}
	return f
}
