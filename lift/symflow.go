package lift

import (
	"slices"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
)

// symFlow runs the lifter over one function's blocks to a fixed point.
// Where paths with different values of a location meet, the value is a
// selection on the branch that decided between them when the join has
// that shape (if-then-else, including the nested kind: the gating of gated
// SSA), and an ir.Phi named by the block and the location otherwise (loop
// headers, irregular joins). Values are interned, so a fixed point is
// reached when no block's output changes.
type symFlow struct {
	ps      *pass
	f       *cfg.Func
	insts   func(i int) []cfg.Inst
	dom     *cfg.DomTree
	preds   [][]predEdge
	in, out []symState
	reached []bool
	// cond is the condition of each TermCond block's taken edge, as its
	// last output computed it.
	cond   []*ir.Expr
	visits []int
	// observe, when set, sees every instruction of a block with the state
	// before it, each time the block is computed.
	observe func(bi int, in *cfg.Inst, st *symState)
	// phis holds the values that meet in each phi the pass made, one per
	// predecessor (Func.Phis).
	phis map[*ir.Expr][]*ir.Expr
	// loopRegs holds, for each loop header, the registers the loop writes:
	// their value at the header is a phi from the first time the pass gets
	// there, so that the loop is computed once, not again when the back
	// edge brings the change.
	loopRegs []uint16
}

type predEdge struct {
	from int
	kind cfg.EdgeKind
}

// maxVisits bounds how often one block is recomputed before its joins stop
// making selections (only phis, which are stable).
const maxVisits = 40

// newSymFlow prepares the pass over f; insts(i) are block i's instructions.
func (ps *pass) newSymFlow(f *cfg.Func, insts func(i int) []cfg.Inst) *symFlow {
	return ps.reuseSymFlow(new(symFlow), f, insts)
}

// reuseSymFlow prepares fl for f, reusing the memory of its slices (Build
// runs one function at a time).
func (ps *pass) reuseSymFlow(fl *symFlow, f *cfg.Func, insts func(i int) []cfg.Inst) *symFlow {
	n := len(f.Blocks)
	grow := func(s []symState) []symState {
		s = slices.Grow(s[:0], n)[:n]
		clear(s)
		return s
	}
	*fl = symFlow{ps: ps, f: f, insts: insts, dom: cfg.Dominators(f), phis: map[*ir.Expr][]*ir.Expr{},
		preds: slices.Grow(fl.preds[:0], n)[:n], in: grow(fl.in), out: grow(fl.out),
		reached: slices.Grow(fl.reached[:0], n)[:n], cond: slices.Grow(fl.cond[:0], n)[:n],
		visits: slices.Grow(fl.visits[:0], n)[:n]}
	for i := range n {
		fl.preds[i] = fl.preds[i][:0]
	}
	clear(fl.reached)
	clear(fl.cond)
	clear(fl.visits)
	for i, blk := range f.Blocks {
		for _, e := range blk.Succs {
			if j, ok := fl.dom.Index(e.To); ok {
				fl.preds[j] = append(fl.preds[j], predEdge{i, e.Kind})
			}
		}
	}
	return fl
}

// run computes every block's input and output state.
func (fl *symFlow) run() {
	n := len(fl.f.Blocks)
	// Blocks in reverse postorder, then those the entry does not reach
	// (__except blocks, entered by the exception dispatcher).
	order := make([]int, n)
	for i := range order {
		order[i] = -1
	}
	var rest []int
	for i := 0; i < n; i++ {
		if r := fl.dom.RPO(i); r >= 0 {
			order[r] = i
		} else {
			rest = append(rest, i)
		}
	}
	k := 0
	for _, i := range order {
		if i >= 0 {
			order[k] = i
			k++
		}
	}
	order = append(order[:k], rest...)
	fl.findLoops()
	dirty := make([]bool, n)
	entry, hasEntry := fl.dom.Index(fl.f.Entry)
	if hasEntry {
		dirty[entry] = true
	}
	for _, i := range rest {
		dirty[i] = true
	}
	for changed := true; changed; {
		changed = false
		for _, i := range order {
			if !dirty[i] {
				continue
			}
			dirty[i] = false
			if fl.process(i, hasEntry && i == entry) {
				changed = true
				for _, e := range fl.f.Blocks[i].Succs {
					if j, ok := fl.dom.Index(e.To); ok {
						dirty[j] = true
					}
				}
			}
		}
	}
}

// process recomputes block i and reports whether its output changed.
func (fl *symFlow) process(i int, isEntry bool) bool {
	fl.visits[i]++
	in, ok := fl.merge(i, isEntry)
	if !ok {
		return false
	}
	fl.in[i] = in
	out := in.clone()
	code := fl.insts(i)
	for k := range code {
		if fl.observe != nil {
			fl.observe(i, &code[k], &out)
		}
		fl.ps.symStep(&code[k], &out)
	}
	if blk := fl.f.Blocks[i]; blk.Term == cfg.TermCond && len(code) > 0 {
		fl.cond[i] = fl.ps.cond(code[len(code)-1].Op, out.flags)
	}
	changed := !fl.reached[i] || !out.equal(&fl.out[i])
	fl.reached[i] = true
	fl.out[i] = out
	return changed
}

// merge computes block i's input from its reached predecessors' outputs;
// false when none is reached yet.
func (fl *symFlow) merge(i int, isEntry bool) (symState, bool) {
	ps := fl.ps
	var edges []predEdge
	for _, p := range fl.preds[i] {
		if fl.reached[p.from] {
			edges = append(edges, p)
		}
	}
	start := fl.f.Blocks[i].Start
	if isEntry {
		entry := ps.symEntry()
		if len(edges) == 0 {
			return entry, true
		}
		// A loop back to the entry: merge with the entry state as one more
		// predecessor, never by selection.
		states := []*symState{&entry}
		for _, e := range edges {
			states = append(states, &fl.out[e.from])
		}
		return fl.join(start, states, nil), true
	}
	switch len(edges) {
	case 0:
		if fl.dom.RPO(i) >= 0 {
			return symState{}, false
		}
		return unknownState(), true
	case 1:
		st := fl.out[edges[0].from].clone()
		if fl.loopRegs[i] != 0 {
			st = fl.loopPhis(i, st) // the back edge is not reached yet
		}
		return st, true
	}
	states := make([]*symState, len(edges))
	for k, e := range edges {
		states[k] = &fl.out[e.from]
	}
	if fl.visits[i] > maxVisits || fl.loopHeader(i, edges) || fl.loopRegs[i] != 0 {
		return fl.loopPhis(i, fl.join(start, states, nil)), true
	}
	return fl.join(start, states, edges), true
}

// findLoops sets loopRegs: for each back edge (from a block its target
// dominates), the registers written in the loop it closes (the blocks that
// reach it without passing the header).
func (fl *symFlow) findLoops() {
	n := len(fl.f.Blocks)
	fl.loopRegs = slices.Grow(fl.loopRegs[:0], n)[:n]
	clear(fl.loopRegs)
	var body []int
	seen := make(map[int]bool)
	for h := range n {
		for _, p := range fl.preds[h] {
			if !fl.dom.Dominates(h, p.from) {
				continue
			}
			clear(seen)
			seen[h] = true
			body = append(body[:0], p.from)
			seen[p.from] = true
			for k := 0; k < len(body); k++ {
				for _, q := range fl.preds[body[k]] {
					if !seen[q.from] {
						seen[q.from] = true
						body = append(body, q.from)
					}
				}
			}
			body = append(body, h)
			for _, b := range body {
				for k := range fl.insts(b) {
					fl.loopRegs[h] |= writtenRegs(&fl.insts(b)[k])
				}
			}
		}
	}
}

// loopPhis makes the registers loop header i's loop writes phis of the
// header.
func (fl *symFlow) loopPhis(i int, st symState) symState {
	m := fl.loopRegs[i]
	start := fl.f.Blocks[i].Start
	for r := range st.r {
		if m&(1<<uint(r)) != 0 && r != rRSP {
			phi := fl.ps.b.Phi(start, fl.ps.regLoc(r), 8)
			if st.r[r] != phi && phi != nil {
				// The back edge is not reached yet: the value from before
				// the loop is what the phi holds so far.
				fl.phis[phi] = []*ir.Expr{st.r[r]}
			}
			st.r[r] = phi
		}
	}
	return st
}

// writtenRegs over-approximates the general registers an instruction
// writes (bit r for register r).
func writtenRegs(in *cfg.Inst) uint16 {
	switch in.Op {
	case x86asm.CALL:
		return volatileRegs
	case x86asm.PUSH, x86asm.POP, x86asm.LEAVE:
		m := uint16(1 << rRSP)
		if in.Op != x86asm.PUSH {
			if r, ok := in.Args[0].(x86asm.Reg); ok && cfg.RegIndex(r) >= 0 {
				m |= 1 << uint(cfg.RegIndex(r))
			}
			if in.Op == x86asm.LEAVE {
				m |= 1 << rRBP
			}
		}
		return m
	case x86asm.MUL, x86asm.DIV, x86asm.IDIV, x86asm.IMUL, x86asm.CDQ, x86asm.CQO, x86asm.CWD, x86asm.RDTSC, x86asm.RDMSR,
		x86asm.CPUID, x86asm.RDTSCP, x86asm.SYSCALL, x86asm.CMPXCHG, x86asm.CMPXCHG8B, x86asm.CMPXCHG16B, x86asm.XGETBV,
		x86asm.RDPMC:
		return 1<<rRAX | 1<<rRBX | 1<<rRCX | 1<<rRDX | 1<<rR11
	}
	if isStringOp(in.Op) {
		return 1<<rRAX | 1<<rRCX | 1<<rRSI | 1<<rRDI
	}
	var m uint16
	if len(in.Args) > 0 && cfg.WritesArg0(in.Op) {
		if r, ok := in.Args[0].(x86asm.Reg); ok && cfg.RegIndex(r) >= 0 {
			m |= 1 << uint(cfg.RegIndex(r))
		}
	}
	if (in.Op == x86asm.XCHG || in.Op == x86asm.XADD) && len(in.Args) > 1 {
		if r, ok := in.Args[1].(x86asm.Reg); ok && cfg.RegIndex(r) >= 0 {
			m |= 1 << uint(cfg.RegIndex(r))
		}
	}
	return m
}

// loopHeader reports whether one of the edges into block i comes from a
// block i dominates: a back edge.
func (fl *symFlow) loopHeader(i int, edges []predEdge) bool {
	for _, e := range edges {
		if fl.dom.Dominates(i, e.from) {
			return true
		}
	}
	return false
}

// join merges states at the block starting at start. With edges (the
// incoming edge of each state) differing values are gated on the branches
// that decide between them where possible; without, they become phis.
func (fl *symFlow) join(start uint32, states []*symState, edges []predEdge) symState {
	ps := fl.ps
	b := ps.b
	out := states[0].clone()
	vals := make([]*ir.Expr, len(states))
	// merge is the value of a location where the values vals meet: gated
	// on the branches that choose the edge where the join has that shape
	// (the tree is built once, for the first location that needs it), a
	// phi otherwise.
	var g *gating
	tried := edges == nil
	merge := func(loc *ir.Expr, w int) *ir.Expr {
		if !tried {
			tried = true
			idx := make([]int, len(edges))
			for k := range idx {
				idx[k] = k
			}
			g = fl.gatingOf(edges, idx, 0)
		}
		if g != nil && anyKnown(vals) {
			if v := g.value(b, vals); v != nil {
				return v
			}
		}
		phi := b.Phi(start, loc, w)
		if fl.phis != nil && phi != nil {
			fl.phis[phi] = append(fl.phis[phi][:0], vals...)
		}
		return phi
	}
	for r := range out.r {
		v0, same := states[0].r[r], true
		for k, s := range states {
			vals[k] = s.r[r]
			same = same && vals[k] == v0
		}
		if !same {
			out.r[r] = merge(ps.regLoc(r), 8)
		}
	}
	if shared := states[0].x; !allSameLanes(states, shared) {
		var lanes xmmLanes
		for x := range lanes {
			for l := 0; l < 2; l++ {
				v0, same := states[0].lane(x)[l], true
				for k, s := range states {
					vals[k] = s.lane(x)[l]
					same = same && vals[k] == v0
				}
				lanes[x][l] = v0
				if !same {
					lanes[x][l] = merge(ps.xmmLoc(x, l), 8)
				}
			}
		}
		out.x = &lanes
	}
	v0, same := states[0].irql, true
	for k, s := range states {
		vals[k] = s.irql
		same = same && vals[k] == v0
	}
	if !same {
		out.irql = merge(ps.irqlLoc(), 1)
	}
	for _, s := range states[1:] {
		if s.flags != out.flags {
			out.flags = symFlags{}
		}
		if s.chk != out.chk {
			out.chk = -1
		}
	}
	// Memory: the cells every state has, at the same place and width; the
	// same cells when every state shares them (nothing was stored on the
	// way from a common state).
	shared := true
	for _, s := range states[1:] {
		shared = shared && sameCells(s.mem, states[0].mem)
	}
	if shared {
		return out
	}
	var mem cells
	for _, c := range states[0].mem {
		have := true
		for _, s := range states[1:] {
			k := s.mem.find(c.base, c.off)
			if k == len(s.mem) || s.mem[k].base != c.base || s.mem[k].off != c.off || s.mem[k].w != c.w {
				have = false
				break
			}
		}
		if !have {
			continue
		}
		v, same := c.v, true
		for k, s := range states {
			vals[k] = s.mem[s.mem.find(c.base, c.off)].v
			same = same && vals[k] == c.v
		}
		if !same {
			loc := b.Load(b.Bin(ir.OpAdd, c.base, b.Const(c.off, 8)), int(c.w))
			v = merge(loc, int(c.w))
		}
		if v != nil {
			mem = append(mem, cell{base: c.base, off: c.off, w: c.w, v: v})
		}
	}
	out.mem = mem
	return out
}

// sameCells reports whether two states share one set of cells.
func sameCells(a, b cells) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// anyKnown reports whether one of the values says something: selecting
// between values nothing is known of (what calls left in volatile
// registers) would only make the pass slower.
func anyKnown(vals []*ir.Expr) bool {
	for _, v := range vals {
		if v != nil && v.Op != ir.OpOpaque && v.Op != ir.OpPhi {
			return true
		}
	}
	return false
}

// allSameLanes reports whether every state shares the xmm lanes x.
func allSameLanes(states []*symState, x *xmmLanes) bool {
	for _, s := range states {
		if s.x != x {
			return false
		}
	}
	return true
}

// maxGateDepth bounds the nesting of selections one join makes.
const maxGateDepth = 6

// A gating tree says which incoming edge of a join is taken: a leaf names
// one edge (an index into the join's edges); a node selects on the
// condition of a branch between the edges under its taken successor and
// those under its other successor (the gating functions of gated SSA).
type gating struct {
	edge int // a leaf: the edge's index; -1 at a node
	cond *ir.Expr
	// taken and other are the subtrees; under holds every edge index of
	// the tree, to see when all its values agree.
	taken, other *gating
	under        []int
}

// gatingOf builds the tree for edges (indexes into all), nil when the
// edges are not split by branches that way.
func (fl *symFlow) gatingOf(all []predEdge, edges []int, depth int) *gating {
	if len(edges) == 1 {
		return &gating{edge: edges[0], under: edges}
	}
	if depth >= maxGateDepth {
		return nil
	}
	d := all[edges[0]].from
	for _, k := range edges[1:] {
		if d = fl.dom.Common(d, all[k].from); d < 0 {
			return nil
		}
	}
	for ; d >= 0; d = fl.dom.IDom(d) {
		blk := fl.f.Blocks[d]
		if blk.Term != cfg.TermCond || fl.cond[d] == nil {
			continue
		}
		taken, other := -1, -1
		for _, e := range blk.Succs {
			if j, ok := fl.dom.Index(e.To); ok {
				switch e.Kind {
				case cfg.EdgeTaken:
					taken = j
				case cfg.EdgeNotTaken:
					other = j
				}
			}
		}
		if taken < 0 || other < 0 || taken == other {
			continue
		}
		// A side is the region the branch's edge enters: only if no other
		// edge enters its first block (but from inside, a loop) does being
		// under it mean the branch went that way.
		if !fl.soleEntry(taken, d) || !fl.soleEntry(other, d) {
			return nil
		}
		var te, oe []int
		for _, k := range edges {
			e := all[k]
			switch {
			case e.from == d && e.kind == cfg.EdgeTaken, e.from != d && fl.dom.Dominates(taken, e.from):
				te = append(te, k)
			case e.from == d && e.kind == cfg.EdgeNotTaken, e.from != d && fl.dom.Dominates(other, e.from):
				oe = append(oe, k)
			default:
				return nil
			}
		}
		if len(te) == 0 || len(oe) == 0 {
			continue // every edge is on one side: a branch further up decides
		}
		t := fl.gatingOf(all, te, depth+1)
		o := fl.gatingOf(all, oe, depth+1)
		if t == nil || o == nil {
			return nil
		}
		return &gating{edge: -1, cond: fl.cond[d], taken: t, other: o, under: edges}
	}
	return nil
}

// soleEntry reports whether block d's edge is the only way into block j,
// but for edges from blocks j dominates (loops).
func (fl *symFlow) soleEntry(j, d int) bool {
	for _, p := range fl.preds[j] {
		if p.from != d && !fl.dom.Dominates(j, p.from) {
			return false
		}
	}
	return true
}

// value is the location's value at the join where vals (one per edge) meet.
func (g *gating) value(b *ir.Builder, vals []*ir.Expr) *ir.Expr {
	v0, same := vals[g.under[0]], true
	for _, k := range g.under[1:] {
		same = same && vals[k] == v0
	}
	if same {
		return v0
	}
	if g.edge >= 0 {
		return vals[g.edge]
	}
	return b.Select(g.cond, g.taken.value(b, vals), g.other.value(b, vals))
}

// gate expresses the value of a location where edges meet as selections on
// the branches that decide which edge is taken; nil when they are not split
// that way.
func (fl *symFlow) gate(edges []predEdge, vals []*ir.Expr) *ir.Expr {
	idx := make([]int, len(edges))
	for k := range idx {
		idx[k] = k
	}
	if g := fl.gatingOf(edges, idx, 0); g != nil {
		return g.value(fl.ps.b, vals)
	}
	return nil
}

// exit merges the states at the function's rets: the value it returns and
// the IRQL it returns at, gated on the branches that choose the ret.
func (fl *symFlow) exit() (result, irql *ir.Expr) {
	var edges []predEdge
	var states []*symState
	for i, blk := range fl.f.Blocks {
		if blk.Term == cfg.TermRet && fl.reached[i] && fl.dom.RPO(i) >= 0 {
			edges = append(edges, predEdge{from: i, kind: cfg.EdgeFall})
			states = append(states, &fl.out[i])
		}
	}
	if len(states) == 0 {
		return nil, nil
	}
	pick := func(get func(*symState) *ir.Expr) *ir.Expr {
		vals := make([]*ir.Expr, len(states))
		for k, s := range states {
			vals[k] = get(s)
		}
		return fl.gate(edges, vals)
	}
	return pick(func(s *symState) *ir.Expr { return s.r[rRAX] }), pick(func(s *symState) *ir.Expr { return s.irql })
}

// maxReturnSplit bounds how many joins above a ret the values of rax are
// followed through, path by path, and maxReturnValues how many values one
// predecessor of a ret may give.
const (
	maxReturnSplit  = 3
	maxReturnValues = 64
	// maxReturnPreds bounds the predecessors of a ret block that are
	// followed one by one.
	maxReturnPreds = 8
)

// returns lists rax at each reachable ret. Where paths with different
// values meet at the ret block (a phi), the ret is computed once through
// each predecessor (Via), and where the value still depends on a phi of
// that predecessor, through each of its predecessors in turn, up to
// maxReturnSplit joins above the ret.
func (fl *symFlow) returns() []cfg.Return {
	var out []cfg.Return
	for i, blk := range fl.f.Blocks {
		if blk.Term != cfg.TermRet || !fl.reached[i] {
			continue
		}
		v := fl.out[i].r[rRAX]
		if !hasPhiOf(v, blk.Start) || fl.reachedPreds(i) > maxReturnPreds {
			// A ret that many paths share (a switch's cases joining)
			// keeps its phi, whose values Phis lists.
			out = append(out, cfg.Return{Block: blk, Value: v})
			continue
		}
		for _, p := range fl.preds[i] {
			if fl.reached[p.from] {
				for _, v := range fl.valuesThrough([]int{p.from, i}, 0) {
					out = append(out, cfg.Return{Block: blk, Via: fl.f.Blocks[p.from], Value: v})
				}
			}
		}
	}
	return out
}

// reachedPreds counts the reached predecessors of block i.
func (fl *symFlow) reachedPreds(i int) int {
	n := 0
	for _, p := range fl.preds[i] {
		if fl.reached[p.from] {
			n++
		}
	}
	return n
}

// valuesThrough returns rax after the blocks of chain (each the only way on
// from the one before), starting from the output of chain[0]; where that
// depends on a phi of chain[0], once from each of its predecessors.
func (fl *symFlow) valuesThrough(chain []int, depth int) []*ir.Expr {
	run := func(st symState, blocks []int) *ir.Expr {
		for _, b := range blocks {
			code := fl.insts(b)
			for k := range code {
				fl.ps.symStep(&code[k], &st)
			}
		}
		return st.r[rRAX]
	}
	v := run(fl.out[chain[0]].clone(), chain[1:])
	// The join whose phi the value depends on may be above a run of blocks
	// with one predecessor each: follow them up to it.
	at, ok := phiBlock(v)
	for ok && fl.f.Blocks[chain[0]].Start != at {
		var only []int
		for _, p := range fl.preds[chain[0]] {
			if fl.reached[p.from] {
				only = append(only, p.from)
			}
		}
		if len(only) != 1 {
			ok = false
			break
		}
		chain = append([]int{only[0]}, chain...)
	}
	first := chain[0]
	if depth >= maxReturnSplit || !ok {
		return []*ir.Expr{v}
	}
	var out []*ir.Expr
	for _, p := range fl.preds[first] {
		if fl.reached[p.from] {
			out = append(out, fl.valuesThrough(append([]int{p.from}, chain...), depth+1)...)
		}
		if len(out) > maxReturnValues {
			return []*ir.Expr{v}
		}
	}
	if len(out) == 0 {
		return []*ir.Expr{v}
	}
	return out
}

// phiBlock returns the block of a phi e depends on.
func phiBlock(e *ir.Expr) (uint32, bool) {
	if e == nil {
		return 0, false
	}
	if e.Op == ir.OpPhi {
		return uint32(e.V), true
	}
	for _, c := range []*ir.Expr{e.A, e.B, e.C} {
		if b, ok := phiBlock(c); ok {
			return b, true
		}
	}
	return 0, false
}

// hasPhiOf reports whether e depends on a phi of the block at start: a
// value the paths into that block disagree on.
func hasPhiOf(e *ir.Expr, start uint32) bool {
	if e == nil {
		return false
	}
	if e.Op == ir.OpPhi {
		return uint32(e.V) == start
	}
	return hasPhiOf(e.A, start) || hasPhiOf(e.B, start) || hasPhiOf(e.C, start)
}

// edgeConds sets the condition of every edge out of a conditional branch:
// the branch condition on the taken edge, its negation on the other.
func (fl *symFlow) edgeConds() {
	b := fl.ps.b
	for i, blk := range fl.f.Blocks {
		if blk.Term != cfg.TermCond {
			continue
		}
		c := fl.cond[i]
		for k := range blk.Succs {
			e := &blk.Succs[k]
			switch e.Kind {
			case cfg.EdgeTaken:
				e.Cond = c
			case cfg.EdgeNotTaken:
				e.Cond = b.LNot(c)
			}
		}
	}
}
