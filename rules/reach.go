package rules

import (
	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
)

// Reachability under facts. A situation (a paging read of IRP_MJ_READ, a
// post-operation callback at DISPATCH_LEVEL) is a set of facts over the
// registered callback's parameters and entry IRQL: the bit IRP_PAGING_IO of
// Data->Iopb->IrpFlags is set, Data->Iopb->MajorFunction is 3, the IRQL is
// 2. A function reached from the callback is seen through a binding: what
// its parameters and entry IRQL are in the callback's terms. An edge is
// taken only if its condition, rewritten in those terms, is not false under
// the facts. That one rule replaces recognising guards, major-function
// switches and IRQL tests by their shape: whatever instructions computed
// the condition, in the callback or in a helper that returns it, it means
// the same expression.

// maxBound is how many parameters a binding carries.
const maxBound = 8

// node is a function reached from a callback, with its binding.
type node struct {
	f      *cfg.Func
	params [maxBound]*ir.Expr
	irql   *ir.Expr
}

// startNode is a registered callback: its parameters and IRQL are
// themselves.
func (p *Pass) startNode(f *cfg.Func) node {
	b := p.Program.IR
	n := node{f: f, irql: b.IRQL()}
	for i := range 4 {
		n.params[i] = b.Param(i)
	}
	return n
}

// next is the node of a callee reached through call c from n: the call's
// arguments and IRQL in the callback's terms. Only what the callee's
// behaviour can depend on is kept (see relevant), and of that only what
// says something about the callback (a constant, or an expression of its
// parameters or IRQL), so that calls passing different local values reach
// one node and the walk stays as small as the call graph.
func (p *Pass) next(n node, callee *cfg.Func, c *cfg.CallSite) node {
	s := p.substituter(n)
	rel := p.relevant(callee)
	out := node{f: callee}
	if rel&relIRQL != 0 {
		out.irql = meaningful(p.subst(s, c.IRQL))
	}
	for i := range out.params {
		if rel&(1<<uint(i)) != 0 {
			out.params[i] = meaningful(p.subst(s, c.Arg(i)))
		}
	}
	return p.widen(out)
}

// maxBindings bounds the nodes of one function: past it, constants are
// dropped from new bindings, then everything but the callback data.
const maxBindings = 16

// widen keeps the number of bindings of a function bounded: a new one
// past the limit loses its constants, and past twice the limit everything
// but what it says of the callback data and IRQL, which only makes more
// edges feasible (never fewer findings).
func (p *Pass) widen(n node) node {
	if p.bindings == nil {
		p.bindings = map[*cfg.Func]map[node]bool{}
	}
	seen := p.bindings[n.f]
	if seen == nil {
		seen = map[node]bool{}
		p.bindings[n.f] = seen
	}
	if seen[n] || len(seen) < maxBindings {
		seen[n] = true
		return n
	}
	for i, a := range n.params {
		if _, isConst := a.IsConst(); isConst {
			n.params[i] = nil
		}
	}
	if !seen[n] && len(seen) >= 2*maxBindings {
		n.params = [maxBound]*ir.Expr{}
	}
	seen[n] = true
	return n
}

// relIRQL is the bit of a relevance set that stands for the entry IRQL;
// bits 0..maxBound-1 stand for the parameters.
const relIRQL = 1 << 63

// relevant returns the parameters (bit i) and the entry IRQL (relIRQL) of
// f on which which of its blocks run, what it returns, or what the
// functions it calls do can depend: those its edge conditions and return
// values mention, and those it passes on to a callee for which they are
// relevant. A callee still being computed (recursion) counts as depending
// on everything, which only keeps more of a binding.
func (p *Pass) relevant(f *cfg.Func) uint64 {
	if m, ok := p.rel[f]; ok {
		return m
	}
	if p.rel == nil {
		p.rel = map[*cfg.Func]uint64{}
	}
	p.rel[f] = ^uint64(0) // in progress
	p.Program.Lift(f)
	var m uint64
	for _, b := range f.Blocks {
		for _, e := range b.Succs {
			m |= mentions(e.Cond)
		}
	}
	m |= mentions(f.Result)
	for _, r := range f.Returns {
		m |= mentions(r.Value)
	}
	for _, c := range f.Calls {
		for _, ce := range c.Callees {
			g := p.Program.Func(ce.Func)
			if g == nil || ce.Import != nil {
				continue
			}
			rg := p.relevant(g)
			for i := 0; i < maxBound; i++ {
				if rg&(1<<uint(i)) != 0 {
					m |= mentions(c.Arg(i))
				}
			}
			if rg&relIRQL != 0 {
				m |= mentions(c.IRQL)
			}
		}
	}
	p.rel[f] = m
	return m
}

// mentions is the relevance set of the leaves e uses.
func mentions(e *ir.Expr) uint64 {
	u := e.Uses()
	m := uint64(u & ir.UsesParams)
	if u&ir.UsesIRQL != 0 {
		m |= relIRQL
	}
	return m
}

// meaningful keeps what the facts of a situation can decide: a constant,
// or an expression of the callback data (parameter 0) or its IRQL.
func meaningful(e *ir.Expr) *ir.Expr {
	if e == nil {
		return nil
	}
	if _, ok := e.IsConst(); ok {
		return e
	}
	if e.Uses()&(1|ir.UsesIRQL) != 0 {
		return e
	}
	return nil
}

// substituter rewrites a node's function's expressions in the callback's
// terms.
func (p *Pass) substituter(n node) *ir.Substituter {
	if s, ok := p.substs[n]; ok {
		return s
	}
	if p.substs == nil {
		p.substs = map[node]*ir.Substituter{}
	}
	s := p.Program.IR.NewSubstituter(ir.Binding{Params: n.params[:], IRQL: n.irql, Call: p.summaries(0, n.irql)})
	p.substs[n] = s
	return s
}

// subst rewrites e, an expression of a node's function, in the callback's
// terms.
func (p *Pass) subst(s *ir.Substituter, e *ir.Expr) *ir.Expr { return s.Subst(e) }

// maxExpand bounds how deep helpers' results are expanded into their
// callers' conditions.
const maxExpand = 3

// summaries returns the hook that replaces a call to one of the driver's
// own functions by the function's result in the caller's terms: a helper's
// "return FlagOn(Data->Iopb->IrpFlags, IRP_PAGING_IO)" becomes the
// caller's test, however deep (up to maxExpand) the helpers nest. irql is
// the caller's entry IRQL in the callback's terms: a helper called at its
// caller's entry IRQL ("return KeGetCurrentIrql() <= APC_LEVEL") tests
// that.
func (p *Pass) summaries(depth int, irql *ir.Expr) func(call *ir.Expr, args []*ir.Expr) *ir.Expr {
	if depth >= maxExpand {
		return nil
	}
	return func(call *ir.Expr, args []*ir.Expr) *ir.Expr {
		if call.A == nil || call.A.Op != ir.OpAddr {
			return nil
		}
		g := p.Program.Func(uint32(call.A.V))
		p.Program.Lift(g)
		if g == nil || g.Result == nil {
			return nil
		}
		var at *ir.Expr // the IRQL at the call, in the callback's terms
		if site := p.callSite(uint32(call.V)); site != nil && site.IRQL != nil {
			switch {
			case site.IRQL.Op == ir.OpConst:
				at = site.IRQL
			case site.IRQL == p.Program.IR.IRQL():
				at = irql
			}
		}
		inner := p.Program.IR.NewSubstituter(ir.Binding{Params: args, IRQL: at, Call: p.summaries(depth+1, at)})
		return inner.Subst(g.Result)
	}
}

// callSite finds the call at rva, in any function.
func (p *Pass) callSite(rva uint32) *cfg.CallSite {
	if p.sites == nil {
		p.sites = map[uint32]*cfg.CallSite{}
		for _, f := range p.Program.Funcs {
			for _, c := range f.Calls {
				p.sites[c.Site] = c
			}
		}
	}
	return p.sites[rva]
}

// feasible marks the blocks of n's function that can run under facts:
// those reached from its entry (and from blocks no edge enters, such as
// __except blocks) through edges whose condition the facts do not refute.
func (p *Pass) feasible(n node, facts *ir.Facts) []bool {
	key := feasKey{n, facts}
	if f, ok := p.feas[key]; ok {
		return f
	}
	f := n.f
	p.Program.Lift(f)
	s := p.substituter(n)
	blocks := f.Blocks
	index := make(map[uint32]int, len(blocks))
	hasPred := make([]bool, len(blocks))
	for i, b := range blocks {
		index[b.Start] = i
	}
	for _, b := range blocks {
		for _, e := range b.Succs {
			if j, ok := index[e.To]; ok {
				hasPred[j] = true
			}
		}
	}
	feas := make([]bool, len(blocks))
	var work []int
	for i, b := range blocks {
		if b.Start == f.Entry || !hasPred[i] {
			feas[i] = true
			work = append(work, i)
		}
	}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		for _, e := range blocks[i].Succs {
			j, ok := index[e.To]
			if !ok || feas[j] {
				continue
			}
			if decidable(e.Cond) {
				if taken, known := facts.Decide(p.subst(s, e.Cond)); known && !taken {
					continue
				}
			}
			feas[j] = true
			work = append(work, j)
		}
	}
	if p.feas == nil {
		p.feas = map[feasKey][]bool{}
	}
	p.feas[key] = feas
	return feas
}

// decidable reports whether facts about a callback can decide cond: it
// uses a parameter or the IRQL, or a call whose result may (a helper's
// summary). Conditions on the function's own locals never are.
func decidable(cond *ir.Expr) bool {
	return cond.Uses()&(ir.UsesParams|ir.UsesIRQL|ir.UsesCall) != 0
}

type feasKey struct {
	n     node
	facts *ir.Facts
}

// edgeFeasible reports whether the edge from block `from` to block `to` can
// be taken under facts (from itself must be feasible).
func (p *Pass) edgeFeasible(n node, facts *ir.Facts, from, to *cfg.Block) bool {
	for _, e := range from.Succs {
		if e.To != to.Start {
			continue
		}
		if !decidable(e.Cond) {
			return true
		}
		if taken, known := facts.Decide(p.subst(p.substituter(n), e.Cond)); !known || taken {
			return true
		}
	}
	return false
}

// possible lists the values e, an expression of a callback's own (its
// return value), can take under facts, following the phis of f (see
// ir.Facts.ValuesWith).
func possible(e *ir.Expr, facts *ir.Facts, f *cfg.Func) (vals []int64, complete bool) {
	vs, complete := facts.ValuesWith(e, func(phi *ir.Expr) []*ir.Expr { return f.Phis[phi] })
	for _, v := range vs {
		vals = append(vals, int64(v))
	}
	return vals, complete
}

// mayBe reports whether one of the values is c, as a w-byte value.
func mayBe(vals []int64, c int64, w int) bool {
	m := uint64(1)<<(8*uint(w)) - 1
	if w >= 8 {
		m = ^uint64(0)
	}
	for _, v := range vals {
		if uint64(v)&m == uint64(c)&m {
			return true
		}
	}
	return false
}
