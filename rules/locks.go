package rules

import (
	"fmt"
	"sort"

	"github.com/drvhazard/drvhazard/cfg"
)

// Routines that raise the IRQL to DISPATCH_LEVEL (spin locks) and those that
// lower it again. On x64 KeRaiseIrql/KeLowerIrql are inline writes of CR8,
// seen as cfg.IRQLWrite.
var (
	raisesIRQL = map[string]bool{
		"KeAcquireSpinLockRaiseToDpc": true, "KeAcquireSpinLockAtDpcLevel": true, "KeAcquireInStackQueuedSpinLock": true,
		"KeAcquireInStackQueuedSpinLockAtDpcLevel": true, "ExAcquireSpinLockExclusive": true, "ExAcquireSpinLockShared": true,
		"KeAcquireInterruptSpinLock": true, "KeRaiseIrqlToDpcLevel": true, "KfRaiseIrql": true, "KeAcquireSpinLockForDpc": true,
	}
	lowersIRQL = map[string]bool{
		"KeReleaseSpinLock": true, "KeReleaseSpinLockFromDpcLevel": true, "KeReleaseInStackQueuedSpinLock": true,
		"KeReleaseInStackQueuedSpinLockFromDpcLevel": true, "ExReleaseSpinLockExclusive": true, "ExReleaseSpinLockShared": true,
		"KeReleaseInterruptSpinLock": true, "KfLowerIrql": true, "KeReleaseSpinLockForDpc": true,
	}
)

const dispatchLevel = 2

// irqlEvent is a point where a function raises (to DISPATCH_LEVEL or above)
// or lowers the IRQL.
type irqlEvent struct {
	site  uint32
	raise bool
	what  string
}

func irqlEvents(f *cfg.Func) []irqlEvent {
	var ev []irqlEvent
	for _, c := range f.Calls {
		for _, ce := range c.Callees {
			if ce.Import == nil {
				continue
			}
			switch {
			case raisesIRQL[ce.Import.Name]:
				ev = append(ev, irqlEvent{c.Site, true, ce.Import.Name})
			case lowersIRQL[ce.Import.Name]:
				ev = append(ev, irqlEvent{c.Site, false, ce.Import.Name})
			}
		}
	}
	for _, w := range f.IRQLWrites {
		raise := w.Value.Kind == cfg.Const && w.Value.V >= dispatchLevel
		what := "KeLowerIrql (mov cr8)"
		if raise {
			what = fmt.Sprintf("KeRaiseIrql to %d (mov cr8)", w.Value.V)
		}
		ev = append(ev, irqlEvent{w.Site, raise, what})
	}
	sort.Slice(ev, func(i, j int) bool { return ev[i].site < ev[j].site })
	return ev
}

// raisedAt returns the raise in effect at site: one whose point dominates
// the site with no lowering on the dominator chain in between. Within a
// block, addresses order the events.
func raisedAt(f *cfg.Func, dom *domTree, ev []irqlEvent, site uint32) *irqlEvent {
	cb := blockOf(f, site)
	if cb < 0 {
		return nil
	}
	// before reports whether event e comes before site on every path: its
	// block dominates the site's, earlier in the same block.
	before := func(e irqlEvent) bool {
		eb := blockOf(f, e.site)
		if eb == cb {
			return e.site < site
		}
		return eb >= 0 && dom.dominates(eb, cb)
	}
	var best *irqlEvent
	for i := range ev {
		e := &ev[i]
		if !before(*e) {
			continue
		}
		if e.raise {
			best = e
			continue
		}
		// A lowering after the latest raise (and before the site) ends it.
		if best != nil && lowersAfter(f, dom, *best, *e) {
			best = nil
		}
	}
	return best
}

// lowersAfter reports whether lowering l comes after raise r.
func lowersAfter(f *cfg.Func, dom *domTree, r, l irqlEvent) bool {
	rb, lb := blockOf(f, r.site), blockOf(f, l.site)
	if rb == lb {
		return l.site > r.site
	}
	return rb >= 0 && lb >= 0 && dom.dominates(rb, lb)
}

// runMF3001Locks reports calls, made while a spin lock is held or the IRQL
// is raised, into code that reaches a PAGE section.
func runMF3001Locks(p *Pass, r *Rule) []Finding {
	var out []Finding
	pagePath := p.pagePaths()
	owners := p.callbackOwners()
	for _, f := range p.Program.Funcs {
		ev := irqlEvents(f)
		if len(ev) == 0 {
			continue
		}
		dom := dominators(f)
		for _, c := range f.Calls {
			for _, ce := range c.Callees {
				g := p.Program.Func(ce.Func)
				if ce.Import != nil || g == nil {
					continue
				}
				sub, ok := pagePath[g]
				if !ok {
					continue
				}
				raise := raisedAt(f, dom, ev, c.Site)
				if raise == nil {
					continue
				}
				path := append([]Step{{RVA: f.Entry, Name: f.Name, Call: c.Site}}, sub...)
				last := path[len(path)-1]
				fd := Finding{
					Rule: r, Severity: r.Severity, Site: c.Site, Path: path, Sink: "PAGE:" + stepName(last),
					Message: fmt.Sprintf("%s calls into pageable code (%s, section %s) via %s after %s at %#x, at DISPATCH_LEVEL",
						stepName(path[0]), stepName(last), p.Image.Section(last.RVA).Name, pathString(path), raise.what, raise.site),
					Fingerprint: fingerprint(r.ID, "lock", p.pathKey(path)),
				}
				if cb, ok := owners[f]; ok {
					cb := cb
					fd.Callback = &cb
					name := cb.Name
					if name == "" {
						name = fmt.Sprintf("sub_%x", cb.RVA)
					}
					fd.Message = fmt.Sprintf("%s %s-operation callback %s: %s", cb.Major, cb.Kind, name, fd.Message)
				}
				out = append(out, fd)
			}
		}
	}
	return out
}

// pagePaths maps every function that is in, or calls into, a PAGE section
// to the shortest call path (starting at itself) to a pageable function.
func (p *Pass) pagePaths() map[*cfg.Func][]Step {
	out := map[*cfg.Func][]Step{}
	// Breadth-first from the pageable functions over reversed call edges.
	callers := map[*cfg.Func][]struct {
		f    *cfg.Func
		site uint32
	}{}
	var queue []*cfg.Func
	for _, f := range p.Program.Funcs {
		if s := p.Image.Section(f.Entry); s != nil && s.Pageable() {
			out[f] = []Step{{RVA: f.Entry, Name: f.Name}}
			queue = append(queue, f)
		}
		for _, c := range f.Calls {
			for _, ce := range c.Callees {
				if g := p.Program.Func(ce.Func); ce.Import == nil && g != nil {
					callers[g] = append(callers[g], struct {
						f    *cfg.Func
						site uint32
					}{f, c.Site})
				}
			}
		}
	}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		for _, cl := range callers[g] {
			if _, done := out[cl.f]; done {
				continue
			}
			out[cl.f] = append([]Step{{RVA: cl.f.Entry, Name: cl.f.Name, Call: cl.site}}, out[g]...)
			queue = append(queue, cl.f)
		}
	}
	return out
}

// callbackOwners maps each function to the first registered callback (in
// registration order) that reaches it by calls.
func (p *Pass) callbackOwners() map[*cfg.Func]CallbackRef {
	out := map[*cfg.Func]CallbackRef{}
	for _, reg := range p.Model.Registrations {
		for _, op := range reg.Operations {
			for _, cb := range []struct {
				rva  uint32
				kind string
			}{{op.Pre, "pre"}, {op.Post, "post"}} {
				start := p.Program.Func(cb.rva)
				if start == nil {
					continue
				}
				ref := p.callbackRef(op, cb.kind, cb.rva)
				queue := []*cfg.Func{start}
				seen := map[*cfg.Func]bool{start: true}
				for len(queue) > 0 {
					f := queue[0]
					queue = queue[1:]
					if _, ok := out[f]; !ok {
						out[f] = ref
					}
					for _, c := range f.Calls {
						for _, ce := range c.Callees {
							if g := p.Program.Func(ce.Func); ce.Import == nil && g != nil && !seen[g] {
								seen[g] = true
								queue = append(queue, g)
							}
						}
					}
				}
			}
		}
	}
	return out
}
