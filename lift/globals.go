package lift

import (
	"sort"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
)

// Calls through routine pointers a driver keeps in its writable data
// (`gLookup = PsLookupProcessByProcessId;` in DriverEntry, a structure of
// hooks, a pointer CFG dispatches through) resolve to every value the
// driver's code stores there: the program is read flow-insensitively, as if
// every store might have run before any call. A stored value the analysis
// cannot name (what MmGetSystemRoutineAddress returned, a pointer from the
// heap) leaves the call open: its named targets are followed and the call
// is still listed as a blind spot.

// maxStructReach bounds how far below a pointer slot the address a storer
// takes may lie: the base of the structure of hooks it fills
// (lea rax,[gHooks]; mov [rax+8],rdx).
const maxStructReach = 0x400

// A globalStore is an 8-byte store of a lifted function into writable
// image data: v is nil when the value is unknown. fallback is set for a
// store made only where a run-time lookup of a routine found nothing
// (`p = MmGetSystemRoutineAddress(&name); if (!p) p = Fallback;`, WPP's
// W2kTraceMessage): the fallback stands in for the routine on systems
// without it, and the routine is what runs on the others.
type globalStore struct {
	slot     uint32
	v        *ir.Expr
	fallback bool
}

// routineLookups are the imports that find a routine by name at run time.
var routineLookups = map[string]bool{"MmGetSystemRoutineAddress": true, "FltGetRoutineAddress": true}

// markFallbacks sets fallback on the stores of f (by block) made where a
// routine lookup returned NULL: a block entered, through single-predecessor
// blocks up to maxFallbackDepth, by an edge whose condition is
// eq(lookup(...), 0).
func (ps *pass) markFallbacks(f *cfg.Func, stores [][]globalStore) {
	type pred struct {
		from int
		cond *ir.Expr
	}
	var preds [][]pred
	for bi, s := range stores {
		if len(s) == 0 {
			continue
		}
		if preds == nil {
			index := make(map[uint32]int, len(f.Blocks))
			for i, blk := range f.Blocks {
				index[blk.Start] = i
			}
			preds = make([][]pred, len(f.Blocks))
			for i, blk := range f.Blocks {
				for _, e := range blk.Succs {
					if j, ok := index[e.To]; ok {
						preds[j] = append(preds[j], pred{i, e.Cond})
					}
				}
			}
		}
		cur := bi
		for depth := 0; depth < maxFallbackDepth && len(preds[cur]) == 1; depth++ {
			if ps.isLookupNull(preds[cur][0].cond) {
				for k := range s {
					s[k].fallback = true
				}
				break
			}
			cur = preds[cur][0].from
		}
	}
}

// maxFallbackDepth bounds the single-predecessor chain markFallbacks
// climbs from a store to the test of the lookup.
const maxFallbackDepth = 4

// isLookupNull reports eq(lookup(...), 0): a routine lookup found nothing.
func (ps *pass) isLookupNull(c *ir.Expr) bool {
	if c == nil || c.Op != ir.OpEq {
		return false
	}
	v := c.A
	if z, ok := c.B.IsConst(); !ok || z != 0 {
		if z, ok := c.A.IsConst(); !ok || z != 0 {
			return false
		}
		v = c.B
	}
	for v.Op == ir.OpTrunc || v.Op == ir.OpZext {
		v = v.A
	}
	return v.Op == ir.OpCall && routineLookups[importName(ps.img, v.A)]
}

// A globalRef is a writable image address that the instruction at `at`
// names where a pointer can go through it: a store of 8 bytes or more or an
// exchange at the address, or a lea of it (taken: the base of a structure
// written through a register).
type globalRef struct {
	addr, at uint32
	taken    bool
}

// writableRefs lists the globalRefs of an analysed function. Build reads
// these functions when a call loads a pointer there (storedInto).
func (ps *pass) writableRefs(insts []cfg.Inst) []globalRef {
	var out []globalRef
	for i := range insts {
		in := &insts[i]
		taken := false
		switch in.Op {
		case x86asm.LEA:
			taken = true
		case x86asm.MOV, x86asm.MOVUPS, x86asm.MOVAPS, x86asm.MOVDQU, x86asm.MOVDQA, x86asm.MOVQ, x86asm.MOVNTI,
			x86asm.XCHG, x86asm.CMPXCHG:
			if _, isMem := in.Args[0].(x86asm.Mem); !isMem || in.MemBytes < 8 {
				continue
			}
		default:
			continue
		}
		t, ok := cfg.RIPSlot(in)
		if !ok {
			continue
		}
		if sec := ps.img.Section(t); sec != nil && sec.Writable() {
			out = append(out, globalRef{t, in.RVA, taken})
			if in.MemBytes == 16 {
				out = append(out, globalRef{t + 8, in.RVA, false}) // movups [g],xmm0 stores two pointers
			}
		}
	}
	return out
}

// globalSlot returns the writable image slot a call target loads its
// pointer from: load(rva:slot):8.
func (p *Program) globalSlot(t *ir.Expr) (uint32, bool) {
	if t == nil || t.Op != ir.OpLoad || t.W != 8 || t.A.Op != ir.OpAddr || t.A.V < 0 || t.A.V > 0xffffffff {
		return 0, false
	}
	slot := uint32(t.A.V)
	if _, isImport := p.Image.ImportAt(slot); isImport || slot == p.Image.GuardCF.DispatchSlot {
		return 0, false
	}
	if sec := p.Image.Section(slot); sec == nil || !sec.Writable() {
		return 0, false
	}
	return slot, true
}

// resolveGlobalCalls gives the unresolved calls through pointers in
// writable data the targets the program stores there, and the virtual calls
// through objects whose pointers it keeps there the methods of the vtables
// their constructors store (see resolveVirtualCalls), from the writable
// addresses each function names (writableRefs). stopped, polled between
// the functions lifted, ends the work early (the file's time budget).
func (p *Program) resolveGlobalCalls(stopped func() bool) {
	type pending struct {
		site *cfg.CallSite
		slot uint32
	}
	var calls []pending
	var vcalls []virtualCall
	slots := map[uint32]bool{}
	for _, f := range p.Funcs {
		for _, c := range f.Calls {
			if c.Kind != cfg.CallUnresolved {
				continue
			}
			if slot, ok := p.globalSlot(c.Target); ok {
				calls = append(calls, pending{c, slot})
				slots[slot] = true
			} else if vc, ok := p.virtualCall(c); ok {
				vcalls = append(vcalls, vc)
				slots[vc.slot] = true
			}
		}
	}
	if len(slots) == 0 {
		return
	}
	r := &globalResolver{p: p, stopped: stopped}
	stored := r.storedInto(slots)
	for _, pc := range calls {
		callees, open := r.targets(pc.slot, stored[pc.slot])
		if len(callees) == 0 {
			continue
		}
		pc.site.Kind, pc.site.Callees, pc.site.Open = cfg.CallGlobal, callees, open
	}
	if len(vcalls) > 0 {
		r.resolveVirtualCalls(vcalls, stored)
	}
}

// storedInto returns what the program stores into each slot. The
// functions storing to a slot, or taking an address up to maxStructReach
// below it, are read: the blocks that do so evaluated alone where every
// value they store there is a routine or NULL (lea rax,[Hook]; mov
// [gHook],rax), the whole function lifted otherwise (a value from another
// block, a call's result, a parameter, a fallback), which records its
// stores.
func (r *globalResolver) storedInto(slots map[uint32]bool) map[uint32][]storedValue {
	sorted := make([]uint32, 0, len(slots))
	for s := range slots {
		sorted = append(sorted, s)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	stored := map[uint32][]storedValue{}
	for _, f := range r.p.Funcs {
		if r.stopped() {
			break
		}
		sites := namingSites(r.p.factsOf(f).refs, sorted)
		if len(sites) == 0 {
			continue
		}
		stores, ok := []globalStore(nil), false
		if !r.p.factsOf(f).lifted {
			stores, ok = r.localStores(f, sites, slots)
		}
		if !ok {
			r.p.Lift(f)
			stores = r.p.factsOf(f).stores
		}
		for _, s := range stores {
			if slots[s.slot] {
				stored[s.slot] = append(stored[s.slot], storedValue{f, s.v, s.fallback})
			}
		}
		r.passedStores(f, sorted, slots, stored)
	}
	return stored
}

// passedStores adds to stored what f's direct callees store through the
// address of a global structure f passes them (InitHooks(&gHooks), with
// InitHooks in another source file): a callee's stores at parameter i +
// off are stores at the address plus off. Unless f is lifted, only the
// calls in the blocks that take such an address are read (each block
// evaluated alone, as ArgsAt does): the others cannot be given it there.
func (r *globalResolver) passedStores(f *cfg.Func, sorted []uint32, slots map[uint32]bool, stored map[uint32][]storedValue) {
	addr0 := r.p.IR.Addr(0)
	lifted := r.p.factsOf(f).lifted
	var taking map[*cfg.Block]bool
	if !lifted {
		taking = map[*cfg.Block]bool{}
		for _, ref := range r.p.factsOf(f).refs {
			if ref.taken && len(namingSites([]globalRef{ref}, sorted)) > 0 {
				taking[f.BlockAt(ref.at)] = true
			}
		}
	}
	for _, c := range f.Calls {
		if c.Kind != cfg.CallDirect || !lifted && !taking[f.BlockAt(c.Site)] {
			continue
		}
		args, _ := r.p.ArgsAt(f, c)
		for i, a := range args[:min(len(args), len(argRegs))] {
			if a == nil {
				continue
			}
			base, at := r.p.IR.Base(a)
			if base != addr0 || at < 0 || at > 0xffffffff {
				continue
			}
			// Only a structure that holds a slot: one at or up to
			// maxStructReach above the address.
			if k := sort.Search(len(sorted), func(k int) bool { return int64(sorted[k]) >= at }); k == len(sorted) || int64(sorted[k])-at > maxStructReach {
				continue
			}
			for _, ce := range c.Callees {
				g := r.p.Func(ce.Func)
				if g == nil || ce.Import != nil {
					continue
				}
				r.p.Lift(g)
				for _, s := range r.p.factsOf(g).paramStores {
					if slot := at + s.off; s.param == i && slot >= 0 && slot <= 0xffffffff && slots[uint32(slot)] {
						stored[uint32(slot)] = append(stored[uint32(slot)], storedValue{g, s.v, false})
					}
				}
			}
		}
	}
}

// namingSites returns the instructions among refs that store to one of the
// sorted slots or take an address at or up to maxStructReach below one.
func namingSites(refs []globalRef, sorted []uint32) []uint32 {
	var out []uint32
	for _, r := range refs {
		i := sort.Search(len(sorted), func(i int) bool { return sorted[i] >= r.addr })
		if i < len(sorted) && (sorted[i] == r.addr || r.taken && sorted[i]-r.addr <= maxStructReach) {
			out = append(out, r.at)
		}
	}
	return out
}

// localStores evaluates alone each block of f holding one of the sites and
// returns the stores they make into the slots; false when one of those
// values is not a routine or NULL, so that f must be lifted.
func (r *globalResolver) localStores(f *cfg.Func, sites []uint32, slots map[uint32]bool) ([]globalStore, bool) {
	var out []globalStore
	done := map[*cfg.Block]bool{}
	for _, site := range sites {
		blk := f.BlockAt(site)
		if blk == nil {
			return nil, false
		}
		if done[blk] {
			continue
		}
		done[blk] = true
		for _, s := range r.p.blockStores(f, blk) {
			if !slots[s.slot] {
				continue
			}
			if _, ok, null := r.p.routineAt(s.v); !ok && !null {
				return nil, false
			}
			out = append(out, s)
		}
	}
	return out, true
}

// storedValue is one value a function stores into a slot.
type storedValue struct {
	by       *cfg.Func
	v        *ir.Expr
	fallback bool
}

// globalResolver names the routines stored values are.
type globalResolver struct {
	p       *Program
	stopped func() bool
	// callers maps each function to the direct calls of it, built when a
	// stored value is a parameter of its storer.
	callers map[*cfg.Func][]callerSite
}

// callerSite is one call and the function making it.
type callerSite struct {
	in   *cfg.Func
	site *cfg.CallSite
}

// targets returns the callees a slot's stored values and initial value
// name, and whether some value is not a routine the analysis can name.
func (r *globalResolver) targets(slot uint32, values []storedValue) (callees []cfg.Callee, open bool) {
	seen := map[cfg.Callee]bool{}
	add := func(v *ir.Expr) bool {
		ce, ok, null := r.p.routineAt(v)
		if null {
			return true
		}
		if ok && !seen[ce] {
			seen[ce] = true
			callees = append(callees, ce)
		}
		return ok
	}
	if t, ok := r.p.Image.PointerAt(slot); ok {
		add(r.p.IR.Addr(t))
	}
	for _, sv := range values {
		if sv.fallback {
			open = true // what the lookup finds runs instead
			continue
		}
		for _, v := range r.p.alternatives(sv.by, sv.v) {
			switch {
			case v == nil:
				open = true
			case v.Op == ir.OpParam:
				// A setter (SetHook(fn) { gHook = fn; }): what its
				// callers pass.
				for _, c := range r.callersOf(sv.by) {
					if !add(c.Arg(int(v.V))) {
						open = true
					}
				}
			case !add(v):
				open = true
			}
		}
	}
	return callees, open
}

// alternatives splits a value f stores into the values it may be: the
// arms of a select (cmov) and the operands of a phi. Where one of them is
// what a routine lookup returned, the others are its fallback (`p =
// MmGetSystemRoutineAddress(&name); if (!p) p = Fallback;`, as a cmov or a
// join) and are left out; the lookup's value is nil, unknown.
func (p *Program) alternatives(f *cfg.Func, v *ir.Expr) []*ir.Expr {
	var arms []*ir.Expr
	p.expand(f, v, 0, &arms)
	for _, a := range arms {
		if p.isLookup(a) {
			return []*ir.Expr{nil}
		}
	}
	return arms
}

// maxAlternatives bounds how deep selects and phis nest in a stored value.
const maxAlternatives = 4

// expand appends the values v may be to out: the arms of selects (several
// nested for several paths) and phis, each a value of its own.
func (p *Program) expand(f *cfg.Func, v *ir.Expr, depth int, out *[]*ir.Expr) {
	switch {
	case v == nil || depth >= maxAlternatives:
		*out = append(*out, v)
	case v.Op == ir.OpSelect:
		p.expand(f, v.B, depth+1, out)
		p.expand(f, v.C, depth+1, out)
	case v.Op == ir.OpPhi && f != nil && len(f.Phis[v]) > 0:
		for _, a := range f.Phis[v] {
			p.expand(f, a, depth+1, out)
		}
	default:
		*out = append(*out, v)
	}
}

// isLookup reports the value a routine lookup returned.
func (p *Program) isLookup(v *ir.Expr) bool {
	for v != nil && (v.Op == ir.OpTrunc || v.Op == ir.OpZext) {
		v = v.A
	}
	return v != nil && v.Op == ir.OpCall && routineLookups[importName(p.Image, v.A)]
}

// callersOf returns the direct calls of f, their callers lifted.
func (r *globalResolver) callersOf(f *cfg.Func) []*cfg.CallSite {
	if r.callers == nil {
		r.callers = map[*cfg.Func][]callerSite{}
		for _, g := range r.p.Funcs {
			for _, c := range g.Calls {
				if c.Kind != cfg.CallDirect {
					continue
				}
				for _, ce := range c.Callees {
					if t := r.p.Func(ce.Func); t != nil {
						r.callers[t] = append(r.callers[t], callerSite{g, c})
					}
				}
			}
		}
	}
	var sites []*cfg.CallSite
	for _, cs := range r.callers[f] {
		r.p.Lift(cs.in)
		sites = append(sites, cs.site)
	}
	return sites
}

// routineAt names the routine a pointer value is: a function of the image
// (a thunk as its import) or an import (its IAT slot's value). null is set
// for the constant 0, which is no target.
func (p *Program) routineAt(v *ir.Expr) (ce cfg.Callee, ok, null bool) {
	if v == nil {
		return cfg.Callee{}, false, false
	}
	if c, isConst := v.IsConst(); isConst && c == 0 {
		return cfg.Callee{}, false, true
	}
	switch v.Op {
	case ir.OpAddr:
		if f := p.Func(uint32(v.V)); f != nil {
			return cfg.Callee{Func: f.Entry, Import: f.Thunk}, true, false
		}
	case ir.OpImport:
		if imp, isSlot := p.Image.ImportAt(uint32(v.V)); isSlot {
			return cfg.Callee{Import: imp}, true, false
		}
	case ir.OpLoad:
		if v.A.Op == ir.OpAddr && v.W == 8 {
			if imp, isSlot := p.Image.ImportAt(uint32(v.A.V)); isSlot {
				return cfg.Callee{Import: imp}, true, false
			}
		}
	}
	return cfg.Callee{}, false, false
}
