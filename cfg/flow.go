package cfg

import (
	"sort"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/loader"
)

// maxHandlerTable caps the pointers read from a handler table indexed at run
// time.
const maxHandlerTable = 256

// pass holds what the transfer function needs besides the state.
type pass struct {
	img *loader.Image
	// thunks caches thunkImport by target: every direct call asks it, in
	// every pass over every block.
	thunks map[uint32]*loader.Import
}

func newPass(img *loader.Image) pass {
	return pass{img: img, thunks: map[uint32]*loader.Import{}}
}

// entryState is the state at a function's entry: parameters in rcx, rdx, r8
// and r9, rsp at offset 0.
func entryState(trackMemory bool) state {
	var st state
	for i, r := range argRegs {
		st.r[r] = Value{Kind: Param, P: uint8(i)}
	}
	st.r[rRSP] = Value{Kind: StackAddr}
	st.chk = -1
	if trackMemory {
		st.mem = newMemory()
	}
	return st
}

// fixpoint runs the forward pass over f's blocks until the states at block
// entries no longer change, and returns them.
func (ps *pass) fixpoint(f *Func, insts func(i int) []inst, trackMemory bool) ([]state, []bool) {
	blocks := f.Blocks
	at := make(map[uint32]int, len(blocks))
	for i, blk := range blocks {
		at[blk.Start] = i
	}
	in := make([]state, len(blocks))
	reached := make([]bool, len(blocks))
	start, ok := at[f.Entry]
	if !ok {
		return in, reached
	}
	in[start] = entryState(trackMemory)
	reached[start] = true
	work := []int{start}
	queued := make([]bool, len(blocks))
	queued[start] = true
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		queued[i] = false
		out := in[i].clone()
		code := insts(i)
		for k := range code {
			ps.step(&code[k], &out)
		}
		for _, e := range blocks[i].Succs {
			j, ok := at[e.To]
			if !ok {
				continue
			}
			changed := false
			if !reached[j] {
				reached[j], in[j], changed = true, out.clone(), true
			} else {
				changed = in[j].meet(&out)
			}
			if changed && !queued[j] {
				queued[j] = true
				work = append(work, j)
			}
		}
	}
	return in, reached
}

// flow runs the forward pass over f's blocks to a fixed point, then
// records call sites, tail jumps, code references, branch conditions and
// the frame size.
func (b *builder) flow(f *Func, a *analysis) {
	// Each block's instructions are a contiguous run of a.insts.
	runs := make([][]inst, len(f.Blocks))
	for i, blk := range f.Blocks {
		lo, ok := a.index[blk.Start]
		if !ok {
			continue
		}
		hi := lo
		for hi < len(a.insts) && a.insts[hi].rva < blk.End {
			hi++
		}
		runs[i] = a.insts[lo:hi]
	}
	insts := func(i int) []inst { return runs[i] }
	in, reached := b.fixpoint(f, insts, false)

	rec := &recorder{f: f}
	f.Calls, f.Refs, f.IRQLWrites = f.Calls[:0], f.Refs[:0], f.IRQLWrites[:0]
	for i, blk := range f.Blocks {
		st := in[i]
		if !reached[i] {
			st = state{chk: -1} // unreachable by the edges we know: no facts
		}
		blk.Cond, blk.CondOnStack = nil, false
		rec.blk = blk
		for k := range runs[i] {
			in := &runs[i][k]
			b.record(a, in, &st, rec)
			b.step(in, &st)
			if st.r[rRSP].Kind == StackAddr && st.r[rRSP].V < rec.minRSP {
				rec.minRSP = st.r[rRSP].V
			}
		}
	}
	f.FrameSize = uint32(-rec.minRSP)
	sort.Slice(f.Calls, func(i, j int) bool { return f.Calls[i].Site < f.Calls[j].Site })
	// Discover what the calls reach only after the function is recorded:
	// adding a function may enqueue this one again.
	for _, c := range f.Calls {
		for _, ce := range c.Callees {
			if ce.Func != 0 {
				src := FromCall
				if c.Tail {
					src = FromTailJump
				} else if c.Kind != CallDirect {
					src = FromJumpTarget
				}
				b.addFunc(ce.Func, src)
			}
		}
	}
	for _, r := range f.Refs {
		b.addFunc(r.Target, FromCodeRef)
	}
	if blk := f.Blocks[0]; blk.Start == f.Entry && blk.Term == TermTail && blk.Insts == 1 && len(f.Calls) == 1 {
		if cs := f.Calls[0]; cs.Kind == CallIAT && len(cs.Callees) == 1 {
			f.Thunk = cs.Callees[0].Import
		}
	}
}

// recorder collects what the final pass over a function finds.
type recorder struct {
	f      *Func
	blk    *Block
	minRSP int64
}

// step applies one instruction to the state.
func (ps *pass) step(in *inst, st *state) {
	chk := st.chk
	st.chk = -1
	unknown := func(rs ...int) {
		for _, r := range rs {
			st.r[r] = Value{}
		}
	}
	dst, dstIsReg := in.Args[0].(x86asm.Reg)
	d := -1
	if dstIsReg {
		d = regIndex(dst)
	}
	if !preservesFlags(in.Op) {
		st.flags = flagTest{}
	}
	switch in.Op {
	case x86asm.PUSH:
		if st.mem != nil && st.r[rRSP].Kind == StackAddr {
			st.mem.store(spaceStack, st.r[rRSP].V-8, 8, ps.operand(in, st, in.Args[0], 8))
		}
		adjust(st, -8)
	case x86asm.POP:
		if d >= 0 {
			st.r[d] = Value{}
			if st.mem != nil && st.r[rRSP].Kind == StackAddr {
				st.r[d], _ = st.mem.load(spaceStack, st.r[rRSP].V, 8)
			}
		}
		adjust(st, 8)
	case x86asm.CALL:
		if st.r[rRAX].Kind == Const {
			st.chk = st.r[rRAX].V
		}
		if st.mem != nil {
			ps.fillCall(in, st)
		}
		unknown(rRAX, rRCX, rRDX, rR8, rR9, rR10, rR11)
		if imp := ps.calledImport(in); imp != nil {
			st.r[rRAX] = Value{Kind: Returned, V: int64(imp.Slot)}
		}
		if st.mem != nil {
			st.mem.clobber(spaceXMM, xmmOff(0, 0), 6*16) // xmm0-5 are volatile
		}
	case x86asm.LEAVE:
		st.r[rRSP] = st.r[rRBP]
		adjust(st, 8)
		unknown(rRBP)
	case x86asm.MOV, x86asm.MOVSXD, x86asm.MOVZX, x86asm.MOVSX:
		if m, ok := in.Args[0].(x86asm.Mem); ok {
			ps.storeTo(in, st, m, in.MemBytes, ps.operand(in, st, in.Args[1], in.MemBytes))
			break
		}
		if d < 0 {
			break
		}
		if src, fromReg := in.Args[1].(x86asm.Reg); fromReg && in.Op != x86asm.MOV {
			// movzx/movsx of a narrower register: only a boolean (setcc)
			// or a parameter survives the widening.
			if v := st.r[regIndex(src)]; regIndex(src) >= 0 && (v.Kind == TestBit || v.Kind == Param) {
				st.r[d] = v
			} else {
				st.r[d] = Value{}
			}
			break
		}
		st.r[d] = ps.operand(in, st, in.Args[1], opSize(in))
		narrow(st, d, regWidth(dst))
	case x86asm.LEA:
		if d < 0 {
			break
		}
		st.r[d] = Value{}
		if m, ok := in.Args[1].(x86asm.Mem); ok && m.Index == 0 {
			switch {
			case m.Base == x86asm.RIP:
				st.r[d] = Value{Kind: Address, V: int64(in.next()) + disp(m)}
			case regIndex(m.Base) >= 0:
				st.r[d] = st.r[regIndex(m.Base)].plus(disp(m))
			}
		}
		narrow(st, d, regWidth(dst))
	case x86asm.XOR, x86asm.SUB:
		if src, ok := in.Args[1].(x86asm.Reg); ok && dstIsReg && src == dst {
			st.r[d] = Value{Kind: Const}
			break
		}
		fallthrough
	case x86asm.ADD:
		if d < 0 {
			ps.clobberMem(in, st)
			break
		}
		var delta int64
		known := false
		switch src := in.Args[1].(type) {
		case x86asm.Imm:
			delta, known = int64(src), true
		case x86asm.Reg:
			if s := st.r[regIndex(src)]; s.Kind == Const {
				delta, known = s.V, true
			} else if d == rRSP && regIndex(src) == rRAX && chk >= 0 {
				delta, known = chk, true // mov eax,N ; call __chkstk ; sub rsp,rax
			} else if t, ok := switchTarget(st.r[d], s); ok && in.Op == x86asm.ADD {
				st.r[d] = t // mov ecx,[base+idx*4+T] ; add rcx,base
				return
			}
		}
		if in.Op == x86asm.SUB {
			if _, isImm := in.Args[1].(x86asm.Imm); isImm && d >= 0 {
				// sub sets the flags as cmp does: a sub/je chain compares.
				st.flags = flagTest{ok: true, cmp: true, value: st.r[d], mask: delta, size: opSize(in)}
			}
			delta = -delta
		}
		if in.Op == x86asm.XOR || !known || regWidth(dst) != 64 && d == rRSP {
			st.r[d] = Value{}
			break
		}
		st.r[d] = st.r[d].plus(delta)
		narrow(st, d, regWidth(dst))
	case x86asm.TEST:
		switch src := in.Args[1].(type) {
		case x86asm.Imm:
			st.flags = flagTest{ok: true, value: ps.operand(in, st, in.Args[0], opSize(in)), mask: int64(src)}
			st.flags.stack = ps.onStack(in, st)
		case x86asm.Reg:
			if r, ok := in.Args[0].(x86asm.Reg); ok && r == src {
				st.flags = flagTest{ok: true, value: st.r[regIndex(r)], mask: -1}
			}
		}
	case x86asm.CMP:
		var imm int64
		isImm := false
		switch src := in.Args[1].(type) {
		case x86asm.Imm:
			imm, isImm = int64(src), true
		case x86asm.Reg: // cmp al,cl with cl a known constant
			if i := regIndex(src); i >= 0 && st.r[i].Kind == Const {
				imm, isImm = st.r[i].V, true
			}
		}
		if isImm {
			st.flags = flagTest{ok: true, cmp: true, value: ps.operand(in, st, in.Args[0], opSize(in)), mask: imm, size: opSize(in)}
			st.flags.stack = ps.onStack(in, st)
		}
	case x86asm.BT:
		if imm, ok := in.Args[1].(x86asm.Imm); ok && imm >= 0 && imm < 64 {
			st.flags = flagTest{ok: true, value: ps.operand(in, st, in.Args[0], opSize(in)), mask: 1 << uint(imm), bt: true}
		}
	case x86asm.AND, x86asm.OR:
		imm, isImm := in.Args[1].(x86asm.Imm)
		if isImm && in.Op == x86asm.AND {
			st.flags = flagTest{ok: true, value: ps.operand(in, st, in.Args[0], opSize(in)), mask: int64(imm)}
		}
		if d == rRSP {
			break // stack realignment: keep the depth as an approximation
		}
		switch {
		case d < 0 && isImm && imm == 0 && in.Op == x86asm.AND:
			// and qword [m],0 stores zero (compilers use it to clear fields).
			if m, ok := in.Args[0].(x86asm.Mem); ok {
				ps.storeTo(in, st, m, in.MemBytes, Value{Kind: Const})
			}
		case d >= 0 && isImm && in.Op == x86asm.AND:
			st.r[d] = st.r[d].apply(func(a int64) int64 { return a & int64(imm) })
			narrow(st, d, regWidth(dst))
		case d >= 0 && isImm:
			st.r[d] = st.r[d].apply(func(a int64) int64 { return a | int64(imm) })
			narrow(st, d, regWidth(dst))
		case d >= 0:
			unknown(d)
		default:
			ps.clobberMem(in, st)
		}
	case x86asm.SETNE, x86asm.SETE:
		f := st.flags
		if d >= 0 && f.ok && !f.cmp && !f.bt && f.value.Kind == Param && f.value.Depth > 0 && f.value.V == 0 {
			v := f.value
			v.Kind, v.V, v.W = TestBit, f.mask, 0
			if in.Op == x86asm.SETNE {
				v.W = 1
			}
			st.r[d] = v
		} else if d >= 0 {
			unknown(d)
		}
	case x86asm.SAR:
		// sar r,31 (r32) or sar r,63 (r64): 0 or -1 by the sign.
		if imm, ok := in.Args[1].(x86asm.Imm); ok && d >= 0 && int(imm) == regWidth(dst)-1 {
			st.r[d] = Value{Kind: Choice, V: 0, W: -1}
			narrow(st, d, regWidth(dst))
		} else if d >= 0 {
			unknown(d)
		}
	case x86asm.SBB:
		// sbb r,r after a compare: 0 or -1 by the carry.
		if src, ok := in.Args[1].(x86asm.Reg); ok && dstIsReg && src == dst {
			st.r[d] = Value{Kind: Choice, V: 0, W: -1}
			narrow(st, d, regWidth(dst))
		} else if d >= 0 {
			unknown(d)
		}
	case x86asm.XCHG:
		if d >= 0 {
			unknown(d)
		}
		if r, ok := in.Args[1].(x86asm.Reg); ok && regIndex(r) >= 0 {
			unknown(regIndex(r))
		}
	case x86asm.MUL, x86asm.DIV, x86asm.IDIV, x86asm.CQO, x86asm.CDQ, x86asm.CWD, x86asm.RDTSC, x86asm.RDMSR:
		unknown(rRAX, rRDX)
	case x86asm.IMUL:
		unknown(rRAX, rRDX)
		if d >= 0 {
			unknown(d)
		}
	case x86asm.CPUID:
		unknown(rRAX, rRBX, rRCX, rRDX)
	case x86asm.RDTSCP:
		unknown(rRAX, rRCX, rRDX)
	case x86asm.SYSCALL:
		unknown(rRAX, rRCX, rR11)
	case x86asm.STOSB, x86asm.STOSQ:
		if st.mem != nil && hasREP(in) {
			width := int64(1)
			if in.Op == x86asm.STOSQ {
				width = 8
			}
			if n := st.r[rRCX]; n.Kind == Const {
				ps.fill(st, st.r[rRDI], st.r[rRAX], n.V*width)
			}
		}
		unknown(rRAX, rRCX, rRSI, rRDI)
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.STOSW, x86asm.STOSD,
		x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ, x86asm.SCASB, x86asm.SCASW,
		x86asm.SCASD, x86asm.SCASQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
		unknown(rRAX, rRCX, rRSI, rRDI)
	case x86asm.CMPXCHG, x86asm.CMPXCHG8B, x86asm.CMPXCHG16B, x86asm.CWDE, x86asm.CDQE, x86asm.CBW:
		unknown(rRAX, rRDX)
		if d >= 0 {
			unknown(d)
		}
	case x86asm.MOVQ, x86asm.MOVUPS, x86asm.MOVAPS, x86asm.MOVDQU, x86asm.MOVDQA, x86asm.MOVUPD, x86asm.MOVAPD,
		x86asm.LDDQU, x86asm.PUNPCKLQDQ, x86asm.PXOR, x86asm.XORPS, x86asm.XORPD:
		ps.vector(in, st, d)
	default:
		if d >= 0 && writesArg0(in.Op) {
			unknown(d)
		} else if _, isMem := in.Args[0].(x86asm.Mem); isMem && writesArg0(in.Op) {
			ps.clobberMem(in, st)
		}
	}
}

// hasREP reports a rep prefix.
func hasREP(in *inst) bool {
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

// maxFill bounds the bytes a memset the evaluation models may write.
const maxFill = 4096

// fillCall models memset(dst, c, n) and RtlFillMemory-style imports with
// constant arguments: structures are often zeroed before their fields are
// set (RtlZeroMemory is memset).
func (ps *pass) fillCall(in *inst, st *state) {
	slot, ok := ripSlot(in)
	if !ok {
		return
	}
	imp, ok := ps.img.ImportAt(slot)
	if !ok {
		return
	}
	switch imp.Name {
	case "memset":
		if n := st.r[rR8]; n.Kind == Const {
			ps.fill(st, st.r[rRCX], st.r[rRDX], n.V)
		}
	case "RtlFillMemory": // (dst, length, fill)
		if n := st.r[rRDX]; n.Kind == Const {
			ps.fill(st, st.r[rRCX], st.r[rR8], n.V)
		}
	}
}

// fill stores n copies of the low byte of c at dst.
func (ps *pass) fill(st *state, dst, c Value, n int64) {
	if c.Kind != Const || n <= 0 || n > maxFill {
		return
	}
	var space uint8
	switch dst.Kind {
	case StackAddr:
		space = spaceStack
	case Address:
		space = spaceGlobal
	default:
		return
	}
	b := uint64(c.V & 0xff)
	word := int64(b * 0x0101010101010101)
	for off := int64(0); off < n; off += 8 {
		size := min(8, n-off)
		v := Value{Kind: Const, V: word}
		if size < 8 {
			v.V &= 1<<(8*uint(size)) - 1
		}
		st.mem.store(space, dst.V+off, int(size), v)
	}
}

// switchTarget combines a 4-byte jump-table entry and the base it is
// relative to, in either order.
func switchTarget(a, b Value) (Value, bool) {
	if a.Kind == Address && b.Kind == TableEntry {
		a, b = b, a
	}
	if a.Kind != TableEntry || a.P != 4 || b.Kind != Address || b.V != int64(int32(b.V)) {
		return Value{}, false
	}
	return Value{Kind: SwitchTarget, V: a.V, P: 4, Depth: a.Depth, Path: [MaxDepth]int32{int32(b.V)}}, true
}

// vector tracks the 64-bit lanes of xmm registers through the moves
// compilers use to copy and store pairs of pointers (movq, punpcklqdq,
// movups). Only when memory is tracked.
func (ps *pass) vector(in *inst, st *state, d int) {
	if d >= 0 { // movq r64, xmm
		st.r[d] = Value{}
		if st.mem != nil {
			if x, ok := in.Args[1].(x86asm.Reg); ok && xmmIndex(x) >= 0 {
				st.r[d], _ = st.mem.load(spaceXMM, xmmOff(xmmIndex(x), 0), 8)
			}
		}
		return
	}
	if st.mem == nil {
		if _, ok := in.Args[0].(x86asm.Mem); ok {
			ps.clobberMem(in, st)
		}
		return
	}
	lane := func(x, l int) Value { v, _ := st.mem.load(spaceXMM, xmmOff(x, l), 8); return v }
	setLane := func(x, l int, v Value) { st.mem.store(spaceXMM, xmmOff(x, l), 8, v) }
	switch dst := in.Args[0].(type) {
	case x86asm.Mem: // store of an xmm register
		x, ok := in.Args[1].(x86asm.Reg)
		if !ok || xmmIndex(x) < 0 {
			ps.clobberMem(in, st)
			return
		}
		xi := xmmIndex(x)
		if in.Op == x86asm.MOVQ || in.MemBytes == 8 {
			ps.storeTo(in, st, dst, 8, lane(xi, 0))
			return
		}
		if space, off, ok := ps.address(in, st, dst); ok {
			st.mem.store(space, off, 8, lane(xi, 0))
			st.mem.store(space, off+8, 8, lane(xi, 1))
		}
	case x86asm.Reg:
		xd := xmmIndex(dst)
		if xd < 0 {
			return
		}
		var lo, hi Value
		switch src := in.Args[1].(type) {
		case x86asm.Reg:
			switch xs := xmmIndex(src); {
			case in.Op == x86asm.PXOR || in.Op == x86asm.XORPS || in.Op == x86asm.XORPD:
				if xs == xd {
					lo, hi = Value{Kind: Const}, Value{Kind: Const}
				}
			case in.Op == x86asm.PUNPCKLQDQ:
				if xs >= 0 {
					lo, hi = lane(xd, 0), lane(xs, 0)
				}
			case in.Op == x86asm.MOVQ && xs < 0: // movq xmm, r64
				lo, hi = st.r[regIndex(src)], Value{Kind: Const}
			case xs >= 0 && in.Op != x86asm.MOVQ:
				lo, hi = lane(xs, 0), lane(xs, 1)
			case xs >= 0:
				lo, hi = lane(xs, 0), Value{Kind: Const}
			}
		case x86asm.Mem:
			if space, off, ok := ps.address(in, st, src); ok {
				lo = ps.loadAt(st, space, off, 8)
				switch {
				case in.Op == x86asm.PUNPCKLQDQ:
					lo, hi = lane(xd, 0), lo
				case in.Op == x86asm.MOVQ:
					hi = Value{Kind: Const}
				default:
					hi = ps.loadAt(st, space, off+8, 8)
				}
			}
		}
		setLane(xd, 0, lo)
		setLane(xd, 1, hi)
	}
}

// xmmOff is where lane l (0 low, 1 high) of xmm register x lives in the
// xmm memory space: 16 bytes a register, so lanes never overlap.
func xmmOff(x, l int) int64 { return int64(16*x + 8*l) }

// operand evaluates a source operand of size bytes.
func (ps *pass) operand(in *inst, st *state, arg x86asm.Arg, size int) Value {
	switch s := arg.(type) {
	case x86asm.Imm:
		// mov r64, imm64 carrying a base relocation is an address.
		if in.Len >= 10 && ps.img.HasReloc(in.rva+uint32(in.Len)-8) {
			if rva, ok := ps.img.RVA(uint64(s)); ok {
				return Value{Kind: Address, V: int64(rva)}
			}
		}
		v := int64(s)
		if size > 0 && size < 8 {
			v &= 1<<(8*uint(size)) - 1
		}
		return Value{Kind: Const, V: v}
	case x86asm.Reg:
		if i := regIndex(s); i >= 0 {
			return st.r[i]
		}
	case x86asm.Mem:
		return ps.load(in, st, s, size)
	}
	return Value{}
}

// load evaluates a read of size bytes from memory operand m.
func (ps *pass) load(in *inst, st *state, m x86asm.Mem, size int) Value {
	bi := regIndex(m.Base)
	if m.Index != 0 {
		// [table + idx*scale]: an entry of a pointer table (8 bytes) or a
		// jump table of offsets (4 bytes) at a known address.
		if bi >= 0 && st.r[bi].Kind == Address && int(m.Scale) == size && (size == 8 || size == 4) {
			v := Value{Kind: TableEntry, V: st.r[bi].V + disp(m), P: uint8(size)}
			if in.Op == x86asm.MOVSXD {
				v.Depth = 1
			}
			return v
		}
		return Value{}
	}
	if bi >= 0 && st.r[bi].Kind == Param {
		return st.r[bi].load(disp(m))
	}
	space, off, ok := ps.address(in, st, m)
	if !ok {
		return Value{}
	}
	if st.mem != nil {
		if v, found := st.mem.load(space, off, size); found {
			return v
		}
	}
	if space == spaceGlobal && size == 8 {
		// An IAT slot or a global pointer: resolved at the call.
		return Value{Kind: Loaded, V: off}
	}
	return Value{}
}

// loadAt reads memory, falling back to the image for globals.
func (ps *pass) loadAt(st *state, space uint8, off int64, size int) Value {
	if v, found := st.mem.load(space, off, size); found {
		return v
	}
	if space == spaceGlobal && off >= 0 && off <= 0xffffffff {
		if sec := ps.img.Section(uint32(off)); sec != nil && !sec.Writable() {
			return imageValue(ps.img, uint32(off), size)
		}
	}
	return Value{}
}

// address resolves a memory operand without index to a tracked location.
func (ps *pass) address(in *inst, st *state, m x86asm.Mem) (uint8, int64, bool) {
	if m.Index != 0 {
		return 0, 0, false
	}
	if m.Base == x86asm.RIP {
		return spaceGlobal, int64(in.next()) + disp(m), true
	}
	bi := regIndex(m.Base)
	if bi < 0 {
		return 0, 0, false
	}
	switch v := st.r[bi]; v.Kind {
	case StackAddr:
		return spaceStack, v.V + disp(m), true
	case Address:
		return spaceGlobal, v.V + disp(m), true
	}
	return 0, 0, false
}

// storeTo records a store when memory is tracked. A store through an
// unknown pointer is assumed not to alias tracked cells.
func (ps *pass) storeTo(in *inst, st *state, m x86asm.Mem, size int, v Value) {
	if st.mem == nil || size <= 0 {
		return
	}
	if space, off, ok := ps.address(in, st, m); ok {
		// A narrow store keeps constants, and loaded parameter fields (a
		// Debug build spills Data->Iopb->MajorFunction with mov [rsp+20h],al
		// and compares the slot).
		if size < 8 && v.Kind != Const && !(v.Kind == Param && v.Depth > 0) {
			v = Value{}
		}
		st.mem.store(space, off, size, v)
	}
}

// clobberMem forgets the destination of a read-modify-write memory operand.
func (ps *pass) clobberMem(in *inst, st *state) {
	if st.mem == nil {
		return
	}
	if m, ok := in.Args[0].(x86asm.Mem); ok {
		if space, off, ok := ps.address(in, st, m); ok {
			st.mem.clobber(space, off, max(in.MemBytes, 1))
		}
	}
}

// onStack reports whether the first operand is a stack slot (rsp- or
// rbp-based memory, or any address the pass knows is on the stack).
func (ps *pass) onStack(in *inst, st *state) bool {
	m, ok := in.Args[0].(x86asm.Mem)
	if !ok || m.Index != 0 {
		return false
	}
	if m.Base == x86asm.RSP || m.Base == x86asm.RBP {
		return true
	}
	bi := regIndex(m.Base)
	return bi >= 0 && st.r[bi].Kind == StackAddr
}

// opSize is the size in bytes of an instruction's operands: the memory
// operand's when there is one, else the first register's.
func opSize(in *inst) int {
	if in.MemBytes > 0 {
		return in.MemBytes
	}
	if r, ok := in.Args[0].(x86asm.Reg); ok && regIndex(r) >= 0 {
		return regWidth(r) / 8
	}
	return 8
}

// preservesFlags lists the instructions between a test and its jcc that
// leave the flags alone.
func preservesFlags(op x86asm.Op) bool {
	switch op {
	case x86asm.MOV, x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD, x86asm.LEA, x86asm.PUSH, x86asm.POP, x86asm.NOP,
		x86asm.MOVQ, x86asm.MOVUPS, x86asm.MOVAPS, x86asm.MOVDQU, x86asm.MOVDQA,
		x86asm.SETE, x86asm.SETNE, x86asm.CMOVE, x86asm.CMOVNE: // these read the flags
		return true
	}
	return isJcc(op)
}

// narrow applies a write to a register narrower than 64 bits: 32-bit writes
// zero-extend, so constants and parameter fields survive; of a partial
// register only a loaded parameter field survives.
func narrow(st *state, d, width int) {
	switch width {
	case 64:
	case 32:
		switch st.r[d].Kind {
		case Const:
			st.r[d].V = int64(uint32(st.r[d].V))
		case Choice:
			st.r[d].V, st.r[d].W = int64(uint32(st.r[d].V)), int64(uint32(st.r[d].W))
		case TableEntry:
			if st.r[d].P != 4 {
				st.r[d] = Value{}
			}
		case Param, Returned, TestBit: // fields, results and booleans fit in 32 bits
		default:
			st.r[d] = Value{}
		}
	default:
		// A field loaded into a partial register (mov al,[rax+4]) is still
		// that field for the compare that follows (cmp al,3), and a boolean
		// copied byte-wise (mov dl,bpl) is still that boolean.
		if v := st.r[d]; v.Kind != Param && v.Kind != TestBit {
			st.r[d] = Value{}
		}
	}
}

func adjust(st *state, delta int64) {
	if st.r[rRSP].Kind == StackAddr {
		st.r[rRSP].V += delta
	}
}

// record notes the call sites, tail jumps and code references of one
// instruction, given the state before it.
func (b *builder) record(a *analysis, in *inst, st *state, rec *recorder) {
	f := rec.f
	depth := uint32(0)
	if st.r[rRSP].Kind == StackAddr && st.r[rRSP].V < 0 {
		depth = uint32(-st.r[rRSP].V)
	}
	newSite := func(kind CallKind, tail bool, callees []Callee) {
		cs := &CallSite{Site: in.rva, Kind: kind, Tail: tail, Callees: callees, StackDepth: depth}
		for i, r := range argRegs {
			cs.Args[i] = st.r[r]
		}
		f.Calls = append(f.Calls, cs)
	}
	switch {
	case in.Op == x86asm.CALL:
		kind, callees := b.resolve(in, st)
		newSite(kind, false, callees)
	case in.Op == x86asm.JMP || isJcc(in.Op):
		if isJcc(in.Op) && st.flags.ok {
			rec.blk.Cond = branchCond(in.Op, st.flags)
			rec.blk.CondOnStack = rec.blk.Cond == nil && st.flags.stack
		}
		if targets := a.tails[in.rva]; len(targets) > 0 {
			callees := make([]Callee, len(targets))
			for i, t := range targets {
				callees[i] = Callee{Func: t}
			}
			kind := CallDirect
			if a.term[in.rva] == TermSwitch {
				kind = CallTable
			}
			newSite(kind, true, callees)
		} else if in.Op == x86asm.JMP && a.term[in.rva] == TermTail {
			kind, callees := b.resolve(in, st)
			if r, viaReg := in.Args[0].(x86asm.Reg); viaReg && kind == CallUnresolved {
				if v := st.r[regIndex(r)]; v.Kind == SwitchTarget {
					b.lateTable(rec.f, in.rva, v)
				}
				// jmp reg to an unknown target: a computed jump inside the
				// function (MSVC memset's lea r11,[rip+6]; ...; jmp r11),
				// not evidence of a tail call.
				rec.blk.Term = TermIndirect
				break
			}
			newSite(kind, true, callees)
		}
	case in.Op == x86asm.MOV && in.Args[0] == x86asm.CR8:
		f.IRQLWrites = append(f.IRQLWrites, IRQLWrite{Site: in.rva, Value: b.operand(in, st, in.Args[1], 8)})
	case in.Op == x86asm.LEA:
		if m, ok := in.Args[1].(x86asm.Mem); ok && m.Base == x86asm.RIP && m.Index == 0 {
			b.codeRef(a, in, uint32(int64(in.next())+disp(m)), rec)
		}
	case in.Op == x86asm.MOV && in.Len >= 10:
		if imm, ok := in.Args[1].(x86asm.Imm); ok && b.img.HasReloc(in.rva+uint32(in.Len)-8) {
			if rva, ok := b.img.RVA(uint64(imm)); ok {
				b.codeRef(a, in, rva, rec)
			}
		}
	}
}

// lateTable records a jump table the forward pass resolved at a jmp reg the
// descent could not follow (the base register was loaded far from the jmp),
// and has the function decoded again with the table's targets.
func (b *builder) lateTable(f *Func, site uint32, v Value) {
	if _, ok := b.lateTables[site]; ok {
		return
	}
	b.lateTables[site] = v
	b.enqueue(f)
}

// codeRef records an address taken in code when it points at code outside
// the current function (an address inside it is a label, not a function).
func (b *builder) codeRef(a *analysis, in *inst, t uint32, rec *recorder) {
	if !b.img.Executable(t) {
		return
	}
	if _, inside := a.index[t]; inside && t != rec.f.Entry || a.tables[t] || a.midInstruction(t) {
		return
	}
	rec.f.Refs = append(rec.f.Refs, Ref{Site: in.rva, Target: t})
}

// resolve finds the callees of a call or indirect jmp.
func (b *builder) resolve(in *inst, st *state) (CallKind, []Callee) {
	if t, ok := relTarget(in); ok {
		return CallDirect, []Callee{{Func: t}}
	}
	switch arg := in.Args[0].(type) {
	case x86asm.Mem:
		if arg.Base == x86asm.RIP && arg.Index == 0 {
			return b.slotCallees(uint32(int64(in.next())+disp(arg)), st)
		}
		bi := regIndex(arg.Base)
		if bi >= 0 && st.r[bi].Kind == Address {
			if arg.Index != 0 && arg.Scale == 8 {
				return b.tableCallees(uint32(st.r[bi].V + disp(arg)))
			}
			if arg.Index == 0 {
				return b.slotCallees(uint32(st.r[bi].V+disp(arg)), st)
			}
		}
		if arg.Base == 0 && arg.Index != 0 && arg.Scale == 8 {
			if rva, ok := b.img.RVA(uint64(disp(arg))); ok {
				return b.tableCallees(rva)
			}
		}
	case x86asm.Reg:
		if i := regIndex(arg); i >= 0 {
			return b.valueCallees(st.r[i])
		}
	}
	return CallUnresolved, nil
}

// slotCallees resolves a call through the pointer stored at slot.
func (b *builder) slotCallees(slot uint32, st *state) (CallKind, []Callee) {
	img := b.img
	if imp, ok := img.ImportAt(slot); ok {
		return CallIAT, []Callee{{Import: imp}}
	}
	t, ok := img.PointerAt(slot)
	if slot != 0 && (slot == img.GuardCF.DispatchSlot || ok && b.isJmpRax(t)) {
		// Control Flow Guard dispatch: the real target is in rax.
		if k, c := b.valueCallees(st.r[rRAX]); k != CallUnresolved {
			return CallGuard, c
		}
		return CallUnresolved, nil
	}
	if ok && img.Executable(t) {
		return CallPointer, []Callee{{Func: t}}
	}
	return CallUnresolved, nil
}

// isJmpRax reports whether the code at rva is jmp rax (_guard_dispatch_icall_nop).
func (b *builder) isJmpRax(rva uint32) bool {
	code := b.img.Bytes(rva, 2)
	return len(code) == 2 && code[0] == 0xff && code[1] == 0xe0
}

// valueCallees resolves a call through a register holding v.
func (b *builder) valueCallees(v Value) (CallKind, []Callee) {
	img := b.img
	switch v.Kind {
	case Address:
		if img.Executable(uint32(v.V)) {
			return CallPointer, []Callee{{Func: uint32(v.V)}}
		}
	case Const:
		if rva, ok := img.RVA(uint64(v.V)); ok && img.Executable(rva) {
			return CallPointer, []Callee{{Func: rva}}
		}
	case Loaded:
		if imp, ok := img.ImportAt(uint32(v.V)); ok {
			return CallIATRegister, []Callee{{Import: imp}}
		}
		if t, ok := img.PointerAt(uint32(v.V)); ok && img.Executable(t) {
			return CallPointer, []Callee{{Func: t}}
		}
	case TableEntry:
		if v.P == 8 {
			return b.tableCallees(uint32(v.V))
		}
	}
	return CallUnresolved, nil
}

// tableCallees reads a handler table: consecutive relocated pointers to code
// (or IAT slots) starting at rva. When the first entry is not one, the table
// may be an array of structures indexed by a scaled row number
// (mov rax,[rax+r13*8+8] with r13 = 3*index), whose stride the instruction
// does not say: then every code pointer of the table-shaped region that
// follows (relocated code pointers, NULLs and small integers) is a callee, an
// over-approximation that keeps the handlers reachable.
func (b *builder) tableCallees(rva uint32) (CallKind, []Callee) {
	var out []Callee
	for i := uint32(0); i < maxHandlerTable; i++ {
		t, ok := b.img.PointerAt(rva + 8*i)
		if !ok || !b.img.Executable(t) {
			break
		}
		out = append(out, Callee{Func: t})
	}
	if len(out) == 0 {
		out = b.structTableCallees(rva)
	}
	if len(out) == 0 {
		return CallUnresolved, nil
	}
	return CallTable, out
}

// maxStructTable bounds the region read by structTableCallees, in qwords.
const maxStructTable = 512

func (b *builder) structTableCallees(rva uint32) []Callee {
	var out []Callee
	seen := map[uint32]bool{}
	for i := uint32(0); i < maxStructTable; i++ {
		at := rva + 8*i
		if t, ok := b.img.PointerAt(at); ok {
			if !b.img.Executable(t) {
				break
			}
			if !seen[t] {
				seen[t] = true
				out = append(out, Callee{Func: t})
			}
			continue
		}
		// A NULL or a small integer (a row's id or flags) continues the
		// table; anything else ends it.
		v, ok := b.img.Uint64(at)
		if !ok || v >= 0x10000 {
			break
		}
	}
	return out
}

// branchCond turns the flags a jcc reads into a Cond: je/jne after test or
// and, jc/jnc after bt, and any relation after cmp (or sub) with an
// immediate.
func branchCond(op x86asm.Op, f flagTest) *Cond {
	if f.value.Kind == Unknown {
		return nil
	}
	if f.cmp {
		rel, ok := relations[op]
		if !ok {
			return nil
		}
		c := &Cond{Value: f.value, Cmp: true, Rel: rel, Imm: f.mask, Size: f.size}
		if c.Value.Kind == Param && c.Value.V != 0 {
			// (field + v) rel imm: compare the field itself when the
			// relation is an equality (sub chains); order relations would
			// wrap differently, so they keep the offset.
			if rel == RelEq || rel == RelNe {
				c.Imm -= c.Value.V
				c.Value.V = 0
			}
		}
		return c
	}
	c := &Cond{Value: f.value, Mask: f.mask}
	switch {
	case !f.bt && op == x86asm.JE:
		c.TakenIfZero = true
	case !f.bt && op == x86asm.JNE:
	case f.bt && op == x86asm.JAE: // jnc: bit clear
		c.TakenIfZero = true
	case f.bt && op == x86asm.JB: // jc: bit set
	default:
		return nil
	}
	return c
}

var relations = map[x86asm.Op]Relation{
	x86asm.JE: RelEq, x86asm.JNE: RelNe, x86asm.JB: RelUlt, x86asm.JBE: RelUle, x86asm.JA: RelUgt, x86asm.JAE: RelUge,
	x86asm.JL: RelSlt, x86asm.JLE: RelSle, x86asm.JG: RelSgt, x86asm.JGE: RelSge,
}
