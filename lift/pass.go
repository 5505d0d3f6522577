package lift

import (
	"slices"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/loader"
	"golang.org/x/arch/x86/x86asm"
)

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
	callee func(rva uint32) *cfg.Func
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

// lift runs the symbolic pass over f (insts(i) are block i's instructions),
// with observe seeing every instruction and the state before it, and sets
// what it learns: the conditions on f's edges, the index values of its
// jump tables, what it returns. late, when set, is offered every jmp
// through a register the descent could not resolve. limit bounds a jump
// table without a known bound.
func (p *Program) lift(fl *symFlow, f *cfg.Func, insts func(int) []cfg.Inst, observe func(int, *cfg.Inst, *symState), limit uint32,
	late func(fl *symFlow, bi int, in *cfg.Inst, st *symState, limit uint32)) {
	ps := &p.lifter
	ps.reuseSymFlow(fl, f, insts)
	// Each block records its stores into writable data every time the
	// pass computes it; the last time, from its final input, stands.
	stores := make([][]globalStore, len(f.Blocks))
	objStores := make([][]objectStore, len(f.Blocks))
	paramStores := make([][]paramStore, len(f.Blocks))
	cur := 0
	fl.observe = func(bi int, in *cfg.Inst, st *symState) {
		if in.RVA == f.Blocks[bi].Start {
			stores[bi], objStores[bi], paramStores[bi] = stores[bi][:0], objStores[bi][:0], paramStores[bi][:0]
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
		if base.Op == ir.OpParam && base.V < int64(len(argRegs)) {
			paramStores[cur] = append(paramStores[cur], paramStore{int(base.V), off, v})
		}
	}
	fl.run()
	ps.onStore = outer
	fl.edgeConds()
	ps.markFallbacks(f, stores)
	fa := p.factsOf(f)
	fa.stores, fa.objStores, fa.paramStores = fa.stores[:0], fa.objStores[:0], fa.paramStores[:0]
	for bi, s := range stores {
		if fl.reached[bi] {
			fa.stores = append(fa.stores, s...)
			fa.objStores = append(fa.objStores, objStores[bi]...)
			fa.paramStores = append(fa.paramStores, paramStores[bi]...)
		}
	}
	// Jump tables need the conditions of the edges into their block (the
	// bound): replay those blocks up to their jmp.
	for bi, blk := range f.Blocks {
		run := insts(bi)
		if len(run) == 0 || !fl.reached[bi] || blk.Term != cfg.TermSwitch && (blk.Term != cfg.TermIndirect || late == nil) {
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
		if blk.Term == cfg.TermSwitch {
			ps.switchConds(fl, bi, last, &st, limit)
		} else {
			late(fl, bi, last, &st, limit)
		}
	}
	f.Result, f.ExitIRQL = fl.exit()
	f.Returns = fl.returns()
	f.Phis = fl.phis
	fa.lifted = true
}

// Lift runs the symbolic pass over f if Build did not, so that its edge
// conditions, its calls' arguments, IRQL and targets, and what it returns
// are known. Build lifts the functions whose calls or jumps need values to
// be resolved; rules lift the others they read (a fraction of a driver's
// functions are reached from its callbacks). Lift changes f: one goroutine
// at a time.
func (p *Program) Lift(f *cfg.Func) {
	if f == nil || len(f.Blocks) == 0 {
		return
	}
	fa := p.factsOf(f)
	if fa.lifted {
		return
	}
	fa.lifted = true // a recursive call sees what is known so far: nothing
	mem := p.takeLiftMemory()
	n := 0
	for _, blk := range f.Blocks {
		n += blk.Insts
	}
	// One buffer for every block, grown once: a block's run stays where
	// it was put.
	mem.buf = slices.Grow(mem.buf[:0], n)
	insts := make([][]cfg.Inst, len(f.Blocks))
	limit := f.Entry
	for i, blk := range f.Blocks {
		start := len(mem.buf)
		mem.buf = p.AppendDecoded(mem.buf, blk)
		insts[i] = mem.buf[start:len(mem.buf):len(mem.buf)]
		limit = max(limit, blk.End)
	}
	sites := make(map[uint32]*cfg.CallSite, len(f.Calls))
	for _, c := range f.Calls {
		sites[c.Site] = c
	}
	ps := p.lifterPass()
	observe := func(bi int, in *cfg.Inst, st *symState) {
		if in.Op != x86asm.CALL && in.Op != x86asm.JMP && !cfg.IsJcc(in.Op) {
			return
		}
		if c := sites[in.RVA]; c != nil {
			c.Args, c.IRQL, c.Target = ps.callArgs(in, st, c.Tail), st.irql, ps.callTarget(in, st)
		}
	}
	p.lift(&mem.flow, f, func(i int) []cfg.Inst { return insts[i] }, observe, limit, nil)
	p.spare = append(p.spare, mem)
}

// liftMemory is what a lift decodes into and works in: its function's
// instructions and the pass's states. A lift takes one the lifts before it
// have finished with (growing memory afresh for each was a tenth of the
// bytes a scan allocated); a lift within a lift (a callee whose IRQL effect
// it needs) takes another. Nothing a lift leaves points into it.
type liftMemory struct {
	buf  []cfg.Inst
	flow symFlow
}

func (p *Program) takeLiftMemory() *liftMemory {
	if n := len(p.spare); n > 0 {
		mem := p.spare[n-1]
		p.spare = p.spare[:n-1]
		return mem
	}
	return &liftMemory{}
}

// lifterPass returns the pass that lifts the program's functions after
// Build, its hooks into the program set.
func (p *Program) lifterPass() *pass {
	ps := &p.lifter
	if ps.callee == nil {
		ps.callee = func(rva uint32) *cfg.Func {
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
func (p *Program) clobbers(f *cfg.Func) uint16 {
	if m, ok := p.clobbered[f]; ok {
		return m
	}
	if p.clobbered == nil {
		p.clobbered = map[*cfg.Func]uint16{}
	}
	p.clobbered[f] = volatileRegs // in progress: a recursive call may change any
	m := p.factsOf(f).writes
	for _, blk := range f.Blocks {
		if blk.Term == cfg.TermIndirect || blk.Term == cfg.TermInvalid {
			m = volatileRegs
		}
	}
	for _, c := range f.Calls {
		if m&volatileRegs == volatileRegs {
			break
		}
		if c.Kind == cfg.CallUnresolved || len(c.Callees) == 0 {
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

// maxSwitchCases bounds the index values an edge condition lists.
const maxSwitchCases = 256

// switchConds gives each jump-table edge of block bi the condition that
// takes it: the index values whose entries point at its target.
func (ps *pass) switchConds(fl *symFlow, bi int, in *cfg.Inst, st *symState, limit uint32) {
	index, targets, ok := cfg.SwitchTargets(ps.img, fl.f, fl.dom, bi, ps.callTarget(in, st), limit)
	if !ok {
		return
	}
	cases := map[uint32][]int64{}
	for i, t := range targets {
		cases[t] = append(cases[t], int64(i))
	}
	blk := fl.f.Blocks[bi]
	for k := range blk.Succs {
		e := &blk.Succs[k]
		if e.Kind != cfg.EdgeSwitch {
			continue
		}
		if vals := cases[e.To]; len(vals) > 0 && len(vals) <= maxSwitchCases {
			e.Cond = ps.anyOf(index, vals)
		}
	}
}

// anyOf is idx == v0 || idx == v1 ..., as a balanced tree.
func (ps *pass) anyOf(idx *ir.Expr, vals []int64) *ir.Expr {
	if len(vals) == 1 {
		return ps.b.Cmp(ir.OpEq, idx, ps.b.Const(vals[0], int(idx.W)))
	}
	h := len(vals) / 2
	return ps.b.Bin(ir.OpOr, ps.anyOf(idx, vals[:h]), ps.anyOf(idx, vals[h:]))
}

// thunkImport is cfg.ThunkImport, remembered.
func (ps *pass) thunkImport(rva uint32) *loader.Import {
	imp, ok := ps.thunks[rva]
	if !ok {
		imp = cfg.ThunkImport(ps.img, rva)
		ps.thunks[rva] = imp
	}
	return imp
}
