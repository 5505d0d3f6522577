package rules

import (
	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/loader"
)

// Callback data layout (fltKernel.h): FLT_CALLBACK_DATA.Iopb at 0x10,
// FLT_IO_PARAMETER_BLOCK.IrpFlags at 0; IRP_PAGING_IO 0x2,
// IRP_SYNCHRONOUS_PAGING_IO 0x40.
const (
	offIopb       = 0x10
	offIrpFlags   = 0x0
	offMajor      = 0x4     // FLT_IO_PARAMETER_BLOCK.MajorFunction
	irpPagingIO   = 0x2     // a guard must test it: IRP_SYNCHRONOUS_PAGING_IO (0x40) alone misses asynchronous paging I/O
	preopPending  = 2       // FLT_PREOP_PENDING
	maxPagingWalk = 1 << 16 // (function, binding) nodes per callback

	// FLT_CALLBACK_DATA.Flags: FLTFL_CALLBACK_DATA_IRP_OPERATION,
	// _FAST_IO_OPERATION and _FS_FILTER_OPERATION.
	dataFlagIRP      = 0x1
	dataFlagFsFilter = 0x4

	dispatchLevel = 2 // DISPATCH_LEVEL
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

// pagingFacts is what holds in a pre-operation callback on the paging
// path: for an IRP operation, Data->Flags says IRP-based (not fast I/O, not
// FsFilter), Data->Iopb->IrpFlags has IRP_PAGING_IO, MajorFunction is the
// registered major, and the IRQL is at most APC_LEVEL. FsFilter operations
// of the memory and cache managers are not IRPs: their IrpFlags are 0, so
// no paging test guards anything, and Data->Flags says FsFilter.
func (p *Pass) pagingFacts(major uint8, mmcc bool) *ir.Facts {
	key := factsKey{kind: "paging", major: major, mmcc: mmcc}
	if f, ok := p.facts[key]; ok {
		return f
	}
	b := p.Program.IR
	f := b.NewFacts()
	data := b.Param(0)
	iopb := b.Load(b.Bin(ir.OpAdd, data, b.Const(offIopb, 8)), 8)
	if mmcc {
		f.SetMemory(data, 4, 0x7, dataFlagFsFilter)
		f.SetMemory(b.Bin(ir.OpAdd, iopb, b.Const(offIrpFlags, 8)), 4, 0xffffffff, 0)
	} else {
		f.SetMemory(data, 4, 0x7, dataFlagIRP)
		f.SetMemory(b.Bin(ir.OpAdd, iopb, b.Const(offIrpFlags, 8)), 4, irpPagingIO, irpPagingIO)
	}
	f.SetMemory(b.Bin(ir.OpAdd, iopb, b.Const(offMajor, 8)), 1, 0xff, uint64(major))
	f.SetLeaf(b.IRQL(), ir.Bits{Known: 0xfe, W: 1}) // PASSIVE_LEVEL or APC_LEVEL
	p.setFacts(key, f)
	return f
}

// majorFacts is what holds for any run of a callback registered for major.
func (p *Pass) majorFacts(major uint8) *ir.Facts {
	key := factsKey{kind: "major", major: major}
	if f, ok := p.facts[key]; ok {
		return f
	}
	b := p.Program.IR
	f := b.NewFacts()
	iopb := b.Load(b.Bin(ir.OpAdd, b.Param(0), b.Const(offIopb, 8)), 8)
	f.SetMemory(b.Bin(ir.OpAdd, iopb, b.Const(offMajor, 8)), 1, 0xff, uint64(major))
	p.setFacts(key, f)
	return f
}

// dispatchFacts is what holds when a post-operation callback for major runs
// at DISPATCH_LEVEL.
func (p *Pass) dispatchFacts(major uint8) *ir.Facts {
	key := factsKey{kind: "dispatch", major: major}
	if f, ok := p.facts[key]; ok {
		return f
	}
	b := p.Program.IR
	f := b.NewFacts()
	iopb := b.Load(b.Bin(ir.OpAdd, b.Param(0), b.Const(offIopb, 8)), 8)
	f.SetMemory(b.Bin(ir.OpAdd, iopb, b.Const(offMajor, 8)), 1, 0xff, uint64(major))
	f.SetLeaf(b.IRQL(), ir.Exact(dispatchLevel, 1))
	p.setFacts(key, f)
	return f
}

type factsKey struct {
	kind  string
	major uint8
	mmcc  bool
}

func (p *Pass) setFacts(k factsKey, f *ir.Facts) {
	if p.facts == nil {
		p.facts = map[factsKey]*ir.Facts{}
	}
	p.facts[k] = f
}

// pagingHits walks the call graph from every paging-path callback once and
// returns what it reaches; the MF20xx rules pick their classes from it.
func (p *Pass) pagingHits() []pagingHit {
	if p.walked {
		return p.paging
	}
	p.walked = true
	for _, start := range p.pagingCallbacks() {
		pre := p.Program.Func(start.op.Pre)
		if pre == nil {
			continue
		}
		facts := p.pagingFacts(start.op.Major, start.mmcc)
		type visit struct {
			n      node
			parent int
			call   uint32 // call in the parent that reached this node
		}
		nodes := []visit{{n: p.startNode(pre), parent: -1}}
		seen := map[node]bool{nodes[0].n: true}
		pathTo := func(i int, call uint32) []Step {
			var rev []Step
			for ; i >= 0; i = nodes[i].parent {
				f := nodes[i].n.f
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
			n := nodes[i].n
			if sec := p.Image.Section(n.f.Entry); sec != nil && sec.Pageable() {
				emit(pagingHit{kind: hitPageCode, site: n.f.Entry, path: pathTo(i, n.f.Entry)})
			}
			feas := p.feasible(n, facts)
			if i == 0 {
				for _, ret := range n.f.Returns {
					if !p.retFeasible(n, facts, ret) {
						continue
					}
					if vals, _ := possible(p.subst(p.substituter(n), ret.Value), facts, n.f); mayBe(vals, preopPending, 4) {
						emit(pagingHit{kind: hitPending, site: ret.Block.Start, path: pathTo(i, ret.Block.Start)})
					}
				}
			}
			for _, c := range n.f.Calls {
				if bi := blockOf(n.f, c.Site); bi < 0 || !feas[bi] {
					continue // behind a "not paging I/O" test, or a branch for another major
				}
				for _, ce := range c.Callees {
					imp := ce.Import
					callee := p.Program.Func(ce.Func)
					if imp != nil {
						if api := p.Catalogue.At(imp, c.Args, p.Image, p.memoryAt(n.f, c)); api != nil {
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
					next := p.next(n, callee, c)
					if !seen[next] {
						seen[next] = true
						nodes = append(nodes, visit{n: next, parent: i, call: c.Site})
					}
				}
			}
		}
	}
	return p.paging
}

// retFeasible reports whether a return can happen under facts: its ret
// block, and the predecessor it was evaluated through with the edge from
// it.
func (p *Pass) retFeasible(n node, facts *ir.Facts, ret cfg.Return) bool {
	feas := p.feasible(n, facts)
	if i := blockIndex(n.f, ret.Block); i < 0 || !feas[i] {
		return false
	}
	if ret.Via == nil {
		return true
	}
	i := blockIndex(n.f, ret.Via)
	return i >= 0 && feas[i] && p.edgeFeasible(n, facts, ret.Via, ret.Block)
}

// returnValues lists what a callback can return when it runs for major
// (its return at each ret its code for major can reach); complete is false
// when one of them is not a known constant.
func (p *Pass) returnValues(f *cfg.Func, major uint8) (vals []int64, complete bool, rets int) {
	p.Program.Lift(f)
	n := p.startNode(f)
	facts := p.majorFacts(major)
	complete = true
	for _, ret := range f.Returns {
		if !p.retFeasible(n, facts, ret) {
			continue
		}
		rets++
		v, c := possible(p.subst(p.substituter(n), ret.Value), facts, n.f)
		vals = append(vals, v...)
		complete = complete && c
	}
	return vals, complete, rets
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
