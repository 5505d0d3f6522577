package cfg

import (
	"encoding/binary"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/loader"
)

// Jump-table forms recognised at jmp reg (all seen in real drivers):
//
//	MSVC:        lea rdx,[rip+__ImageBase] ; mov eax,[rdx+rcx*4+TABLE_RVA] ; add rax,rdx ; jmp rax
//	gcc, clang:  lea rdx,[rip+TABLE] ; movsxd rax,[rdx+rcx*4] ; add rax,rdx ; jmp rax
//	absolute:    jmp [TABLE+rcx*8] or mov rax,[rdx+rcx*8] ; jmp rax, with relocated entries
//
// The bound comes from the cmp idx,N ; ja default that guards the table.

// maxTableEntries caps a table whose bound was not found.
const (
	maxTableEntries        = 4096
	maxUnboundTableEntries = 512
	backtrackLimit         = 24 // instructions searched backwards from the jmp
)

// sym is a symbolic value found by walking definitions backwards.
type sym struct {
	kind  symKind
	rva   int64 // symAddr: the address; symLoad: the table address
	size  int   // symLoad: entry size in bytes
	sext  bool  // symLoad: sign-extended 32-bit entries
	base  *sym  // symSum: the two addends
	other *sym
}

type symKind uint8

const (
	symUnknown symKind = iota
	symAddr            // an RVA (lea rip); the image base is symAddr 0
	symLoad            // an entry loaded from a table indexed by a register
	symSum
)

// jumpTable resolves jmp reg / jmp [mem] at in through a jump table and
// returns the targets, or false when the form is not recognised.
func (b *builder) jumpTable(a *analysis, in *Inst, entry, limit uint32) ([]uint32, bool) {
	if targets, ok := b.lateTables[in.RVA]; ok {
		return targets, true
	}
	var s sym
	switch arg := in.Args[0].(type) {
	case x86asm.Reg:
		s = b.backResolve(a, in.prev, arg, 0)
	case x86asm.Mem:
		s = b.memSym(a, in.prev, arg, 8, false, 0)
	default:
		return nil, false
	}
	var tableRVA, baseRVA int64
	var size int
	var sext bool
	switch {
	case s.kind == symSum && s.base.kind == symLoad && s.other.kind == symAddr:
		tableRVA, baseRVA, size, sext = s.base.rva, s.other.rva, s.base.size, s.base.sext
	case s.kind == symSum && s.other.kind == symLoad && s.base.kind == symAddr:
		tableRVA, baseRVA, size, sext = s.other.rva, s.base.rva, s.other.size, s.other.sext
	case s.kind == symLoad && s.size == 8:
		tableRVA, size = s.rva, 8
	default:
		return nil, false
	}
	return b.readTable(a, in, tableRVA, baseRVA, size, sext, entry, limit)
}

// readTable reads the targets of a jump table: size-byte entries at
// tableRVA, offsets from baseRVA (4 bytes, sign-extended when sext) or
// relocated pointers (8 bytes).
func (b *builder) readTable(a *analysis, in *Inst, tableRVA, baseRVA int64, size int, sext bool, entry, limit uint32) ([]uint32, bool) {
	if size != 4 && size != 8 || tableRVA < 0 || tableRVA > 0xffffffff {
		return nil, false
	}
	n, bounded := b.tableBound(a, in)
	if !bounded {
		n = maxUnboundTableEntries
	}
	var targets []uint32
	for i := 0; i < n; i++ {
		at := uint32(tableRVA) + uint32(i*size)
		var t int64
		if size == 8 {
			p, ok := b.img.PointerAt(at)
			if !ok {
				break
			}
			t = int64(p)
		} else {
			raw := b.img.Bytes(at, 4)
			if len(raw) < 4 {
				break
			}
			v := binary.LittleEndian.Uint32(raw)
			if sext {
				t = baseRVA + int64(int32(v))
			} else {
				t = baseRVA + int64(v)
			}
		}
		if t < 0 || t > 0xffffffff || !b.img.Executable(uint32(t)) {
			break
		}
		// Without a bound, stop at the first entry that leaves the function.
		if !bounded && (uint32(t) < entry || uint32(t) >= limit) {
			break
		}
		targets = append(targets, uint32(t))
	}
	if len(targets) == 0 {
		return nil, false
	}
	a.tables[uint32(tableRVA)] = true
	return targets, true
}

// tableBound finds cmp idx,N followed by ja/jae (or jbe/jb into the table)
// on the fall-through chain before the jump.
func (b *builder) tableBound(a *analysis, from *Inst) (int, bool) {
	pc := from.prev
	sawBranch := x86asm.Op(0)
	for i := 0; i < backtrackLimit && pc != 0; i++ {
		idx, ok := a.index.get(pc)
		if !ok {
			break
		}
		in := &a.insts[idx]
		switch in.Op {
		case x86asm.JA, x86asm.JAE, x86asm.JBE, x86asm.JB:
			if sawBranch == 0 {
				sawBranch = in.Op
			}
		case x86asm.CMP:
			if sawBranch != 0 {
				if imm, ok := in.Args[1].(x86asm.Imm); ok && imm >= 0 && imm < maxTableEntries {
					switch sawBranch {
					case x86asm.JA, x86asm.JBE: // idx > N goes to default
						return int(imm) + 1, true
					default: // idx >= N goes to default
						return int(imm), true
					}
				}
			}
		}
		pc = in.prev
	}
	return 0, false
}

// backResolve finds what reg holds just after the instruction at pc by
// walking the fall-through chain backwards.
func (b *builder) backResolve(a *analysis, pc uint32, reg x86asm.Reg, depth int) sym {
	want := RegIndex(reg)
	if want < 0 || depth > 4 {
		return sym{}
	}
	for i := 0; i < backtrackLimit && pc != 0; i++ {
		idx, ok := a.index.get(pc)
		if !ok {
			return sym{}
		}
		in := &a.insts[idx]
		if dst, ok := in.Args[0].(x86asm.Reg); ok && RegIndex(dst) == want && WritesArg0(in.Op) {
			switch in.Op {
			case x86asm.LEA:
				if m, ok := in.Args[1].(x86asm.Mem); ok && m.Base == x86asm.RIP && m.Index == 0 {
					return sym{kind: symAddr, rva: int64(in.Next()) + Disp(m)}
				}
				return sym{}
			case x86asm.MOV, x86asm.MOVSXD, x86asm.MOVSX, x86asm.MOVZX:
				switch src := in.Args[1].(type) {
				case x86asm.Reg:
					return b.backResolve(a, in.prev, src, depth+1)
				case x86asm.Mem:
					return b.memSym(a, in.prev, src, in.MemBytes, in.Op == x86asm.MOVSXD, depth+1)
				}
				return sym{}
			case x86asm.ADD:
				src, ok := in.Args[1].(x86asm.Reg)
				if !ok {
					return sym{}
				}
				l := b.backResolve(a, in.prev, dst, depth+1)
				r := b.backResolve(a, in.prev, src, depth+1)
				return sym{kind: symSum, base: &l, other: &r}
			}
			return sym{}
		}
		pc = in.prev
	}
	return sym{}
}

// memSym describes a load from [base + index*scale + disp] with an index
// register: a table entry.
func (b *builder) memSym(a *analysis, pc uint32, m x86asm.Mem, size int, sext bool, depth int) sym {
	if m.Index == 0 || (m.Scale != 4 && m.Scale != 8) {
		return sym{}
	}
	var base int64
	switch {
	case m.Base == 0:
		// [index*8 + disp32]: disp is a VA in the low 2 GB, not usable in a
		// relocatable image but seen in old code.
		va := uint64(Disp(m))
		rva, ok := b.img.RVA(va)
		if !ok {
			return sym{}
		}
		return sym{kind: symLoad, rva: int64(rva), size: size, sext: sext}
	case m.Base == x86asm.RIP:
		return sym{}
	default:
		bs := b.backResolve(a, pc, m.Base, depth+1)
		if bs.kind != symAddr {
			return sym{}
		}
		base = bs.rva
	}
	return sym{kind: symLoad, rva: base + Disp(m), size: size, sext: sext}
}

// The value analysis sees a jump table by what the jmp's target means, in
// every form above and the two-level one (a byte table mapping the index to
// an entry of the offset table), with the bound from the conditions of the
// edges that lead to the jmp. It gives each jump-table edge the index
// values that take it, and resolves the tables the descent above missed.

// switchSpec is a jump table found in a jmp target expression.
type switchSpec struct {
	table, base int64 // the table's RVA; entries are offsets from base (size 4) or pointers (size 8)
	size        int
	sext        bool
	bytes       int64    // two-level: the RVA of the byte table indexed first, 0 if none
	index       *ir.Expr // what indexes the first table
}

// matchSwitch recognises base + ext(load(table + i*4)) and load(table + i*8),
// with i itself a byte-table entry in the two-level form.
func matchSwitch(t *ir.Expr) (switchSpec, bool) {
	var s switchSpec
	var entry *ir.Expr
	switch {
	case t == nil:
		return s, false
	case t.Op == ir.OpLoad && t.W == 8:
		entry, s.size = t, 8
	case t.Op == ir.OpAdd:
		for _, pair := range [2][2]*ir.Expr{{t.A, t.B}, {t.B, t.A}} {
			base, off := pair[0], pair[1]
			if base.Op == ir.OpAddr && (off.Op == ir.OpSext || off.Op == ir.OpZext) && off.A.Op == ir.OpLoad && off.A.W == 4 {
				entry, s.size, s.base, s.sext = off.A, 4, base.V, off.Op == ir.OpSext
			}
		}
	}
	if entry == nil {
		return s, false
	}
	tbl, idx, ok := scaledIndex(entry.A)
	if !ok {
		return s, false
	}
	s.table, s.index = int64(tbl), idx
	// Two-level: the index is itself an entry of a byte table.
	if i := idx; i.Op == ir.OpZext && i.A.Op == ir.OpLoad && i.A.W == 1 {
		if a := i.A.A; a.Op == ir.OpAdd {
			for _, pair := range [2][2]*ir.Expr{{a.A, a.B}, {a.B, a.A}} {
				if pair[0].Op == ir.OpAddr {
					s.bytes, s.index = pair[0].V, pair[1]
				}
			}
		}
	}
	return s, true
}

// SwitchTargets reads the jump table a jmp to target selects from, in
// block bi of f (dom is f's dominator tree, the conditions on f's edges
// known): the index it is indexed by, and its targets index by index, for
// indexes below the bound the edges into bi establish (with none, up to the
// first entry that leaves f's region, which ends at limit).
func SwitchTargets(img *loader.Image, f *Func, dom *DomTree, bi int, target *ir.Expr, limit uint32) (index *ir.Expr, targets []uint32, ok bool) {
	s, ok := matchSwitch(target)
	if !ok {
		return nil, nil, false
	}
	return s.index, switchEntries(img, f, dom, bi, s, limit), true
}

// switchEntries reads the targets a jump table selects, index by index,
// for indexes below the bound the edges into block bi establish (or, with
// none, up to the first entry that leaves the function).
func switchEntries(img *loader.Image, f *Func, dom *DomTree, bi int, s switchSpec, limit uint32) []uint32 {
	n, bounded := indexBound(f, dom, bi, s.index)
	if !bounded {
		n = maxUnboundTableEntries
	}
	var out []uint32
	for i := 0; i < n; i++ {
		k := int64(i)
		if s.bytes != 0 {
			raw := img.Bytes(uint32(s.bytes+k), 1)
			if len(raw) < 1 {
				break
			}
			k = int64(raw[0])
		}
		at := uint32(s.table + k*int64(s.size))
		var t int64
		if s.size == 8 {
			p, ok := img.PointerAt(at)
			if !ok {
				break
			}
			t = int64(p)
		} else {
			v, ok := img.Uint32(at)
			if !ok {
				break
			}
			if s.sext {
				t = s.base + int64(int32(v))
			} else {
				t = s.base + int64(v)
			}
		}
		if t < 0 || t > 0xffffffff || !img.Executable(uint32(t)) {
			break
		}
		if !bounded && (uint32(t) < f.Entry || uint32(t) >= limit) {
			break
		}
		out = append(out, uint32(t))
	}
	return out
}

// indexBound finds n such that idx < n on every path into block bi: a
// condition idx <=u N or idx <u N on an edge that dominates it.
func indexBound(f *Func, dom *DomTree, bi int, idx *ir.Expr) (int, bool) {
	want := core(idx)
	for d, below := dom.IDom(bi), bi; d >= 0; d, below = dom.IDom(d), d {
		for _, e := range f.Blocks[d].Succs {
			j, ok := dom.Index(e.To)
			if !ok || e.Cond == nil || !(j == below || dom.Dominates(j, below)) {
				continue
			}
			c := e.Cond
			if (c.Op == ir.OpUle || c.Op == ir.OpUlt) && core(c.A) == want {
				if n, ok := c.B.IsConst(); ok && n >= 0 && n < maxTableEntries {
					if c.Op == ir.OpUle {
						n++
					}
					return int(n), true
				}
			}
		}
	}
	return 0, false
}

// core strips extensions and truncations: the index a compare tests and the
// one that scales the table are the same value at different widths.
func core(e *ir.Expr) *ir.Expr {
	for e != nil && (e.Op == ir.OpZext || e.Op == ir.OpSext || e.Op == ir.OpTrunc) {
		e = e.A
	}
	return e
}

// lateTable resolves a jmp reg the descent could not follow (the table's
// base was loaded far from the jmp) from what the value analysis knows of
// the target, and has the function decoded again with the table's targets.
func (b *builder) lateTable(f *Func, bi int, in *Inst, s State, limit uint32) {
	if _, done := b.lateTables[in.RVA]; done {
		return
	}
	_, targets, ok := SwitchTargets(b.img, f, Dominators(f), bi, s.Target(in), limit)
	if ok && len(targets) > 0 {
		b.lateTables[in.RVA] = targets
		b.enqueue(f)
	}
}
