// Package ir is the small symbolic IR the value analysis is written over:
// immutable expressions over a function's parameters, its entry IRQL,
// image and stack addresses, loads, call results and the values nothing
// is known of, combined by arithmetic, masks, shifts, comparisons and
// selections.
//
// A Builder makes every expression and interns it (hash-consing), so two
// expressions that mean the same are the same pointer; its constructors
// simplify to one canonical form, so that a condition is recognised by what
// it means however the instructions computed it: a test, an and with a
// compare, bt, shr and and, setcc with movzx, a spill and reload all give
// ne(and(load(load(p0+0x10):8):4, 0x2), 0). Expressions are bounded in depth
// (Builder returns nil past MaxDepth: unknown), printable (String), can be
// rewritten in a caller's terms (Subst) and evaluated under known facts
// (Eval, over known bits).
//
// The package knows nothing of x86 or of drivers: cfg lifts instructions to
// it, and the rules evaluate its conditions.
package ir

import (
	"fmt"
	"strings"
)

// Op is an expression's operator.
type Op uint8

// Operators. Leaves first, then unary and binary operators; comparison
// results are booleans of width 1.
const (
	OpConst  Op = iota // V, masked to W
	OpParam            // integer parameter V of the function (0-3 in rcx, rdx, r8, r9; 4.. on the stack)
	OpIRQL             // the IRQL when the function was entered
	OpAddr             // the image address V (an RVA): a pointer
	OpStack            // the function's entry rsp plus V: a pointer into its frame
	OpImport           // the import whose IAT slot is at RVA V: a callee
	OpOpaque           // a value nothing is known of, made at V by location A: equal uses are equal
	OpPhi              // where paths with different values of location A meet, at block V

	OpLoad // W bytes at address A
	OpCall // the value returned by the call at site V to callee A; B is the argument list (OpArgs)
	OpArgs // one cell of an argument list: A the argument (nil: unknown), B the rest

	OpNeg
	OpNot // bitwise complement
	OpZext
	OpSext
	OpTrunc

	OpAdd
	OpMul
	OpAnd
	OpOr
	OpXor
	OpShl
	OpShr // logical
	OpSar

	OpEq
	OpNe
	OpUlt
	OpUle
	OpSlt
	OpSle

	OpSelect // A ? B : C

	numOps
)

var opNames = [numOps]string{
	OpConst: "const", OpParam: "p", OpIRQL: "irql", OpAddr: "rva", OpStack: "stack", OpImport: "import",
	OpOpaque: "opaque", OpPhi: "phi", OpLoad: "load", OpCall: "call", OpArgs: "args",
	OpNeg: "neg", OpNot: "not", OpZext: "zext", OpSext: "sext", OpTrunc: "trunc",
	OpAdd: "+", OpMul: "*", OpAnd: "&", OpOr: "|", OpXor: "^", OpShl: "<<", OpShr: ">>", OpSar: ">>s",
	OpEq: "==", OpNe: "!=", OpUlt: "<u", OpUle: "<=u", OpSlt: "<s", OpSle: "<=s",
	OpSelect: "select",
}

func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("op%d", o)
}

// IsCompare reports a comparison operator.
func (o Op) IsCompare() bool { return o >= OpEq && o <= OpSle }

// Expr is one interned expression. Never build one by hand: a Builder's
// constructors intern and simplify.
type Expr struct {
	Op      Op
	W       uint8 // width in bytes: 1, 2, 4 or 8
	V       int64
	A, B, C *Expr

	depth uint8
	id    uint32 // order of interning, unique in its Builder
	uses  Uses
	hash  uint64 // of the structure: the same in every Builder
}

// before orders the operands of commutative operators: by the structure's
// hash, so that the canonical form does not depend on the order things were
// made in, then by id.
func (e *Expr) before(o *Expr) bool {
	if e.hash != o.hash {
		return e.hash < o.hash
	}
	return e.id < o.id
}

// Depth is the height of the expression tree (a leaf is 1).
func (e *Expr) Depth() int { return int(e.depth) }

// ID is the expression's number in its Builder, unique and stable for one
// Builder.
func (e *Expr) ID() uint32 { return e.id }

// IsConst reports a constant, and returns its value.
func (e *Expr) IsConst() (int64, bool) {
	if e != nil && e.Op == OpConst {
		return e.V, true
	}
	return 0, false
}

// IsBool reports an expression whose value is 0 or 1: a comparison.
func (e *Expr) IsBool() bool { return e != nil && e.Op.IsCompare() }

// Args returns the arguments of an OpCall (nil entries: unknown).
func (e *Expr) Args() []*Expr {
	if e == nil || e.Op != OpCall {
		return nil
	}
	var out []*Expr
	for c := e.B; c != nil; c = c.B {
		out = append(out, c.A)
	}
	return out
}

// Uses says which leaves an expression contains: bit i for parameter i
// (0-7), and the bits below.
type Uses uint16

// Leaves an expression may use besides the parameters.
const (
	UsesIRQL  Uses = 1 << 8  // the entry IRQL
	UsesCall  Uses = 1 << 9  // a call's result
	UsesStack Uses = 1 << 10 // an address in the function's frame
	// UsesOpaque: a value the pass could not follow (what a register held
	// where it started, memory it could not read).
	UsesOpaque Uses = 1 << 11
	// UsesParams are the bits of the first eight parameters.
	UsesParams Uses = 0xff
)

// Uses reports which leaves e contains (0 for nil).
func (e *Expr) Uses() Uses {
	if e == nil {
		return 0
	}
	return e.uses
}

func usesOf(op Op, v int64, x, y, z *Expr) Uses {
	var u Uses
	switch op {
	case OpParam:
		if v >= 0 && v < 8 {
			u = 1 << uint(v)
		}
	case OpIRQL:
		u = UsesIRQL
	case OpCall:
		u = UsesCall
	case OpStack:
		u = UsesStack
	case OpOpaque:
		u = UsesOpaque
	}
	return u | x.Uses() | y.Uses() | z.Uses()
}

// String prints the expression compactly, for tests and messages:
// ne(and(load(load(p0+0x10):8):4, 0x2), 0).
func (e *Expr) String() string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (e *Expr) write(b *strings.Builder) {
	if e == nil {
		b.WriteString("?")
		return
	}
	switch e.Op {
	case OpConst:
		if e.V < 0 || e.V > 1 {
			fmt.Fprintf(b, "%#x", uint64(e.V)&mask(int(e.W)))
		} else {
			fmt.Fprintf(b, "%d", e.V)
		}
	case OpParam:
		fmt.Fprintf(b, "p%d", e.V)
	case OpIRQL:
		b.WriteString("irql")
	case OpAddr:
		fmt.Fprintf(b, "rva:%#x", e.V)
	case OpStack:
		fmt.Fprintf(b, "stack%+#x", e.V)
	case OpImport:
		fmt.Fprintf(b, "import:%#x", e.V)
	case OpOpaque, OpPhi:
		fmt.Fprintf(b, "%s@%#x(", e.Op, e.V)
		e.A.write(b)
		b.WriteString(")")
	case OpLoad:
		b.WriteString("load(")
		e.A.write(b)
		fmt.Fprintf(b, "):%d", e.W)
	case OpCall:
		fmt.Fprintf(b, "call@%#x(", e.V)
		e.A.write(b)
		for c := e.B; c != nil; c = c.B {
			b.WriteString(", ")
			c.A.write(b)
		}
		b.WriteString(")")
	case OpAdd:
		// Offsets read as p0+0x10, not +(p0, 0x10).
		if c, ok := e.B.IsConst(); ok {
			e.A.write(b)
			if c < 0 && e.W == 8 {
				fmt.Fprintf(b, "-%#x", -c)
			} else {
				fmt.Fprintf(b, "+%#x", uint64(c)&mask(int(e.W)))
			}
			return
		}
		fallthrough
	default:
		name := e.Op.String()
		switch e.Op {
		case OpAdd:
			name = "add"
		case OpMul:
			name = "mul"
		case OpAnd:
			name = "and"
		case OpOr:
			name = "or"
		case OpXor:
			name = "xor"
		case OpShl:
			name = "shl"
		case OpShr:
			name = "shr"
		case OpSar:
			name = "sar"
		case OpEq:
			name = "eq"
		case OpNe:
			name = "ne"
		case OpUlt:
			name = "ult"
		case OpUle:
			name = "ule"
		case OpSlt:
			name = "slt"
		case OpSle:
			name = "sle"
		}
		b.WriteString(name)
		b.WriteString("(")
		e.A.write(b)
		if e.B != nil {
			b.WriteString(", ")
			e.B.write(b)
		}
		if e.C != nil {
			b.WriteString(", ")
			e.C.write(b)
		}
		switch e.Op {
		case OpZext, OpSext, OpTrunc:
			fmt.Fprintf(b, ":%d", e.W)
		}
		b.WriteString(")")
	}
}

// mask returns the all-ones value of w bytes.
func mask(w int) uint64 {
	if w >= 8 {
		return ^uint64(0)
	}
	return 1<<(8*uint(w)) - 1
}

// signExtend sign-extends the low w bytes of v.
func signExtend(v uint64, w int) int64 {
	if w >= 8 {
		return int64(v)
	}
	s := 64 - 8*uint(w)
	return int64(v<<s) >> s
}
