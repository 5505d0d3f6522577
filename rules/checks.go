package rules

import (
	"fmt"
	"strings"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
)

// FLT_PREOP_CALLBACK_STATUS values that ask for the post-operation callback.
const (
	preopSuccessWithCallback = 0
	preopSynchronize         = 5
)

func runMF1001(p *Pass, r *Rule) []Finding {
	var out []Finding
	for _, reg := range p.Model.Registrations {
		for _, prob := range reg.Problems {
			path := []Step{{RVA: reg.Caller.Entry, Name: reg.Caller.Name, Call: reg.Site}}
			// FltMgr reading past a table is the rule's severity; what
			// FltRegisterFilter rejects, or the analysis could not read,
			// is a note.
			sev := r.Severity
			if !prob.Fatal {
				sev = Note
			}
			out = append(out, Finding{
				Rule: r, Severity: sev, Site: reg.Site, Path: path, Sink: "FLTMGR.SYS!FltRegisterFilter",
				Message:     fmt.Sprintf("FLT_REGISTRATION passed by %s at %#x (%s): %s", stepName(path[0]), reg.Site, reg.Where, prob.Text),
				Fingerprint: fingerprint(r.ID, reg.Where, prob.Text, p.pathKey(path)),
			})
		}
	}
	return out
}

func runMF1002(p *Pass, r *Rule) []Finding {
	var out []Finding
	for _, reg := range p.Model.Registrations {
		for _, op := range reg.Operations {
			if op.Pre == 0 || op.Post != 0 {
				continue
			}
			pre := p.Program.Func(op.Pre)
			if pre == nil {
				continue
			}
			p.Program.Lift(pre)
			n := p.startNode(pre)
			facts := p.majorFacts(op.Major)
			for _, ret := range pre.Returns {
				if !p.retFeasible(n, facts, ret) {
					continue
				}
				vals, _ := possible(p.subst(p.substituter(n), ret.Value), facts, n.f)
				with, sync := mayBe(vals, preopSuccessWithCallback, 4), mayBe(vals, preopSynchronize, 4)
				if !with && !sync {
					continue
				}
				cb := p.callbackRef(op, "pre", op.Pre)
				status, code := "FLT_PREOP_SUCCESS_WITH_CALLBACK", preopSuccessWithCallback
				if sync {
					status, code = "FLT_PREOP_SYNCHRONIZE", preopSynchronize
				}
				path := []Step{{RVA: pre.Entry, Name: pre.Name, Call: ret.Block.End - 1}}
				out = append(out, Finding{
					Rule: r, Severity: r.Severity, Callback: &cb, Site: ret.Block.Start, Path: path, Sink: status,
					Message: fmt.Sprintf("%s pre-operation callback %s returns %s (%d) but the operation has no post-operation callback (bugcheck 0xF5, argument 0x66)",
						cb.Major, stepName(path[0]), status, code),
					Fingerprint: fingerprint(r.ID, cb.Major, status, p.pathKey(path)),
				})
				break // one finding per callback
			}
		}
	}
	return out
}

// postWalk visits, for each operation with a post-operation callback that
// can run at DISPATCH_LEVEL, every function the callback reaches by calls
// that can run then, breadth first, with the path to it. Post-create
// callbacks run at PASSIVE_LEVEL, and post-operation callbacks whose
// pre-operation callback never asks for them asynchronously (see
// postNotAtDispatch) do not run at DISPATCH_LEVEL: neither is walked.
func (p *Pass) postWalk(visit func(cb CallbackRef, f *cfg.Func, feas []bool, path []Step)) {
	if !p.postWalked {
		p.postWalked = true
		p.walkPost(func(cb CallbackRef, f *cfg.Func, feas []bool, path []Step) {
			p.postVisits = append(p.postVisits, postVisit{cb, f, feas, path})
		})
	}
	for _, v := range p.postVisits {
		visit(v.cb, v.f, v.feas, v.path)
	}
}

// postVisit is one function reached by the post-operation walk.
type postVisit struct {
	cb   CallbackRef
	f    *cfg.Func
	feas []bool
	path []Step
}

// walkPost does the walk postWalk replays; MF3001 and MF3002 share it. A
// block runs at DISPATCH_LEVEL only if it is reachable with the IRQL at
// DISPATCH_LEVEL: a test of KeGetCurrentIrql() (inline: mov rax,cr8) that
// returns early above APC_LEVEL makes what follows it safe.
func (p *Pass) walkPost(visit func(cb CallbackRef, f *cfg.Func, feas []bool, path []Step)) {
	for _, reg := range p.Model.Registrations {
		for _, op := range reg.Operations {
			post := p.Program.Func(op.Post)
			if post == nil || op.Major == mjCreate || p.postNotAtDispatch(op) {
				continue
			}
			cb := p.callbackRef(op, "post", op.Post)
			if p.postReasons == nil {
				p.postReasons = map[CallbackRef]string{}
			}
			p.postReasons[cb] = p.postWhy(op)
			p.walkFeasible(post, p.dispatchFacts(op.Major), 0, func(f *cfg.Func, feas []bool, path []Step) {
				visit(cb, f, feas, path)
			})
		}
	}
}

// walkFeasible visits the functions start reaches by calls, breadth first,
// under facts: each (function, binding) node once, with the blocks feasible
// in it and the first path found to it, following only the calls of
// feasible blocks. limit, when not 0, bounds the nodes visited.
func (p *Pass) walkFeasible(start *cfg.Func, facts *ir.Facts, limit int, visit func(f *cfg.Func, feas []bool, path []Step)) {
	type item struct {
		n    node
		path []Step
	}
	first := p.startNode(start)
	queue := []item{{first, []Step{{RVA: start.Entry, Name: start.Name}}}}
	seen := map[node]bool{first: true}
	for len(queue) > 0 && !p.stopped() && (limit == 0 || len(seen) < limit) {
		it := queue[0]
		queue = queue[1:]
		feas := p.feasible(it.n, facts)
		visit(it.n.f, feas, it.path)
		for _, c := range it.n.f.Calls {
			if bi := blockOf(it.n.f, c.Site); bi < 0 || !feas[bi] {
				continue
			}
			for _, ce := range c.Callees {
				g := p.Program.Func(ce.Func)
				if ce.Import != nil || g == nil {
					continue
				}
				next := p.next(it.n, g, c)
				if seen[next] {
					continue
				}
				seen[next] = true
				path := append(append([]Step(nil), it.path...), Step{RVA: g.Entry, Name: g.Name})
				path[len(path)-2].Call = c.Site
				queue = append(queue, item{next, path})
			}
		}
	}
}

// postNotAtDispatch reports whether the operation's post-operation callback
// cannot run at DISPATCH_LEVEL because of its pre-operation callback: the
// pre-operation callback never returns FLT_PREOP_SUCCESS_WITH_CALLBACK, so
// the post-operation callback either runs synchronized in the
// pre-operation's context (FLT_PREOP_SYNCHRONIZE: IRQL <= APC_LEVEL) or not
// at all. A return value that is not a known constant counts as
// SUCCESS_WITH_CALLBACK.
func (p *Pass) postNotAtDispatch(op Operation) bool {
	pre := p.Program.Func(op.Pre)
	if pre == nil {
		return false
	}
	vals, complete, rets := p.returnValues(pre, op.Major)
	return rets > 0 && complete && !mayBe(vals, preopSuccessWithCallback, 4)
}

// postWhy says why op's post-operation callback may run at DISPATCH_LEVEL,
// and what would keep it below: for MF3001 and MF3002's messages.
func (p *Pass) postWhy(op Operation) string {
	pre := p.Program.Func(op.Pre)
	if pre == nil {
		return "the operation has no pre-operation callback, so FltMgr calls the post-operation callback from I/O completion, at up to DISPATCH_LEVEL"
	}
	name := stepName(Step{RVA: pre.Entry, Name: pre.Name})
	if vals, complete, _ := p.returnValues(pre, op.Major); complete && mayBe(vals, preopSuccessWithCallback, 4) {
		return fmt.Sprintf("its pre-operation callback %s returns FLT_PREOP_SUCCESS_WITH_CALLBACK, so the post-operation callback runs from I/O completion, at up to DISPATCH_LEVEL (FLT_PREOP_SYNCHRONIZE would run it at the pre-operation's IRQL)", name)
	}
	return fmt.Sprintf("its pre-operation callback %s returns a status not known to be FLT_PREOP_SYNCHRONIZE, so the post-operation callback may run from I/O completion, at up to DISPATCH_LEVEL", name)
}

// irqlGuard says that no test of the IRQL the routine needs was seen
// before its call.
func irqlGuard(l IRQL) string {
	if l == Passive {
		return "no test that KeGetCurrentIrql() == PASSIVE_LEVEL guards the call"
	}
	return "no test that KeGetCurrentIrql() <= APC_LEVEL guards the call"
}

// dedupePostOps merges findings that differ only in the major of the
// post-operation callback (one callback registered for many operations):
// the first is kept and the message lists every major.
func dedupePostOps(fs []Finding) []Finding {
	var out []Finding
	index := map[string]int{}
	for _, f := range fs {
		if f.Callback == nil || f.Callback.Kind != "post" {
			out = append(out, f)
			continue
		}
		key := fmt.Sprintf("%x|%s|%x", f.Callback.RVA, f.Sink, f.Site)
		if i, ok := index[key]; ok {
			out[i].Message = strings.Replace(out[i].Message, " post-operation callback", "/"+f.Callback.Major+" post-operation callback", 1)
			continue
		}
		index[key] = len(out)
		out = append(out, f)
	}
	return out
}

func runMF3001(p *Pass, r *Rule) []Finding {
	var post []Finding
	out := runMF3001Locks(p, r)
	p.postWalk(func(cb CallbackRef, f *cfg.Func, _ []bool, path []Step) {
		sec := p.Image.Section(f.Entry)
		if sec == nil || !sec.Pageable() {
			return
		}
		cb2 := cb
		post = append(post, Finding{
			Rule: r, Severity: r.Severity, Callback: &cb2, Site: f.Entry, Path: path, Sink: "PAGE:" + stepName(path[len(path)-1]),
			Message: fmt.Sprintf("%s post-operation callback reaches %s in pageable section %s via %s; %s; %s",
				cb.Major, stepName(path[len(path)-1]), sec.Name, pathString(path), p.postReasons[cb], irqlGuard(APC)),
			Fingerprint: fingerprint(r.ID, cb.Major, p.pathKey(path)),
		})
	})
	return append(out, dedupePostOps(post)...)
}

func runMF3002(p *Pass, r *Rule) []Finding {
	var out []Finding
	p.postWalk(func(cb CallbackRef, f *cfg.Func, feas []bool, path []Step) {
		for _, c := range f.Calls {
			if bi := blockOf(f, c.Site); bi < 0 || !feas[bi] {
				continue
			}
			for _, ce := range c.Callees {
				api := p.Catalogue.At(ce.Import, c.Args, p.Image, p.memoryAt(f, c))
				if api == nil || api.IRQL >= Dispatch && !pagedAlloc(api, c) {
					continue
				}
				full := append([]Step(nil), path...)
				full[len(full)-1].Call = c.Site
				cb2 := cb
				fd := Finding{
					Rule: r, Severity: r.Severity, Callback: &cb2, Site: c.Site, Path: full, Sink: ce.Import.String(),
					Message: fmt.Sprintf("%s post-operation callback calls %s (%s) via %s; %s; %s",
						cb.Major, ce.Import.Name, irqlWhy(api, c), pathString(full), p.postReasons[cb], irqlGuard(api.IRQL)),
					Fingerprint: fingerprint(r.ID, cb.Major, ce.Import.String(), p.pathKey(full)),
					guard:       irqlGuard(api.IRQL),
				}
				// Called with the IRQL raised in its own function (a fast
				// mutex or spin lock held there): too high whatever IRQL the
				// callback runs at, a cause of its own that deferring the
				// work does not remove.
				if level, raised := c.IRQL.IsConst(); raised && level <= 15 && IRQL(level) > api.IRQL {
					fd.cause = "raised"
					fd.Message += fmt.Sprintf("; besides, %s makes the call at IRQL %d (a lock is held or the IRQL was raised there)",
						stepName(full[len(full)-1]), level)
				}
				out = append(out, fd)
			}
		}
	})
	return dedupePostOps(out)
}

// runMF4001 finds, for each paging-path callback, the call chain (through
// calls that can run for paging I/O) with the most stack, and reports it
// when it exceeds the budget. Recursion counts once.
func runMF4001(p *Pass, r *Rule) []Finding {
	budget := p.Budget
	if budget == 0 {
		budget = DefaultBudget
	}
	type best struct {
		bytes uint64
		path  []Step
	}
	var out []Finding
	for _, start := range p.pagingCallbacks() {
		pre := p.Program.Func(start.op.Pre)
		if pre == nil {
			continue
		}
		facts := p.pagingFacts(start.op.Major, start.mmcc)
		memo := map[node]best{}
		onStack := map[node]bool{}
		var deepest func(n node) best
		deepest = func(n node) best {
			if b, ok := memo[n]; ok {
				return b
			}
			if onStack[n] || len(onStack) > 256 || p.stopped() {
				return best{}
			}
			onStack[n] = true
			feas := p.feasible(n, facts)
			here := best{bytes: uint64(n.f.FrameSize) + 8, path: []Step{{RVA: n.f.Entry, Name: n.f.Name}}}
			for _, c := range n.f.Calls {
				if bi := blockOf(n.f, c.Site); bi < 0 || !feas[bi] {
					continue
				}
				for _, ce := range c.Callees {
					callee := p.Program.Func(ce.Func)
					if ce.Import != nil || callee == nil {
						continue
					}
					sub := deepest(p.next(n, callee, c))
					if total := uint64(n.f.FrameSize) + 8 + sub.bytes; total > here.bytes {
						path := append([]Step{{RVA: n.f.Entry, Name: n.f.Name, Call: c.Site}}, sub.path...)
						here = best{bytes: total, path: path}
					}
				}
			}
			delete(onStack, n)
			memo[n] = here
			return here
		}
		b := deepest(p.startNode(pre))
		if b.bytes <= uint64(budget) {
			continue
		}
		cb := start.cb
		// The last function calls nothing further: its step points at its
		// entry, where its frame is set up (and its source line is).
		path := append([]Step(nil), b.path...)
		if last := &path[len(path)-1]; last.Call == 0 {
			last.Call = last.RVA
		}
		site, frames := stackFrames(p, path)
		out = append(out, Finding{
			Rule: r, Severity: r.Severity, Callback: &cb, Site: site, Path: path, Sink: fmt.Sprintf("stack:%d", b.bytes),
			Message: fmt.Sprintf("%s pre-operation callback %s can use %d bytes of stack on the paging path (budget %d of the 24576-byte kernel stack) via %s; frames: %s",
				cb.Major, stepName(path[0]), b.bytes, budget, pathString(path), frames),
			Fingerprint: fingerprint(r.ID, cb.Major, p.pathKey(b.path)),
		})
	}
	return out
}

// stackFrames says how a deep path's stack adds up, each frame with its
// return address ("PreRead 40 + Helper 4184"), and returns the site to
// change: the call into the largest frame (the callback's entry when its
// own frame is the largest).
func stackFrames(p *Pass, path []Step) (site uint32, frames string) {
	parts := make([]string, len(path))
	var most uint32
	site = path[0].RVA
	for i, s := range path {
		var size uint32
		if f := p.Program.Func(s.RVA); f != nil {
			size = f.FrameSize + 8
		}
		parts[i] = fmt.Sprintf("%s %d", stepName(s), size)
		if size > most {
			most = size
			site = s.RVA
			if i > 0 {
				site = path[i-1].Call
			}
		}
	}
	return site, strings.Join(parts, " + ")
}

const pageSize = 0x1000

func runKD5001(p *Pass, r *Rule) []Finding {
	img := p.Image
	var out []Finding
	add := func(site uint32, what, key string) {
		out = append(out, Finding{Rule: r, Severity: r.Severity, Site: site, Sink: key, Message: what,
			Fingerprint: fingerprint(r.ID, key)})
	}
	for i := range img.Sections {
		s := &img.Sections[i]
		if s.Writable() && s.Executable() {
			add(s.RVA, fmt.Sprintf("section %s is both writable and executable", s.Name), "wx:"+s.Name)
		}
		if s.RVA%pageSize != 0 {
			add(s.RVA, fmt.Sprintf("section %s starts at RVA %#x, not on a page boundary (SectionAlignment %#x)", s.Name, s.RVA, img.SectionAlignment), "align:"+s.Name)
		}
	}
	for i := range img.Imports {
		imp := &img.Imports[i]
		if s := img.Section(imp.Slot); s != nil && s.Executable() {
			add(imp.Slot, fmt.Sprintf("the import address table is in executable section %s (slot of %s at %#x)", s.Name, imp, imp.Slot), "iat:"+s.Name)
			break
		}
	}
	return out
}

func runKD5002(p *Pass, r *Rule) []Finding {
	var out []Finding
	for _, f := range p.Program.Funcs {
		for _, c := range f.Calls {
			for _, ce := range c.Callees {
				api := p.Catalogue.Lookup(ce.Import)
				if api == nil || api.Class != ClassPoolAlloc || f.Thunk != nil {
					continue
				}
				// The pool type is a constant set just before the call:
				// the call's block says it without lifting f.
				t, _ := atCall(p.Program, f, c, func(args []*ir.Expr) (PoolTag, bool, bool) {
					t := poolTypeOf(api, args)
					return t, true, t.Known || followed(argAt(args, api.TypeArg))
				})
				if !t.Executable() {
					continue
				}
				path := []Step{{RVA: f.Entry, Name: f.Name, Call: c.Site}}
				kind := "NonPagedPool (executable)"
				if api.Flags {
					kind = "POOL_FLAG_NON_PAGED_EXECUTE"
				}
				out = append(out, Finding{
					Rule: r, Severity: r.Severity, Site: c.Site, Path: path, Sink: ce.Import.String(),
					Message:     fmt.Sprintf("%s calls %s with %s", stepName(path[0]), ce.Import.Name, kind),
					Fingerprint: fingerprint(r.ID, ce.Import.String(), p.pathKey(path)),
				})
			}
		}
	}
	return out
}

// pagedAlloc reports a paged-pool allocation: legal only at IRQL <=
// APC_LEVEL whatever the allocator's own limit (Driver Verifier rule
// IrqlExAllocatePool).
func pagedAlloc(api *API, c *cfg.CallSite) bool {
	if api.Class != ClassPoolAlloc {
		return false
	}
	t := poolType(api, c)
	return t.Paged()
}

// poolType is what a call to a pool allocator says of the pool: its
// POOL_TYPE or POOL_FLAG_* argument, when a constant.
func poolType(api *API, c *cfg.CallSite) PoolTag { return poolTypeOf(api, c.Args) }

// poolTypeOf is poolType from a call's arguments.
func poolTypeOf(api *API, args []*ir.Expr) PoolTag {
	t := PoolTag{Flags: api.Flags}
	if v, ok := argAt(args, api.TypeArg).IsConst(); ok {
		t.Type, t.Known = uint64(v), true
	}
	return t
}

func irqlWhy(api *API, c *cfg.CallSite) string {
	if pagedAlloc(api, c) {
		return "paged pool, IRQL <= APC_LEVEL"
	}
	if api.Note != "" {
		return api.Note
	}
	return "IRQL <= " + irqlName(api.IRQL)
}
