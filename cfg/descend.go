package cfg

import (
	"slices"
	"sort"

	"github.com/drvhazard/drvhazard/loader"
	"golang.org/x/arch/x86/x86asm"
)

// analysis is what one pass over a function produced.
type analysis struct {
	insts   []Inst          // sorted by rva
	index   instIndex       // rva -> index in insts
	leaders map[uint32]bool // block starts
	// per-instruction facts decided by the descent
	term   map[uint32]Term     // terminator kind of the instruction at rva
	succ   map[uint32][]Edge   // explicit successors of branches and switches
	tails  map[uint32][]uint32 // jmp/jcc leaving the function -> target function(s)
	maxEnd uint32              // first RVA past the highest decoded byte
	// maxDepth is the deepest rsp goes below its entry value on the paths
	// decoded (the frame size).
	maxDepth uint32
	invalid  []uint32
	// tables holds the jump tables resolved in this function: clang places
	// them in .text, and the lea of their base is not a code reference.
	tables map[uint32]bool
	// runs holds each block's instructions, a range of insts, in the order
	// of Func.Blocks.
	runs [][2]int
	// order and sorted are scratch space for sortInsts.
	order  []uint64
	sorted []Inst
	// decoded remembers what builds decoded, by bytes: it stays with the
	// scratch from one build to the next.
	decoded decodeCache
}

// midInstruction reports whether t falls inside (not at the start of) an
// instruction decoded in this function: an address computed for a jump
// into an unrolled sequence, never a function.
func (a *analysis) midInstruction(t uint32) bool {
	i := sort.Search(len(a.insts), func(i int) bool { return a.insts[i].RVA > t })
	return i > 0 && a.insts[i-1].RVA < t && t < a.insts[i-1].Next()
}

// sortInsts puts the instructions in address order. Sorting the RVAs and
// copying each instruction once is much cheaper than swapping the large
// instruction structs in place.
func (a *analysis) sortInsts() {
	// Each key is an rva over its place in insts: sorting them orders the
	// instructions without asking the index.
	a.order = a.order[:0]
	for i := range a.insts {
		a.order = append(a.order, uint64(a.insts[i].RVA)<<32|uint64(i))
	}
	if slices.IsSorted(a.order) {
		return
	}
	slices.Sort(a.order)
	a.sorted = a.sorted[:0]
	for _, k := range a.order {
		a.sorted = append(a.sorted, a.insts[uint32(k)])
	}
	a.insts, a.sorted = a.sorted, a.insts
	for i := range a.insts {
		a.index.put(a.insts[i].RVA, i)
	}
}

// analyse decodes the function at f.Entry by recursive descent, builds its
// blocks, runs the forward pass and records its call sites.
func (b *builder) analyse(f *Func) {
	img := b.img
	sec := img.Section(f.Entry)
	if sec == nil {
		return
	}
	limit := b.regionEnd(f.Entry, sec)
	pd, hasPd := img.RuntimeFunction(f.Entry)
	if hasPd && (pd.Chained || pd.Begin != f.Entry) {
		hasPd = false
	}
	// Fragments split off this function (chained .pdata, PGO cold parts)
	// belong to it wherever they lie.
	var frags []loader.RuntimeFunction
	if hasPd {
		frags = b.fragments[pd.Begin]
	}
	inFrag := func(t uint32) bool {
		for _, fr := range frags {
			if t >= fr.Begin && t < fr.End {
				return true
			}
		}
		return false
	}

	a := b.scratch
	a.reset(f.Entry)

	// leaves reports whether a jump to t leaves the function: a tail call.
	leaves := func(t uint32) bool {
		if inFrag(t) {
			return false
		}
		if t == f.Entry || t < f.Entry || t >= limit || b.entries.has(t) {
			return true
		}
		// Outside this function's unwind range: a tail call.
		return hasPd && (t < pd.Begin || t >= pd.End)
	}

	// Each work item carries the stack depth (bytes below the entry rsp)
	// along its path, -1 when unknown, to recognise tail jumps in functions
	// without unwind data.
	type item struct {
		pc    uint32
		depth int64
	}
	var candidates []uint32 // jmp targets that may be functions of their own
	work := []item{{f.Entry, 0}}
	// __except blocks are reached only through the scope table of the
	// function's exception handler: decode them as part of the function.
	var handlers []scopeEntry
	if hasPd {
		for _, se := range b.scopeTable(pd, frags) {
			if se.target != 0 {
				a.leaders[se.target] = true
				work = append(work, item{se.target, -1})
			}
			if se.handler > 1 {
				handlers = append(handlers, se)
			}
		}
	}
	for len(work) > 0 {
		it := work[len(work)-1]
		work = work[:len(work)-1]
		pc, depth := it.pc, it.depth
		chk := int64(-1) // eax before a call, for __chkstk probes
		var prev uint32
		for {
			if a.index.has(pc) {
				a.leaders[pc] = true
				break
			}
			if (pc < f.Entry || pc >= limit) && !inFrag(pc) {
				// Fell off the end of the region: into the next function.
				if prev != 0 {
					i, _ := a.index.get(prev)
					p := &a.insts[i]
					if p.Op == x86asm.CALL {
						a.term[prev] = TermNoReturn
					} else if b.prog.byEntry[pc] != nil {
						a.term[prev] = TermTail
						a.tails[prev] = append(a.tails[prev], pc)
					} else {
						a.term[prev] = TermInvalid
					}
				}
				break
			}
			// A fragment may lie in another section: decode from the bytes
			// of the section that holds pc, and only if it holds code.
			// Decoded in place: an Inst is 200 bytes, and every
			// instruction of the image passes here.
			a.insts = append(a.insts, Inst{RVA: pc, prev: prev})
			cur := &a.insts[len(a.insts)-1]
			in := &cur.Inst
			if err := a.decoded.decode(Code(b.img, pc), in); err != nil || in.Op == 0 { // x86asm reports some undecodable bytes as Op 0
				a.insts = a.insts[:len(a.insts)-1]
				a.invalid = append(a.invalid, pc)
				if prev != 0 {
					a.term[prev] = TermInvalid
				} else {
					// The block starts with bad bytes: keep a one-byte
					// placeholder so the block exists.
					a.index.put(pc, len(a.insts))
					a.insts = append(a.insts, Inst{Inst: x86asm.Inst{Len: 1}, RVA: pc})
					a.term[pc] = TermInvalid
				}
				break
			}
			b.instructions++
			a.index.put(pc, len(a.insts)-1)
			if e := cur.Next(); e > a.maxEnd {
				a.maxEnd = e
			}
			next := cur.Next()
			stop := true
			switch {
			case in.Op == x86asm.RET || in.Op == x86asm.IRETQ:
				a.term[pc] = TermRet
			case in.Op == x86asm.JMP:
				if t, ok := RelTarget(cur); ok {
					if leaves(t) {
						a.term[pc] = TermTail
						a.tails[pc] = []uint32{t}
					} else {
						a.term[pc] = TermJump
						a.succ[pc] = []Edge{{To: t, Kind: EdgeJump}}
						a.leaders[t] = true
						work = append(work, item{t, depth})
						if depth == 0 && !hasPd && t > pc {
							candidates = append(candidates, t)
						}
					}
				} else if targets, ok := b.jumpTable(a, cur, f.Entry, limit); ok {
					a.term[pc] = TermSwitch
					var edges []Edge
					seen := map[uint32]bool{}
					for _, t := range targets {
						if seen[t] {
							continue
						}
						seen[t] = true
						if leaves(t) {
							a.tails[pc] = append(a.tails[pc], t)
							continue
						}
						edges = append(edges, Edge{To: t, Kind: EdgeSwitch})
						a.leaders[t] = true
						work = append(work, item{t, depth})
					}
					a.succ[pc] = edges
				} else {
					// jmp [IAT], jmp reg: resolved by the forward pass.
					a.term[pc] = TermTail
				}
			case IsJcc(in.Op):
				stop = false
				if t, ok := RelTarget(cur); ok {
					a.term[pc] = TermCond
					if leaves(t) {
						a.tails[pc] = []uint32{t}
						a.succ[pc] = []Edge{{To: next, Kind: EdgeNotTaken}}
					} else {
						a.succ[pc] = []Edge{{To: t, Kind: EdgeTaken}, {To: next, Kind: EdgeNotTaken}}
						a.leaders[t] = true
						work = append(work, item{t, depth})
					}
					a.leaders[next] = true
				}
			case in.Op == x86asm.CALL:
				stop = b.callNoReturn(cur)
				if stop {
					a.term[pc] = TermNoReturn
				}
			// int 2Ch (NT_ASSERT's __int2c) is no terminator: a debugger
			// resumes after it and the compiler lays out the code that
			// follows, so a failed assertion does not stop a path the way
			// a test that returns does (PAGED_CODE() at DISPATCH_LEVEL is
			// the hazard, not its guard).
			case in.Op == x86asm.INT && len(in.Args) > 0 && isImm(in.Args[0], 0x29), // __fastfail
				in.Op == x86asm.UD2, in.Op == x86asm.UD1, in.Op == x86asm.UD0, in.Op == x86asm.HLT:
				a.term[pc] = TermNoReturn
			default:
				stop = false
			}
			if stop {
				break
			}
			// mov eax,N ; call probe ; sub rsp,rax: the call is a stack probe
			// (__chkstk, ___chkstk_ms), which keeps every register but r10
			// and r11.
			if chk >= 0 && prev != 0 && cur.Op == x86asm.SUB && cur.Args[0] == x86asm.RSP && cur.Args[1] == x86asm.RAX {
				i, _ := a.index.get(prev)
				a.insts[i].Probe = true
			}
			depth, chk = stackDepth(cur, depth, chk)
			if depth > 0 && uint32(depth) > a.maxDepth && depth <= maxFrame {
				a.maxDepth = uint32(depth)
			}
			prev = pc
			pc = next
		}
	}
	a.sortInsts()
	// A jump to code that sits after an unconditional terminator and its
	// alignment padding is a tail call to a function without unwind data
	// (clang omits .pdata for frameless leaves). Adding the target as a
	// function makes this one be analysed again with the shorter region.
	// A function known only from a taken address whose bytes do not decode
	// was data (a string in .text): forget it before it spawns more.
	if f.Source&^weakSources == 0 && len(a.invalid) > 0 {
		b.reject(f)
		return
	}
	var promoted []uint32
	for _, t := range candidates {
		if b.boundaryAt(a, t) {
			promoted = append(promoted, t)
		}
	}
	if len(a.invalid) > 0 {
		b.notef("%s: bytes at %#x do not decode as x64; the block ends there", funcLabel(f), a.invalid[0])
	}
	b.maxEnd[f] = a.maxEnd
	b.buildBlocks(f, a)
	f.FrameSize = a.maxDepth
	// What an earlier lift said of f is about blocks this analysis has
	// replaced: forget it, and lift again when asked.
	f.Result, f.ExitIRQL, f.Returns, f.Phis = nil, nil, nil, nil
	b.values.Decoded(f, a.insts)
	if b.needsValues(a) {
		b.flow(f, a) // lifted now: not kept, they would seldom be decoded again
	} else {
		runs := blockRuns(f, a)
		b.packBlocks(f, runs)
		b.recordOnly(f, a, runs)
	}
	b.addHandlerCalls(f, handlers)
	for _, t := range promoted {
		b.addFunc(t, FromTailJump) // enqueues f again: t is inside its decoded range
	}
}

func funcLabel(f *Func) string { return f.DisplayName() }

// scopeEntry is one C_SCOPE_TABLE entry of __C_specific_handler.
type scopeEntry struct {
	begin, end, handler, target uint32
}

// maxScopes bounds a scope table; real functions have a handful.
const maxScopes = 256

// scopeTable reads the scope table of a function whose unwind info names an
// exception handler, when the handler data has its shape: a count, then
// {BeginAddress, EndAddress, HandlerAddress, JumpTarget} entries whose
// ranges and targets lie in the function and whose handlers are 1
// (EXCEPTION_EXECUTE_HANDLER) or code. __C_specific_handler and
// __GSHandlerCheck_SEH use it; other handlers' data fails the checks.
func (b *builder) scopeTable(pd *loader.RuntimeFunction, frags []loader.RuntimeFunction) []scopeEntry {
	img := b.img
	if pd.Handler == 0 {
		return nil
	}
	count, ok := img.Uint32(pd.HandlerData)
	if !ok || count == 0 || count > maxScopes {
		return nil
	}
	inside := func(t uint32) bool {
		if t >= pd.Begin && t < pd.End {
			return true
		}
		for _, fr := range frags {
			if t >= fr.Begin && t < fr.End {
				return true
			}
		}
		return false
	}
	out := make([]scopeEntry, 0, count)
	for i := uint32(0); i < count; i++ {
		var f [4]uint32
		for k := range f {
			v, ok := img.Uint32(pd.HandlerData + 4 + 16*i + 4*uint32(k))
			if !ok {
				return nil
			}
			f[k] = v
		}
		se := scopeEntry{begin: f[0], end: f[1], handler: f[2], target: f[3]}
		if se.begin >= se.end || !inside(se.begin) || !inside(se.end-1) ||
			(se.target != 0 && !inside(se.target)) || (se.handler > 1 && !img.Executable(se.handler)) || se.handler == 0 {
			return nil
		}
		out = append(out, se)
	}
	return out
}

// addHandlerCalls records the filters and termination handlers (funclets)
// a function's scope table names as calls made by the function: the runtime
// runs them on its behalf, and what they call belongs to its call graph.
func (b *builder) addHandlerCalls(f *Func, handlers []scopeEntry) {
	if len(handlers) == 0 {
		return
	}
	seen := map[uint32]bool{}
	for _, se := range handlers {
		if seen[se.handler] {
			continue
		}
		seen[se.handler] = true
		f.Calls = append(f.Calls, &CallSite{Site: se.begin, Kind: CallHandler, Callees: []Callee{{Func: se.handler}}})
		b.addFunc(se.handler, FromHandler)
	}
	sort.SliceStable(f.Calls, func(i, j int) bool { return f.Calls[i].Site < f.Calls[j].Site })
}

func newAnalysis() *analysis {
	return &analysis{
		leaders: map[uint32]bool{},
		term:    map[uint32]Term{},
		succ:    map[uint32][]Edge{},
		tails:   map[uint32][]uint32{},
		tables:  map[uint32]bool{},
	}
}

// reset empties the scratch analysis for the function at entry, keeping
// the memory of its slice and maps.
func (a *analysis) reset(entry uint32) {
	a.index.reset(entry, a.insts)
	a.insts = a.insts[:0]
	a.invalid = a.invalid[:0]
	a.maxEnd = 0
	a.maxDepth = 0
	clear(a.leaders)
	clear(a.term)
	clear(a.succ)
	clear(a.tails)
	clear(a.tables)
	a.leaders[entry] = true
}

// boundaryAt reports whether t looks like the start of a function in the
// layout compilers emit: the instruction before it (decoded in this
// function) is an unconditional terminator, followed only by nop or int3
// padding up to t; with no padding at all, t must be 16-byte aligned.
func (b *builder) boundaryAt(a *analysis, t uint32) bool {
	i := sort.Search(len(a.insts), func(i int) bool { return a.insts[i].RVA >= t })
	if i == 0 {
		return false
	}
	before := &a.insts[i-1]
	end := before.Next()
	if end > t {
		return false
	}
	switch {
	case before.Op == x86asm.RET, before.Op == x86asm.JMP, before.Op == x86asm.UD2, isInt3(&before.Inst):
	default:
		return false
	}
	if end == t {
		return t%16 == 0
	}
	for pc := end; pc < t; {
		in, err := x86asm.Decode(Code(b.img, pc), 64)
		if err != nil || (in.Op != x86asm.NOP && !isInt3(&in)) {
			return false
		}
		pc += uint32(in.Len)
		if pc > t {
			return false
		}
	}
	return true
}

// maxFrame bounds the frame size the descent believes: a larger sub rsp is
// not a real driver's.
const maxFrame = 1 << 24

// stackDepth follows rsp through one instruction: bytes below the entry
// value, or -1 once something the descent does not model writes rsp. chk is
// eax as a mov eax,N before a call left it, for the stack probe
// (mov eax,N ; call __chkstk ; sub rsp,rax); -1 when unknown.
func stackDepth(in *Inst, depth, chk int64) (int64, int64) {
	next := int64(-1)
	if in.Op == x86asm.MOV {
		if r, ok := in.Args[0].(x86asm.Reg); ok && (r == x86asm.EAX || r == x86asm.RAX) {
			if imm, ok := in.Args[1].(x86asm.Imm); ok {
				next = int64(imm)
			}
		}
	}
	if in.Op == x86asm.CALL {
		next = chk
	}
	if depth < 0 {
		return -1, next
	}
	switch in.Op {
	case x86asm.PUSH:
		return depth + 8, next
	case x86asm.POP:
		return depth - 8, next
	case x86asm.CALL:
		return depth, next
	}
	dst, ok := in.Args[0].(x86asm.Reg)
	if !ok || dst != x86asm.RSP || !WritesArg0(in.Op) {
		return depth, next
	}
	switch src := in.Args[1].(type) {
	case x86asm.Imm:
		switch in.Op {
		case x86asm.SUB:
			return depth + int64(src), next
		case x86asm.ADD:
			return depth - int64(src), next
		}
	case x86asm.Reg:
		if in.Op == x86asm.SUB && src == x86asm.RAX && chk >= 0 {
			return depth + chk, next
		}
	}
	if in.Op == x86asm.AND {
		return depth, next // stack realignment: keep the depth as an approximation
	}
	return -1, next
}

// callNoReturn reports whether the call never returns: a call to a no-return
// import or to a function already known not to return.
func (b *builder) callNoReturn(in *Inst) bool {
	if b.noReturnSites[in.RVA] {
		return true
	}
	if t, ok := RelTarget(in); ok {
		if tf := b.prog.byEntry[t]; tf != nil {
			if tf.NoReturn {
				return true
			}
			if tf.Thunk != nil && IsNoReturn(tf.Thunk) {
				return true
			}
		}
		if imp := b.thunkImport(t); imp != nil && IsNoReturn(imp) {
			return true
		}
		return false
	}
	if slot, ok := RIPSlot(in); ok {
		imp, ok := b.img.ImportAt(slot)
		return ok && IsNoReturn(imp)
	}
	return false
}

// buildBlocks cuts the decoded instructions into basic blocks.
func (b *builder) buildBlocks(f *Func, a *analysis) {
	b.blocks -= len(f.Blocks)
	defer func() { b.blocks += len(f.Blocks) }()
	f.Blocks = f.Blocks[:0]
	a.runs = a.runs[:0]
	f.Size = 0
	// Overlapping instruction streams (a jump into the middle of an
	// instruction): where the instruction after one, by address, does not
	// start at its end, the code at its end is entered by falling through
	// and starts a block.
	for i := range a.insts {
		end := a.insts[i].Next()
		if i+1 < len(a.insts) && a.insts[i+1].RVA != end {
			if a.index.has(end) {
				a.leaders[end] = true
			}
		}
	}
	// The blocks' runs of instructions first, then the blocks, in one
	// allocation: a new block starts at a leader, after a terminator, and
	// where the next instruction does not follow the last.
	open, at := false, uint32(0)
	for i := range a.insts {
		in := &a.insts[i]
		f.Size += uint32(in.Len)
		if !open || a.leaders[in.RVA] || at != in.RVA {
			a.runs = append(a.runs, [2]int{i, i})
			open = true
		}
		at = in.Next()
		a.runs[len(a.runs)-1][1] = i + 1
		if _, ok := a.term[in.RVA]; ok {
			open = false
		}
	}
	slab := make([]Block, len(a.runs))
	for k, r := range a.runs {
		blk, last := &slab[k], &a.insts[r[1]-1]
		blk.Start, blk.End, blk.Insts = a.insts[r[0]].RVA, last.Next(), r[1]-r[0]
		switch t, ok := a.term[last.RVA]; {
		case ok:
			blk.Term, blk.Succs = t, a.succ[last.RVA]
		case a.index.has(blk.End):
			// Unterminated, it falls into the code decoded at its end...
			blk.Term, blk.Succs = TermFall, []Edge{{To: blk.End, Kind: EdgeFall}}
		default:
			blk.Term = TermInvalid // ...or ends in bytes that were not decoded.
		}
		f.Blocks = append(f.Blocks, blk)
	}
	// A branch whose target or fall-through could not be decoded (past the
	// section's data, bad bytes) keeps no edge to it.
	starts := make(map[uint32]bool, len(f.Blocks))
	for _, blk := range f.Blocks {
		starts[blk.Start] = true
	}
	lost := func(e Edge) bool { return !starts[e.To] }
	for _, blk := range f.Blocks {
		if slices.ContainsFunc(blk.Succs, lost) {
			blk.Succs = slices.DeleteFunc(slices.Clone(blk.Succs), lost)
		}
	}
}
