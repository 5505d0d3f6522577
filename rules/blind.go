package rules

import (
	"sort"

	"github.com/drvhazard/drvhazard/cfg"
)

// An Unresolved call is an indirect call on a registered callback's path
// whose targets the analysis could not find, or not all of them (a pointer
// from the heap, a routine looked up at run time): whatever it reaches is
// not seen, so a user knows where the findings may be incomplete.
type Unresolved struct {
	Callback CallbackRef
	Site     uint32 // the call
	// Path runs from the callback to the function making the call; the
	// last step's Call is Site.
	Path []Step
}

// blindSpots lists, for every registered callback, the unresolved indirect
// calls in the code it can reach when it runs for its major, each once per
// callback (the first path found).
func (p *Pass) blindSpots() []Unresolved {
	var out []Unresolved
	p.eachCallback(func(op Operation, cb CallbackRef, start *cfg.Func) {
		p.walkFeasible(start, p.majorFacts(op.Major), maxPagingWalk, func(f *cfg.Func, feas []bool, path []Step) {
			for _, c := range f.Calls {
				if c.Kind != cfg.CallUnresolved && !c.Open {
					continue
				}
				if bi := blockOf(f, c.Site); bi < 0 || !feas[bi] {
					continue
				}
				at := append([]Step(nil), path...)
				at[len(at)-1].Call = c.Site
				out = append(out, Unresolved{Callback: cb, Site: c.Site, Path: at})
			}
		})
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Callback.RVA != out[j].Callback.RVA {
			return out[i].Callback.RVA < out[j].Callback.RVA
		}
		return out[i].Site < out[j].Site
	})
	// One callback registered for several majors lists a call once.
	kept := out[:0]
	seen := map[[2]uint32]bool{}
	for _, u := range out {
		k := [2]uint32{u.Callback.RVA, u.Site}
		if !seen[k] {
			seen[k] = true
			kept = append(kept, u)
		}
	}
	return kept
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
