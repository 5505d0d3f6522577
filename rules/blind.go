package rules

import (
	"slices"
	"sort"

	"github.com/drvhazard/drvhazard/cfg"
)

// An Unresolved call is an indirect call on a registered callback's path
// whose targets the analysis could not find, or not all of them (a pointer
// from the heap, a routine looked up at run time): whatever it reaches is
// not seen, so a user knows where the findings may be incomplete.
type Unresolved struct {
	Callback CallbackRef
	// Majors are the majors the callback is registered for, in
	// registration order; Callback.Major is the first.
	Majors []string
	Site   uint32 // the call
	// Path runs from the callback to the function making the call; the
	// last step's Call is Site.
	Path []Step
}

// blindSpots lists, for every registered callback, the unresolved indirect
// calls in the code it can reach by calls, each once per callback (the
// first path found). The walk follows the call graph without deciding
// branches: it must not lift the code of every callback for every major
// only to say where the analysis cannot see, so a blind spot on a path no
// run of the callback takes is listed too.
func (p *Pass) blindSpots() []Unresolved {
	var out []Unresolved
	type callback struct {
		ref    CallbackRef
		start  *cfg.Func
		majors []string
	}
	var order []*callback
	byRVA := map[uint32]*callback{}
	p.eachCallback(func(_ Operation, cb CallbackRef, start *cfg.Func) {
		c := byRVA[cb.RVA]
		if c == nil {
			c = &callback{ref: cb, start: start}
			byRVA[cb.RVA] = c
			order = append(order, c)
		}
		if !slices.Contains(c.majors, cb.Major) {
			c.majors = append(c.majors, cb.Major)
		}
	})
	// A callback registered for several majors is walked once.
	for _, c := range order {
		cb, majors := c.ref, c.majors
		p.walkCalls(c.start, func(f *cfg.Func, path func() []Step) {
			for _, c := range f.Calls {
				if c.Kind != cfg.CallUnresolved && !c.Open {
					continue
				}
				at := path()
				at[len(at)-1].Call = c.Site
				out = append(out, Unresolved{Callback: cb, Majors: majors, Site: c.Site, Path: at})
			}
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Callback.RVA != out[j].Callback.RVA {
			return out[i].Callback.RVA < out[j].Callback.RVA
		}
		return out[i].Site < out[j].Site
	})
	return out
}

// walkCalls visits every function start reaches by calls, breadth first,
// once, with a function that builds the first path found to it.
func (p *Pass) walkCalls(start *cfg.Func, visit func(f *cfg.Func, path func() []Step)) {
	type item struct {
		f      *cfg.Func
		parent int // index in items, -1 for start
		call   uint32
	}
	items := []item{{start, -1, 0}}
	seen := map[*cfg.Func]bool{start: true}
	for i := 0; i < len(items) && !p.stopped(); i++ {
		f := items[i].f
		visit(f, func() []Step {
			var rev []Step
			call := uint32(0)
			for j := i; j >= 0; j = items[j].parent {
				rev = append(rev, Step{RVA: items[j].f.Entry, Name: items[j].f.Name, Call: call})
				call = items[j].call
			}
			slices.Reverse(rev)
			return rev
		})
		for _, c := range f.Calls {
			for _, ce := range c.Callees {
				g := p.Program.Func(ce.Func)
				if ce.Import != nil || g == nil || seen[g] {
					continue
				}
				seen[g] = true
				items = append(items, item{g, i, c.Site})
			}
		}
	}
}

// eachCallback calls visit for every registered pre- and post-operation
// callback the program has a function for, in registration order.
func (p *Pass) eachCallback(visit func(op Operation, cb CallbackRef, f *cfg.Func)) {
	for _, reg := range p.Model.Registrations {
		for _, op := range reg.Operations {
			for _, cb := range []struct {
				rva  uint32
				kind string
			}{{op.Pre, "pre"}, {op.Post, "post"}} {
				if f := p.Program.Func(cb.rva); f != nil {
					visit(op, p.callbackRef(op, cb.kind, cb.rva), f)
				}
			}
		}
	}
}
