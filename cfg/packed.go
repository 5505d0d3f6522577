package cfg

import "golang.org/x/arch/x86/x86asm"

// The descent keeps the instructions of the functions it does not lift
// itself, packed, so that one the value analysis lifts after Build (most
// of those the rules read) is not decoded a second time: decoding is a
// quarter of a scan, and decoding again was a third of that. A packed
// instruction holds every field of x86asm.Inst without a pointer (a third
// of the size of an Inst and its boxed operands, and nothing for the
// garbage collector to scan); Program.Decode unpacks a block into exactly
// what decoding it gives.

// maxPacked bounds the instructions a program keeps packed (72 bytes
// each): every instruction of most drivers, 9 MB for the largest. Blocks
// past it are decoded again when asked.
const maxPacked = 1 << 17

// packedInst is an Inst without pointers: its operands by kind, registers
// and a 64-bit value each.
type packedInst struct {
	prefix                                               [maxPrefixes]x86asm.Prefix
	op                                                   x86asm.Op
	opcode, rva                                          uint32
	mode, addrSize, dataSize, memBytes, len, pcRel, pcRo uint8
	evex                                                 evexFlags
	kind                                                 [4]argKind
	reg                                                  [4][4]uint8      // Reg; Mem: segment, base, index, scale
	val                                                  [maxValues]int64 // Imm, Rel, Mem's displacement
}

// maxPrefixes and maxValues bound what a packed instruction holds: an
// instruction with more prefixes, or a fourth operand that is not a
// register, is decoded again.
const (
	maxPrefixes = 4
	maxValues   = 3
)

// evexFlags holds the AVX-512 fields of an Inst: Broadcast, Zeroing and
// SAE as bits, Rounding (0-3) above them.
type evexFlags uint8

const (
	evexBroadcast evexFlags = 1 << iota
	evexZeroing
	evexSAE
	evexRoundingShift = 3
)

type argKind uint8

const (
	argNone argKind = iota
	argReg
	argMem
	argImm
	argRel
)

// pack returns in packed; false when it does not fit: a prefix past the
// fourth, a fourth operand that is not a register, a size past a byte, a
// rounding mode past 3, an operand of a kind it does not know.
func pack(in *Inst) (packedInst, bool) {
	x := &in.Inst
	p := packedInst{op: x.Op, opcode: x.Opcode, rva: in.RVA}
	for _, pre := range x.Prefix[maxPrefixes:] {
		if pre != 0 {
			return p, false
		}
	}
	copy(p.prefix[:], x.Prefix[:maxPrefixes])
	// Each of the sizes fits a byte (a negative one would set high bits).
	if (x.Mode|x.AddrSize|x.DataSize|x.MemBytes|x.Len|x.PCRel|x.PCRelOff)&^0xff != 0 {
		return p, false
	}
	p.mode, p.addrSize, p.dataSize, p.memBytes = uint8(x.Mode), uint8(x.AddrSize), uint8(x.DataSize), uint8(x.MemBytes)
	p.len, p.pcRel, p.pcRo = uint8(x.Len), uint8(x.PCRel), uint8(x.PCRelOff)
	if x.Rounding < 0 || x.Rounding > 3 {
		return p, false
	}
	p.evex = evexFlags(x.Rounding) << evexRoundingShift
	for _, f := range [...]struct {
		set  bool
		flag evexFlags
	}{{x.Broadcast, evexBroadcast}, {x.Zeroing, evexZeroing}, {x.SAE, evexSAE}} {
		if f.set {
			p.evex |= f.flag
		}
	}
	for i, a := range x.Args {
		if i >= maxValues && a != nil {
			if _, isReg := a.(x86asm.Reg); !isReg {
				return p, false
			}
		}
		switch a := a.(type) {
		case nil:
		case x86asm.Reg:
			p.kind[i], p.reg[i][0] = argReg, uint8(a)
		case x86asm.Mem:
			p.kind[i], p.reg[i], p.val[i] = argMem, [4]uint8{uint8(a.Segment), uint8(a.Base), uint8(a.Index), a.Scale}, a.Disp
		case x86asm.Imm:
			p.kind[i], p.val[i] = argImm, int64(a)
		case x86asm.Rel:
			p.kind[i], p.val[i] = argRel, int64(a)
		default:
			return p, false
		}
	}
	return p, true
}

// unpack is the Inst p packs, prev the instruction before it in its block.
func (p *packedInst) unpack(prev uint32) Inst {
	x := x86asm.Inst{Op: p.op, Opcode: p.opcode,
		Mode: int(p.mode), AddrSize: int(p.addrSize), DataSize: int(p.dataSize), MemBytes: int(p.memBytes),
		Len: int(p.len), PCRel: int(p.pcRel), PCRelOff: int(p.pcRo),
		Broadcast: p.evex&evexBroadcast != 0, Zeroing: p.evex&evexZeroing != 0, SAE: p.evex&evexSAE != 0,
		Rounding: int8(p.evex >> evexRoundingShift)}
	copy(x.Prefix[:], p.prefix[:])
	for i, k := range p.kind {
		r := p.reg[i]
		switch k {
		case argReg:
			x.Args[i] = x86asm.Reg(r[0])
		case argMem:
			x.Args[i] = x86asm.Mem{Segment: x86asm.Reg(r[0]), Base: x86asm.Reg(r[1]), Index: x86asm.Reg(r[2]), Scale: r[3], Disp: p.val[i]}
		case argImm:
			x.Args[i] = x86asm.Imm(p.val[i])
		case argRel:
			x.Args[i] = x86asm.Rel(p.val[i])
		}
	}
	return Inst{Inst: x, RVA: p.rva, prev: prev}
}

// packBlocks keeps f's blocks' instructions packed (run i is block i's),
// while the program keeps fewer than maxPacked. A block whose run is not
// the whole chain Decode would decode from its start to its end is left
// to be decoded again.
func (b *builder) packBlocks(f *Func, runs [][]Inst) {
	n := 0
	for _, run := range runs {
		n += len(run)
	}
	if b.packed+n > maxPacked {
		return
	}
	arena := make([]packedInst, 0, n)
	for i, blk := range f.Blocks {
		run := runs[i]
		// Decoding again reads the block's bytes from its start's section
		// (Image.Bytes): a block that runs on into the next section (code
		// the descent followed there) is left to be decoded again, which
		// stops where the section does, so that Decode says the same
		// whether the block was kept or not.
		if !wholeRun(blk, run) || len(b.img.Bytes(blk.Start, blk.End-blk.Start)) != int(blk.End-blk.Start) {
			continue
		}
		start := len(arena)
		for k := range run {
			p, ok := pack(&run[k])
			if !ok {
				arena = arena[:start]
				break
			}
			arena = append(arena, p)
		}
		if len(arena) > start {
			blk.code = arena[start:len(arena):len(arena)]
		}
	}
	b.packed += len(arena)
}

// wholeRun reports whether run is blk's instructions one after another from
// its start to its end, each a decoded instruction.
func wholeRun(blk *Block, run []Inst) bool {
	if len(run) != blk.Insts {
		return false
	}
	at := blk.Start
	for k := range run {
		if run[k].RVA != at || run[k].Op == 0 || run[k].Len == 0 {
			return false
		}
		at = run[k].Next()
	}
	return at == blk.End
}
