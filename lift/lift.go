package lift

import (
	"encoding/binary"
	"slices"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/loader"
)

// The lifter: each x64 instruction's effect on a symState, expressed in the
// ir package. This file is the one place that knows what an instruction
// means; everything after it (branch conditions, call arguments, jump
// tables, summaries, the rules) reads expressions. A compiler idiom the
// analysis misses is fixed here, once.

// symEntry is the state at a function's entry: parameters in rcx, rdx, r8
// and r9, rsp at the entry stack address, the entry IRQL. Everything else is
// nil: unknown, named where an instruction reads it.
func (ps *pass) symEntry() symState {
	b := ps.b
	var st symState
	for i, r := range argRegs {
		st.r[r] = b.Param(i)
	}
	st.r[rRSP] = ps.stack0
	st.irql = b.IRQL()
	st.chk = -1
	return st
}

// unknownState is the state of a block no known edge reaches (an __except
// block the exception dispatcher enters): nothing is known.
func unknownState() symState { return symState{chk: -1} }

// Location names for Opaque and Phi values: registers are constants 0-15,
// xmm lanes 16-47, the IRQL 48, an unknown memory location -1. They are
// made once per pass.
const (
	locIRQL   = 48
	locMemory = 49
	numLocs   = 50
)

func (ps *pass) regLoc(r int) *ir.Expr    { return ps.locs[r] }
func (ps *pass) xmmLoc(x, l int) *ir.Expr { return ps.locs[16+2*x+l] }
func (ps *pass) irqlLoc() *ir.Expr        { return ps.locs[locIRQL] }
func (ps *pass) memLoc() *ir.Expr         { return ps.locs[locMemory] }

// opaque is the value an instruction produces that the lifter does not
// model, for the location loc.
func (ps *pass) opaque(in *cfg.Inst, loc *ir.Expr, w int) *ir.Expr {
	return ps.b.Opaque(in.RVA, loc, w)
}

// reg returns register i's value, an opaque value of this instruction when
// nothing is known of it.
func (ps *pass) reg(in *cfg.Inst, st *symState, i int) *ir.Expr {
	if v := st.r[i]; v != nil {
		return v
	}
	return ps.opaque(in, ps.regLoc(i), 8)
}

// readReg reads a general-purpose register at its width.
func (ps *pass) readReg(in *cfg.Inst, st *symState, r x86asm.Reg) *ir.Expr {
	i := cfg.RegIndex(r)
	if i < 0 {
		return nil
	}
	if r >= x86asm.AH && r <= x86asm.BH {
		return ps.b.Trunc(ps.b.Bin(ir.OpShr, ps.reg(in, st, i), ps.b.Const(8, 8)), 1)
	}
	return ps.b.Trunc(ps.reg(in, st, i), regWidth(r)/8)
}

// writeReg writes v to a general-purpose register: a 32-bit write zeroes the
// upper half, a narrower one keeps the other bytes. A nil v (a value the
// lifter cannot express) becomes an opaque value of this instruction.
func (ps *pass) writeReg(in *cfg.Inst, st *symState, r x86asm.Reg, v *ir.Expr) {
	b := ps.b
	i := cfg.RegIndex(r)
	if i < 0 {
		return
	}
	w := regWidth(r) / 8
	if v != nil && int(v.W) != w {
		v = b.Zext(v, w)
	}
	switch {
	case v == nil:
		st.r[i] = ps.opaque(in, ps.regLoc(i), 8)
	case r >= x86asm.AH && r <= x86asm.BH:
		st.r[i] = ps.opaque(in, ps.regLoc(i), 8)
	case w == 8:
		st.r[i] = v
	case w == 4:
		st.r[i] = b.Zext(v, 8)
	default:
		// mov al,v: the other bytes of rax stay.
		keep := b.Bin(ir.OpAnd, ps.reg(in, st, i), b.Const(^int64(mask(w)), 8))
		st.r[i] = b.Bin(ir.OpOr, keep, b.Zext(v, 8))
	}
	if st.r[i] == nil {
		st.r[i] = ps.opaque(in, ps.regLoc(i), 8)
	}
}

func mask(w int) uint64 {
	if w >= 8 {
		return ^uint64(0)
	}
	return 1<<(8*uint(w)) - 1
}

// address evaluates a memory operand's address; nil for segment-relative
// (gs:, the processor control region) and unknowable ones.
func (ps *pass) address(in *cfg.Inst, st *symState, m x86asm.Mem) *ir.Expr {
	b := ps.b
	if m.Segment == x86asm.FS || m.Segment == x86asm.GS {
		return nil
	}
	if m.Base == x86asm.RIP {
		return b.Addr(uint32(int64(in.Next()) + cfg.Disp(m)))
	}
	var a *ir.Expr
	if m.Base != 0 {
		i := cfg.RegIndex(m.Base)
		if i < 0 {
			return nil
		}
		a = b.Zext(ps.readReg(in, st, m.Base), 8)
	}
	if m.Index != 0 {
		i := cfg.RegIndex(m.Index)
		if i < 0 {
			return nil
		}
		idx := b.Bin(ir.OpMul, b.Zext(ps.readReg(in, st, m.Index), 8), b.Const(int64(m.Scale), 8))
		if a == nil {
			a = idx
		} else {
			a = b.Bin(ir.OpAdd, a, idx)
		}
	}
	d := b.Const(cfg.Disp(m), 8)
	if a == nil {
		// [disp32] alone: an absolute address, in the image if it falls there.
		if rva, ok := ps.img.RVA(uint64(cfg.Disp(m))); ok {
			return b.Addr(rva)
		}
		return d
	}
	return b.Bin(ir.OpAdd, a, d)
}

// load reads w bytes at address a for instruction in: a cell the state
// holds, a constant of a read-only section, a stack parameter, or the
// symbolic load.
func (ps *pass) load(in *cfg.Inst, st *symState, a *ir.Expr, w int) *ir.Expr {
	b := ps.b
	if a == nil {
		return ps.opaque(in, ps.memLoc(), w)
	}
	base, off := b.Base(a)
	if v, overlap := st.mem.loadOver(b, base, off, w, ps.background(base)); v != nil {
		return v
	} else if overlap {
		return ps.opaque(in, ps.memLoc(), w)
	}
	switch base {
	case ps.addr0:
		if _, isSlot := ps.img.ImportAt(uint32(off)); isSlot && w == 8 {
			return b.Load(a, w) // an IAT slot: the import, resolved at the call
		}
		if off >= 0 && off <= 0xffffffff {
			if sec := ps.img.Section(uint32(off)); sec != nil && (!sec.Writable() || ps.initial) {
				if v := ps.imageValue(uint32(off), w); v != nil {
					return v
				}
			}
		}
	case ps.stack0:
		// The caller's outgoing arguments: [entry rsp + 0x28 + 8k] is
		// parameter 4+k (0x8-0x27 is the home area, written before it is
		// read).
		if off >= 0x28 && (off-0x28)%8 == 0 && w <= 8 {
			return b.Trunc(b.Param(4+int((off-0x28)/8)), w)
		}
		return ps.opaque(in, ps.memLoc(), w)
	}
	return b.Load(a, w)
}

// background returns the bytes under the cells of base the pass may read
// from the image: read-only data, and writable data too where the pass
// reads it at initialisation (initial). nil for other bases.
func (ps *pass) background(base *ir.Expr) func(at int64) (byte, bool) {
	if base != ps.addr0 {
		return nil
	}
	return func(at int64) (byte, bool) {
		if at < 0 || at > 0xffffffff {
			return 0, false
		}
		sec := ps.img.Section(uint32(at))
		if sec == nil || sec.Writable() && !ps.initial {
			return 0, false
		}
		if _, isPtr := ps.img.PointerAt(uint32(at) &^ 7); isPtr {
			return 0, false // a relocated pointer's bytes depend on the base
		}
		v, ok := ps.imageValue(uint32(at), 1).IsConst()
		return byte(v), ok
	}
}

// imageValue reads w bytes of the image at rva: a relocated pointer is an
// address, anything else a constant; nil when the bytes are not there.
func (ps *pass) imageValue(rva uint32, w int) *ir.Expr {
	if w == 8 {
		if t, ok := ps.img.PointerAt(rva); ok {
			return ps.b.Addr(t)
		}
	}
	raw := ps.img.Bytes(rva, uint32(w))
	if len(raw) < w {
		if s := ps.img.Section(rva); s != nil && s.Contains(rva+uint32(w)-1) {
			return ps.b.Const(0, w) // past the raw data: zero-filled by the loader
		}
		return nil
	}
	var buf [8]byte
	copy(buf[:], raw)
	return ps.b.Const(int64(binary.LittleEndian.Uint64(buf[:])), w)
}

// store writes v (nil: unknown) to w bytes at address a.
func (ps *pass) store(st *symState, a *ir.Expr, w int, v *ir.Expr) {
	if a == nil || w <= 0 {
		return // an unknown address: assumed not to alias what is tracked
	}
	base, off := ps.b.Base(a)
	if v != nil && int(v.W) != w {
		v = ps.b.Zext(v, w)
	}
	if ps.onStore != nil && w == 8 {
		ps.onStore(base, off, v)
	}
	st.storeMem(ps.b, base, off, w, v)
}

// read evaluates a source operand of w bytes.
func (ps *pass) read(in *cfg.Inst, st *symState, arg x86asm.Arg, w int) *ir.Expr {
	b := ps.b
	switch s := arg.(type) {
	case x86asm.Imm:
		// mov r64, imm64 carrying a base relocation is an address.
		if in.Len >= 10 && ps.img.HasReloc(in.RVA+uint32(in.Len)-8) {
			if rva, ok := ps.img.RVA(uint64(s)); ok {
				return b.Addr(rva)
			}
		}
		return b.Const(int64(s), w)
	case x86asm.Reg:
		if x := xmmIndex(s); x >= 0 {
			return b.Trunc(st.lane(x)[0], min(w, 8))
		}
		if s == x86asm.CR8 {
			return b.Zext(st.irql, w)
		}
		if v := ps.readReg(in, st, s); v != nil {
			return b.Zext(v, w)
		}
		return ps.opaque(in, ps.memLoc(), w)
	case x86asm.Mem:
		return ps.load(in, st, ps.address(in, st, s), w)
	}
	return nil
}

// write stores v to a destination operand.
func (ps *pass) write(in *cfg.Inst, st *symState, arg x86asm.Arg, v *ir.Expr) {
	switch d := arg.(type) {
	case x86asm.Reg:
		if d == x86asm.CR8 {
			st.irql = ps.b.Trunc(v, 1)
			if st.irql == nil {
				st.irql = ps.opaque(in, ps.irqlLoc(), 1)
			}
			return
		}
		if x := xmmIndex(d); x >= 0 {
			st.setLane(x, [2]*ir.Expr{ps.b.Zext(v, 8), ps.b.Const(0, 8)})
			return
		}
		ps.writeReg(in, st, d, v)
	case x86asm.Mem:
		ps.store(st, ps.address(in, st, d), in.MemBytes, v)
	}
}

// opWidth is the width in bytes of an instruction's operation: its memory
// operand's, else its first register's.
func opWidth(in *cfg.Inst) int {
	if r, ok := in.Args[0].(x86asm.Reg); ok && cfg.RegIndex(r) >= 0 {
		return regWidth(r) / 8
	}
	if in.MemBytes > 0 {
		return in.MemBytes
	}
	return 8
}

// argWidth is the width of operand i.
func argWidth(in *cfg.Inst, i int) int {
	switch a := in.Args[i].(type) {
	case x86asm.Reg:
		if cfg.RegIndex(a) >= 0 {
			return regWidth(a) / 8
		}
		return 8
	case x86asm.Mem:
		return in.MemBytes
	}
	return opWidth(in)
}

// binOp is the ir operator of each x86 arithmetic instruction symStep
// makes a binary operation of (a switch, not a map: the hot path).
func binOp(op x86asm.Op) ir.Op {
	switch op {
	case x86asm.AND:
		return ir.OpAnd
	case x86asm.OR:
		return ir.OpOr
	case x86asm.XOR:
		return ir.OpXor
	case x86asm.SHL:
		return ir.OpShl
	case x86asm.SHR:
		return ir.OpShr
	case x86asm.SAR:
		return ir.OpSar
	}
	return ir.OpAdd // ADD, the only other one its callers ask for
}

// symStep applies one instruction to the state.
func (ps *pass) symStep(in *cfg.Inst, st *symState) {
	b := ps.b
	chk := st.chk
	st.chk = -1
	if !keepsFlags(in.Op) {
		st.flags = symFlags{}
	}
	rsp := func(delta int64) {
		if st.r[rRSP] != nil {
			st.r[rRSP] = b.Bin(ir.OpAdd, st.r[rRSP], b.Const(delta, 8))
		}
	}
	clobber := func(rs ...int) {
		for _, r := range rs {
			st.r[r] = ps.opaque(in, ps.regLoc(r), 8)
		}
	}
	w := opWidth(in)
	switch op := in.Op; op {
	case x86asm.NOP, x86asm.PREFETCHW, x86asm.PREFETCHT0, x86asm.PREFETCHT1, x86asm.PREFETCHT2, x86asm.PREFETCHNTA,
		x86asm.JMP, x86asm.RET, x86asm.INT, x86asm.UD2, x86asm.LFENCE, x86asm.MFENCE, x86asm.SFENCE, x86asm.PAUSE:
	case x86asm.MOV:
		if src, ok := in.Args[1].(x86asm.Reg); ok && src == x86asm.CR8 {
			ps.write(in, st, in.Args[0], b.Zext(st.irql, w))
			break
		}
		if dst, ok := in.Args[0].(x86asm.Reg); ok && dst == x86asm.CR8 {
			ps.write(in, st, dst, ps.read(in, st, in.Args[1], 8))
			break
		}
		if isControlReg(in.Args[0]) || isControlReg(in.Args[1]) {
			if r, ok := in.Args[0].(x86asm.Reg); ok && cfg.RegIndex(r) >= 0 {
				clobber(cfg.RegIndex(r))
			}
			break
		}
		ps.write(in, st, in.Args[0], ps.read(in, st, in.Args[1], w))
	case x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD:
		v := ps.read(in, st, in.Args[1], argWidth(in, 1))
		if op == x86asm.MOVZX {
			v = b.Zext(v, w)
		} else {
			v = b.Sext(v, w)
		}
		ps.write(in, st, in.Args[0], v)
	case x86asm.LEA:
		if m, ok := in.Args[1].(x86asm.Mem); ok {
			ps.write(in, st, in.Args[0], b.Trunc(ps.address(in, st, m), w))
		}
	case x86asm.ADD, x86asm.SUB, x86asm.AND, x86asm.OR, x86asm.XOR:
		if in.Args[0] == x86asm.RSP && op == x86asm.AND {
			break // stack realignment: keep the frame offsets as an approximation
		}
		x := ps.read(in, st, in.Args[0], w)
		y := ps.read(in, st, in.Args[1], w)
		if r0, ok := in.Args[0].(x86asm.Reg); ok && in.Args[1] == in.Args[0] && (op == x86asm.XOR || op == x86asm.SUB) {
			ps.writeReg(in, st, r0, b.Const(0, w)) // xor eax,eax
			st.flags = symFlags{kind: flagsLogic, a: b.Const(0, w)}
			break
		}
		if in.Args[0] == x86asm.RSP && op == x86asm.SUB {
			if r, ok := in.Args[1].(x86asm.Reg); ok && cfg.RegIndex(r) == rRAX && chk >= 0 {
				y = b.Const(chk, 8) // mov eax,N ; call __chkstk ; sub rsp,rax
			}
		}
		var r *ir.Expr
		switch op {
		case x86asm.SUB:
			r = b.Sub(x, y)
			st.flags = symFlags{kind: flagsSub, a: x, b: y}
		default:
			r = b.Bin(binOp(op), x, y)
			if op == x86asm.ADD {
				st.flags = symFlags{kind: flagsResult, a: r}
			} else {
				st.flags = symFlags{kind: flagsLogic, a: r}
			}
		}
		ps.write(in, st, in.Args[0], r)
	case x86asm.INC, x86asm.DEC, x86asm.NEG, x86asm.NOT:
		x := ps.read(in, st, in.Args[0], w)
		var r *ir.Expr
		switch op {
		case x86asm.INC:
			r = b.Bin(ir.OpAdd, x, b.Const(1, w))
		case x86asm.DEC:
			r = b.Bin(ir.OpAdd, x, b.Const(-1, w))
		case x86asm.NEG:
			r = b.Neg(x)
		case x86asm.NOT:
			r = b.Not(x)
		}
		if op != x86asm.NOT {
			st.flags = symFlags{kind: flagsResult, a: r}
		}
		ps.write(in, st, in.Args[0], r)
	case x86asm.SHL, x86asm.SHR, x86asm.SAR:
		x := ps.read(in, st, in.Args[0], w)
		n := b.Const(1, 1)
		if in.Args[1] != nil {
			n = ps.read(in, st, in.Args[1], 1)
		}
		r := b.Bin(binOp(op), x, b.Bin(ir.OpAnd, b.Zext(n, w), b.Const(63, w)))
		st.flags = symFlags{kind: flagsResult, a: r}
		ps.write(in, st, in.Args[0], r)
	case x86asm.IMUL:
		switch {
		case len(in.Args) >= 3 && in.Args[2] != nil: // imul r, r/m, imm
			ps.write(in, st, in.Args[0], b.Bin(ir.OpMul, ps.read(in, st, in.Args[1], w), ps.read(in, st, in.Args[2], w)))
		case in.Args[1] != nil: // imul r, r/m
			ps.write(in, st, in.Args[0], b.Bin(ir.OpMul, ps.read(in, st, in.Args[0], w), ps.read(in, st, in.Args[1], w)))
		default:
			clobber(rRAX, rRDX)
		}
	case x86asm.CMP:
		st.flags = symFlags{kind: flagsSub, a: ps.read(in, st, in.Args[0], w), b: ps.read(in, st, in.Args[1], w)}
	case x86asm.TEST:
		st.flags = symFlags{kind: flagsLogic, a: b.Bin(ir.OpAnd, ps.read(in, st, in.Args[0], w), ps.read(in, st, in.Args[1], w))}
	case x86asm.BT:
		x := ps.read(in, st, in.Args[0], w)
		var bit *ir.Expr
		if imm, ok := in.Args[1].(x86asm.Imm); ok {
			bit = b.Cmp(ir.OpNe, b.Bin(ir.OpAnd, x, b.Const(1<<(uint64(imm)%uint64(8*w)), w)), b.Const(0, w))
		} else if n := ps.read(in, st, in.Args[1], w); n != nil {
			bit = b.Cmp(ir.OpNe, b.Bin(ir.OpAnd, b.Bin(ir.OpShr, x, n), b.Const(1, w)), b.Const(0, w))
		}
		st.flags = symFlags{kind: flagsBit, a: bit}
	case x86asm.SBB:
		// sbb r,r after a compare: 0 or -1 by the carry.
		if in.Args[1] == in.Args[0] {
			if cf := ps.cond(x86asm.JB, st.flags); cf != nil {
				ps.write(in, st, in.Args[0], b.Neg(b.Zext(cf, w)))
				st.flags = symFlags{}
				break
			}
		}
		ps.write(in, st, in.Args[0], nil)
	case x86asm.XCHG:
		x := ps.read(in, st, in.Args[0], w)
		y := ps.read(in, st, in.Args[1], w)
		ps.write(in, st, in.Args[0], y)
		ps.write(in, st, in.Args[1], x)
	case x86asm.PUSH:
		v := ps.read(in, st, in.Args[0], 8)
		rsp(-8)
		ps.store(st, st.r[rRSP], 8, v)
	case x86asm.POP:
		v := ps.load(in, st, st.r[rRSP], 8)
		rsp(8)
		ps.write(in, st, in.Args[0], v)
	case x86asm.LEAVE:
		st.r[rRSP] = st.r[rRBP]
		v := ps.load(in, st, st.r[rRSP], 8)
		rsp(8)
		st.r[rRBP] = v
	case x86asm.CALL:
		if v, ok := st.r[rRAX].IsConst(); ok {
			st.chk = v
		}
		ps.callEffect(in, st)
	case x86asm.CDQE:
		st.r[rRAX] = b.Sext(b.Trunc(st.r[rRAX], 4), 8)
	case x86asm.CWDE:
		st.r[rRAX] = b.Zext(b.Sext(b.Trunc(st.r[rRAX], 2), 4), 8)
	case x86asm.CDQ:
		st.r[rRDX] = b.Zext(b.Bin(ir.OpSar, b.Trunc(st.r[rRAX], 4), b.Const(31, 4)), 8)
	case x86asm.CQO:
		st.r[rRDX] = b.Bin(ir.OpSar, st.r[rRAX], b.Const(63, 8))

	case x86asm.MUL, x86asm.DIV, x86asm.IDIV, x86asm.RDTSC, x86asm.RDMSR, x86asm.CWD, x86asm.CBW:
		clobber(rRAX, rRDX)
	case x86asm.CPUID:
		clobber(rRAX, rRBX, rRCX, rRDX)
	case x86asm.RDTSCP:
		clobber(rRAX, rRCX, rRDX)
	case x86asm.SYSCALL:
		clobber(rRAX, rRCX, rR11)
	case x86asm.CMPXCHG, x86asm.CMPXCHG8B, x86asm.CMPXCHG16B:
		clobber(rRAX, rRDX)
		ps.write(in, st, in.Args[0], nil)
	case x86asm.STOSB, x86asm.STOSQ:
		if hasREP(in) {
			width := int64(1)
			if op == x86asm.STOSQ {
				width = 8
			}
			if n, ok := st.r[rRCX].IsConst(); ok {
				ps.fill(st, st.r[rRDI], st.r[rRAX], n*width)
			}
		}
		clobber(rRAX, rRCX, rRSI, rRDI)
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.STOSW, x86asm.STOSD,
		x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ, x86asm.SCASB, x86asm.SCASW,
		x86asm.SCASD, x86asm.SCASQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
		clobber(rRAX, rRCX, rRSI, rRDI) // isStringOp
	case x86asm.MOVQ, x86asm.MOVD, x86asm.MOVUPS, x86asm.MOVAPS, x86asm.MOVDQU, x86asm.MOVDQA, x86asm.MOVUPD, x86asm.MOVAPD,
		x86asm.LDDQU, x86asm.PUNPCKLQDQ, x86asm.PXOR, x86asm.XORPS, x86asm.XORPD:
		ps.vector(in, st)
	default:
		if cc, ok := setcc(op); ok {
			ps.write(in, st, in.Args[0], ps.cond(cc, st.flags))
			break
		}
		if cc, ok := cmovcc(op); ok {
			c := ps.cond(cc, st.flags)
			ps.write(in, st, in.Args[0], b.Select(c, ps.read(in, st, in.Args[1], w), ps.read(in, st, in.Args[0], w)))
			break
		}
		if cfg.WritesArg0(op) && len(in.Args) > 0 && in.Args[0] != nil {
			if r, ok := in.Args[0].(x86asm.Reg); ok && xmmIndex(r) >= 0 {
				x := xmmIndex(r)
				st.setLane(x, [2]*ir.Expr{})
				break
			}
			ps.write(in, st, in.Args[0], nil)
		}
	}
}

// isStringOp reports the string instructions other than rep stos, which
// use rax, rcx, rsi and rdi implicitly.
func isStringOp(op x86asm.Op) bool {
	switch op {
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ,
		x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ, x86asm.SCASB, x86asm.SCASW,
		x86asm.SCASD, x86asm.SCASQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
		return true
	}
	return false
}

// keepsFlags lists the instructions that leave the flags alone, so that a
// jcc, setcc or cmov after them reads the flags of an earlier compare.
func keepsFlags(op x86asm.Op) bool {
	switch op {
	case x86asm.MOV, x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD, x86asm.LEA, x86asm.PUSH, x86asm.POP, x86asm.NOP,
		x86asm.MOVQ, x86asm.MOVD, x86asm.MOVUPS, x86asm.MOVAPS, x86asm.MOVDQU, x86asm.MOVDQA, x86asm.MOVUPD, x86asm.MOVAPD,
		x86asm.LDDQU, x86asm.PUNPCKLQDQ, x86asm.NOT, x86asm.XCHG, x86asm.LFENCE, x86asm.MFENCE, x86asm.SFENCE, x86asm.PAUSE,
		x86asm.PREFETCHW, x86asm.PREFETCHT0, x86asm.PREFETCHT1, x86asm.PREFETCHT2, x86asm.PREFETCHNTA, x86asm.CDQE,
		x86asm.CWDE, x86asm.CDQ, x86asm.CQO:
		return true
	}
	_, set := setcc(op)
	_, cmov := cmovcc(op)
	return set || cmov || cfg.IsJcc(op)
}

func isControlReg(a x86asm.Arg) bool {
	r, ok := a.(x86asm.Reg)
	return ok && (r >= x86asm.CR0 && r <= x86asm.CR15 || r >= x86asm.DR0 && r <= x86asm.DR15)
}

// condCodes lists the condition codes the lifter reads: the jcc that tests
// each, and the setcc and cmovcc that read it.
var condCodes = [...]struct{ jcc, set, cmov x86asm.Op }{
	{x86asm.JE, x86asm.SETE, x86asm.CMOVE}, {x86asm.JNE, x86asm.SETNE, x86asm.CMOVNE},
	{x86asm.JB, x86asm.SETB, x86asm.CMOVB}, {x86asm.JAE, x86asm.SETAE, x86asm.CMOVAE},
	{x86asm.JBE, x86asm.SETBE, x86asm.CMOVBE}, {x86asm.JA, x86asm.SETA, x86asm.CMOVA},
	{x86asm.JL, x86asm.SETL, x86asm.CMOVL}, {x86asm.JGE, x86asm.SETGE, x86asm.CMOVGE},
	{x86asm.JLE, x86asm.SETLE, x86asm.CMOVLE}, {x86asm.JG, x86asm.SETG, x86asm.CMOVG},
	{x86asm.JS, x86asm.SETS, x86asm.CMOVS}, {x86asm.JNS, x86asm.SETNS, x86asm.CMOVNS},
}

// setcc and cmovcc return the jcc that tests the condition code a setcc
// or cmovcc reads; false for another instruction. A scan of condCodes, not
// a map: every instruction the lifter does not model otherwise asks.
func setcc(op x86asm.Op) (x86asm.Op, bool) {
	if op < x86asm.SETA || op > x86asm.SETS { // x86asm numbers them in one run
		return 0, false
	}
	for _, c := range condCodes {
		if c.set == op {
			return c.jcc, true
		}
	}
	return 0, false
}

func cmovcc(op x86asm.Op) (x86asm.Op, bool) {
	if op < x86asm.CMOVA || op > x86asm.CMOVS {
		return 0, false
	}
	for _, c := range condCodes {
		if c.cmov == op {
			return c.jcc, true
		}
	}
	return 0, false
}

// cond is the condition a jcc (or the setcc/cmovcc reading the same code)
// tests, as a boolean expression; nil when the flags are not known.
func (ps *pass) cond(jcc x86asm.Op, f symFlags) *ir.Expr {
	b := ps.b
	if f.a == nil {
		return nil
	}
	switch f.kind {
	case flagsSub:
		x, y := f.a, f.b
		if y == nil {
			return nil
		}
		switch jcc {
		case x86asm.JE:
			return b.Cmp(ir.OpEq, x, y)
		case x86asm.JNE:
			return b.Cmp(ir.OpNe, x, y)
		case x86asm.JB:
			return b.Cmp(ir.OpUlt, x, y)
		case x86asm.JAE:
			return b.Cmp(ir.OpUle, y, x)
		case x86asm.JBE:
			return b.Cmp(ir.OpUle, x, y)
		case x86asm.JA:
			return b.Cmp(ir.OpUlt, y, x)
		case x86asm.JL:
			return b.Cmp(ir.OpSlt, x, y)
		case x86asm.JGE:
			return b.Cmp(ir.OpSle, y, x)
		case x86asm.JLE:
			return b.Cmp(ir.OpSle, x, y)
		case x86asm.JG:
			return b.Cmp(ir.OpSlt, y, x)
		case x86asm.JS:
			d := b.Sub(x, y)
			return b.Cmp(ir.OpSlt, d, b.Const(0, int(x.W)))
		case x86asm.JNS:
			d := b.Sub(x, y)
			return b.Cmp(ir.OpSle, b.Const(0, int(x.W)), d)
		}
	case flagsLogic, flagsResult:
		r := f.a
		zero := b.Const(0, int(r.W))
		switch jcc {
		case x86asm.JE:
			return b.Cmp(ir.OpEq, r, zero)
		case x86asm.JNE:
			return b.Cmp(ir.OpNe, r, zero)
		case x86asm.JS:
			return b.Cmp(ir.OpSlt, r, zero)
		case x86asm.JNS:
			return b.Cmp(ir.OpSle, zero, r)
		}
		if f.kind == flagsResult {
			return nil // CF and OF of an addition are not modelled
		}
		// After a logical operation CF = OF = 0.
		switch jcc {
		case x86asm.JB:
			return b.Bool(false)
		case x86asm.JAE:
			return b.Bool(true)
		case x86asm.JBE:
			return b.Cmp(ir.OpEq, r, zero)
		case x86asm.JA:
			return b.Cmp(ir.OpNe, r, zero)
		case x86asm.JL:
			return b.Cmp(ir.OpSlt, r, zero)
		case x86asm.JGE:
			return b.Cmp(ir.OpSle, zero, r)
		case x86asm.JLE:
			return b.Cmp(ir.OpSle, r, zero)
		case x86asm.JG:
			return b.Cmp(ir.OpSlt, zero, r)
		}
	case flagsBit:
		switch jcc {
		case x86asm.JB:
			return f.a
		case x86asm.JAE:
			return b.LNot(f.a)
		}
	}
	return nil
}

// maxFill bounds the bytes a memset the lifter models may write.
const maxFill = 4096

// fill stores n copies of the low byte of c at dst (rep stos, memset with
// constant arguments): structures are often zeroed before their fields are
// set.
func (ps *pass) fill(st *symState, dst, c *ir.Expr, n int64) {
	cv, ok := c.IsConst()
	if !ok || n <= 0 || n > maxFill || dst == nil {
		return
	}
	word := int64(uint64(cv&0xff) * 0x0101010101010101)
	for off := int64(0); off < n; off += 8 {
		size := min(8, n-off)
		ps.store(st, ps.b.Bin(ir.OpAdd, dst, ps.b.Const(off, 8)), int(size), ps.b.Const(word, int(size)))
	}
}

// vector tracks the 64-bit lanes of xmm registers through the moves
// compilers use to copy and store pairs of values (movq, punpcklqdq,
// movups), and their zeroing (pxor, xorps).
func (ps *pass) vector(in *cfg.Inst, st *symState) {
	b := ps.b
	zero := b.Const(0, 8)
	switch dst := in.Args[0].(type) {
	case x86asm.Reg:
		if x := xmmIndex(dst); x < 0 {
			// movq/movd r, xmm
			if src, ok := in.Args[1].(x86asm.Reg); ok && xmmIndex(src) >= 0 {
				ps.writeReg(in, st, dst, b.Trunc(st.lane(xmmIndex(src))[0], regWidth(dst)/8))
			} else {
				ps.writeReg(in, st, dst, nil)
			}
			return
		}
		xd := xmmIndex(dst)
		var lo, hi *ir.Expr // unknown unless the move says
		switch src := in.Args[1].(type) {
		case x86asm.Reg:
			xs := xmmIndex(src)
			switch {
			case (in.Op == x86asm.PXOR || in.Op == x86asm.XORPS || in.Op == x86asm.XORPD) && src == dst:
				lo, hi = zero, zero
			case in.Op == x86asm.PUNPCKLQDQ && xs >= 0:
				lo, hi = st.lane(xd)[0], st.lane(xs)[0]
			case (in.Op == x86asm.MOVQ || in.Op == x86asm.MOVD) && xs < 0: // movq xmm, r64
				lo, hi = b.Zext(ps.readReg(in, st, src), 8), zero
			case in.Op == x86asm.MOVQ && xs >= 0:
				lo, hi = st.lane(xs)[0], zero
			case xs >= 0 && in.Op != x86asm.PXOR && in.Op != x86asm.XORPS && in.Op != x86asm.XORPD:
				lo, hi = st.lane(xs)[0], st.lane(xs)[1]
			}
		case x86asm.Mem:
			a := ps.address(in, st, src)
			switch in.Op {
			case x86asm.PUNPCKLQDQ:
				lo, hi = st.lane(xd)[0], ps.load(in, st, a, 8)
			case x86asm.MOVQ, x86asm.MOVD:
				lo, hi = b.Zext(ps.load(in, st, a, in.MemBytes), 8), zero
			case x86asm.PXOR, x86asm.XORPS, x86asm.XORPD:
			default:
				lo = ps.load(in, st, a, 8)
				hi = ps.load(in, st, b.Bin(ir.OpAdd, a, b.Const(8, 8)), 8)
			}
		}
		st.setLane(xd, [2]*ir.Expr{lo, hi})
	case x86asm.Mem:
		a := ps.address(in, st, dst)
		src, ok := in.Args[1].(x86asm.Reg)
		if !ok || xmmIndex(src) < 0 {
			ps.store(st, a, max(in.MemBytes, 1), nil)
			return
		}
		xs := xmmIndex(src)
		if in.MemBytes <= 8 {
			ps.store(st, a, in.MemBytes, b.Trunc(st.lane(xs)[0], in.MemBytes))
			return
		}
		ps.store(st, a, 8, st.lane(xs)[0])
		if a != nil {
			ps.store(st, b.Bin(ir.OpAdd, a, b.Const(8, 8)), 8, st.lane(xs)[1])
		}
	}
}

// Outgoing stack arguments: the fifth and later parameters, at
// [rsp+0x20+8k] when the call is made.
const maxStackArgs = 4

// callArgs returns the values of the parameters a call passes: rcx, rdx,
// r8, r9, then the first stack arguments (for a tail jump, rsp already
// points at the return address, 8 bytes lower than for a call).
func (ps *pass) callArgs(in *cfg.Inst, st *symState, tail bool) []*ir.Expr {
	return ps.appendArgs(make([]*ir.Expr, 0, 4+maxStackArgs), in, st, tail)
}

// appendArgs appends the arguments of call in to args (see callArgs).
func (ps *pass) appendArgs(args []*ir.Expr, in *cfg.Inst, st *symState, tail bool) []*ir.Expr {
	b := ps.b
	for _, r := range argRegs {
		args = append(args, st.r[r])
	}
	first := int64(0x20)
	if tail {
		first = 0x28
	}
	rsp := st.r[rRSP]
	if rsp == nil || rsp.Op != ir.OpStack {
		return append(args, make([]*ir.Expr, maxStackArgs)...)
	}
	for k := 0; k < maxStackArgs; k++ {
		v, _ := st.mem.load(b, ps.stack0, rsp.V+first+int64(8*k), 8)
		args = append(args, v)
	}
	return args
}

// callTarget is what a call or jmp transfers to: an address, an import, or
// the pointer it loads; through Control Flow Guard's dispatch (call
// [__guard_dispatch_icall_fptr], or the jmp rax it points at), the pointer
// in rax.
func (ps *pass) callTarget(in *cfg.Inst, st *symState) *ir.Expr {
	t := ps.rawTarget(in, st)
	if t == nil || !ps.isDispatch(t) {
		return t
	}
	rax := st.r[rRAX]
	if rax != nil && rax.Op == ir.OpLoad && rax.A.Op == ir.OpAddr {
		if imp, ok := ps.img.ImportAt(uint32(rax.A.V)); ok {
			return ps.b.Import(imp.Slot)
		}
	}
	return rax
}

// isDispatch reports a target that is Control Flow Guard's dispatch: the
// pointer in its slot, or the jmp rax it holds in an image without CFG.
func (ps *pass) isDispatch(t *ir.Expr) bool {
	switch t.Op {
	case ir.OpLoad:
		return t.A.Op == ir.OpAddr && t.A.V != 0 && uint32(t.A.V) == ps.img.GuardCF.DispatchSlot
	case ir.OpAddr:
		return cfg.IsJmpRax(ps.img, uint32(t.V))
	}
	return false
}

// rawTarget is the operand of the call or jmp: an address, an import, or
// the pointer it loads.
func (ps *pass) rawTarget(in *cfg.Inst, st *symState) *ir.Expr {
	b := ps.b
	if t, ok := cfg.RelTarget(in); ok {
		if imp := ps.thunkImport(t); imp != nil {
			return b.Import(imp.Slot)
		}
		return b.Addr(t)
	}
	switch arg := in.Args[0].(type) {
	case x86asm.Mem:
		a := ps.address(in, st, arg)
		if a != nil && a.Op == ir.OpAddr {
			if imp, ok := ps.img.ImportAt(uint32(a.V)); ok {
				return b.Import(imp.Slot)
			}
		}
		return ps.load(in, st, a, 8)
	case x86asm.Reg:
		v := ps.readReg(in, st, arg)
		if v != nil && v.Op == ir.OpLoad && v.A.Op == ir.OpAddr {
			if imp, ok := ps.img.ImportAt(uint32(v.A.V)); ok {
				return b.Import(imp.Slot) // mov reg,[IAT]; call reg
			}
		}
		return v
	}
	return nil
}

// callEffect applies a call: the callee's result in rax (the IRQL for the
// routines that return it), the volatile registers lost, the IRQL changed
// by the routines that raise and lower it, and the frame's cells above a
// local whose address is passed forgotten (the callee may write them).
func (ps *pass) callEffect(in *cfg.Inst, st *symState) {
	b := ps.b
	if ps.probes[in.RVA] {
		st.r[rR10] = ps.opaque(in, ps.regLoc(rR10), 8)
		st.r[rR11] = ps.opaque(in, ps.regLoc(rR11), 8)
		return
	}
	// The arguments stay on the stack: every call computes them, few keep
	// them (a callee's substitution copies them).
	var buf [4 + maxStackArgs]*ir.Expr
	args := ps.appendArgs(buf[:0], in, st, false)
	target := ps.callTarget(in, st)
	var result *ir.Expr
	if target != nil && target.Op == ir.OpImport {
		if imp, ok := ps.img.ImportAt(uint32(target.V)); ok {
			result = ps.irqlEffect(in, imp.Name, args, st)
		}
	}
	if result == nil && target != nil && target.Op == ir.OpAddr && ps.isCookieCheck(uint32(target.V)) {
		// __security_check_cookie returns with every register but rcx as it
		// found them: the function's return value survives it.
		result = st.r[rRAX]
	}
	if result == nil {
		result = b.Call(in.RVA, target, args[:4])
		// A function of the driver that returns with the IRQL changed (a
		// helper that acquires a spin lock) leaves it so in its caller.
		if target != nil && target.Op == ir.OpAddr && ps.callee != nil {
			if g := ps.callee(uint32(target.V)); g != nil && g.ExitIRQL != nil && g.ExitIRQL.Op != ir.OpIRQL {
				sub := b.NewSubstituter(ir.Binding{Params: slices.Clone(args), IRQL: st.irql})
				// In the caller's terms; unknown when what it depends on is
				// (an argument register an earlier call clobbered).
				if st.irql = sub.Subst(g.ExitIRQL); st.irql == nil {
					st.irql = ps.opaque(in, ps.irqlLoc(), 1)
				}
			}
		}
	}
	copied := ps.copied(in, st, importName(ps.img, target), args)
	// Locals whose address escapes to the callee: it may write the object
	// there, whose end the pass does not know, but which lies below the
	// return address (offset 0). The home area and stack arguments above
	// it, where unoptimised code spills its parameters, stay.
	low := int64(0)
	for _, a := range args {
		if a == nil {
			continue
		}
		if base, off := b.Base(a); base == ps.stack0 && off < low {
			low = off
		}
	}
	if low < 0 {
		st.mem = st.mem.clobberRange(ps.stack0, low, 0)
	}
	clobbered := uint16(volatileRegs)
	if target != nil && target.Op == ir.OpAddr && ps.clobbers != nil {
		if m, ok := ps.clobbers(uint32(target.V)); ok {
			clobbered = m
		}
	}
	// What a call leaves in a volatile register is unknown (nil), named
	// only where code reads it, which it rarely does: an opaque value made
	// for each register at every call was a quarter of all the expressions
	// a program makes, and the phis of such values where paths meet more.
	for _, r := range []int{rRCX, rRDX, rR8, rR9, rR10, rR11} {
		if clobbered&(1<<r) != 0 {
			st.r[r] = nil
		}
	}
	if clobbered&(1<<rRAX) != 0 {
		st.r[rRAX] = result // else a routine that returns nothing left rax alone
	}
	if st.x != nil {
		lanes := *st.x
		for x := 0; x < 6; x++ { // xmm0-5 are volatile
			lanes[x] = [2]*ir.Expr{}
		}
		st.x = &lanes
	}
	if fill, ok := fillImports[importName(ps.img, target)]; ok {
		if n, isConst := args[fill.n].IsConst(); isConst {
			ps.fill(st, args[0], args[fill.c], n)
		}
	}
	for _, c := range copied {
		ps.store(st, c.at, c.w, c.v)
	}
}

// copyImports are the memcpy-like imports, all (destination, source,
// length). RtlCopyMemory is memcpy in the headers; ntoskrnl exports
// RtlCopyMemory and RtlMoveMemory too.
var copyImports = map[string]bool{"memcpy": true, "memmove": true, "RtlCopyMemory": true, "RtlMoveMemory": true}

// copiedWord is one word a modelled copy writes.
type copiedWord struct {
	at *ir.Expr
	w  int
	v  *ir.Expr
}

// copied reads what a call to a memcpy-like import with a constant length
// (up to maxFill) copies, before the call's effect forgets the source: a
// registration copied from a const template to the stack (clang -O0) keeps
// its values.
func (ps *pass) copied(in *cfg.Inst, st *symState, name string, args []*ir.Expr) []copiedWord {
	if !copyImports[name] {
		return nil
	}
	n, ok := args[2].IsConst()
	dst, src := args[0], args[1]
	if !ok || n <= 0 || n > maxFill || dst == nil || src == nil {
		return nil
	}
	b := ps.b
	out := make([]copiedWord, 0, (n+7)/8)
	for off := int64(0); off < n; off += 8 {
		w := int(min(8, n-off))
		at := b.Const(off, 8)
		out = append(out, copiedWord{b.Bin(ir.OpAdd, dst, at), w, ps.load(in, st, b.Bin(ir.OpAdd, src, at), w)})
	}
	return out
}

// isCookieCheck reports whether the function at rva is the /GS check
// (__security_check_cookie): it starts with cmp rcx,[__security_cookie],
// the cookie the load configuration names.
func (ps *pass) isCookieCheck(rva uint32) bool {
	if ps.img.SecurityCookie == 0 {
		return false
	}
	if is, ok := ps.cookieChecks[rva]; ok {
		return is
	}
	is := ps.decodeCookieCheck(rva)
	ps.cookieChecks[rva] = is
	return is
}

func (ps *pass) decodeCookieCheck(rva uint32) bool {
	in, err := x86asm.Decode(cfg.Code(ps.img, rva), 64)
	if err != nil || in.Op != x86asm.CMP || in.Args[0] != x86asm.RCX {
		return false
	}
	m, ok := in.Args[1].(x86asm.Mem)
	return ok && m.Base == x86asm.RIP && m.Index == 0 && uint32(int64(rva)+int64(in.Len)+cfg.Disp(m)) == ps.img.SecurityCookie
}

// fillImports are the memset-like imports: which argument holds the
// length and which the fill byte.
var fillImports = map[string]struct{ n, c int }{
	"memset":        {n: 2, c: 1},
	"RtlFillMemory": {n: 1, c: 2}, // (dst, length, fill)
}

func importName(img *loader.Image, target *ir.Expr) string {
	if target == nil || target.Op != ir.OpImport {
		return ""
	}
	if imp, ok := img.ImportAt(uint32(target.V)); ok {
		return imp.Name
	}
	return ""
}

// raisesIRQL lists the kernel routines that can leave the IRQL at
// DISPATCH_LEVEL or above when they return (see irqlEffect).
var raisesIRQL = map[string]bool{
	"KfRaiseIrql": true, "KeRaiseIrqlToDpcLevel": true, "KeAcquireSpinLockRaiseToDpc": true,
	"ExAcquireSpinLockExclusive": true, "ExAcquireSpinLockShared": true, "KeAcquireSpinLockForDpc": true,
	"KeRaiseIrqlToSynchLevel": true, "KeAcquireSpinLockRaiseToSynch": true, "KeAcquireInterruptSpinLock": true,
	"KeAcquireSpinLockAtDpcLevel": true, "KeAcquireInStackQueuedSpinLockAtDpcLevel": true,
	"KeAcquireInStackQueuedSpinLock": true, "KeAcquireInStackQueuedSpinLockForDpc": true,
}

// irqlRoutines are the imports irqlEffect changes the IRQL for.
var irqlRoutines = map[string]bool{
	"KfLowerIrql": true, "KeReleaseSpinLock": true, "ExReleaseSpinLockExclusive": true,
	"ExReleaseSpinLockShared": true, "KeReleaseInterruptSpinLock": true, "KeReleaseSpinLockForDpc": true,
	"KeReleaseInStackQueuedSpinLock": true, "KeReleaseInStackQueuedSpinLockForDpc": true,
	"ExAcquireFastMutex": true, "ExReleaseFastMutex": true,
}

func init() {
	for name := range raisesIRQL {
		irqlRoutines[name] = true
	}
}

// changesIRQL reports whether a call to f may return at another IRQL: f
// or a function it calls writes CR8 or calls a routine that raises or
// lowers the IRQL. Only such a callee is lifted for its ExitIRQL when its
// caller is.
func (p *Program) changesIRQL(f *cfg.Func) bool {
	if p.irqlChanging == nil {
		p.irqlChanging = p.irqlChangers()
	}
	return p.irqlChanging[f]
}

// irqlChangers is every function changesIRQL holds true for, found at once:
// those that change the IRQL themselves, then, up the call graph, every
// caller of one. (Deciding one function at a time with recursion cut short
// left a function in a call cycle marked false for good.)
func (p *Program) irqlChangers() map[*cfg.Func]bool {
	out := map[*cfg.Func]bool{}
	callers := map[*cfg.Func][]*cfg.Func{}
	var work []*cfg.Func
	for _, f := range p.Funcs {
		direct := p.factsOf(f).writesCR8
		for _, c := range f.Calls {
			for _, ce := range c.Callees {
				if ce.Import != nil {
					direct = direct || irqlRoutines[ce.Import.Name]
				} else if g := p.Func(ce.Func); g != nil {
					callers[g] = append(callers[g], f)
				}
			}
		}
		if direct {
			out[f] = true
			work = append(work, f)
		}
	}
	for len(work) > 0 {
		g := work[len(work)-1]
		work = work[:len(work)-1]
		for _, f := range callers[g] {
			if !out[f] {
				out[f] = true
				work = append(work, f)
			}
		}
	}
	return out
}

// RaisesIRQL reports whether f itself raises the IRQL: it writes CR8
// (KeRaiseIrql is inline on x64) or calls a routine that raises it. Whether
// it still is raised at a call is what the symbolic pass says (CallSite.IRQL).
func (p *Program) RaisesIRQL(f *cfg.Func) bool {
	if p.factsOf(f).writesCR8 {
		return true
	}
	for _, c := range f.Calls {
		for _, ce := range c.Callees {
			if ce.Import != nil && raisesIRQL[ce.Import.Name] {
				return true
			}
		}
	}
	return false
}

// irqlEffect applies what a kernel routine does to the IRQL and returns
// its result when that is the previous IRQL (nil otherwise). KeRaiseIrql
// and KeLowerIrql are inline writes of CR8 on x64 (see symStep); these are
// the routines that do it out of line, and the spin locks.
func (ps *pass) irqlEffect(in *cfg.Inst, name string, args []*ir.Expr, st *symState) *ir.Expr {
	b := ps.b
	old := b.Zext(st.irql, 8)
	dispatch := b.Const(dispatchLevel, 1)
	switch name {
	case "KeGetCurrentIrql":
		return old
	case "KfRaiseIrql":
		st.irql = b.Trunc(args[0], 1)
		return old
	case "KeRaiseIrqlToDpcLevel", "KeAcquireSpinLockRaiseToDpc", "ExAcquireSpinLockExclusive",
		"ExAcquireSpinLockShared", "KeAcquireSpinLockForDpc":
		st.irql = dispatch
		return old
	case "KeRaiseIrqlToSynchLevel", "KeAcquireSpinLockRaiseToSynch", "KeAcquireInterruptSpinLock":
		st.irql = b.Const(dispatchLevel+1, 1) // above DISPATCH_LEVEL
		return old
	case "KeAcquireSpinLockAtDpcLevel", "KeAcquireInStackQueuedSpinLockAtDpcLevel":
		st.irql = dispatch
	case "KfLowerIrql":
		st.irql = b.Trunc(args[0], 1)
	case "KeReleaseSpinLock", "ExReleaseSpinLockExclusive", "ExReleaseSpinLockShared",
		"KeReleaseInterruptSpinLock", "KeReleaseSpinLockForDpc":
		st.irql = b.Trunc(args[1], 1)
	case "KeAcquireInStackQueuedSpinLock", "KeAcquireInStackQueuedSpinLockForDpc":
		// KLOCK_QUEUE_HANDLE.OldIrql is at offset 0x10.
		ps.store(st, b.Bin(ir.OpAdd, args[1], b.Const(0x10, 8)), 1, st.irql)
		st.irql = dispatch
	case "KeReleaseInStackQueuedSpinLock", "KeReleaseInStackQueuedSpinLockForDpc":
		a := b.Bin(ir.OpAdd, args[0], b.Const(0x10, 8))
		base, off := b.Base(a)
		v, _ := st.mem.load(b, base, off, 1)
		st.irql = v
	case "ExAcquireFastMutex":
		// A fast mutex raises to APC_LEVEL; FAST_MUTEX.OldIrql (offset
		// 0x30 on x64) keeps the IRQL it was acquired at.
		ps.store(st, b.Bin(ir.OpAdd, args[0], b.Const(fastMutexOldIrql, 8)), 1, st.irql)
		st.irql = b.Const(apcLevel, 1)
	case "ExReleaseFastMutex":
		a := b.Bin(ir.OpAdd, args[0], b.Const(fastMutexOldIrql, 8))
		base, off := b.Base(a)
		v, _ := st.mem.load(b, base, off, 1)
		st.irql = v
	}
	if st.irql == nil {
		st.irql = ps.opaque(in, ps.irqlLoc(), 1)
	}
	return nil
}

// apcLevel is APC_LEVEL; fastMutexOldIrql the offset of FAST_MUTEX.OldIrql
// (Count, Owner, Contention, Event, OldIrql: 0x30 on x64).
const (
	apcLevel         = 1
	fastMutexOldIrql = 0x30
)

// dispatchLevel is DISPATCH_LEVEL.
const dispatchLevel = 2

// hasREP reports a rep prefix.
func hasREP(in *cfg.Inst) bool {
	for _, p := range in.Prefix {
		if p == 0 {
			break
		}
		if p&0xff == x86asm.PrefixREP&0xff {
			return true
		}
	}
	return false
}
