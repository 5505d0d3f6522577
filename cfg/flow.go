package cfg

import (
	"sort"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/loader"
)

// maxHandlerTable caps the pointers read from a handler table indexed at run
// time.
const maxHandlerTable = 256

// pass holds what the lifter needs besides the state.
type pass struct {
	img *loader.Image
	// b makes the symbolic pass's expressions; addr0 and stack0 are the
	// bases of image and frame addresses.
	b             *ir.Builder
	addr0, stack0 *ir.Expr
	// thunks caches thunkImport by target: every direct call asks it, in
	// every pass over every block.
	thunks map[uint32]*loader.Import
	// cookieChecks caches isCookieCheck by address; probes holds the calls
	// to stack probes the descent saw.
	cookieChecks map[uint32]bool
	probes       map[uint32]bool
	locs         [numLocs]*ir.Expr // the names of registers, lanes, the IRQL, memory
	// callee, when set, returns the lifted function at an address when a
	// call to it may change the IRQL, so that the call's effect follows the
	// callee's (Program.Lift).
	callee func(rva uint32) *Func
	// onStore, when set, sees every 8-byte store (the lift records each
	// function's into writable data and of vtables, see globalStore and
	// objectStore).
	onStore func(base *ir.Expr, off int64, v *ir.Expr)
	// initial is set when the pass reads the image's writable data as its
	// initial values, stores aside: code that runs first (DriverEntry
	// before the registration) sees them so.
	initial bool
	// clobbers, when set, returns the volatile registers a call to the
	// function at rva may change (Program.clobbers).
	clobbers func(rva uint32) (uint16, bool)
}

func newPass(img *loader.Image, b *ir.Builder) pass {
	ps := pass{img: img, b: b, thunks: map[uint32]*loader.Import{}, cookieChecks: map[uint32]bool{}, probes: map[uint32]bool{}}
	ps.names()
	return ps
}

// names makes the expressions the pass keeps at hand.
func (ps *pass) names() {
	b := ps.b
	ps.addr0, ps.stack0 = b.Addr(0), b.Stack(0)
	for i := range ps.locs {
		ps.locs[i] = b.Const(int64(i), 1)
	}
	ps.locs[locMemory] = b.Const(-1, 1)
}

// blockRuns returns each block's instructions, a contiguous run of a.insts.
func blockRuns(f *Func, a *analysis) [][]inst {
	runs := make([][]inst, len(f.Blocks))
	for i, r := range a.runs {
		runs[i] = a.insts[r[0]:r[1]]
	}
	return runs
}

// flow runs the symbolic pass over f, whose calls or jumps need values to be
// resolved (a call through a register, a table, Control Flow Guard), and
// records its call sites, tail jumps and code references from it.
func (b *builder) flow(f *Func, a *analysis) {
	runs := blockRuns(f, a)
	// Each block records its calls and references every time the pass
	// computes it; the last time, from its final input, stands.
	recs := make([]blockRecord, len(f.Blocks))
	observe := func(bi int, in *inst, st *symState) {
		r := &recs[bi]
		if in.rva == f.Blocks[bi].Start {
			*r = blockRecord{}
		}
		b.record(a, f, bi, in, st, r)
	}
	limit := f.Entry + 1
	if sec := b.img.Section(f.Entry); sec != nil {
		limit = b.regionEnd(f.Entry, sec)
	}
	b.lift(&b.flowScratch, f, func(i int) []inst { return runs[i] }, observe, limit, b.lateTable)
	b.collect(f, recs)
}

// recordOnly records f's call sites and code references from its
// instructions alone: every call and jump of f resolves without values
// (direct, through the import table or a pointer in read-only data). The
// symbolic pass runs when a rule asks for it (Program.Lift).
func (b *builder) recordOnly(f *Func, a *analysis) {
	recs := make([]blockRecord, len(f.Blocks))
	for bi, run := range blockRuns(f, a) {
		st := unknownState()
		for k := range run {
			b.record(a, f, bi, &run[k], &st, &recs[bi])
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
		case in.Op == x86asm.CALL, in.Op == x86asm.JMP && a.term[in.rva] == TermTail && len(a.tails[in.rva]) == 0:
		case in.Op == x86asm.JMP && a.term[in.rva] == TermIndirect:
			return true
		default:
			continue
		}
		if _, ok := relTarget(in); ok {
			continue
		}
		slot, ok := ripSlot(in)
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
		if sec := b.img.Section(slot); !isPtr || sec == nil || sec.Writable() || slot == b.img.GuardCF.DispatchSlot || b.isJmpRax(t) {
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

// lift runs the symbolic pass over f (insts(i) are block i's instructions),
// with observe seeing every instruction and the state before it, and sets
// what it learns: the conditions on f's edges, the index values of its
// jump tables, what it returns. late, when set, is offered every jmp
// through a register the descent could not resolve. limit bounds a jump
// table without a known bound.
func (ps *pass) lift(fl *symFlow, f *Func, insts func(int) []inst, observe func(int, *inst, *symState), limit uint32,
	late func(fl *symFlow, bi int, in *inst, st *symState, limit uint32)) {
	ps.reuseSymFlow(fl, f, insts)
	// Each block records its stores into writable data every time the
	// pass computes it; the last time, from its final input, stands.
	stores := make([][]globalStore, len(f.Blocks))
	objStores := make([][]objectStore, len(f.Blocks))
	cur := 0
	fl.observe = func(bi int, in *inst, st *symState) {
		if in.rva == f.Blocks[bi].Start {
			stores[bi], objStores[bi] = stores[bi][:0], objStores[bi][:0]
		}
		cur = bi
		if observe != nil {
			observe(bi, in, st)
		}
	}
	outer := ps.onStore // a callee lifted while f is (Program.Lift) records its own
	ps.onStore = func(base *ir.Expr, off int64, v *ir.Expr) {
		switch {
		case base == ps.addr0:
			if off >= 0 && off <= 0xffffffff {
				if sec := ps.img.Section(uint32(off)); sec != nil && sec.Writable() {
					stores[cur] = append(stores[cur], globalStore{slot: uint32(off), v: v})
				}
			}
		case v != nil && v.Op == ir.OpAddr && base != ps.stack0:
			if vt := uint32(v.V); ps.isVtable(vt) {
				objStores[cur] = append(objStores[cur], objectStore{base, off, vt})
			}
		}
	}
	fl.run()
	ps.onStore = outer
	fl.edgeConds()
	ps.markFallbacks(f, stores)
	f.stores, f.objStores = f.stores[:0], f.objStores[:0]
	for bi, s := range stores {
		if fl.reached[bi] {
			f.stores = append(f.stores, s...)
			f.objStores = append(f.objStores, objStores[bi]...)
		}
	}
	// Jump tables need the conditions of the edges into their block (the
	// bound): replay those blocks up to their jmp.
	for bi, blk := range f.Blocks {
		run := insts(bi)
		if len(run) == 0 || !fl.reached[bi] || blk.Term != TermSwitch && (blk.Term != TermIndirect || late == nil) {
			continue
		}
		last := &run[len(run)-1]
		if last.Op != x86asm.JMP {
			continue
		}
		st := fl.in[bi].clone()
		for k := range run[:len(run)-1] {
			ps.symStep(&run[k], &st)
		}
		if blk.Term == TermSwitch {
			ps.switchConds(fl, bi, last, &st, limit)
		} else {
			late(fl, bi, last, &st, limit)
		}
	}
	f.Result, f.ExitIRQL = fl.exit()
	f.Returns = fl.returns()
	f.Phis = fl.phis
	f.lifted = true
}

// Lift runs the symbolic pass over f if Build did not, so that its edge
// conditions, its calls' arguments, IRQL and targets, and what it returns
// are known. Build lifts the functions whose calls or jumps need values to
// be resolved; rules lift the others they read (a fraction of a driver's
// functions are reached from its callbacks). Lift changes f: one goroutine
// at a time.
func (p *Program) Lift(f *Func) {
	if f == nil || f.lifted || len(f.Blocks) == 0 {
		return
	}
	f.lifted = true // a recursive call sees what is known so far: nothing
	insts := make([][]inst, len(f.Blocks))
	limit := f.Entry
	for i, blk := range f.Blocks {
		insts[i] = p.decodeBlock(blk)
		limit = max(limit, blk.End)
	}
	sites := make(map[uint32]*CallSite, len(f.Calls))
	for _, c := range f.Calls {
		sites[c.Site] = c
	}
	ps := p.lifterPass()
	observe := func(bi int, in *inst, st *symState) {
		if c := sites[in.rva]; c != nil && (in.Op == x86asm.CALL || in.Op == x86asm.JMP || isJcc(in.Op)) {
			c.Args, c.IRQL, c.Target = ps.callArgs(in, st, c.Tail), st.irql, ps.callTarget(in, st)
		}
	}
	var fl symFlow
	ps.lift(&fl, f, func(i int) []inst { return insts[i] }, observe, limit, nil)
}

// lifterPass returns the pass that lifts the program's functions after
// Build, its hooks into the program set.
func (p *Program) lifterPass() *pass {
	ps := &p.lifter
	if ps.callee == nil {
		ps.callee = func(rva uint32) *Func {
			g := p.Func(rva)
			if g == nil || !p.changesIRQL(g) {
				return nil // returns at the IRQL it was called at
			}
			p.Lift(g)
			return g
		}
		ps.clobbers = p.clobbersAt
	}
	return ps
}

// clobbersAt is clobbers for the function at rva; false when there is none.
func (p *Program) clobbersAt(rva uint32) (uint16, bool) {
	g := p.Func(rva)
	if g == nil {
		return 0, false
	}
	return p.clobbers(g), true
}

// clobbers returns the volatile registers a call to f may change: those
// its instructions write and those its callees may change, all of them
// where it calls an import or through a pointer, jumps somewhere unknown or
// recurses. A register it leaves alone keeps its value across the call:
// gcc's interprocedural register allocation (-fipa-ra) relies on that, and
// so must a reader of its code. Only after Build: it needs every callee
// decoded.
func (p *Program) clobbers(f *Func) uint16 {
	if m, ok := p.clobbered[f]; ok {
		return m
	}
	if p.clobbered == nil {
		p.clobbered = map[*Func]uint16{}
	}
	p.clobbered[f] = volatileRegs // in progress: a recursive call may change any
	m := f.writes
	for _, blk := range f.Blocks {
		if blk.Term == TermIndirect || blk.Term == TermInvalid {
			m = volatileRegs
		}
	}
	for _, c := range f.Calls {
		if m&volatileRegs == volatileRegs {
			break
		}
		if c.Kind == CallUnresolved || len(c.Callees) == 0 {
			m |= volatileRegs
		}
		for _, ce := range c.Callees {
			if g := p.Func(ce.Func); ce.Import == nil && g != nil {
				m |= p.clobbers(g)
			} else {
				m |= volatileRegs
			}
		}
	}
	m &= volatileRegs
	p.clobbered[f] = m
	return m
}

// blockRecord is what one block contributes to its function.
type blockRecord struct {
	calls []*CallSite
	refs  []Ref
}

// record notes the call sites, tail jumps and code references of one
// instruction of block bi, given the state before it.
func (b *builder) record(a *analysis, f *Func, bi int, in *inst, st *symState, r *blockRecord) {
	blk := f.Blocks[bi]
	newSite := func(kind CallKind, tail bool, callees []Callee) {
		r.calls = append(r.calls, &CallSite{Site: in.rva, Kind: kind, Tail: tail, Callees: callees,
			Args: b.callArgs(in, st, tail), IRQL: st.irql, Target: b.callTarget(in, st)})
	}
	switch {
	case in.Op == x86asm.CALL:
		kind, callees := b.resolve(in, st)
		newSite(kind, false, callees)
		b.lateNoReturn(a, f, in, callees)
	case in.Op == x86asm.JMP || isJcc(in.Op):
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
			if _, viaReg := in.Args[0].(x86asm.Reg); viaReg && kind == CallUnresolved {
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
			b.codeRef(a, in, uint32(int64(in.next())+disp(m)), f, r)
		}
	case in.Op == x86asm.MOV && in.Len >= 10:
		if imm, ok := in.Args[1].(x86asm.Imm); ok && b.img.HasReloc(in.rva+uint32(in.Len)-8) {
			if rva, ok := b.img.RVA(uint64(imm)); ok {
				b.codeRef(a, in, rva, f, r)
			}
		}
	}
}

// lateNoReturn notes a call the symbolic pass resolved to a routine that
// does not return where the descent could not tell (mov rax,[IAT]; call
// rax at -O0), and has the function decoded again so that its block ends
// there.
func (b *builder) lateNoReturn(a *analysis, f *Func, in *inst, callees []Callee) {
	if len(callees) == 0 || a.term[in.rva] == TermNoReturn || b.noReturnSites[in.rva] {
		return
	}
	for _, ce := range callees {
		if !IsNoReturn(ce.Import) {
			return
		}
	}
	b.noReturnSites[in.rva] = true
	b.enqueue(f)
}

// codeRef records an address taken in code when it points at code outside
// the current function (an address inside it is a label, not a function).
func (b *builder) codeRef(a *analysis, in *inst, t uint32, f *Func, r *blockRecord) {
	if !b.img.Executable(t) {
		return
	}
	if a.index.has(t) && t != f.Entry || a.tables[t] || a.midInstruction(t) {
		return
	}
	r.refs = append(r.refs, Ref{Site: in.rva, Target: t})
}

// resolve finds the callees of a call or indirect jmp from what the state
// says it transfers to.
func (b *builder) resolve(in *inst, st *symState) (CallKind, []Callee) {
	if t, ok := relTarget(in); ok {
		return CallDirect, []Callee{{Func: t}}
	}
	kind, callees := b.resolveTarget(b.rawTarget(in, st), st, 0)
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
func (b *builder) resolveTarget(t *ir.Expr, st *symState, depth int) (CallKind, []Callee) {
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
		if b.isJmpRax(uint32(t.V)) {
			return b.guardDispatch(st, depth)
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
				return b.guardDispatch(st, depth)
			}
			if p, ok := img.PointerAt(slot); ok {
				return b.resolveTarget(b.b.Addr(p), st, depth+1)
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
func (b *builder) guardDispatch(st *symState, depth int) (CallKind, []Callee) {
	if k, c := b.resolveTarget(st.r[rRAX], st, depth+1); k != CallUnresolved {
		return CallGuard, c
	}
	return CallUnresolved, nil
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

// isJmpRax reports whether the code at rva is jmp rax (_guard_dispatch_icall_nop).
func (ps *pass) isJmpRax(rva uint32) bool {
	code := ps.code(rva)
	return len(code) >= 2 && code[0] == 0xff && code[1] == 0xe0
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
