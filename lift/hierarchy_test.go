package lift

import (
	"slices"
	"testing"

	"github.com/drvhazard/drvhazard/internal/synth"
	"github.com/drvhazard/drvhazard/loader"
)

// Class-hierarchy analysis on hand-assembled code with the symbols a PDB
// would give (names, classes, vtables), for the C++ shapes the fixtures do
// not have.

// hierProgram builds synth.Image(code, data, relocs) with the given symbols,
// classes and vtables.
func hierProgram(t *testing.T, code, data []byte, relocs []uint32, syms []loader.Symbol, classes map[string]loader.Class, vt map[uint32]loader.Vtable) *Program {
	t.Helper()
	img, err := loader.LoadBytes(synth.Image(code, data, relocs))
	if err != nil {
		t.Fatal(err)
	}
	img.Symbols = append(img.Symbols, syms...)
	img.Classes = classes
	img.Vtables = vt
	return Build(img)
}

// calleeNames returns the names of the callees of the function at entry,
// sorted.
func calleeNames(p *Program, entry uint32) []string {
	var out []string
	for _, c := range p.Func(entry).Calls {
		for _, ce := range c.Callees {
			if g := p.Func(ce.Func); g != nil {
				out = append(out, g.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// D : A, C (both polymorphic). In D::Run, this->vf() reads D's primary
// vptr (the A subobject's table at offset 0): slot 0 of ??_7D@@6BA@@.
// Slot 0 of ??_7D@@6BC@@ (the C subobject's table, at this+8) is not a callee.
func TestHierarchyMultipleInheritance(t *testing.T) {
	code := synth.Cat(
		[]byte{0x48, 0x8b, 0x01}, // 1000 mov rax,[rcx]
		[]byte{0xff, 0x10},       // 1003 call [rax]
		[]byte{0xc3},             // 1005 ret
	)
	code = synth.At(code, 0x10, 0xc3) // 1010 D::f
	code = synth.At(code, 0x20, 0xc3) // 1020 C::g
	data := synth.Cat(synth.LE64(0x140001010), synth.LE64(0), synth.LE64(0x140001020), synth.LE64(0))
	syms := []loader.Symbol{{Name: "D::Run", RVA: 0x1000, Function: true}, {Name: "D::f", RVA: 0x1010, Function: true}, {Name: "C::g", RVA: 0x1020, Function: true}}
	classes := map[string]loader.Class{"A": {Polymorphic: true}, "C": {Polymorphic: true}, "D": {Bases: []string{"A", "C"}, Polymorphic: true}}
	vt := map[uint32]loader.Vtable{0x100000: {Class: "D", Base: "A"}, 0x100010: {Class: "D", Base: "C"}}
	p := hierProgram(t, code, data, []uint32{0, 0x10}, syms, classes, vt)
	if got := calleeNames(p, 0x1000); !slices.Equal(got, []string{"D::f"}) {
		t.Errorf("D::Run calls %q, want [D::f]", got)
	}
}

// A const table of static member functions, taken with lea, is no vtable
// of Dev: Dev's real vtable has a symbol, and where the symbols name
// vtables, they name them all.
func TestHierarchyNamedVtablesOnly(t *testing.T) {
	code := synth.Cat(
		[]byte{0x48, 0x8d, 0x05}, synth.LE32(0x100020-0x1007), // 1000 lea rax,[rip->100020] kHandlers
		[]byte{0xc3}, // 1007 ret
	)
	code = synth.At(code, 0x10, 0xc3) // 1010 Dev::~Dev
	code = synth.At(code, 0x20, 0xc3) // 1020 Dev::Handle
	code = synth.At(code, 0x30, 0xc3) // 1030 Dev::OnCreate (static)
	code = synth.At(code, 0x40, 0xc3) // 1040 Dev::OnClose (static)
	code = synth.At(code, 0x50,
		0x48, 0x8b, 0x01, // 1050 mov rax,[rcx]
		0xff, 0x50, 0x08, // 1053 call [rax+8]
		0xc3)
	data := synth.Cat(synth.LE64(0x140001010), synth.LE64(0x140001020), synth.LE64(0), synth.LE64(0),
		synth.LE64(0x140001030), synth.LE64(0x140001040), synth.LE64(0))
	syms := []loader.Symbol{{Name: "Dispatch", RVA: 0x1000, Function: true}, {Name: "Dev::~Dev", RVA: 0x1010, Function: true},
		{Name: "Dev::Handle", RVA: 0x1020, Function: true}, {Name: "Dev::OnCreate", RVA: 0x1030, Function: true},
		{Name: "Dev::OnClose", RVA: 0x1040, Function: true}, {Name: "Dev::Run", RVA: 0x1050, Function: true}}
	classes := map[string]loader.Class{"Dev": {Polymorphic: true}}
	vt := map[uint32]loader.Vtable{0x100000: {Class: "Dev"}}
	p := hierProgram(t, code, data, []uint32{0, 8, 0x20, 0x28}, syms, classes, vt)
	if got := calleeNames(p, 0x1050); !slices.Equal(got, []string{"Dev::Handle"}) {
		t.Errorf("Dev::Run calls %q, want [Dev::Handle]", got)
	}
}

// Base is not polymorphic: its first field is a pointer to a table of
// routines (ops->fn()). Der : Base adds virtual functions (vfptr at 0,
// Base at +8 in MSVC's layout). Base::Run's call is not a call of Der's vtable.
func TestHierarchyNonPolymorphicClass(t *testing.T) {
	code := synth.Cat(
		[]byte{0x48, 0x8b, 0x01}, // 1000 mov rax,[rcx]
		[]byte{0xff, 0x10},       // 1003 call [rax]
		[]byte{0xc3},             // 1005 ret
	)
	code = synth.At(code, 0x10, 0xc3) // 1010 Der::v
	data := synth.Cat(synth.LE64(0x140001010), synth.LE64(0))
	syms := []loader.Symbol{{Name: "Base::Run", RVA: 0x1000, Function: true}, {Name: "Der::v", RVA: 0x1010, Function: true}}
	classes := map[string]loader.Class{"Base": {}, "Der": {Bases: []string{"Base"}, Polymorphic: true}}
	vt := map[uint32]loader.Vtable{0x100000: {Class: "Der"}}
	p := hierProgram(t, code, data, []uint32{0}, syms, classes, vt)
	if got := calleeNames(p, 0x1000); len(got) != 0 {
		t.Errorf("Base::Run calls %q, want none (unresolved)", got)
	}
}

// A static member function of a polymorphic class calls a virtual method
// of its argument (static void Helper::Drop(IFoo *p) { p->Release(); }):
// rcx is not `this`, and Helper's vtable slot is not a callee.
func TestHierarchyStaticMethod(t *testing.T) {
	code := synth.Cat(
		[]byte{0x48, 0x8b, 0x01}, // 1000 mov rax,[rcx]
		[]byte{0xff, 0x50, 0x08}, // 1003 call [rax+8]
		[]byte{0xc3},             // 1006 ret
	)
	code = synth.At(code, 0x10, 0xc3) // 1010 Helper::~Helper
	code = synth.At(code, 0x20, 0xc3) // 1020 Helper::Run
	data := synth.Cat(synth.LE64(0x140001010), synth.LE64(0x140001020), synth.LE64(0))
	syms := []loader.Symbol{{Name: "?Drop@Helper@@SAXPEAVIFoo@@@Z", RVA: 0x1000, Function: true},
		{Name: "Helper::~Helper", RVA: 0x1010, Function: true}, {Name: "Helper::Run", RVA: 0x1020, Function: true}}
	classes := map[string]loader.Class{"Helper": {Polymorphic: true}, "IFoo": {Polymorphic: true}}
	vt := map[uint32]loader.Vtable{0x100000: {Class: "Helper"}}
	p := hierProgram(t, code, data, []uint32{0, 8}, syms, classes, vt)
	if got := calleeNames(p, 0x1000); len(got) != 0 {
		t.Errorf("Helper::Drop (static, decorated SA) calls %q, want none", got)
	}
}
