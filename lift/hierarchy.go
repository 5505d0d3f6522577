package lift

import (
	"slices"
	"strings"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/loader/pdb"
)

// A virtual call on `this` inside a method (`mov rax,[rcx]; call [rax+k]`
// in C::Run) reaches slot k of the vtable of whatever object the method
// runs on, and that object often comes from where the image does not show
// (a context the filter manager hands back, a list). The image's symbols,
// when a PDB gives them (loader.Image.Classes and Vtables), say more: the
// object is a C or derived from C, so the callees are slot k of the vtables
// of C and of the classes derived from it, the class-hierarchy analysis of
// a C++ compiler. A method whose object the image does show was resolved
// from its constructors before (vcalls.go); this answers what is left.
// Without a PDB the image does not say which classes there are, and such a
// call stays unresolved (a blind spot).

// resolveMethodCalls gives the virtual calls on `this` that are still
// unresolved the methods class-hierarchy analysis finds for them.
func (p *Program) resolveMethodCalls() {
	img := p.Image
	if len(img.Classes) == 0 {
		return
	}
	derived := map[string][]string{}
	for name, class := range img.Classes {
		for _, b := range class.Bases {
			derived[b] = append(derived[b], name)
		}
	}
	vtables := p.classVtables()
	if len(vtables) == 0 {
		return
	}
	starts := make([]uint32, 0, len(vtables))
	for rva := range vtables {
		starts = append(starts, rva)
	}
	slices.Sort(starts)
	this := p.IR.Param(0)
	for _, f := range p.Funcs {
		// Only a class whose objects start with a vtable pointer: in
		// another, the first field is data (a table of routines of its
		// own, ops->fn()).
		class := methodClass(f.Name, img.Classes)
		if class == "" || !img.Classes[class].Polymorphic {
			continue
		}
		for _, c := range f.Calls {
			k, ok := vtableSlot(p.IR, c.Target, this)
			if c.Kind != cfg.CallUnresolved || !ok {
				continue
			}
			if callees := p.hierarchyCallees(class, k, starts, vtables, derived); len(callees) > 0 {
				c.Kind, c.Callees, c.Open = cfg.CallVirtual, callees, false
			}
		}
	}
}

// maxVtableSlots bounds the slots read of a vtable without a symbol.
const maxVtableSlots = 512

// classVtables returns the image's vtables by RVA with their classes: those
// the symbols name (??_7Class@@6B@), and, where a link-time optimised build
// kept no such symbol at all, the read-only tables code takes the address
// of whose every slot is a method of one line of classes (or _purecall):
// the table is the most derived one's. A second destructor ends a table
// (adjacent tables without -fno-rtti's locators between them). Where the
// symbols name vtables, they name them all, and a table they do not name
// is something else (a const array of static member functions).
func (p *Program) classVtables() map[uint32]loader.Vtable {
	img := p.Image
	out := make(map[uint32]loader.Vtable, len(img.Vtables))
	for rva, vt := range img.Vtables {
		out[rva] = vt
	}
	if len(img.Vtables) > 0 {
		return out
	}
	for t := range p.takenData {
		if !p.lifter.isVtable(t) {
			continue
		}
		var classes []string
		dtors := 0
		for i := uint32(0); i < maxVtableSlots; i++ {
			at := t + 8*i
			if i > 0 && p.takenData[at] {
				break
			}
			fn, ok := img.PointerAt(at)
			g := p.Func(fn)
			if !ok || g == nil {
				break
			}
			if g.Name == "_purecall" {
				continue
			}
			c := methodClass(g.Name, img.Classes)
			if c == "" {
				classes = nil
				break
			}
			if _, dtor, _, _ := pdb.MemberOf(g.Name); dtor || strings.Contains(g.Name, "::~") {
				if dtors++; dtors > 1 {
					break
				}
			}
			classes = append(classes, c)
		}
		if class, ok := mostDerived(classes, img.Classes); ok {
			out[t] = loader.Vtable{Class: class}
		}
	}
	return out
}

// mostDerived returns the class of classes every other one is an ancestor
// of (or the same as); false when they are not one line.
func mostDerived(classes []string, bases map[string]loader.Class) (string, bool) {
	if len(classes) == 0 {
		return "", false
	}
	best := classes[0]
	for _, c := range classes[1:] {
		switch {
		case isAncestor(best, c, bases):
			best = c
		case isAncestor(c, best, bases):
		default:
			return "", false
		}
	}
	return best, true
}

// isAncestor reports whether a is c or one of its (transitive) bases.
func isAncestor(a, c string, bases map[string]loader.Class) bool {
	seen := map[string]bool{}
	for up := []string{c}; len(up) > 0; {
		x := up[len(up)-1]
		up = up[:len(up)-1]
		if x == a {
			return true
		}
		if !seen[x] {
			seen[x] = true
			up = append(up, bases[x].Bases...)
		}
	}
	return false
}

// vtableSlot matches a call target load(load(this)+k):8, the slot k (a
// byte offset) of the vtable of the object at this.
func vtableSlot(b *ir.Builder, t, this *ir.Expr) (int64, bool) {
	if t == nil || t.Op != ir.OpLoad || t.W != 8 {
		return 0, false
	}
	vptr, k := b.Base(t.A)
	if vptr == nil || vptr.Op != ir.OpLoad || vptr.W != 8 || vptr.A != this || k < 0 || k%8 != 0 {
		return 0, false
	}
	return k, true
}

// hierarchyCallees returns the functions in slot k of the vtables of class
// and of every class derived from it. A class with several polymorphic
// bases has a table for each base's subobject (??_7D@@6BBase@@@); `this` of
// a method of class holds the one of class's subobject, whose vtable
// pointer it shares with its first polymorphic base, and so on up: a
// table counts when its base and class are on one such line. The slots of abstract classes (_purecall, the runtime's
// handler of a call to a pure virtual function, which no correct program
// makes) are not callees.
func (p *Program) hierarchyCallees(class string, k int64, starts []uint32, vtables map[uint32]loader.Vtable, derived map[string][]string) []cfg.Callee {
	family := map[string]bool{}
	var down func(c string)
	down = func(c string) {
		if family[c] {
			return
		}
		family[c] = true
		for _, d := range derived[c] {
			down(d)
		}
	}
	down(class)
	related := func(base string) bool {
		return onPrimaryLine(base, class, p.Image.Classes) || onPrimaryLine(class, base, p.Image.Classes)
	}
	var out []cfg.Callee
	seen := map[cfg.Callee]bool{}
	for _, rva := range starts {
		vt := vtables[rva]
		if !family[vt.Class] || vt.Base != "" && !related(vt.Base) {
			continue
		}
		t, ok := p.Image.PointerAt(rva + uint32(k))
		g := p.Func(t)
		if !ok || g == nil || g.Name == "_purecall" {
			continue
		}
		if ce := (cfg.Callee{Func: g.Entry, Import: g.Thunk}); !seen[ce] {
			seen[ce] = true
			out = append(out, ce)
		}
	}
	return out
}

// onPrimaryLine reports whether a is c or lies up c's line of first
// polymorphic bases, the classes whose vtable pointer c's objects share.
func onPrimaryLine(a, c string, classes map[string]loader.Class) bool {
	for seen := map[string]bool{}; !seen[c]; {
		if c == a {
			return true
		}
		seen[c] = true
		next := ""
		for _, b := range classes[c].Bases {
			if classes[b].Polymorphic {
				next = b
				break
			}
		}
		if next == "" {
			return false
		}
		c = next
	}
	return false
}

// methodClass returns the class a function is a method of, from its name:
// ns::Class::Method as a PDB's procedures name it, or the decorated name of
// its publics (pdb.MemberOf); "" when the name is neither, the class is not
// one classes describes, or the decoration says the method is static. (A
// PDB's undecorated name does not say: a static method of a polymorphic
// class that calls a virtual method of its first argument is taken for a
// call on `this`.)
func methodClass(name string, classes map[string]loader.Class) string {
	class := ""
	if strings.HasPrefix(name, "?") {
		c, _, static, ok := pdb.MemberOf(name)
		if !ok || static {
			return ""
		}
		class = c
	} else if i := strings.LastIndex(name, "::"); i > 0 {
		class = name[:i]
	}
	if _, ok := classes[class]; !ok {
		return ""
	}
	return class
}
