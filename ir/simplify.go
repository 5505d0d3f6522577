package ir

import "math/bits"

// The constructors below return one canonical form for each meaning, so
// that consumers match a handful of shapes instead of every instruction
// sequence a compiler emits:
//
//   - constants are folded, and a constant operand of a commutative
//     operator is on the right; other operands are ordered by interning id;
//   - sums keep one constant: ((x+1)+y)+2 is (x+y)+3; an image or stack
//     address plus a constant is an address;
//   - a shift left by a constant is a multiplication (index scaling);
//   - zero extension is pushed outwards and truncation inwards, down to
//     loads, so that a byte read through any register width is one load;
//   - a comparison of a boolean with 0 or 1 is the boolean or its negation,
//     a comparison of a selection between constants is a selection of
//     booleans, and a test of a shifted bit is a test of the bit in place.
//
// Every constructor returns nil (unknown) when an operand is nil.

// Neg is the two's complement negation of x.
func (b *Builder) Neg(x *Expr) *Expr {
	switch {
	case x == nil:
		return nil
	case x.Op == OpConst:
		return b.Const(-x.V, int(x.W))
	case x.Op == OpNeg:
		return x.A
	}
	return b.intern(OpNeg, int(x.W), 0, x, nil, nil)
}

// Not is the bitwise complement of x.
func (b *Builder) Not(x *Expr) *Expr {
	switch {
	case x == nil:
		return nil
	case x.Op == OpConst:
		return b.Const(^x.V, int(x.W))
	case x.Op == OpNot:
		return x.A
	}
	return b.intern(OpNot, int(x.W), 0, x, nil, nil)
}

// Zext zero-extends x to w bytes (or truncates it when w is narrower).
func (b *Builder) Zext(x *Expr, w int) *Expr {
	switch {
	case x == nil:
		return nil
	case int(x.W) == w:
		return x
	case int(x.W) > w:
		return b.Trunc(x, w)
	case x.Op == OpConst:
		return b.Const(x.V, w)
	case x.Op == OpZext:
		return b.Zext(x.A, w)
	}
	return b.intern(OpZext, w, 0, x, nil, nil)
}

// Sext sign-extends x to w bytes (or truncates it when w is narrower).
func (b *Builder) Sext(x *Expr, w int) *Expr {
	switch {
	case x == nil:
		return nil
	case int(x.W) == w:
		return x
	case int(x.W) > w:
		return b.Trunc(x, w)
	case x.Op == OpConst:
		return b.Const(signExtend(uint64(x.V), int(x.W)), w)
	case x.Op == OpSext:
		return b.Sext(x.A, w)
	case x.Op == OpZext:
		return b.Zext(x, w) // the sign bit of a zero extension is 0
	case x.IsBool():
		// A boolean is 0 or 1, never negative.
		return b.Zext(x, w)
	}
	return b.intern(OpSext, w, 0, x, nil, nil)
}

// Trunc keeps the low w bytes of x.
func (b *Builder) Trunc(x *Expr, w int) *Expr {
	switch {
	case x == nil:
		return nil
	case int(x.W) == w:
		return x
	case int(x.W) < w:
		return b.Zext(x, w)
	}
	switch x.Op {
	case OpConst:
		return b.Const(x.V, w)
	case OpZext, OpSext:
		switch inner := x.A; {
		case int(inner.W) == w:
			return inner
		case int(inner.W) > w:
			return b.Trunc(inner, w)
		case x.Op == OpZext:
			return b.Zext(inner, w)
		default:
			return b.Sext(inner, w)
		}
	case OpLoad:
		return b.Load(x.A, w) // little-endian: the low bytes are the first ones
	case OpAdd, OpMul, OpAnd, OpOr, OpXor:
		// The low bytes of these depend on the low bytes of the operands.
		return b.Bin(x.Op, b.Trunc(x.A, w), b.Trunc(x.B, w))
	case OpNeg:
		return b.Neg(b.Trunc(x.A, w))
	case OpNot:
		return b.Not(b.Trunc(x.A, w))
	case OpSelect:
		return b.Select(x.A, b.Trunc(x.B, w), b.Trunc(x.C, w))
	}
	return b.intern(OpTrunc, w, 0, x, nil, nil)
}

// Sub is x - y.
func (b *Builder) Sub(x, y *Expr) *Expr { return b.Bin(OpAdd, x, b.Neg(y)) }

// Bin applies a binary arithmetic or bitwise operator (OpAdd ... OpSar).
// The operands should have the same width; y is fitted to x's width when
// they do not (x86 shift counts are one byte).
func (b *Builder) Bin(op Op, x, y *Expr) *Expr {
	if x == nil || y == nil {
		return nil
	}
	if y.W != x.W {
		y = b.Zext(y, int(x.W))
	}
	w := int(x.W)
	xc, xk := x.IsConst()
	yc, yk := y.IsConst()
	if xk && yk {
		return b.Const(fold(op, uint64(xc), uint64(yc), w), w)
	}
	if commutative(op) && (xk || !yk && y.before(x)) {
		x, y = y, x
		xc, xk, yc, yk = yc, yk, xc, xk
	}
	m := int64(mask(w))
	switch op {
	case OpAdd:
		return b.add(x, y)
	case OpMul:
		switch {
		case yk && yc == 0:
			return y
		case yk && yc == 1:
			return x
		case yk && x.Op == OpMul:
			if c, ok := x.B.IsConst(); ok {
				return b.Bin(OpMul, x.A, b.Const(c*yc, w))
			}
		}
	case OpAnd:
		switch {
		case yk && yc == 0:
			return y
		case yk && yc&m == m:
			return x
		case x == y:
			return x
		case yk && x.Op == OpAnd:
			if c, ok := x.B.IsConst(); ok {
				return b.Bin(OpAnd, x.A, b.Const(c&yc, w))
			}
		case yk && x.Op == OpZext:
			// and(zext(v), c) is zext(and(v, c)): keep extensions outside.
			inner := x.A
			return b.Zext(b.Bin(OpAnd, inner, b.Const(yc, int(inner.W))), w)
		case yk && yc&1 == 1 && x.IsBool():
			return x
		case yk && x.Op == OpSelect && isConst(x.B) && isConst(x.C):
			return b.Select(x.A, b.Bin(OpAnd, x.B, y), b.Bin(OpAnd, x.C, y))
		}
	case OpOr:
		switch {
		case yk && yc == 0:
			return x
		case yk && yc&m == m:
			return y
		case x == y:
			return x
		case yk && x.Op == OpOr:
			if c, ok := x.B.IsConst(); ok {
				return b.Bin(OpOr, x.A, b.Const(c|yc, w))
			}
		case yk && x.Op == OpZext && uint64(yc) <= mask(int(x.A.W)):
			inner := x.A
			return b.Zext(b.Bin(OpOr, inner, b.Const(yc, int(inner.W))), w)
		}
	case OpXor:
		switch {
		case x == y:
			return b.Const(0, w)
		case yk && yc == 0:
			return x
		case yk && yc&m == m:
			return b.Not(x)
		case yk && yc == 1 && x.IsBool():
			return b.LNot(x)
		case yk && yc == 1 && x.Op == OpZext && x.A.IsBool():
			return b.Zext(b.LNot(x.A), w)
		}
	case OpShl:
		if yk {
			n := yc & 63
			if n >= int64(8*w) {
				return b.Const(0, w)
			}
			return b.Bin(OpMul, x, b.Const(1<<uint(n), w))
		}
	case OpShr, OpSar:
		switch {
		case yk && yc&63 == 0:
			return x
		case yk && op == OpShr && x.Op == OpZext && yc&63 >= int64(8*x.A.W):
			return b.Const(0, w)
		}
	}
	return b.intern(op, w, 0, x, y, nil)
}

func isConst(e *Expr) bool { _, ok := e.IsConst(); return ok }

// add makes x + y with at most one constant term, outermost.
func (b *Builder) add(x, y *Expr) *Expr {
	w := int(x.W)
	var k int64
	split := func(e *Expr) *Expr {
		if e.Op == OpAdd {
			if c, ok := e.B.IsConst(); ok {
				k += c
				return e.A
			}
		}
		if c, ok := e.IsConst(); ok {
			k += c
			return nil
		}
		return e
	}
	x, y = split(x), split(y)
	k = int64(uint64(k) & mask(w))
	// A constant offset belongs to an address term: [r12+rax*4+table] with
	// r12 the image base is table + rax*4.
	if k != 0 {
		for _, t := range []*(*Expr){&x, &y} {
			if *t == nil {
				continue
			}
			if a := b.offsetAddr(*t, signExtend(uint64(k), w)); a != nil {
				*t, k = a, 0
				break
			}
			if e := *t; e.Op == OpAdd && (e.A.Op == OpAddr || e.B.Op == OpAddr) {
				if a := b.offsetAddr(e.A, signExtend(uint64(k), w)); a != nil {
					*t, k = b.add(a, e.B), 0
				} else if a := b.offsetAddr(e.B, signExtend(uint64(k), w)); a != nil {
					*t, k = b.add(e.A, a), 0
				}
				if k == 0 {
					break
				}
			}
		}
	}
	var sum *Expr
	switch {
	case x == nil && y == nil:
		return b.Const(k, w)
	case x == nil:
		sum = y
	case y == nil:
		sum = x
	case x.Op == OpNeg && x.A == y, y.Op == OpNeg && y.A == x:
		return b.Const(k, w)
	default:
		if y.before(x) {
			x, y = y, x
		}
		sum = b.intern(OpAdd, w, 0, x, y, nil)
		if sum == nil {
			return nil
		}
	}
	if k == 0 {
		return sum
	}
	// An address plus a constant is an address.
	if a := b.offsetAddr(sum, signExtend(uint64(k), w)); a != nil {
		return a
	}
	return b.intern(OpAdd, w, 0, sum, b.Const(k, w), nil)
}

// offsetAddr is the image or stack address e plus d, nil when e is not one
// (or the image address would leave the 32-bit RVA range).
func (b *Builder) offsetAddr(e *Expr, d int64) *Expr {
	switch e.Op {
	case OpAddr:
		if v := e.V + d; v >= 0 && v <= 0xffffffff {
			return b.Addr(uint32(v))
		}
	case OpStack:
		return b.Stack(e.V + d)
	}
	return nil
}

func commutative(op Op) bool {
	switch op {
	case OpAdd, OpMul, OpAnd, OpOr, OpXor, OpEq, OpNe:
		return true
	}
	return false
}

// fold evaluates a binary operator on constants of w bytes.
func fold(op Op, x, y uint64, w int) int64 {
	m := mask(w)
	x, y = x&m, y&m
	var r uint64
	switch op {
	case OpAdd:
		r = x + y
	case OpMul:
		r = x * y
	case OpAnd:
		r = x & y
	case OpOr:
		r = x | y
	case OpXor:
		r = x ^ y
	case OpShl:
		if n := y & 63; n < uint64(8*w) {
			r = x << n
		}
	case OpShr:
		if n := y & 63; n < uint64(8*w) {
			r = x >> n
		}
	case OpSar:
		n := y & 63
		if n >= uint64(8*w) {
			n = uint64(8*w) - 1
		}
		r = uint64(signExtend(x, w) >> n)
	}
	return int64(r & m)
}

// Cmp compares x and y (OpEq ... OpSle); the result is a boolean of width 1.
func (b *Builder) Cmp(op Op, x, y *Expr) *Expr {
	if x == nil || y == nil {
		return nil
	}
	if y.W != x.W {
		y = b.Zext(y, int(x.W))
	}
	w := int(x.W)
	xc, xk := x.IsConst()
	yc, yk := y.IsConst()
	if xk && yk {
		return b.Bool(compare(op, uint64(xc), uint64(yc), w))
	}
	if x == y {
		return b.Bool(op == OpEq || op == OpUle || op == OpSle)
	}
	if op == OpEq || op == OpNe {
		if xk || !yk && y.before(x) {
			x, y = y, x
			xc, xk, yc, yk = yc, yk, xc, xk
		}
		if yk {
			if e, done := b.eqConst(op, x, yc); done {
				return e
			}
		}
		// x - y == 0 and x ^ y == 0 are x == y.
		if yk && yc == 0 {
			switch {
			case x.Op == OpXor:
				return b.Cmp(op, x.A, x.B)
			case x.Op == OpAdd && x.B.Op == OpNeg:
				return b.Cmp(op, x.A, x.B.A)
			case x.Op == OpAdd && x.A.Op == OpNeg:
				return b.Cmp(op, x.B, x.A.A)
			}
		}
		return b.intern(op, 1, 0, x, y, nil)
	}
	// Order comparisons.
	if x.Op == OpSelect && isConst(x.B) && isConst(x.C) && yk {
		return b.Select(x.A, b.Cmp(op, x.B, y), b.Cmp(op, x.C, y))
	}
	m := int64(mask(w))
	switch op {
	case OpUlt:
		switch {
		case yk && yc == 0:
			return b.Bool(false)
		case yk && yc == 1:
			return b.Cmp(OpEq, x, y.zero(b))
		case xk && xc == m:
			return b.Bool(false)
		case x.Op == OpZext && yk:
			if uint64(yc) > mask(int(x.A.W)) {
				return b.Bool(true)
			}
			return b.Cmp(op, x.A, b.Const(yc, int(x.A.W)))
		}
	case OpUle:
		switch {
		case yk && yc == m, xk && xc == 0:
			return b.Bool(true)
		case yk && yc == 0:
			return b.Cmp(OpEq, x, y)
		case x.Op == OpZext && yk:
			if uint64(yc) >= mask(int(x.A.W)) {
				return b.Bool(true)
			}
			return b.Cmp(op, x.A, b.Const(yc, int(x.A.W)))
		case y.Op == OpZext && xk:
			if uint64(xc) > mask(int(y.A.W)) {
				return b.Bool(false)
			}
			return b.Cmp(op, b.Const(xc, int(y.A.W)), y.A)
		}
	}
	if op == OpUlt && y.Op == OpZext && xk {
		if uint64(xc) >= mask(int(y.A.W)) {
			return b.Bool(false)
		}
		return b.Cmp(op, b.Const(xc, int(y.A.W)), y.A)
	}
	return b.intern(op, 1, 0, x, y, nil)
}

// zero is the constant 0 of e's width.
func (e *Expr) zero(b *Builder) *Expr { return b.Const(0, int(e.W)) }

// eqConst simplifies x == c (op OpEq) or x != c (OpNe).
func (b *Builder) eqConst(op Op, x *Expr, c int64) (*Expr, bool) {
	w := int(x.W)
	neg := op == OpNe
	result := func(e *Expr) (*Expr, bool) {
		if neg {
			return b.LNot(e), true
		}
		return e, true
	}
	switch {
	case x.IsBool():
		switch c {
		case 0:
			return result(b.LNot(x))
		case 1:
			return result(x)
		}
		return result(b.Bool(false))
	case x.Op == OpAdd:
		if k, ok := x.B.IsConst(); ok {
			return b.Cmp(op, x.A, b.Const(c-k, w)), true
		}
	case x.Op == OpZext:
		if uint64(c) > mask(int(x.A.W)) {
			return result(b.Bool(false))
		}
		return b.Cmp(op, x.A, b.Const(c, int(x.A.W))), true
	case x.Op == OpSext:
		iw := int(x.A.W)
		if s := signExtend(uint64(c), w); s != signExtend(uint64(s), iw) {
			return result(b.Bool(false))
		}
		return b.Cmp(op, x.A, b.Const(c, iw)), true
	case x.Op == OpSelect && isConst(x.B) && isConst(x.C):
		return b.Select(x.A, b.Cmp(op, x.B, b.Const(c, w)), b.Cmp(op, x.C, b.Const(c, w))), true
	case x.Op == OpNeg:
		return b.Cmp(op, x.A, b.Const(-c, w)), true
	case x.Op == OpXor && c == 0:
		return nil, false // handled by the caller: x ^ y == 0 is x == y
	case x.Op == OpAnd && c == 0:
		// A test of a shifted bit is a test of the bit in place:
		// (v >> k) & m is v & (m << k).
		if m, ok := x.B.IsConst(); ok && x.A.Op == OpShr {
			if k, ok := x.A.B.IsConst(); ok && k < int64(8*w) {
				v := x.A.A
				shifted := uint64(m) << uint(k)
				if bits.Len64(uint64(m))+int(k) <= 8*w {
					return b.Cmp(op, b.Bin(OpAnd, v, b.Const(int64(shifted), w)), b.Const(0, w)), true
				}
			}
		}
	}
	return nil, false
}

// compare evaluates a comparison of constants of w bytes.
func compare(op Op, x, y uint64, w int) bool {
	m := mask(w)
	x, y = x&m, y&m
	sx, sy := signExtend(x, w), signExtend(y, w)
	switch op {
	case OpEq:
		return x == y
	case OpNe:
		return x != y
	case OpUlt:
		return x < y
	case OpUle:
		return x <= y
	case OpSlt:
		return sx < sy
	case OpSle:
		return sx <= sy
	}
	return false
}

// LNot is the logical negation of a boolean (of any other value: x == 0).
func (b *Builder) LNot(c *Expr) *Expr {
	if c == nil {
		return nil
	}
	if v, ok := c.IsConst(); ok && c.W == 1 {
		return b.Bool(v == 0)
	}
	switch c.Op {
	case OpEq:
		return b.Cmp(OpNe, c.A, c.B)
	case OpNe:
		return b.Cmp(OpEq, c.A, c.B)
	case OpUlt:
		return b.Cmp(OpUle, c.B, c.A)
	case OpUle:
		return b.Cmp(OpUlt, c.B, c.A)
	case OpSlt:
		return b.Cmp(OpSle, c.B, c.A)
	case OpSle:
		return b.Cmp(OpSlt, c.B, c.A)
	}
	return b.Cmp(OpEq, c, c.zero(b))
}

// Truth is c as a boolean: c itself when it is one, else c != 0.
func (b *Builder) Truth(c *Expr) *Expr {
	if c == nil || c.IsBool() {
		return c
	}
	return b.Cmp(OpNe, c, c.zero(b))
}

// Select is c ? x : y, for a condition c (any non-zero value is true).
func (b *Builder) Select(c, x, y *Expr) *Expr {
	if c == nil || x == nil || y == nil {
		return nil
	}
	if y.W != x.W {
		y = b.Zext(y, int(x.W))
	}
	c = b.Truth(c)
	if v, ok := c.IsConst(); ok {
		if v != 0 {
			return x
		}
		return y
	}
	if x == y {
		return x
	}
	// Nested selections on the same condition take the same side.
	if x.Op == OpSelect && x.A == c {
		x = x.B
	}
	if y.Op == OpSelect && y.A == c {
		y = y.C
	}
	xc, xk := x.IsConst()
	yc, yk := y.IsConst()
	switch {
	case xk && yk && xc == 1 && yc == 0:
		return b.Zext(c, int(x.W))
	case xk && yk && xc == 0 && yc == 1:
		return b.Zext(b.LNot(c), int(x.W))
	}
	return b.intern(OpSelect, int(x.W), 0, c, x, y)
}
