package rules

import (
	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/loader"
)

// Callback data layout (fltKernel.h): FLT_CALLBACK_DATA.Iopb at 0x10,
// FLT_IO_PARAMETER_BLOCK.IrpFlags at 0; IRP_PAGING_IO 0x2,
// IRP_SYNCHRONOUS_PAGING_IO 0x40.
const (
	offIopb       = 0x10
	offIrpFlags   = 0x0
	offMajor      = 0x4 // FLT_IO_PARAMETER_BLOCK.MajorFunction
	irpPagingIO   = 0x2 // a guard must test it: IRP_SYNCHRONOUS_PAGING_IO (0x40) alone misses asynchronous paging I/O
	preopPending  = 2   // FLT_PREOP_PENDING
	noDataParam   = -1
	maxPagingWalk = 1 << 16 // (function, parameter) states per callback
)

type hitKind uint8

const (
	hitCall     hitKind = iota // a call to a catalogue routine
	hitPageCode                // a function in a PAGE section
	hitPending                 // the pre-operation callback returns FLT_PREOP_PENDING
)

// pagingHit is one hazard reached from a callback on the paging path.
type pagingHit struct {
	reg  *Registration
	op   Operation
	cb   CallbackRef
	mmcc bool // an FsFilter callback on the Mm/Cc path (MF2008)
	kind hitKind
	api  *API
	imp  *loader.Import // the routine reached; nil for a wrapper of the driver's own (sink names it)
	sink string
	call *cfg.CallSite
	site uint32
	path []Step
}

// pagingCallbacks lists the pre-operation callbacks that run on the paging
// path: READ and WRITE registered without SKIP_PAGING_IO, and the FsFilter
// operations of the memory and cache managers (0xFD..0xFA), for which the
// flag does not apply.
func (p *Pass) pagingCallbacks() []pagingHit {
	var out []pagingHit
	for _, r := range p.Model.Registrations {
		for _, op := range r.Operations {
			if op.Pre == 0 {
				continue
			}
			mmcc := onMmCcPath(op.Major)
			if !mmcc && !(carriesPagingIO(op.Major) && op.Flags&flagSkipPagingIO == 0) {
				continue
			}
			out = append(out, pagingHit{reg: r, op: op, mmcc: mmcc, cb: p.callbackRef(op, "pre", op.Pre)})
		}
	}
	return out
}

func (p *Pass) callbackRef(op Operation, kind string, rva uint32) CallbackRef {
	ref := CallbackRef{Major: MajorName(op.Major), Kind: kind, RVA: rva}
	if f := p.Program.Func(rva); f != nil {
		ref.Name = f.Name
	}
	return ref
}

// walkState is a function reached on a callback's paging path, with the
// index of the parameter that holds the callback data (noDataParam when it
// is not passed on).
type walkState struct {
	f    *cfg.Func
	data int
	// paging is the parameter holding a boolean made from the paging test
	// (noDataParam if none); pagingSet says the boolean is true for paging
	// I/O (setne after the test) rather than for non-paging I/O.
	paging    int
	pagingSet bool
}

// start returns the walk state of a callback: Data in rcx, no boolean.
func startState(f *cfg.Func) walkState { return walkState{f: f, data: 0, paging: noDataParam} }

// next returns the state of a callee reached through call c: where the call
// passes the callback data and the paging boolean.
func (st walkState) next(callee *cfg.Func, c *cfg.CallSite) walkState {
	n := walkState{f: callee, data: dataArg(c, st.data), paging: noDataParam}
	for j, a := range c.Args {
		switch {
		case isPagingTest(a, st.data):
			n.paging, n.pagingSet = j, a.W == 1
		case st.paging != noDataParam && a.Kind == cfg.Param && int(a.P) == st.paging && a.Depth == 0 && a.V == 0:
			n.paging, n.pagingSet = j, st.pagingSet
		}
	}
	return n
}

// isPagingTest reports a boolean made from a test of the callback data's
// IrpFlags against IRP_PAGING_IO.
func isPagingTest(v cfg.Value, data int) bool {
	return v.Kind == cfg.TestBit && data != noDataParam && v.V&irpPagingIO != 0 &&
		v.Field().IsParamField(data, offIopb, offIrpFlags)
}

// pagingHits walks the call graph from every paging-path callback once and
// returns what it reaches; the MF20xx rules pick their classes from it.
func (p *Pass) pagingHits() []pagingHit {
	if p.walked {
		return p.paging
	}
	p.walked = true
	guards := map[walkState][]bool{}
	for _, start := range p.pagingCallbacks() {
		pre := p.Program.Func(start.op.Pre)
		if pre == nil {
			continue
		}
		type node struct {
			st     walkState
			parent int
			call   uint32 // call in the parent that reached this node
		}
		nodes := []node{{st: startState(pre), parent: -1}}
		seen := map[walkState]bool{nodes[0].st: true}
		pathTo := func(i int, call uint32) []Step {
			var rev []Step
			for ; i >= 0; i = nodes[i].parent {
				f := nodes[i].st.f
				rev = append(rev, Step{RVA: f.Entry, Name: f.Name, Call: call})
				call = nodes[i].call
			}
			for l, r := 0, len(rev)-1; l < r; l, r = l+1, r-1 {
				rev[l], rev[r] = rev[r], rev[l]
			}
			return rev
		}
		emit := func(h pagingHit) {
			h.reg, h.op, h.cb, h.mmcc = start.reg, start.op, start.cb, start.mmcc
			p.paging = append(p.paging, h)
		}
		for i := 0; i < len(nodes) && i < maxPagingWalk && !p.stopped(); i++ {
			st := nodes[i].st
			if sec := p.Image.Section(st.f.Entry); sec != nil && sec.Pageable() {
				emit(pagingHit{kind: hitPageCode, site: st.f.Entry, path: pathTo(i, st.f.Entry)})
			}
			g, ok := guards[st]
			if !ok {
				g = p.guardedBlocks(st)
				guards[st] = g
			}
			if start.mmcc {
				// FsFilter operations are not IRPs: their IrpFlags are 0, so
				// a paging test always takes its "not paging" edge and
				// guards nothing.
				g = make([]bool, len(st.f.Blocks))
			}
			feas := p.feasibleBlocks(st.f, st.data, int(start.op.Major))
			if i == 0 {
				for _, ret := range p.evaluate(st.f).Returns() {
					bi := blockIndex(st.f, ret.Block)
					if !g[bi] && retFeasible(st.f, feas, ret) && ret.Value.MayBe(preopPending) {
						emit(pagingHit{kind: hitPending, site: ret.Block.Start, path: pathTo(i, ret.Block.Start)})
					}
				}
			}
			for _, c := range st.f.Calls {
				if bi := blockOf(st.f, c.Site); bi < 0 || g[bi] || !feas[bi] {
					continue // behind a "not paging I/O" test, or a branch for another major
				}
				for _, ce := range c.Callees {
					imp := ce.Import
					callee := p.Program.Func(ce.Func)
					if imp != nil {
						if api := p.Catalogue.Lookup(imp); api != nil {
							emit(pagingHit{kind: hitCall, api: api, imp: imp, sink: imp.String(), call: c, site: c.Site, path: pathTo(i, c.Site)})
						}
						continue
					}
					if callee == nil {
						continue
					}
					// A user's own wrapper listed in the catalogue is a
					// sink: the walk stops there.
					if api := p.Catalogue.LookupFunc(callee.Name); api != nil {
						emit(pagingHit{kind: hitCall, api: api, sink: callee.Name, call: c, site: c.Site, path: pathTo(i, c.Site)})
						continue
					}
					next := st.next(callee, c)
					if !seen[next] {
						seen[next] = true
						nodes = append(nodes, node{st: next, parent: i, call: c.Site})
					}
				}
			}
		}
	}
	return p.paging
}

// dataArg is the parameter index at which a call passes the callback data
// on, or noDataParam.
func dataArg(c *cfg.CallSite, data int) int {
	if data == noDataParam {
		return noDataParam
	}
	for j, a := range c.Args {
		if a.Kind == cfg.Param && int(a.P) == data && a.Depth == 0 && a.V == 0 {
			return j
		}
	}
	return noDataParam
}

// guardedBlocks marks the blocks of st.f that run only when the callback
// data in parameter st.data is not paging I/O: those dominated by the "bit
// clear" edge of a test of Data->Iopb->IrpFlags (or of a boolean made from
// that test, here or passed in as st.paging) with a mask that includes
// IRP_PAGING_IO (0x2, or 0x42 with IRP_SYNCHRONOUS_PAGING_IO). A test of
// 0x40 alone is no guard: asynchronous paging writes (the modified and
// mapped page writers) and prefetch reads have only IRP_PAGING_IO set.
func (p *Pass) guardedBlocks(st walkState) []bool {
	f, data := st.f, st.data
	guarded := make([]bool, len(f.Blocks))
	if data == noDataParam && st.paging == noDataParam {
		return guarded
	}
	conds := p.conds(f)
	var dom *domTree
	for u, b := range f.Blocks {
		c := conds[u]
		if c == nil {
			continue
		}
		// want is the kind of the edge taken for non-paging I/O.
		var want cfg.EdgeKind
		zeroEdge := cfg.EdgeNotTaken
		if c.TakenFor(0) {
			zeroEdge = cfg.EdgeTaken
		}
		nonZeroEdge := cfg.EdgeTaken + cfg.EdgeNotTaken - zeroEdge
		switch {
		case !c.Cmp && c.Mask&irpPagingIO != 0 && c.Value.IsParamField(data, offIopb, offIrpFlags):
			// The paging bits clear: the non-paging edge.
			want = cfg.EdgeNotTaken
			if c.TakenIfZero {
				want = cfg.EdgeTaken
			}
		case isPagingTest(c.Value, data) && (!c.Cmp || c.Imm == 0):
			// A boolean made from the test, tested here: false is non-paging
			// when it was set for paging I/O.
			want = zeroEdge
			if c.Value.W == 0 {
				want = nonZeroEdge
			}
		case st.paging != noDataParam && c.Value.Kind == cfg.Param && int(c.Value.P) == st.paging &&
			c.Value.Depth == 0 && (!c.Cmp || c.Imm == 0):
			// The boolean passed in as a parameter.
			want = zeroEdge
			if !st.pagingSet {
				want = nonZeroEdge
			}
		default:
			continue
		}
		if dom == nil {
			dom = dominators(f)
		}
		for _, e := range b.Succs {
			if e.Kind == want {
				dom.markEdgeRegion(u, e.To, guarded)
			}
		}
	}
	return guarded
}

// feasibleBlocks marks the blocks of f that can run when the callback data
// in parameter data is for the given major function: at a branch on
// Data->Iopb->MajorFunction only the edge that major takes is followed. A
// shared callback (one function registered for several operations) then
// counts, for each operation, only the code that operation can reach.
// Blocks without predecessors (__except blocks, entered by the exception
// dispatcher) are roots too. major < 0 prunes nothing.
func (p *Pass) feasibleBlocks(f *cfg.Func, data, major int) []bool {
	conds := p.conds(f)
	n := len(f.Blocks)
	feas := make([]bool, n)
	index := make(map[uint32]int, n)
	hasPred := make([]bool, n)
	for i, b := range f.Blocks {
		index[b.Start] = i
	}
	for _, b := range f.Blocks {
		for _, e := range b.Succs {
			if j, ok := index[e.To]; ok {
				hasPred[j] = true
			}
		}
	}
	var work []int
	for i, b := range f.Blocks {
		if b.Start == f.Entry || !hasPred[i] {
			feas[i] = true
			work = append(work, i)
		}
	}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		b := f.Blocks[i]
		c := conds[i]
		onMajor := major >= 0 && data != noDataParam && c != nil && c.Value.IsParamField(data, offIopb, offMajor)
		for _, e := range b.Succs {
			if onMajor {
				taken := c.TakenFor(int64(major))
				if (e.Kind == cfg.EdgeTaken) != taken {
					continue
				}
			}
			if j, ok := index[e.To]; ok && !feas[j] {
				feas[j] = true
				work = append(work, j)
			}
		}
	}
	return feas
}

// conds returns the branch conditions of f as the memory-tracking
// evaluation sees them (it understands compares of spilled stack slots);
// evaluations are cached for the pass.
func (p *Pass) conds(f *cfg.Func) []*cfg.Cond {
	if f.NeedsMemoryConds() {
		return p.evaluate(f).Conds()
	}
	out := make([]*cfg.Cond, len(f.Blocks))
	for i, b := range f.Blocks {
		out[i] = b.Cond
	}
	return out
}

// evaluate returns the cached evaluation of f.
func (p *Pass) evaluate(f *cfg.Func) *cfg.Evaluation {
	if e, ok := p.evals[f]; ok {
		return e
	}
	if p.evals == nil {
		p.evals = map[*cfg.Func]*cfg.Evaluation{}
	}
	e := p.Program.Evaluate(f)
	p.evals[f] = e
	return e
}

// retFeasible reports whether a return can happen under the feasible
// blocks: its ret block, and the predecessor it was evaluated through.
func retFeasible(f *cfg.Func, feas []bool, ret cfg.Return) bool {
	if !feas[blockIndex(f, ret.Block)] {
		return false
	}
	return ret.Via == nil || feas[blockIndex(f, ret.Via)]
}

// lowIRQLBlocks marks the blocks of f that run only when KeGetCurrentIrql()
// is below DISPATCH_LEVEL: those dominated by an edge of a comparison of its
// result that DISPATCH_LEVEL (2) cannot take.
func (p *Pass) lowIRQLBlocks(f *cfg.Func) []bool {
	low := make([]bool, len(f.Blocks))
	conds := p.conds(f)
	var dom *domTree
	for u, b := range f.Blocks {
		c := conds[u]
		if c == nil || c.Value.Kind != cfg.Returned {
			continue
		}
		imp, ok := p.Image.ImportAt(uint32(c.Value.V))
		if !ok || imp.Name != "KeGetCurrentIrql" {
			continue
		}
		if dom == nil {
			dom = dominators(f)
		}
		atDispatch := c.TakenFor(dispatchLevel)
		for _, e := range b.Succs {
			if (e.Kind == cfg.EdgeTaken) != atDispatch { // DISPATCH_LEVEL cannot take this edge
				dom.markEdgeRegion(u, e.To, low)
			}
		}
	}
	return low
}

func blockOf(f *cfg.Func, rva uint32) int {
	for i, b := range f.Blocks {
		if rva >= b.Start && rva < b.End {
			return i
		}
	}
	return -1
}

func blockIndex(f *cfg.Func, b *cfg.Block) int {
	for i := range f.Blocks {
		if f.Blocks[i] == b {
			return i
		}
	}
	return -1
}
