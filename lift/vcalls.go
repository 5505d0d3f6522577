package lift

import (
	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/ir"
)

// Virtual calls in the MSVC C++ ABI load the object's vtable pointer from
// its first qword and call a slot of the vtable: `mov rcx,[gProcessor];
// mov rax,[rcx]; call [rax+8]`. Where the driver keeps the object's address
// in writable data (or the object itself), the call reaches the method in
// that slot of every vtable the driver's code stores into the objects it
// keeps there: a constructor, inlined (`mov [rax],rcx` after the
// allocation) or called with the object as `this`, stores its class's
// vtable into the object's first qword. Objects of an unrelated class with
// a method in the same slot are never stored there, so their methods are
// not callees (a class-hierarchy guess would take them).

// maxCtorDepth bounds the constructors followed from an object's creation
// (the derived class's calls its base class's).
const maxCtorDepth = 3

// A virtualCall is a call through slot k (a byte offset) of the vtable of
// the object whose address is in slot (or, direct, the object at slot).
type virtualCall struct {
	site   *cfg.CallSite
	slot   uint32
	k      int64
	direct bool
}

// An objectStore is a store of a vtable's address into base+off, where
// base is not the image (an object on the heap, or `this`).
type objectStore struct {
	base *ir.Expr
	off  int64
	vt   uint32
}

// virtualCall matches a call target load(load(O)+k):8 whose object O is
// load(rva:slot):8 for a writable slot, or a writable rva:slot itself.
func (p *Program) virtualCall(c *cfg.CallSite) (virtualCall, bool) {
	t := c.Target
	if t == nil || t.Op != ir.OpLoad || t.W != 8 {
		return virtualCall{}, false
	}
	vptr, k := p.IR.Base(t.A)
	if vptr == nil || vptr.Op != ir.OpLoad || vptr.W != 8 || k < 0 || k%8 != 0 {
		return virtualCall{}, false
	}
	obj := vptr.A
	if slot, ok := p.globalSlot(obj); ok {
		return virtualCall{site: c, slot: slot, k: k}, true
	}
	if obj.Op == ir.OpAddr && obj.V > 0 && obj.V <= 0xffffffff {
		if sec := p.Image.Section(uint32(obj.V)); sec != nil && sec.Writable() {
			return virtualCall{site: c, slot: uint32(obj.V), k: k, direct: true}, true
		}
	}
	return virtualCall{}, false
}

// isVtable reports an address that may be a vtable: in read-only data, its
// first qword a relocated pointer to code.
func (ps *pass) isVtable(rva uint32) bool {
	sec := ps.img.Section(rva)
	if sec == nil || sec.Writable() || ps.img.Executable(rva) {
		return false
	}
	t, ok := ps.img.PointerAt(rva)
	return ok && ps.img.Executable(t)
}

// resolveVirtualCalls resolves the virtual calls from the objects stored
// into their slots (stored holds the values of the slots the calls read).
func (r *globalResolver) resolveVirtualCalls(calls []virtualCall, stored map[uint32][]storedValue) {
	type object struct {
		by *cfg.Func
		v  *ir.Expr
	}
	objects := map[*cfg.CallSite][]object{}
	open := map[*cfg.CallSite]bool{}
	// Objects kept in writable data have their vtables stored into their
	// own slots: read those too.
	more := map[uint32]bool{}
	for _, vc := range calls {
		if vc.direct {
			objects[vc.site] = append(objects[vc.site], object{nil, r.p.IR.Addr(vc.slot)})
			more[vc.slot] = true
			continue
		}
		for _, sv := range stored[vc.slot] {
			for _, v := range r.p.alternatives(sv.by, sv.v) {
				if c, ok := v.IsConst(); ok && c == 0 {
					continue // the pointer cleared
				}
				if v == nil || sv.fallback {
					open[vc.site] = true
					continue
				}
				objects[vc.site] = append(objects[vc.site], object{sv.by, v})
				if v.Op == ir.OpAddr {
					more[uint32(v.V)] = true
				}
			}
		}
	}
	if len(more) > 0 {
		for slot, vals := range r.storedInto(more) {
			stored[slot] = vals
		}
	}
	for _, vc := range calls {
		seen := map[cfg.Callee]bool{}
		var callees []cfg.Callee
		isOpen := open[vc.site]
		for _, o := range objects[vc.site] {
			vts, unknown := r.vtablesOf(o.by, o.v, stored)
			isOpen = isOpen || unknown
			for _, vt := range vts {
				t, ok := r.p.Image.PointerAt(vt + uint32(vc.k))
				f := r.p.Func(t)
				if !ok || f == nil {
					isOpen = true
					continue
				}
				if ce := (cfg.Callee{Func: f.Entry, Import: f.Thunk}); !seen[ce] {
					seen[ce] = true
					callees = append(callees, ce)
				}
			}
		}
		if len(callees) > 0 {
			vc.site.Kind, vc.site.Callees, vc.site.Open = cfg.CallVirtual, callees, isOpen
		}
	}
}

// vtablesOf returns the vtables stored into the object at o, an expression
// of function by (nil for an object in the image's data), and whether the
// object may have others (none found, or a value unknown).
func (r *globalResolver) vtablesOf(by *cfg.Func, o *ir.Expr, stored map[uint32][]storedValue) (vts []uint32, open bool) {
	add := func(v *ir.Expr) {
		if v != nil && v.Op == ir.OpAddr && v.V > 0 && v.V <= 0xffffffff && r.p.lifter.isVtable(uint32(v.V)) {
			vts = append(vts, uint32(v.V))
		}
	}
	if o.Op == ir.OpAddr {
		// An object in writable data: its initial vtable (a constant
		// object) and what constructors store into its first qword.
		slot := uint32(o.V)
		if t, ok := r.p.Image.PointerAt(slot); ok {
			add(r.p.IR.Addr(t))
		}
		for _, sv := range stored[slot] {
			add(sv.v)
		}
	} else if by != nil {
		vts = r.ctorVtables(by, o, 0)
	}
	return vts, len(vts) == 0
}

// ctorVtables returns the vtables f stores into the object at o (off 0),
// itself or through the constructors it calls with o as `this`.
func (r *globalResolver) ctorVtables(f *cfg.Func, o *ir.Expr, depth int) []uint32 {
	r.p.Lift(f)
	base, off := r.p.IR.Base(o)
	var out []uint32
	for _, s := range r.p.factsOf(f).objStores {
		if s.base == base && s.off == off {
			out = append(out, s.vt)
		}
	}
	if depth >= maxCtorDepth {
		return out
	}
	this := r.p.IR.Param(0)
	for _, c := range f.Calls {
		if c.Kind != cfg.CallDirect || c.Arg(0) != o {
			continue
		}
		for _, ce := range c.Callees {
			if g := r.p.Func(ce.Func); g != nil && ce.Import == nil {
				out = append(out, r.ctorVtables(g, this, depth+1)...)
			}
		}
	}
	return out
}
