package ir

import "testing"

// The canonical forms: what different instruction sequences compute for
// one meaning comes out as one expression.
func TestCanonicalForms(t *testing.T) {
	b := NewBuilder()
	p0 := b.Param(0)
	iopb := b.Load(b.Bin(OpAdd, p0, b.Const(0x10, 8)), 8)
	flags32 := b.Load(iopb, 4)
	flags8 := b.Load(iopb, 1)
	c := func(v int64, w int) *Expr { return b.Const(v, w) }
	for _, tc := range []struct {
		name string
		got  *Expr
		want string
	}{
		{"offsets fold", b.Bin(OpAdd, b.Bin(OpAdd, p0, c(8, 8)), c(8, 8)), "p0+0x10"},
		{"image address plus offset", b.Bin(OpAdd, b.Addr(0x3000), c(0x20, 8)), "rva:0x3020"},
		{"image base + index*4 + table", b.Bin(OpAdd, b.Bin(OpAdd, b.Addr(0), b.Bin(OpMul, p0, c(4, 8))), c(0x2000, 8)),
			"add(mul(p0, 0x4), rva:0x2000)"},
		{"stack slot", b.Sub(b.Stack(-0x28), c(8, 8)), "stack-0x30"},
		{"test byte [rax],2", b.Cmp(OpNe, b.Bin(OpAnd, flags8, c(2, 1)), c(0, 1)), "ne(and(load(load(p0+0x10):8):1, 0x2), 0)"},
		{"movzx eax,byte [rax]; and eax,2; cmp eax,0",
			b.Cmp(OpNe, b.Bin(OpAnd, b.Zext(flags8, 4), c(2, 4)), c(0, 4)), "ne(and(load(load(p0+0x10):8):1, 0x2), 0)"},
		{"mov eax,[rax]; test al,2 (the low byte of a dword load)",
			b.Cmp(OpNe, b.Bin(OpAnd, b.Trunc(flags32, 1), c(2, 1)), c(0, 1)), "ne(and(load(load(p0+0x10):8):1, 0x2), 0)"},
		{"shr eax,1; and eax,1; jne", b.Cmp(OpNe, b.Bin(OpAnd, b.Bin(OpShr, flags32, c(1, 4)), c(1, 4)), c(0, 4)),
			"ne(and(load(load(p0+0x10):8):4, 0x2), 0)"},
		{"setne al; movzx eax,al; test eax,eax; je (negated)",
			b.Cmp(OpEq, b.Zext(b.Cmp(OpNe, b.Bin(OpAnd, flags32, c(2, 4)), c(0, 4)), 4), c(0, 4)),
			"eq(and(load(load(p0+0x10):8):4, 0x2), 0)"},
		{"a boolean compared with 1", b.Cmp(OpEq, b.Cmp(OpUlt, flags8, c(4, 1)), c(1, 1)), "ult(load(load(p0+0x10):8):1, 0x4)"},
		{"xor with 1 negates a boolean", b.Bin(OpXor, b.Cmp(OpUlt, flags8, c(4, 1)), c(1, 1)), "ule(0x4, load(load(p0+0x10):8):1)"},
		{"sub eax,3; je", b.Cmp(OpEq, b.Sub(b.Zext(flags8, 4), c(3, 4)), c(0, 4)), "eq(load(load(p0+0x10):8):1, 0x3)"},
		{"cmp of a zero extension with a large constant", b.Cmp(OpEq, b.Zext(flags8, 4), c(0x100, 4)), "0"},
		{"select of constants compared", b.Cmp(OpNe, b.Select(b.Cmp(OpEq, flags8, c(3, 1)), c(2, 4), c(0, 4)), c(0, 4)),
			"eq(load(load(p0+0x10):8):1, 0x3)"},
		{"select(c, 1, 0) is c", b.Select(b.Cmp(OpEq, flags8, c(3, 1)), c(1, 4), c(0, 4)), "zext(eq(load(load(p0+0x10):8):1, 0x3):4)"},
		{"shl is mul", b.Bin(OpShl, p0, c(3, 1)), "mul(p0, 0x8)"},
		{"xor reg,reg", b.Bin(OpXor, p0, p0), "0"},
		{"and with zext pushes the zext out", b.Bin(OpAnd, b.Zext(flags8, 8), c(0x42, 8)), "zext(and(load(load(p0+0x10):8):1, 0x42):8)"},
		{"cmp irql with 2 after a zero extension", b.Cmp(OpUlt, b.Zext(b.IRQL(), 8), c(2, 8)), "ult(irql, 0x2)"},
		{"a - b == 0 is a == b", b.Cmp(OpEq, b.Sub(p0, b.Param(1)), c(0, 8)), "eq(p1, p0)"},
	} {
		if got := tc.got.String(); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	if b.Cmp(OpNe, b.Bin(OpAnd, flags8, c(2, 1)), c(0, 1)) != b.Cmp(OpNe, b.Bin(OpAnd, b.Zext(flags8, 4), c(2, 4)), c(0, 4)) {
		t.Error("equal meanings are not the same pointer")
	}
}

func TestDepthBound(t *testing.T) {
	b := NewBuilder()
	e := b.Param(0)
	for i := 0; i < 2*MaxDepth && e != nil; i++ {
		e = b.Bin(OpXor, b.Bin(OpMul, e, b.Param(1)), b.Param(2))
	}
	if e != nil {
		t.Errorf("depth %d past MaxDepth %d", e.Depth(), MaxDepth)
	}
}

// A callee's test of its parameter, rewritten for a caller that passes
// Data->Iopb, is the caller's test of Data->Iopb->IrpFlags.
func TestSubst(t *testing.T) {
	b := NewBuilder()
	calleeTest := b.Cmp(OpNe, b.Bin(OpAnd, b.Load(b.Param(1), 4), b.Const(2, 4)), b.Const(0, 4))
	iopb := b.Load(b.Bin(OpAdd, b.Param(0), b.Const(0x10, 8)), 8)
	s := b.NewSubstituter(Binding{Params: []*Expr{b.Const(0, 8), iopb}, IRQL: b.IRQL()})
	if got, want := s.Subst(calleeTest).String(), "ne(and(load(load(p0+0x10):8):4, 0x2), 0)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if s.Subst(b.Load(b.Stack(-8), 8)) != nil {
		t.Error("a callee's stack slot must be unknown to its caller")
	}
	if got := s.Subst(b.Cmp(OpEq, b.Param(0), b.Const(0, 8))); got.String() != "1" {
		t.Errorf("a constant argument folds: got %v", got)
	}
}

func TestEval(t *testing.T) {
	b := NewBuilder()
	iopb := b.Load(b.Bin(OpAdd, b.Param(0), b.Const(0x10, 8)), 8)
	f := b.NewFacts()
	// Paging read: IRP_PAGING_IO (bit 1) set in IrpFlags, MajorFunction 3.
	f.SetMemory(iopb, 4, 0x2, 0x2)
	f.SetMemory(b.Bin(OpAdd, iopb, b.Const(4, 8)), 1, 0xff, 3)
	f.SetLeaf(b.IRQL(), Bits{Known: 0xfe, Val: 0, W: 1}) // at most APC_LEVEL
	c := func(v int64, w int) *Expr { return b.Const(v, w) }
	irp8 := b.Load(iopb, 1)
	irp32 := b.Load(iopb, 4)
	major := b.Load(b.Bin(OpAdd, iopb, c(4, 8)), 1)
	for _, tc := range []struct {
		cond        *Expr
		value, know bool
	}{
		{b.Cmp(OpNe, b.Bin(OpAnd, irp8, c(2, 1)), c(0, 1)), true, true},
		{b.Cmp(OpNe, b.Bin(OpAnd, irp32, c(0x42, 4)), c(0, 4)), true, true},
		{b.Cmp(OpNe, b.Bin(OpAnd, irp32, c(0x40, 4)), c(0, 4)), false, false}, // IRP_SYNCHRONOUS_PAGING_IO alone is not known
		{b.Cmp(OpEq, major, c(3, 1)), true, true},
		{b.Cmp(OpEq, major, c(4, 1)), false, true},
		{b.Cmp(OpUlt, b.Sub(b.Zext(major, 4), c(3, 4)), c(2, 4)), true, true}, // major in [3, 4]
		{b.Cmp(OpUle, c(2, 1), b.IRQL()), false, true},                        // irql >= DISPATCH_LEVEL
		{b.Cmp(OpEq, b.IRQL(), c(0, 1)), false, false},
		{b.Select(b.Cmp(OpEq, major, c(3, 1)), c(1, 4), b.Param(1)), true, true},
		{b.Cmp(OpNe, b.Load(b.Param(1), 4), c(0, 4)), false, false},
	} {
		v, k := f.Decide(tc.cond)
		if v != tc.value || k != tc.know {
			t.Errorf("%v: got (%v, known %v), want (%v, known %v)", tc.cond, v, k, tc.value, tc.know)
		}
	}
}

// Interning finds every expression again, the same pointer, however far the
// table has grown since it was made, and keeps the table at most half full.
func TestInternAcrossGrowth(t *testing.T) {
	b := NewBuilder()
	const n = 200000 // the table doubles many times from initialTable
	made := make([]*Expr, n)
	for i := range made {
		made[i] = b.Load(b.Bin(OpAdd, b.Param(i%4), b.Const(int64(i), 8)), 1+i%8)
	}
	count := b.Len()
	for i := range made {
		if again := b.Load(b.Bin(OpAdd, b.Param(i%4), b.Const(int64(i), 8)), 1+i%8); again != made[i] {
			t.Fatalf("expression %d made again is another: %v, first %v", i, again, made[i])
		}
	}
	if b.Len() != count {
		t.Errorf("making the same expressions again grew the builder from %d to %d", count, b.Len())
	}
	if len(b.table) < 2*b.Len() {
		t.Errorf("table of %d slots holds %d expressions: more than half full", len(b.table), b.Len())
	}
}
