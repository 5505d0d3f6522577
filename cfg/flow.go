package cfg

import (
	"sort"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/ir"
)

// maxHandlerTable caps the pointers read from a handler table indexed at run
// time.
const maxHandlerTable = 256

// blockRuns returns each block's instructions, a contiguous run of a.insts.
func blockRuns(f *Func, a *analysis) [][]Inst {
	runs := make([][]Inst, len(f.Blocks))
	for i, r := range a.runs {
		runs[i] = a.insts[r[0]:r[1]]
	}
	return runs
}

// flow runs the value analysis over f, whose calls or jumps need values to be
// resolved (a call through a register, a table, Control Flow Guard), and
// records its call sites, tail jumps and code references from it.
func (b *builder) flow(f *Func, a *analysis) {
	runs := blockRuns(f, a)
	// Each block records its calls and references every time the pass
	// computes it; the last time, from its final input, stands.
	recs := make([]blockRecord, len(f.Blocks))
	at := func(bi int, in *Inst, s State) {
		r := &recs[bi]
		if in.RVA == f.Blocks[bi].Start {
			*r = blockRecord{}
		}
		b.record(a, f, bi, in, s, r)
	}
	limit := f.Entry + 1
	if sec := b.img.Section(f.Entry); sec != nil {
		limit = b.regionEnd(f.Entry, sec)
	}
	late := func(bi int, in *Inst, s State) { b.lateTable(f, bi, in, s, limit) }
	b.values.Flow(f, func(i int) []Inst { return runs[i] }, at, late, limit)
	b.collect(f, recs)
}

// recordOnly records f's call sites and code references from its
// instructions alone (runs, each block's): every call and jump of f resolves without values
// (direct, through the import table or a pointer in read-only data). The
// value analysis runs when a rule asks for it (lift.Program.Lift).
func (b *builder) recordOnly(f *Func, a *analysis, runs [][]Inst) {
	recs := make([]blockRecord, len(f.Blocks))
	s := b.values.Operands()
	for bi, run := range runs {
		for k := range run {
			b.record(a, f, bi, &run[k], s, &recs[bi])
		}
	}
	b.collect(f, recs)
}

// needsValues reports whether one of f's calls or jumps can be resolved
// only from values: through a register, memory addressed by a register, a
// pointer in writable data, Control Flow Guard's dispatch, an unresolved
// jmp.
func (b *builder) needsValues(a *analysis) bool {
	for i := range a.insts {
		in := &a.insts[i]
		switch {
		case in.Op == x86asm.CALL, in.Op == x86asm.JMP && a.term[in.RVA] == TermTail && len(a.tails[in.RVA]) == 0:
		case in.Op == x86asm.JMP && a.term[in.RVA] == TermIndirect:
			return true
		default:
			continue
		}
		if _, ok := RelTarget(in); ok {
			continue
		}
		slot, ok := RIPSlot(in)
		if !ok || in.Args[0] == nil {
			return true
		}
		if _, isMem := in.Args[0].(x86asm.Mem); !isMem {
			return true
		}
		if _, isImport := b.img.ImportAt(slot); isImport {
			continue
		}
		t, isPtr := b.img.PointerAt(slot)
		if sec := b.img.Section(slot); !isPtr || sec == nil || sec.Writable() || slot == b.img.GuardCF.DispatchSlot || IsJmpRax(b.img, t) {
			return true
		}
	}
	return false
}

// collect gathers the blocks' records into f and discovers what its calls
// and references reach.
func (b *builder) collect(f *Func, recs []blockRecord) {
	f.Calls, f.Refs = f.Calls[:0], f.Refs[:0]
	for _, r := range recs {
		f.Calls = append(f.Calls, r.calls...)
		f.Refs = append(f.Refs, r.refs...)
	}
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

// blockRecord is what one block contributes to its function.
type blockRecord struct {
	calls []*CallSite
	refs  []Ref
}

// record notes the call sites, tail jumps and code references of one
// instruction of block bi, given the state before it.
func (b *builder) record(a *analysis, f *Func, bi int, in *Inst, s State, r *blockRecord) {
	blk := f.Blocks[bi]
	newSite := func(kind CallKind, tail bool, callees []Callee) {
		r.calls = append(r.calls, &CallSite{Site: in.RVA, Kind: kind, Tail: tail, Callees: callees,
			Args: s.Args(in, tail), IRQL: s.IRQL(), Target: s.Target(in)})
	}
	switch {
	case in.Op == x86asm.CALL:
		kind, callees := b.resolve(in, s)
		newSite(kind, false, callees)
		b.lateNoReturn(a, f, in, callees)
	case in.Op == x86asm.JMP || IsJcc(in.Op):
		if targets := a.tails[in.RVA]; len(targets) > 0 {
			callees := make([]Callee, len(targets))
			for i, t := range targets {
				callees[i] = Callee{Func: t}
			}
			kind := CallDirect
			if a.term[in.RVA] == TermSwitch {
				kind = CallTable
			}
			newSite(kind, true, callees)
		} else if in.Op == x86asm.JMP && a.term[in.RVA] == TermTail {
			kind, callees := b.resolve(in, s)
			if _, viaReg := in.Args[0].(x86asm.Reg); viaReg && kind == CallUnresolved && !loadedPointer(s.Target(in)) {
				// jmp reg to an unknown target: a computed jump inside the
				// function (MSVC memset's lea r11,[rip+6]; ...; jmp r11),
				// not evidence of a tail call.
				blk.Term = TermIndirect
				break
			}
			newSite(kind, true, callees)
		}
	case in.Op == x86asm.LEA:
		if m, ok := in.Args[1].(x86asm.Mem); ok && m.Base == x86asm.RIP && m.Index == 0 {
			b.codeRef(a, in, uint32(int64(in.Next())+Disp(m)), f, r)
		}
	case in.Op == x86asm.MOV && in.Len >= 10:
		if imm, ok := in.Args[1].(x86asm.Imm); ok && b.img.HasReloc(in.RVA+uint32(in.Len)-8) {
			if rva, ok := b.img.RVA(uint64(imm)); ok {
				b.codeRef(a, in, rva, f, r)
			}
		}
	}
}

// lateNoReturn notes a call the value analysis resolved to a routine that
// does not return where the descent could not tell (mov rax,[IAT]; call
// rax at -O0), and has the function decoded again so that its block ends
// there.
func (b *builder) lateNoReturn(a *analysis, f *Func, in *Inst, callees []Callee) {
	if len(callees) == 0 || a.term[in.RVA] == TermNoReturn || b.noReturnSites[in.RVA] {
		return
	}
	for _, ce := range callees {
		if !IsNoReturn(ce.Import) {
			return
		}
	}
	b.noReturnSites[in.RVA] = true
	b.enqueue(f)
}

// codeRef records an address taken in code when it points at code outside
// the current function (an address inside it is a label, not a function).
func (b *builder) codeRef(a *analysis, in *Inst, t uint32, f *Func, r *blockRecord) {
	if !b.img.Executable(t) {
		return
	}
	if a.index.has(t) && t != f.Entry || a.tables[t] || a.midInstruction(t) {
		return
	}
	r.refs = append(r.refs, Ref{Site: in.RVA, Target: t})
}

// resolve finds the callees of a call or indirect jmp from what the state
// says it transfers to.
func (b *builder) resolve(in *Inst, s State) (CallKind, []Callee) {
	if t, ok := RelTarget(in); ok {
		return CallDirect, []Callee{{Func: t}}
	}
	kind, callees := b.resolveTarget(s.Operand(in), s, 0)
	if kind == CallIAT {
		if _, viaReg := in.Args[0].(x86asm.Reg); viaReg {
			kind = CallIATRegister
		}
	}
	return kind, callees
}

// resolveTarget resolves a call target expression: an import, an address,
// a pointer loaded from the image, an entry of a handler table, or Control
// Flow Guard's dispatch (the real target in rax).
func (b *builder) resolveTarget(t *ir.Expr, s State, depth int) (CallKind, []Callee) {
	img := b.img
	if t == nil || depth > 2 {
		return CallUnresolved, nil
	}
	switch t.Op {
	case ir.OpImport:
		if imp, ok := img.ImportAt(uint32(t.V)); ok {
			return CallIAT, []Callee{{Import: imp}}
		}
	case ir.OpAddr:
		if IsJmpRax(b.img, uint32(t.V)) {
			return b.guardDispatch(s, depth)
		}
		if img.Executable(uint32(t.V)) {
			return CallPointer, []Callee{{Func: uint32(t.V)}}
		}
	case ir.OpConst:
		if rva, ok := img.RVA(uint64(t.V)); ok && img.Executable(rva) {
			return CallPointer, []Callee{{Func: rva}}
		}
	case ir.OpLoad:
		addr := t.A
		if addr.Op == ir.OpAddr {
			slot := uint32(addr.V)
			if slot != 0 && slot == img.GuardCF.DispatchSlot {
				return b.guardDispatch(s, depth)
			}
			if p, ok := img.PointerAt(slot); ok {
				return b.resolveTarget(b.prog.IR.Addr(p), s, depth+1)
			}
			return CallUnresolved, nil
		}
		// [table + index*stride]: every pointer of a handler table.
		if tbl, _, ok := scaledIndex(addr); ok {
			return b.tableCallees(tbl)
		}
	}
	return CallUnresolved, nil
}

// guardDispatch resolves a call through Control Flow Guard's dispatch
// pointer: the target is in rax.
func (b *builder) guardDispatch(s State, depth int) (CallKind, []Callee) {
	if k, c := b.resolveTarget(s.Reg(x86asm.RAX), s, depth+1); k != CallUnresolved {
		return CallGuard, c
	}
	return CallUnresolved, nil
}

// loadedPointer reports a jmp target that is a pointer read from memory
// other than a jump table's entry: a tail call through a function pointer
// or a vtable slot (mov rax,[rcx]; mov rax,[rax+8]; jmp rax, a virtual call
// in tail position), not a jump inside the function.
func loadedPointer(t *ir.Expr) bool {
	if t == nil || t.Op != ir.OpLoad || t.W != 8 {
		return false
	}
	_, isTable := matchSwitch(t)
	return !isTable
}

// scaledIndex matches table + index*stride (stride > 1) and returns the
// table's RVA and the index expression.
func scaledIndex(addr *ir.Expr) (uint32, *ir.Expr, bool) {
	if addr.Op != ir.OpAdd {
		return 0, nil, false
	}
	for _, pair := range [2][2]*ir.Expr{{addr.A, addr.B}, {addr.B, addr.A}} {
		base, idx := pair[0], pair[1]
		if base.Op == ir.OpAddr && idx.Op == ir.OpMul {
			if s, ok := idx.B.IsConst(); ok && s > 1 {
				return uint32(base.V), idx.A, true
			}
		}
	}
	return 0, nil, false
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
