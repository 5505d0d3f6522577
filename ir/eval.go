package ir

import "math/bits"

// Bits is what is known of a value: the bits set in Known have the values
// of the same bits in Val (bits not in Known are 0 in Val). W is the width
// in bytes.
type Bits struct {
	Known, Val uint64
	W          uint8
}

// Exact is the fully known value v of w bytes.
func Exact(v uint64, w int) Bits { m := mask(w); return Bits{Known: m, Val: v & m, W: uint8(w)} }

// Unknown is a value of w bytes nothing is known of.
func Unknown(w int) Bits { return Bits{W: uint8(w)} }

// Value returns the value when every bit is known.
func (k Bits) Value() (uint64, bool) { return k.Val, k.Known == mask(int(k.W)) }

// Truth reports a boolean's value: known says whether it is decided.
func (k Bits) Truth() (value, known bool) {
	if k.Val != 0 {
		return true, true
	}
	if k.Known == mask(int(k.W)) {
		return false, true
	}
	return false, false
}

// Facts is what holds in one situation (a paging read, a post-operation at
// DISPATCH_LEVEL): known bits of leaves and of bytes of memory. Evaluations
// under the same Facts are remembered. A Facts value is not safe for
// concurrent use.
type Facts struct {
	b      *Builder
	leaves map[*Expr]Bits
	mem    map[memByte]byteFact
	memo   map[*Expr]Bits
}

type memByte struct {
	base *Expr
	off  int64
}

type byteFact struct{ known, val uint8 }

// NewFacts starts an empty set of facts over b's expressions.
func (b *Builder) NewFacts() *Facts {
	return &Facts{b: b, leaves: map[*Expr]Bits{}, mem: map[memByte]byteFact{}, memo: map[*Expr]Bits{}}
}

// SetLeaf states the known bits of a leaf or of any expression taken as a
// whole (the entry IRQL, a parameter).
func (f *Facts) SetLeaf(e *Expr, k Bits) {
	f.leaves[e] = k
	clear(f.memo)
}

// SetMemory states known bits of the w bytes at addr (base plus constant
// offset, as Builder.Base splits it): known and val are little-endian.
// Loads of any width and offset that overlap them see these bits.
func (f *Facts) SetMemory(addr *Expr, w int, known, val uint64) {
	base, off := f.b.Base(addr)
	for i := 0; i < w; i++ {
		k, v := uint8(known>>(8*i)), uint8(val>>(8*i))
		if k == 0 {
			continue
		}
		at := memByte{base, off + int64(i)}
		old := f.mem[at]
		f.mem[at] = byteFact{known: old.known | k, val: old.val&^k | v&k}
	}
	clear(f.memo)
}

// Eval returns what the facts say of e (unknown for nil).
func (f *Facts) Eval(e *Expr) Bits {
	if e == nil {
		return Unknown(8)
	}
	if k, ok := f.memo[e]; ok {
		return k
	}
	k := f.eval(e)
	m := mask(int(e.W))
	k.Known &= m
	k.Val &= k.Known
	k.W = e.W
	f.memo[e] = k
	return k
}

// Decide evaluates a condition: known says whether the facts decide it.
func (f *Facts) Decide(c *Expr) (value, known bool) {
	if c == nil {
		return false, false
	}
	return f.Eval(f.b.Truth(c)).Truth()
}

func (f *Facts) eval(e *Expr) Bits {
	w := int(e.W)
	if k, ok := f.leaves[e]; ok {
		return k
	}
	switch e.Op {
	case OpConst:
		return Exact(uint64(e.V), w)
	case OpLoad:
		return f.load(e)
	case OpNeg:
		if v, ok := f.Eval(e.A).Value(); ok {
			return Exact(-v, w)
		}
		// -x has as many trailing zeros as x.
		return lowZeros(f.Eval(e.A), w)
	case OpNot:
		a := f.Eval(e.A)
		return Bits{Known: a.Known, Val: ^a.Val & a.Known}
	case OpZext:
		a := f.Eval(e.A)
		hi := mask(w) &^ mask(int(e.A.W))
		return Bits{Known: a.Known | hi, Val: a.Val}
	case OpSext:
		a := f.Eval(e.A)
		aw := int(e.A.W)
		sign := uint64(1) << (8*uint(aw) - 1)
		hi := mask(w) &^ mask(aw)
		switch {
		case a.Known&sign == 0:
			return a
		case a.Val&sign != 0:
			return Bits{Known: a.Known | hi, Val: a.Val | hi}
		default:
			return Bits{Known: a.Known | hi, Val: a.Val}
		}
	case OpTrunc:
		return f.Eval(e.A)
	case OpSelect:
		if t, ok := f.Decide(e.A); ok {
			if t {
				return f.Eval(e.B)
			}
			return f.Eval(e.C)
		}
		x, y := f.Eval(e.B), f.Eval(e.C)
		same := x.Known & y.Known &^ (x.Val ^ y.Val)
		return Bits{Known: same, Val: x.Val & same}
	case OpAnd, OpOr, OpXor, OpAdd, OpMul, OpShl, OpShr, OpSar:
		return f.binary(e, w)
	}
	if e.Op.IsCompare() {
		return f.compare(e)
	}
	return Unknown(w)
}

// lowZeros keeps only the known trailing zero bits of a.
func lowZeros(a Bits, w int) Bits {
	tz := bits.TrailingZeros64(^a.Known | a.Val)
	if tz > 8*w {
		tz = 8 * w
	}
	return Bits{Known: uint64(1)<<uint(tz) - 1}
}

func (f *Facts) binary(e *Expr, w int) Bits {
	x, y := f.Eval(e.A), f.Eval(e.B)
	xv, xok := x.Value()
	yv, yok := y.Value()
	if xok && yok {
		return Exact(uint64(fold(e.Op, xv, yv, w)), w)
	}
	switch e.Op {
	case OpAnd:
		zero := x.Known&^x.Val | y.Known&^y.Val
		one := x.Known & x.Val & y.Known & y.Val
		return Bits{Known: zero | one, Val: one}
	case OpOr:
		one := x.Known&x.Val | y.Known&y.Val
		zero := x.Known &^ x.Val & y.Known &^ y.Val
		return Bits{Known: zero | one, Val: one}
	case OpXor:
		return Bits{Known: x.Known & y.Known, Val: (x.Val ^ y.Val) & x.Known & y.Known}
	case OpAdd:
		// The low bits up to the first unknown one of either add exactly.
		low := bits.TrailingZeros64(^(x.Known & y.Known))
		if low == 0 {
			return Unknown(w)
		}
		m := uint64(1)<<uint(low) - 1
		if low >= 64 {
			m = ^uint64(0)
		}
		return Bits{Known: m, Val: (x.Val + y.Val) & m}
	case OpMul:
		if yok && yv != 0 && yv&(yv-1) == 0 {
			n := uint(bits.TrailingZeros64(yv))
			return Bits{Known: x.Known<<n | (1<<n - 1), Val: x.Val << n}
		}
		return Unknown(w)
	case OpShr:
		if yok {
			n := uint(yv & 63)
			hi := mask(w) &^ (mask(w) >> n)
			return Bits{Known: x.Known>>n | hi, Val: x.Val >> n}
		}
	}
	return Unknown(w)
}

func (f *Facts) compare(e *Expr) Bits {
	x, y := f.Eval(e.A), f.Eval(e.B)
	w := int(e.A.W)
	m := mask(w)
	decided := func(t bool) Bits {
		if t {
			return Exact(1, 1)
		}
		return Exact(0, 1)
	}
	both := x.Known & y.Known
	differ := both&(x.Val^y.Val) != 0
	equalKnown := both == m && !differ
	switch e.Op {
	case OpEq, OpNe:
		if differ {
			return decided(e.Op == OpNe)
		}
		if equalKnown {
			return decided(e.Op == OpEq)
		}
		return Unknown(1)
	}
	// Order comparisons from the ranges the known bits allow.
	xmin, xmax := x.Val, x.Val|(^x.Known&m)
	ymin, ymax := y.Val, y.Val|(^y.Known&m)
	if e.Op == OpSlt || e.Op == OpSle {
		sign := uint64(1) << (8*uint(w) - 1)
		srange := func(k Bits) (int64, int64) {
			lo, hi := k.Val, k.Val|(^k.Known&m)
			if k.Known&sign == 0 { // sign unknown: from the most negative to the most positive
				lo |= sign
				hi &^= sign
			}
			return signExtend(lo, w), signExtend(hi, w)
		}
		sxmin, sxmax := srange(x)
		symin, symax := srange(y)
		switch {
		case e.Op == OpSlt && sxmax < symin, e.Op == OpSle && sxmax <= symin:
			return decided(true)
		case e.Op == OpSlt && sxmin >= symax, e.Op == OpSle && sxmin > symax:
			return decided(false)
		}
		return Unknown(1)
	}
	switch {
	case e.Op == OpUlt && xmax < ymin, e.Op == OpUle && xmax <= ymin:
		return decided(true)
	case e.Op == OpUlt && xmin >= ymax, e.Op == OpUle && xmin > ymax:
		return decided(false)
	}
	return Unknown(1)
}

// load assembles a load from facts about the bytes it reads.
func (f *Facts) load(e *Expr) Bits {
	base, off := f.b.Base(e.A)
	var k Bits
	for i := 0; i < int(e.W); i++ {
		bf, ok := f.mem[memByte{base, off + int64(i)}]
		if !ok {
			continue
		}
		k.Known |= uint64(bf.known) << (8 * uint(i))
		k.Val |= uint64(bf.val&bf.known) << (8 * uint(i))
	}
	return k
}

// maxValues bounds the values Values enumerates.
const maxValues = 16

// Values lists the values e can take under the facts, when they are few:
// a constant, either side of an undecided selection, 0 or 1 for a
// comparison, 0 or -1 for a sign mask (sar x,31), and what arithmetic on
// such values gives. complete is false when e can also be something the
// list does not hold (a value nothing is known of).
func (f *Facts) Values(e *Expr) (vals []uint64, complete bool) {
	return f.ValuesWith(e, nil)
}

// ValuesWith is Values that also follows phis: phis(p) returns the values
// that meet at phi p (nil when unknown); every one of them counts.
func (f *Facts) ValuesWith(e *Expr, phis func(*Expr) []*Expr) (vals []uint64, complete bool) {
	v := valueSet{f: f, phis: phis, seen: map[*Expr]bool{}}
	return v.of(e)
}

// valueSet enumerates values, remembering the phis it is inside (a loop
// adds nothing new).
type valueSet struct {
	f    *Facts
	phis func(*Expr) []*Expr
	seen map[*Expr]bool
}

func (s *valueSet) of(e *Expr) (vals []uint64, complete bool) {
	f := s.f
	if e == nil {
		return nil, false
	}
	if e.Op == OpPhi && s.phis != nil {
		ops := s.phis(e)
		if len(ops) == 0 {
			return nil, false
		}
		if s.seen[e] {
			return nil, true // around a loop: what the other operands give
		}
		s.seen[e] = true
		defer delete(s.seen, e)
		complete := true
		for _, o := range ops {
			ov, oc := s.of(o)
			vals = union(vals, ov)
			complete = complete && oc
			if len(vals) > maxValues {
				return nil, false
			}
		}
		return vals, complete
	}
	if v, ok := f.Eval(e).Value(); ok {
		return []uint64{v}, true
	}
	w := int(e.W)
	m := mask(w)
	switch {
	case e.Op.IsCompare():
		return []uint64{0, 1}, true
	case e.Op == OpSelect:
		if t, known := f.Decide(e.A); known {
			if t {
				return s.of(e.B)
			}
			return s.of(e.C)
		}
		x, xc := s.of(e.B)
		y, yc := s.of(e.C)
		return union(x, y), xc && yc && len(x)+len(y) <= maxValues
	case (e.Op == OpSar || e.Op == OpShr) && isConst(e.B) && e.B.V == int64(8*w-1):
		if e.Op == OpSar {
			return []uint64{0, m}, true // the sign, as 0 or all ones
		}
		return []uint64{0, 1}, true
	case e.Op == OpZext || e.Op == OpSext || e.Op == OpTrunc || e.Op == OpNeg || e.Op == OpNot:
		in, complete := s.of(e.A)
		out := make([]uint64, 0, len(in))
		for _, v := range in {
			switch e.Op {
			case OpZext:
				out = append(out, v&mask(int(e.A.W)))
			case OpSext:
				out = append(out, uint64(signExtend(v, int(e.A.W)))&m)
			case OpTrunc:
				out = append(out, v&m)
			case OpNeg:
				out = append(out, -v&m)
			case OpNot:
				out = append(out, ^v&m)
			}
		}
		return union(out, nil), complete
	case e.Op >= OpAdd && e.Op <= OpSar:
		x, xc := s.of(e.A)
		y, yc := s.of(e.B)
		if len(x) == 0 || len(y) == 0 || len(x)*len(y) > maxValues {
			return nil, false
		}
		var out []uint64
		for _, a := range x {
			for _, c := range y {
				out = append(out, uint64(fold(e.Op, a, c, w))&m)
			}
		}
		return union(out, nil), xc && yc
	}
	return nil, false
}

// union merges value lists without repeats.
func union(x, y []uint64) []uint64 {
	var out []uint64
	seen := map[uint64]bool{}
	for _, v := range append(append([]uint64(nil), x...), y...) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
