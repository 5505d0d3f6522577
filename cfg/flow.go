package cfg

import (
	"sort"

	"golang.org/x/arch/x86/x86asm"
)

// maxHandlerTable caps the pointers read from a handler table indexed at run
// time.
const maxHandlerTable = 256

// regs is the forward pass's state at one program point.
type regs [nRegs]Value

// meet keeps what both predecessors agree on.
func (r *regs) meet(o *regs) bool {
	changed := false
	for i := range r {
		if r[i] != o[i] && r[i].Kind != Unknown {
			r[i] = Value{}
			changed = true
		}
	}
	return changed
}

// flow runs the forward constant pass over f's blocks to a fixed point, then
// records call sites, tail jumps, code references and the frame size.
func (b *builder) flow(f *Func, a *analysis) {
	blocks := f.Blocks
	at := make(map[uint32]int, len(blocks))
	for i, blk := range blocks {
		at[blk.Start] = i
	}
	in := make([]regs, len(blocks))
	reached := make([]bool, len(blocks))
	start, ok := at[f.Entry]
	if !ok {
		return
	}
	in[start][rRSP] = Value{Kind: StackAddr}
	reached[start] = true
	work := []int{start}
	queued := make([]bool, len(blocks))
	queued[start] = true
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		queued[i] = false
		out := in[i]
		b.transferBlock(a, blocks[i], &out, nil)
		for _, e := range blocks[i].Succs {
			j, ok := at[e.To]
			if !ok {
				continue
			}
			changed := false
			if !reached[j] {
				reached[j], in[j], changed = true, out, true
			} else {
				changed = in[j].meet(&out)
			}
			if changed && !queued[j] {
				queued[j] = true
				work = append(work, j)
			}
		}
	}

	rec := &recorder{f: f, minRSP: 0}
	f.Calls, f.Refs = f.Calls[:0], f.Refs[:0]
	for i, blk := range blocks {
		st := in[i]
		if !reached[i] {
			st = regs{} // unreachable from the entry by the edges we know: no facts
		}
		b.transferBlock(a, blk, &st, rec)
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
	if blk := blocks[0]; blk.Start == f.Entry && blk.Term == TermTail && blk.Insts == 1 && len(f.Calls) == 1 {
		if cs := f.Calls[0]; cs.Kind == CallIAT && len(cs.Callees) == 1 {
			f.Thunk = cs.Callees[0].Import
		}
	}
}

// recorder collects what the final pass over a function finds.
type recorder struct {
	f      *Func
	minRSP int64
}

func (b *builder) transferBlock(a *analysis, blk *Block, st *regs, rec *recorder) {
	i, ok := a.index[blk.Start]
	if !ok {
		return
	}
	chk := int64(-1) // rax before the last call, for __chkstk probes
	for ; i < len(a.insts) && a.insts[i].rva < blk.End; i++ {
		in := &a.insts[i]
		if rec != nil {
			b.record(a, in, st, rec)
		}
		chk = b.step(in, st, chk)
		if rec != nil && st[rRSP].Kind == StackAddr && st[rRSP].V < rec.minRSP {
			rec.minRSP = st[rRSP].V
		}
	}
}

// step applies one instruction to the register state.
func (b *builder) step(in *inst, st *regs, chk int64) int64 {
	unknown := func(rs ...int) {
		for _, r := range rs {
			st[r] = Value{}
		}
	}
	dst, dstIsReg := in.Args[0].(x86asm.Reg)
	d := -1
	if dstIsReg {
		d = regIndex(dst)
	}
	switch in.Op {
	case x86asm.PUSH:
		adjust(st, -8)
	case x86asm.POP:
		if d >= 0 {
			unknown(d)
		}
		adjust(st, 8)
	case x86asm.CALL:
		next := int64(-1)
		if st[rRAX].Kind == Const {
			next = st[rRAX].V
		}
		unknown(rRAX, rRCX, rRDX, rR8, rR9, rR10, rR11)
		return next
	case x86asm.LEAVE:
		st[rRSP] = st[rRBP]
		adjust(st, 8)
		unknown(rRBP)
	case x86asm.MOV, x86asm.MOVSXD, x86asm.MOVZX, x86asm.MOVSX:
		if d < 0 {
			break // a store: memory is not tracked
		}
		if _, fromReg := in.Args[1].(x86asm.Reg); fromReg && in.Op != x86asm.MOV {
			st[d] = Value{} // movzx/movsx of a narrower register: not tracked
			break
		}
		st[d] = b.source(in, st, in.Args[1])
		narrow(st, d, regWidth(dst))
	case x86asm.LEA:
		if d < 0 {
			break
		}
		st[d] = Value{}
		if m, ok := in.Args[1].(x86asm.Mem); ok && m.Index == 0 {
			switch {
			case m.Base == x86asm.RIP:
				st[d] = Value{Kind: Address, V: int64(in.next()) + disp(m)}
			case regIndex(m.Base) >= 0:
				if v := st[regIndex(m.Base)]; v.Kind == StackAddr || v.Kind == Address || v.Kind == Const {
					st[d] = Value{Kind: v.Kind, V: v.V + disp(m)}
				}
			}
		}
		narrow(st, d, regWidth(dst))
	case x86asm.XOR, x86asm.SUB:
		if src, ok := in.Args[1].(x86asm.Reg); ok && dstIsReg && src == dst {
			st[d] = Value{Kind: Const}
			break
		}
		fallthrough
	case x86asm.ADD:
		if d < 0 {
			break
		}
		var delta int64
		known := false
		switch src := in.Args[1].(type) {
		case x86asm.Imm:
			delta, known = int64(src), true
		case x86asm.Reg:
			if s := st[regIndex(src)]; s.Kind == Const {
				delta, known = s.V, true
			} else if d == rRSP && regIndex(src) == rRAX && chk >= 0 {
				delta, known = chk, true // mov eax,N ; call __chkstk ; sub rsp,rax
			}
		}
		if in.Op == x86asm.SUB {
			delta = -delta
		}
		if in.Op == x86asm.XOR || !known || regWidth(dst) != 64 && d == rRSP {
			st[d] = Value{}
			break
		}
		if v := st[d]; v.Kind == Const || v.Kind == StackAddr || v.Kind == Address {
			st[d].V += delta
			narrow(st, d, regWidth(dst))
		} else {
			st[d] = Value{}
		}
	case x86asm.AND:
		if d == rRSP {
			break // stack realignment: keep the depth as an approximation
		}
		if d >= 0 {
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
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.STOSB, x86asm.STOSW, x86asm.STOSD,
		x86asm.STOSQ, x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ, x86asm.SCASB, x86asm.SCASW,
		x86asm.SCASD, x86asm.SCASQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
		unknown(rRAX, rRCX, rRSI, rRDI)
	case x86asm.CMPXCHG, x86asm.CMPXCHG8B, x86asm.CMPXCHG16B, x86asm.CWDE, x86asm.CDQE, x86asm.CBW:
		unknown(rRAX, rRDX)
		if d >= 0 {
			unknown(d)
		}
	default:
		if d >= 0 && writesArg0(in.Op) {
			unknown(d)
		}
	}
	return -1
}

// source evaluates the second operand of a mov.
func (b *builder) source(in *inst, st *regs, arg x86asm.Arg) Value {
	switch s := arg.(type) {
	case x86asm.Imm:
		// mov r64, imm64 carrying a base relocation is an address.
		if in.Len >= 10 && b.img.HasReloc(in.rva+uint32(in.Len)-8) {
			if rva, ok := b.img.RVA(uint64(s)); ok {
				return Value{Kind: Address, V: int64(rva)}
			}
		}
		return Value{Kind: Const, V: int64(s)}
	case x86asm.Reg:
		if i := regIndex(s); i >= 0 {
			return st[i]
		}
	case x86asm.Mem:
		if in.MemBytes != 8 {
			return Value{}
		}
		if s.Base == x86asm.RIP && s.Index == 0 {
			return Value{Kind: Loaded, V: int64(in.next()) + disp(s)}
		}
		bi := regIndex(s.Base)
		if bi < 0 || st[bi].Kind != Address {
			return Value{}
		}
		if s.Index != 0 && s.Scale == 8 {
			return Value{Kind: TableEntry, V: st[bi].V + disp(s)}
		}
		if s.Index == 0 {
			return Value{Kind: Loaded, V: st[bi].V + disp(s)}
		}
	}
	return Value{}
}

// narrow applies a write to a register narrower than 64 bits: 32-bit writes
// zero-extend, so constants survive; anything else about a partial register
// is forgotten.
func narrow(st *regs, d, width int) {
	switch width {
	case 64:
	case 32:
		if st[d].Kind == Const {
			st[d].V = int64(uint32(st[d].V))
		} else {
			st[d] = Value{}
		}
	default:
		st[d] = Value{}
	}
}

func adjust(st *regs, delta int64) {
	if st[rRSP].Kind == StackAddr {
		st[rRSP].V += delta
	}
}

// record notes the call sites, tail jumps and code references of one
// instruction, given the state before it.
func (b *builder) record(a *analysis, in *inst, st *regs, rec *recorder) {
	f := rec.f
	depth := uint32(0)
	if st[rRSP].Kind == StackAddr && st[rRSP].V < 0 {
		depth = uint32(-st[rRSP].V)
	}
	newSite := func(kind CallKind, tail bool, callees []Callee) {
		cs := &CallSite{Site: in.rva, Kind: kind, Tail: tail, Callees: callees, StackDepth: depth}
		for i, r := range argRegs {
			cs.Args[i] = st[r]
		}
		f.Calls = append(f.Calls, cs)
	}
	switch {
	case in.Op == x86asm.CALL:
		kind, callees := b.resolve(in, st)
		newSite(kind, false, callees)
	case in.Op == x86asm.JMP || isJcc(in.Op):
		if targets := a.tails[in.rva]; len(targets) > 0 {
			callees := make([]Callee, len(targets))
			for i, t := range targets {
				callees[i] = Callee{Func: t}
			}
			kind := CallDirect
			if len(targets) > 1 {
				kind = CallTable
			}
			newSite(kind, true, callees)
		} else if in.Op == x86asm.JMP && a.term[in.rva] == TermTail {
			kind, callees := b.resolve(in, st)
			newSite(kind, true, callees)
		}
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

// codeRef records an address taken in code when it points at code outside
// the current function (an address inside it is a label, not a function).
func (b *builder) codeRef(a *analysis, in *inst, t uint32, rec *recorder) {
	if !b.img.Executable(t) {
		return
	}
	if _, inside := a.index[t]; inside && t != rec.f.Entry || a.tables[t] {
		return
	}
	rec.f.Refs = append(rec.f.Refs, Ref{Site: in.rva, Target: t})
}

// resolve finds the callees of a call or indirect jmp.
func (b *builder) resolve(in *inst, st *regs) (CallKind, []Callee) {
	if t, ok := relTarget(in); ok {
		return CallDirect, []Callee{{Func: t}}
	}
	switch arg := in.Args[0].(type) {
	case x86asm.Mem:
		if arg.Base == x86asm.RIP && arg.Index == 0 {
			return b.slotCallees(uint32(int64(in.next())+disp(arg)), st)
		}
		bi := regIndex(arg.Base)
		if bi >= 0 && st[bi].Kind == Address {
			if arg.Index != 0 && arg.Scale == 8 {
				return b.tableCallees(uint32(st[bi].V + disp(arg)))
			}
			if arg.Index == 0 {
				return b.slotCallees(uint32(st[bi].V+disp(arg)), st)
			}
		}
		if arg.Base == 0 && arg.Index != 0 && arg.Scale == 8 {
			if rva, ok := b.img.RVA(uint64(disp(arg))); ok {
				return b.tableCallees(rva)
			}
		}
	case x86asm.Reg:
		if i := regIndex(arg); i >= 0 {
			return b.valueCallees(st[i])
		}
	}
	return CallUnresolved, nil
}

// slotCallees resolves a call through the pointer stored at slot.
func (b *builder) slotCallees(slot uint32, st *regs) (CallKind, []Callee) {
	img := b.img
	if imp, ok := img.ImportAt(slot); ok {
		return CallIAT, []Callee{{Import: imp}}
	}
	t, ok := img.PointerAt(slot)
	if slot != 0 && (slot == img.GuardCF.DispatchSlot || ok && b.isJmpRax(t)) {
		// Control Flow Guard dispatch: the real target is in rax.
		if k, c := b.valueCallees(st[rRAX]); k != CallUnresolved {
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
		return b.tableCallees(uint32(v.V))
	}
	return CallUnresolved, nil
}

// tableCallees reads a handler table: consecutive relocated pointers to code
// (or IAT slots) starting at rva.
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
		return CallUnresolved, nil
	}
	return CallTable, out
}
