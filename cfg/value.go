package cfg

import (
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// ValueKind says what the forward pass knows about a register or memory cell.
type ValueKind uint8

// Value kinds.
const (
	Unknown    ValueKind = iota
	Const                // V is an integer constant
	Address              // V is an RVA in the image (lea reg,[rip+X]); the image base is Address 0
	StackAddr            // V is an offset from rsp at function entry (negative for locals)
	Loaded               // the 8 bytes read from RVA V (mov reg,[rip+X]): an IAT slot, a global pointer
	TableEntry           // an entry read from the table at RVA V with a run-time index
	Param                // derived from the function's integer parameter P (rcx, rdx, r8, r9), see Value
	// SwitchTarget is a jump-table entry added to its base: the table at
	// RVA V holds P-byte entries (Depth 1: sign-extended), each an offset
	// from the base RVA in Path[0] (0 for MSVC's __ImageBase-relative form).
	SwitchTarget
	// Choice is one of two constants, V or W: what compilers make of
	// `status < 0 ? a : b` without a branch (sar eax,31 ; add eax,k).
	Choice
	// Returned is rax after a call to an import: the import's IAT slot is
	// V. (KeGetCurrentIrql() compared with a constant guards IRQL-bound
	// work.)
	Returned
	// TestBit is the boolean a setcc made of a bit test of a parameter
	// field: the field is P/Depth/Path as for Param, the mask is V, and W
	// is 1 when the boolean is true for a non-zero field&mask (setne), 0
	// when it is true for zero (sete). `paging = FlagOn(IrpFlags,
	// IRP_PAGING_IO)` passed to a helper is one.
	TestBit
)

// MaxDepth is how many loads through a parameter a Value follows:
// Data->Iopb->IrpFlags is two.
const MaxDepth = 2

// Value is the forward pass's knowledge of one register or memory cell.
//
// For Kind Param the value is parameter P, loaded through Depth fields at
// the offsets in Path (outermost first), plus V: rcx at entry is
// {Param, P: 0}; after mov rax,[rcx+10h] rax is {Param, P: 0, Depth: 1,
// Path: [0x10]}; after mov eax,[rax] eax is {..., Depth: 2, Path: [0x10, 0]}.
type Value struct {
	Kind  ValueKind
	P     uint8 // Param: parameter index 0..3
	Depth uint8 // Param: number of loads
	Path  [MaxDepth]int32
	V     int64
	W     int64 // Choice: the other value
}

// MayBe reports whether v can be the constant c: a Const equal to it, or a
// Choice with c as one of its values.
func (v Value) MayBe(c int64) bool {
	return v.Kind == Const && v.V == c || v.Kind == Choice && (v.V == c || v.W == c)
}

// Field returns the parameter field a TestBit tests, as a Param value.
func (v Value) Field() Value {
	f := v
	f.Kind, f.V, f.W = Param, 0, 0
	return f
}

// IsParamField reports whether v is the value loaded through parameter p at
// the given offsets, e.g. IsParamField(0, 0x10, 0) for Data->Iopb->IrpFlags.
func (v Value) IsParamField(p int, offs ...int32) bool {
	if v.Kind != Param || int(v.P) != p || int(v.Depth) != len(offs) || v.V != 0 {
		return false
	}
	for i, o := range offs {
		if v.Path[i] != o {
			return false
		}
	}
	return true
}

func (v Value) String() string {
	switch v.Kind {
	case Const:
		return fmt.Sprintf("%#x", v.V)
	case Address:
		return fmt.Sprintf("rva:%#x", v.V)
	case StackAddr:
		return fmt.Sprintf("stack%+#x", v.V)
	case Loaded:
		return fmt.Sprintf("[rva:%#x]", v.V)
	case TableEntry:
		return fmt.Sprintf("[rva:%#x+idx]", v.V)
	case Choice:
		return fmt.Sprintf("%#x|%#x", v.V, v.W)
	case Returned:
		return fmt.Sprintf("ret[rva:%#x]", v.V)
	case TestBit:
		f := v
		f.Kind, f.V = Param, 0
		op := "!= 0"
		if v.W == 0 {
			op = "== 0"
		}
		return fmt.Sprintf("(%v & %#x %s)", f, v.V, op)
	case SwitchTarget:
		return fmt.Sprintf("rva:%#x+[rva:%#x+idx]", v.Path[0], v.V)
	case Param:
		s := fmt.Sprintf("arg%d", v.P)
		for i := 0; i < int(v.Depth); i++ {
			s = fmt.Sprintf("[%s+%#x]", s, v.Path[i])
		}
		if v.V != 0 {
			s += fmt.Sprintf("%+#x", v.V)
		}
		return s
	}
	return "?"
}

// plus offsets a pointer-like value or a constant.
func (v Value) plus(d int64) Value {
	switch v.Kind {
	case Const, Address, StackAddr, Param:
		v.V += d
		return v
	case Choice:
		v.V += d
		v.W += d
		return v
	}
	return Value{}
}

// apply combines a constant or a choice with an immediate.
func (v Value) apply(op func(a int64) int64) Value {
	switch v.Kind {
	case Const:
		v.V = op(v.V)
		return v
	case Choice:
		v.V, v.W = op(v.V), op(v.W)
		return v
	}
	return Value{}
}

// load is the value read through pointer v at offset d, for values the
// pass follows symbolically (parameters); memory is handled by the caller.
func (v Value) load(d int64) Value {
	if v.Kind != Param || v.Depth >= MaxDepth {
		return Value{}
	}
	off := v.V + d
	if off != int64(int32(off)) {
		return Value{}
	}
	v.Path[v.Depth] = int32(off)
	v.Depth++
	v.V = 0
	return v
}

// Cond describes the test that decides a conditional branch, when the pass
// recognised it: a bit test (test/and/bt of a value with a mask, then a jump
// on zero or non-zero) or a comparison of a value with a constant (cmp, or
// sub followed by a jump on zero, then a jump on the relation).
type Cond struct {
	Value Value // what was tested; for a comparison of Param values, V is folded into Imm
	// Bit tests.
	Mask int64
	// TakenIfZero: the branch is taken when Value&Mask == 0 (je/jz after
	// test, jnc after bt); otherwise it is taken when it is non-zero.
	TakenIfZero bool
	// Comparisons (Cmp set): the branch is taken when Value Rel Imm.
	Cmp  bool
	Rel  Relation
	Imm  int64
	Size int // operand size in bytes, for the unsigned relations
}

// Relation is the relation a conditional jump tests after a comparison.
type Relation uint8

// Relations (unsigned ones are what ja/jb and friends test).
const (
	RelEq Relation = iota
	RelNe
	RelUlt
	RelUle
	RelUgt
	RelUge
	RelSlt
	RelSle
	RelSgt
	RelSge
)

var relNames = [...]string{"==", "!=", "<u", "<=u", ">u", ">=u", "<", "<=", ">", ">="}

// TakenFor reports whether the branch is taken when the tested value is x.
func (c *Cond) TakenFor(x int64) bool {
	if !c.Cmp {
		return (x&c.Mask == 0) == c.TakenIfZero
	}
	bits := uint(8 * c.Size)
	if bits == 0 || bits > 64 {
		bits = 64
	}
	mask := uint64(1)<<bits - 1
	if bits == 64 {
		mask = ^uint64(0)
	}
	ux, uy := uint64(x)&mask, uint64(c.Imm)&mask
	sx, sy := int64(ux<<(64-bits))>>(64-bits), int64(uy<<(64-bits))>>(64-bits)
	switch c.Rel {
	case RelEq:
		return ux == uy
	case RelNe:
		return ux != uy
	case RelUlt:
		return ux < uy
	case RelUle:
		return ux <= uy
	case RelUgt:
		return ux > uy
	case RelUge:
		return ux >= uy
	case RelSlt:
		return sx < sy
	case RelSle:
		return sx <= sy
	case RelSgt:
		return sx > sy
	case RelSge:
		return sx >= sy
	}
	return true
}

func (c *Cond) String() string {
	if c.Cmp {
		return fmt.Sprintf("%v %s %#x", c.Value, relNames[c.Rel], c.Imm)
	}
	op := "!= 0"
	if c.TakenIfZero {
		op = "== 0"
	}
	return fmt.Sprintf("%v & %#x %s", c.Value, c.Mask, op)
}

// Register indexes in x86 encoding order.
const (
	rRAX = iota
	rRCX
	rRDX
	rRBX
	rRSP
	rRBP
	rRSI
	rRDI
	rR8
	rR9
	rR10
	rR11
	nRegs = 16
)

// argRegs are the Microsoft x64 integer argument registers in order.
var argRegs = [4]int{rRCX, rRDX, rR8, rR9}

// regIndex maps any width of a general-purpose register to its index, or -1.
func regIndex(r x86asm.Reg) int {
	switch {
	case r >= x86asm.RAX && r <= x86asm.R15:
		return int(r - x86asm.RAX)
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return int(r - x86asm.EAX)
	case r >= x86asm.AX && r <= x86asm.R15W:
		return int(r - x86asm.AX)
	case r >= x86asm.AL && r <= x86asm.BL:
		return int(r - x86asm.AL)
	case r >= x86asm.AH && r <= x86asm.BH:
		return int(r - x86asm.AH)
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return int(r-x86asm.SPB) + 4
	}
	return -1
}

// regWidth returns the width in bits of a general-purpose register.
func regWidth(r x86asm.Reg) int {
	switch {
	case r >= x86asm.RAX && r <= x86asm.R15:
		return 64
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return 32
	case r >= x86asm.AX && r <= x86asm.R15W:
		return 16
	}
	return 8
}

// xmmIndex maps X0..X15 to 0..15, or -1.
func xmmIndex(r x86asm.Reg) int {
	if r >= x86asm.X0 && r <= x86asm.X15 {
		return int(r - x86asm.X0)
	}
	return -1
}

// writesArg0 reports whether the instruction writes its first operand.
func writesArg0(op x86asm.Op) bool {
	switch op {
	case x86asm.CMP, x86asm.TEST, x86asm.PUSH, x86asm.BT, x86asm.JMP, x86asm.CALL,
		x86asm.NOP, x86asm.PREFETCHW, x86asm.PREFETCHT0, x86asm.PREFETCHT1, x86asm.PREFETCHT2, x86asm.PREFETCHNTA,
		x86asm.UCOMISS, x86asm.UCOMISD, x86asm.COMISS, x86asm.COMISD:
		return false
	}
	return !isJcc(op)
}

// disp returns a memory operand's displacement sign-extended. In 64-bit mode
// every displacement is a signed 32-bit value, but x86asm stores some of them
// (rip-relative ones among them) zero-extended, which would send every
// backward reference 4 GiB away.
func disp(m x86asm.Mem) int64 { return int64(int32(m.Disp)) }
