package lift

import (
	"cmp"
	"slices"

	"github.com/drvhazard/drvhazard/ir"
)

// symState is what the symbolic pass knows at one program point: every
// register, xmm lane, the flags, the IRQL and the memory cells written so
// far, as expressions of the ir package. A value nothing is known of is an
// ir.Opaque named by the instruction that made it, so that copies of it
// (spilled, reloaded, moved to a callee-saved register) stay equal; a
// register nil is unknown too, named where it is read (what calls leave in
// volatile registers, which code does not read).
type symState struct {
	r     [nRegs]*ir.Expr
	x     *xmmLanes // nil while no xmm register is known; shared until written
	flags symFlags
	irql  *ir.Expr
	mem   cells
	chk   int64 // rax before the call just executed, for __chkstk probes; -1 if none
	// memOwner is the state that alone holds mem's array, the one that
	// copied it last: it may write the array in place. A copy of the state
	// (clone, or any assignment) is not its owner, so it copies the cells
	// before its first write, as every state sharing them must.
	memOwner *symState
}

// xmmLanes holds the 64-bit lanes of xmm0-15, low then high qword.
type xmmLanes [16][2]*ir.Expr

// lane returns the lanes of xmm register x.
func (s *symState) lane(x int) [2]*ir.Expr {
	if s.x == nil {
		return [2]*ir.Expr{}
	}
	return s.x[x]
}

// setLane sets the lanes of xmm register x, copying the lanes the state
// may share with others.
func (s *symState) setLane(x int, v [2]*ir.Expr) {
	if s.x == nil && v == [2]*ir.Expr{} {
		return
	}
	n := new(xmmLanes)
	if s.x != nil {
		*n = *s.x
	}
	n[x] = v
	s.x = n
}

// flagKind says which instruction last set the flags, and so how a
// condition code reads them.
type flagKind uint8

const (
	flagsUnknown flagKind = iota
	flagsSub              // cmp a,b or sub a,b: the flags of a - b
	flagsLogic            // test, and, or, xor: the result a; CF = OF = 0
	flagsResult           // add, inc, dec, neg: ZF and SF of the result a
	flagsBit              // bt: CF is the boolean a
)

type symFlags struct {
	kind flagKind
	a, b *ir.Expr
}

// A cell is w bytes of memory at base+off holding v. Bases are
// ir.Stack(0) for the frame, ir.Addr(0) for the image, or any pointer
// expression (a parameter, a loaded pointer): different bases are assumed
// not to alias.
type cell struct {
	base *ir.Expr
	off  int64
	w    uint8
	v    *ir.Expr
}

// cells is a set of memory cells sorted by base and offset; states share it
// until one of them writes (copy on write).
type cells []cell

// maxCells bounds the memory cells one state tracks.
const maxCells = 512

func cellLess(a, b *cell) bool {
	if a.base != b.base {
		return a.base.ID() < b.base.ID()
	}
	return a.off < b.off
}

// find returns the index of the first cell of base at or after off.
func (m cells) find(base *ir.Expr, off int64) int {
	// sort.Search written out: its closure call was a visible part of
	// the lifter's time.
	probe := cell{base: base, off: off}
	lo, hi := 0, len(m)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if cellLess(&m[mid], &probe) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// store returns m with w bytes at base+off set to v (v nil: forgotten).
// Parts of overlapped cells outside the range are kept as extracts.
func (m cells) store(b *ir.Builder, base *ir.Expr, off int64, w int, v *ir.Expr) cells {
	if base == nil {
		return m
	}
	end := off + int64(w)
	// Cells of this base that overlap [off, end): they start before end and
	// end after off. Cells are at most 16 bytes wide.
	lo := m.find(base, off-16)
	hi := lo
	for hi < len(m) && m[hi].base == base && m[hi].off < end {
		hi++
	}
	var keep []cell
	overlap := false
	for _, c := range m[lo:hi] {
		cend := c.off + int64(c.w)
		if cend <= off {
			continue
		}
		overlap = true
		if c.off < off {
			keep = append(keep, extract(b, c, c.off, off))
		}
		if cend > end {
			keep = append(keep, extract(b, c, end, cend))
		}
	}
	if !overlap && v == nil {
		return m
	}
	// The cells before lo and from hi on stay where they are; the middle is
	// the untouched cells of [lo, hi), the kept parts and the new cell, in
	// offset order.
	var mid []cell
	for _, c := range m[lo:hi] {
		if c.off+int64(c.w) <= off {
			mid = append(mid, c)
		}
	}
	for _, c := range keep {
		if c.v != nil {
			mid = append(mid, c)
		}
	}
	// The new cell is kept while the result stays under maxCells (the
	// kept parts of split cells are kept in any case).
	if v != nil && len(m)-(hi-lo)+len(mid)+1 < maxCells {
		mid = append(mid, cell{base: base, off: off, w: uint8(w), v: v})
	}
	slices.SortFunc(mid, func(a, b cell) int { return cmp.Compare(a.off, b.off) })
	out := make(cells, 0, len(m)-(hi-lo)+len(mid))
	out = append(out, m[:lo]...)
	out = append(out, mid...)
	return append(out, m[hi:]...)
}

// storeMem sets w bytes at base+off of s's memory to v (nil: forgotten),
// as cells.store does. A state stores into its own copy of the cells in
// place where it can (storeInPlace): copying every set of cells on every
// store was most of the memory the lifter asked for.
func (s *symState) storeMem(b *ir.Builder, base *ir.Expr, off int64, w int, v *ir.Expr) {
	if s.memOwner == s && s.storeInPlace(base, off, w, v) {
		return
	}
	m := s.mem.store(b, base, off, w, v)
	if !sameCells(m, s.mem) {
		s.memOwner = s // store made m
	}
	s.mem = m
}

// storeInPlace writes the new cell into s's cells, which s alone holds,
// when it overlaps no other cell (it replaces one of the same place and
// width, or goes into free bytes: the frame a function fills) and store
// would keep it; false, with nothing written, otherwise.
func (s *symState) storeInPlace(base *ir.Expr, off int64, w int, v *ir.Expr) bool {
	m := s.mem
	if base == nil || v == nil {
		return false
	}
	i := m.find(base, off)
	if i > 0 && m[i-1].base == base && m[i-1].off+int64(m[i-1].w) > off {
		return false // the cell below runs into the new one
	}
	end := off + int64(w)
	free := func(j int) bool { return j == len(m) || m[j].base != base || m[j].off >= end }
	// As store does, a new value is kept while the cells stay under
	// maxCells (extracts of split cells may have taken them to it).
	switch {
	case i < len(m) && m[i].base == base && m[i].off == off && int(m[i].w) == w && free(i+1) && len(m) < maxCells:
		m[i].v = v
	case free(i) && len(m)+1 < maxCells:
		s.mem = slices.Insert(m, i, cell{base: base, off: off, w: uint8(w), v: v})
	default:
		return false
	}
	return true
}

// extract is the part [from, to) of cell c.
func extract(b *ir.Builder, c cell, from, to int64) cell {
	v := c.v
	if shift := from - c.off; shift > 0 {
		v = b.Bin(ir.OpShr, v, b.Const(8*shift, int(c.w)))
	}
	return cell{base: c.base, off: from, w: uint8(to - from), v: b.Trunc(v, int(to-from))}
}

// load returns the w bytes at base+off when one cell covers them, and
// whether any cell overlaps them (then an unknown part makes them unknown).
func (m cells) load(b *ir.Builder, base *ir.Expr, off int64, w int) (v *ir.Expr, overlap bool) {
	return m.loadOver(b, base, off, w, nil)
}

// loadOver is load where the bytes no cell holds may come from bg (the
// image under its cells), so that a byte stored into a known word (`or
// byte [flags],1`) leaves the word known.
func (m cells) loadOver(b *ir.Builder, base *ir.Expr, off int64, w int, bg func(at int64) (byte, bool)) (v *ir.Expr, overlap bool) {
	if base == nil {
		return nil, false
	}
	end := off + int64(w)
	for i := m.find(base, off-16); i < len(m) && m[i].base == base && m[i].off < end; i++ {
		c := m[i]
		cend := c.off + int64(c.w)
		if cend <= off {
			continue
		}
		if c.off <= off && cend >= end {
			return extract(b, c, off, end).v, true
		}
		overlap = true
	}
	if !overlap {
		return nil, false
	}
	// Assemble from constant cells, byte by byte, when every byte is known.
	var x uint64
	for i := 0; i < w; i++ {
		at := off + int64(i)
		byteV, ok, covered := int64(0), false, false
		for j := m.find(base, at-16); j < len(m) && m[j].base == base && m[j].off <= at; j++ {
			c := m[j]
			if at < c.off+int64(c.w) {
				covered = true
				if cv, isConst := c.v.IsConst(); isConst {
					byteV, ok = int64(uint64(cv)>>(8*uint(at-c.off))&0xff), true
				}
			}
		}
		if !covered && bg != nil {
			var v byte
			v, ok = bg(at)
			byteV = int64(v)
		}
		if !ok {
			return nil, true
		}
		x |= uint64(byteV) << (8 * uint(i))
	}
	return b.Const(int64(x), w), true
}

// clobberRange forgets the frame's cells that overlap [from, to): what a
// callee given the address of a local may write. A parameter spilled to
// the frame (unoptimised code keeps Data in [rsp+30h] and reloads it after
// every call) is an object of its own that no pointer to another local
// reaches: it stays.
func (m cells) clobberRange(stack *ir.Expr, from, to int64) cells {
	out := m
	copied := false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if c.base == stack && c.off+int64(c.w) > from && c.off < to && !isSpill(c.v) {
			if !copied {
				out = append(cells(nil), out...)
				copied = true
			}
			out = append(out[:i], out[i+1:]...)
			i--
		}
	}
	return out
}

// clone returns a copy of s that shares its memory until written.
func (s *symState) clone() symState { return *s }

// equal reports whether two states know the same.
func (s *symState) equal(o *symState) bool {
	if s.r != o.r || s.x != o.x && (s.x == nil || o.x == nil || *s.x != *o.x) || s.flags != o.flags || s.irql != o.irql || s.chk != o.chk || len(s.mem) != len(o.mem) {
		return false
	}
	for i := range s.mem {
		if s.mem[i] != o.mem[i] {
			return false
		}
	}
	return true
}

// isSpill reports a parameter's entry value, whole or its low part.
func isSpill(v *ir.Expr) bool {
	if v != nil && v.Op == ir.OpTrunc {
		v = v.A
	}
	return v != nil && v.Op == ir.OpParam
}
