package ir

// MaxDepth bounds an expression's height. A constructor whose result would
// be deeper returns nil (unknown), so that a long chain of arithmetic in a
// loop cannot make the analysis grow.
const MaxDepth = 24

// A Builder interns and simplifies expressions. Expressions of different
// Builders must not be mixed. A Builder is not safe for concurrent use.
type Builder struct {
	// table holds every expression by its structural hash, open addressed
	// with linear probing, at most half full; len(table) is a power of
	// two. A slot keeps the low half of the hash beside the expression's
	// id, so that a probe compares without reading the expression (a cache
	// miss each) and the table grows without reading any: cheaper than a
	// map, whose own hashing and probing were a seventh of the analysis,
	// and than buckets chained through the expressions.
	table []slot
	n     uint32
	// small caches the constants -16..47 of each width.
	small [9][64]*Expr
	// slabs are where new expressions are carved from: one allocation for
	// many small objects; pos is the next free one in slabs[cur].
	slabs    [][]Expr
	cur, pos int
	// recent is a direct-mapped cache in front of table, by hash: most
	// expressions are asked for again soon (the same constants, stack
	// slots, parameter fields).
	recent [recentSize]*Expr
}

const recentSize = 4096

// A slot of the table: an expression's id (0 when empty) and the low 32
// bits of its hash, of which the slot's index is the low bits.
type slot struct{ tag, id uint32 }

// slabSize is the number of expressions in a slab.
const slabSize = 1024

// expr is the expression numbered id: they are carved from the slabs in
// the order they are numbered, from 1.
func (b *Builder) expr(id uint32) *Expr { return &b.slabs[(id-1)/slabSize][(id-1)%slabSize] }

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{table: make([]slot, initialTable)} }

// initialTable is the first size of the table; it doubles whenever it is
// half full.
const initialTable = 1 << 12

// Len is the number of distinct expressions made so far.
func (b *Builder) Len() int { return int(b.n) }

// hashOf is the structural hash of an expression with these fields.
func hashOf(op Op, w int, v int64, x, y, z *Expr) uint64 {
	h := uint64(op)<<56 ^ uint64(w)<<48 ^ uint64(v)*0x9e3779b97f4a7c15
	for _, c := range [3]*Expr{x, y, z} {
		h = (h ^ 0xff51afd7ed558ccd) * 0xc4ceb9fe1a85ec53
		if c != nil {
			h ^= c.hash
		}
	}
	return h ^ h>>29
}

// intern returns the one expression with these fields, or nil when it would
// be deeper than MaxDepth.
func (b *Builder) intern(op Op, w int, v int64, x, y, z *Expr) *Expr {
	h := hashOf(op, w, v, x, y, z)
	slot := &b.recent[h%recentSize]
	if e := *slot; e != nil && e.hash == h && e.Op == op && int(e.W) == w && e.V == v && e.A == x && e.B == y && e.C == z {
		return e
	}
	e := b.lookup(h, op, w, v, x, y, z)
	if e != nil {
		*slot = e
	}
	return e
}

// lookup finds or makes the expression in the table.
func (b *Builder) lookup(h uint64, op Op, w int, v int64, x, y, z *Expr) *Expr {
	tag := uint32(h)
	mask := uint32(len(b.table) - 1)
	i := tag & mask
	for ; b.table[i].id != 0; i = (i + 1) & mask {
		if b.table[i].tag != tag {
			continue
		}
		if e := b.expr(b.table[i].id); e.hash == h && e.Op == op && int(e.W) == w && e.V == v && e.A == x && e.B == y && e.C == z {
			return e
		}
	}
	d := uint8(0)
	for _, c := range [3]*Expr{x, y, z} {
		if c != nil && c.depth > d {
			d = c.depth
		}
	}
	if d+1 > MaxDepth {
		return nil
	}
	b.n++
	if b.cur == len(b.slabs) {
		b.slabs = append(b.slabs, make([]Expr, slabSize))
	}
	e := &b.slabs[b.cur][b.pos]
	if b.pos++; b.pos == slabSize {
		b.cur, b.pos = b.cur+1, 0
	}
	*e = Expr{Op: op, W: uint8(w), V: v, A: x, B: y, C: z, depth: d + 1, id: b.n, hash: h,
		uses: usesOf(op, v, x, y, z)}
	b.table[i] = slot{tag, b.n}
	if 2*int(b.n) > len(b.table) {
		b.grow()
	}
	return e
}

// grow doubles the table, placing every slot again by its tag.
func (b *Builder) grow() {
	table := make([]slot, 2*len(b.table))
	mask := uint32(len(table) - 1)
	for _, s := range b.table {
		if s.id == 0 {
			continue
		}
		i := s.tag & mask
		for table[i].id != 0 {
			i = (i + 1) & mask
		}
		table[i] = s
	}
	b.table = table
}

// Const is the constant v of w bytes (v is truncated to w bytes).
func (b *Builder) Const(v int64, w int) *Expr {
	if v >= -16 && v < 48 && w <= 8 {
		c := &b.small[w][v+16]
		if *c == nil {
			*c = b.intern(OpConst, w, int64(uint64(v)&mask(w)), nil, nil, nil)
		}
		return *c
	}
	return b.intern(OpConst, w, int64(uint64(v)&mask(w)), nil, nil, nil)
}

// Bool is the boolean constant.
func (b *Builder) Bool(t bool) *Expr {
	if t {
		return b.Const(1, 1)
	}
	return b.Const(0, 1)
}

// Param is the function's integer parameter i (8 bytes).
func (b *Builder) Param(i int) *Expr { return b.intern(OpParam, 8, int64(i), nil, nil, nil) }

// IRQL is the IRQL the function was entered at (1 byte).
func (b *Builder) IRQL() *Expr { return b.intern(OpIRQL, 1, 0, nil, nil, nil) }

// Addr is the address of the image's byte at rva.
func (b *Builder) Addr(rva uint32) *Expr { return b.intern(OpAddr, 8, int64(rva), nil, nil, nil) }

// Stack is the function's entry rsp plus off.
func (b *Builder) Stack(off int64) *Expr { return b.intern(OpStack, 8, off, nil, nil, nil) }

// Import is the import whose IAT slot is at slot, as a callee.
func (b *Builder) Import(slot uint32) *Expr { return b.intern(OpImport, 8, int64(slot), nil, nil, nil) }

// Opaque is a w-byte value nothing is known of, made at address at for the
// location loc (a register number as a constant, or the load it replaces):
// the same instruction's result has the same name on every path.
func (b *Builder) Opaque(at uint32, loc *Expr, w int) *Expr {
	return b.intern(OpOpaque, w, int64(at), loc, nil, nil)
}

// Phi is the value of location loc where paths with different values meet,
// at the block starting at block.
func (b *Builder) Phi(block uint32, loc *Expr, w int) *Expr {
	return b.intern(OpPhi, w, int64(block), loc, nil, nil)
}

// Load is the w bytes at address addr.
func (b *Builder) Load(addr *Expr, w int) *Expr {
	if addr == nil {
		return nil
	}
	return b.intern(OpLoad, w, 0, addr, nil, nil)
}

// Call is the value (8 bytes) the call at site returns, from callee with
// the given arguments (nil entries are unknown arguments).
func (b *Builder) Call(site uint32, callee *Expr, args []*Expr) *Expr {
	var list *Expr
	for i := len(args) - 1; i >= 0; i-- {
		list = b.intern(OpArgs, 0, 0, args[i], list, nil)
	}
	return b.intern(OpCall, 8, int64(site), callee, list, nil)
}

// Base splits an address into a base and a constant offset:
// p0+0x10 is (p0, 0x10), rva:0x3000 is (rva:0, 0x3000), stack-0x20 is
// (stack+0, -0x20).
func (b *Builder) Base(addr *Expr) (*Expr, int64) {
	switch {
	case addr == nil:
		return nil, 0
	case addr.Op == OpAddr:
		return b.Addr(0), addr.V
	case addr.Op == OpStack:
		return b.Stack(0), addr.V
	case addr.Op == OpAdd:
		if c, ok := addr.B.IsConst(); ok {
			return addr.A, c
		}
	}
	return addr, 0
}
