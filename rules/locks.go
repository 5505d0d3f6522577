package rules

import (
	"fmt"
	"sort"

	"github.com/drvhazard/drvhazard/cfg"
)

// runMF3001Locks reports calls, made while a spin lock is held or the IRQL
// is raised, into code that reaches a PAGE section. The IRQL at each call
// is what the symbolic pass followed through the spin-lock routines and
// the inline writes of CR8 (KeRaiseIrql, KeLowerIrql): at DISPATCH_LEVEL or
// above in the function's own terms, whatever IRQL it was entered at.
func runMF3001Locks(p *Pass, r *Rule) []Finding {
	var out []Finding
	pagePath := p.pagePaths()
	owners := p.callbackOwners()
	for _, f := range p.raisingIRQL() {
		for _, c := range f.Calls {
			level, raised := c.IRQL.IsConst()
			if !raised || level < dispatchLevel {
				continue
			}
			for _, ce := range c.Callees {
				g := p.Program.Func(ce.Func)
				if ce.Import != nil || g == nil {
					continue
				}
				sub, ok := pagePath[g]
				if !ok {
					continue
				}
				path := append([]Step{{RVA: f.Entry, Name: f.Name, Call: c.Site}}, sub...)
				last := path[len(path)-1]
				fd := Finding{
					Rule: r, Severity: r.Severity, Site: c.Site, Path: path, Sink: "PAGE:" + stepName(last),
					Message: fmt.Sprintf("%s calls into pageable code (%s, section %s) via %s at IRQL %d: a spin lock is held or the IRQL was raised (KeRaiseIrql) in %s before the call",
						stepName(path[0]), stepName(last), p.Image.Section(last.RVA).Name, pathString(path), level, stepName(path[0])),
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

// raisingIRQL returns, lifted, the functions in which the IRQL may be
// raised at a call: those that raise it themselves, and the callers of a
// function that returns with it raised (a helper that acquires a spin
// lock), to a fixed point.
func (p *Pass) raisingIRQL() []*cfg.Func {
	var out []*cfg.Func
	in := map[*cfg.Func]bool{}
	callers := map[*cfg.Func][]*cfg.Func{}
	var work []*cfg.Func
	for _, f := range p.Program.Funcs {
		for _, c := range f.Calls {
			for _, ce := range c.Callees {
				if g := p.Program.Func(ce.Func); g != nil && ce.Import == nil {
					callers[g] = append(callers[g], f)
				}
			}
		}
		if p.Program.RaisesIRQL(f) {
			work = append(work, f)
		}
	}
	for len(work) > 0 {
		f := work[len(work)-1]
		work = work[:len(work)-1]
		if in[f] {
			continue
		}
		in[f] = true
		out = append(out, f)
		p.Program.Lift(f)
		if v, ok := f.ExitIRQL.IsConst(); ok && v >= dispatchLevel {
			work = append(work, callers[f]...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Entry < out[j].Entry })
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
	p.eachCallback(func(_ Operation, ref CallbackRef, start *cfg.Func) {
		p.walkCalls(start, func(f *cfg.Func, _ func() []Step) {
			if _, ok := out[f]; !ok {
				out[f] = ref
			}
		})
	})
	return out
}
