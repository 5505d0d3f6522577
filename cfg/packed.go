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

// pack packs in into p; false when it does not fit: a prefix past the
// fourth, a fourth operand that is not a register, a size past a byte, a
// rounding mode past 3, an operand of a kind it does not know. It writes
// in place (the descent packs every instruction it does not lift).
func pack(in *Inst, p *packedInst) bool {
	x := &in.Inst
	*p = packedInst{op: x.Op, opcode: x.Opcode, rva: in.RVA}
	if [len(x.Prefix) - maxPrefixes]x86asm.Prefix(x.Prefix[maxPrefixes:]) != [len(x.Prefix) - maxPrefixes]x86asm.Prefix{} {
		return false
	}
	p.prefix = [maxPrefixes]x86asm.Prefix(x.Prefix[:maxPrefixes])
	// Each of the sizes fits a byte (a negative one would set high bits).
	if (x.Mode|x.AddrSize|x.DataSize|x.MemBytes|x.Len|x.PCRel|x.PCRelOff)&^0xff != 0 {
		return false
	}
	p.mode, p.addrSize, p.dataSize, p.memBytes = uint8(x.Mode), uint8(x.AddrSize), uint8(x.DataSize), uint8(x.MemBytes)
	p.len, p.pcRel, p.pcRo = uint8(x.Len), uint8(x.PCRel), uint8(x.PCRelOff)
	if x.Rounding < 0 || x.Rounding > 3 {
		return false
	}
	p.evex = evexFlags(x.Rounding) << evexRoundingShift
	if x.Broadcast {
		p.evex |= evexBroadcast
	}
	if x.Zeroing {
		p.evex |= evexZeroing
	}
	if x.SAE {
		p.evex |= evexSAE
	}
	for i, a := range x.Args {
		switch a := a.(type) {
		case nil:
		case x86asm.Reg:
			p.kind[i], p.reg[i][0] = argReg, uint8(a)
		case x86asm.Mem:
			if i >= maxValues {
				return false
			}
			p.kind[i], p.reg[i], p.val[i] = argMem, [4]uint8{uint8(a.Segment), uint8(a.Base), uint8(a.Index), a.Scale}, a.Disp
		case x86asm.Imm:
			if i >= maxValues {
				return false
			}
			p.kind[i], p.val[i] = argImm, int64(a)
		case x86asm.Rel:
			if i >= maxValues {
				return false
			}
			p.kind[i], p.val[i] = argRel, int64(a)
		default:
			return false
		}
	}
	return true
}

// unpack writes the Inst p packs to dst, prev the instruction before it in
// its block.
func (p *packedInst) unpack(dst *Inst, prev uint32) {
	*dst = Inst{RVA: p.rva, prev: prev}
	x := &dst.Inst
	x.Op, x.Opcode = p.op, p.opcode
	x.Mode, x.AddrSize, x.DataSize, x.MemBytes = int(p.mode), int(p.addrSize), int(p.dataSize), int(p.memBytes)
	x.Len, x.PCRel, x.PCRelOff = int(p.len), int(p.pcRel), int(p.pcRo)
	x.Broadcast, x.Zeroing, x.SAE = p.evex&evexBroadcast != 0, p.evex&evexZeroing != 0, p.evex&evexSAE != 0
	x.Rounding = int8(p.evex >> evexRoundingShift)
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
			arena = arena[:len(arena)+1]
			if !pack(&run[k], &arena[len(arena)-1]) {
				arena = arena[:start]
				break
			}
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
