package cfg

import (
	"encoding/binary"

	"golang.org/x/arch/x86/x86asm"
)

// decodeCache remembers instructions decoded, by their bytes. x86asm
// spends most of its time searching its tables for the opcode (decoding
// was a third of all a scan did), yet two thirds of a driver's
// instructions repeat bytes decoded before (mov rcx,rbx; test eax,eax; a
// load from [rsp+0x40]). Decoding is a function of the bytes alone: the
// same bytes decode to the same instruction anywhere, in any image
// (relative and rip-relative operands are kept as offsets), and bytes that
// decode to an instruction of n bytes do so whatever follows them. So the
// cache maps an instruction's bytes to its decoding; the length to look up
// is what instLength says, and an entry is made only where x86asm's length
// agrees: a length instLength gets wrong, or does not know (VEX, EVEX,
// x87, the rarer opcodes), only makes x86asm decode. Bytes x86asm cannot
// decode are never cached (it reports some as a one-byte Op 0 that more
// bytes would change).
//
// The cache is direct-mapped and small (a table that held every
// instruction of a driver made each look-up wait for memory and saved
// nothing): the instructions drivers repeat most keep their entries.
type decodeCache struct {
	// tags[i] names the bytes whose decoding insts[i] holds, apart: a
	// look-up that misses reads only the tags. bits is log2 of their
	// length.
	tags  []cacheTag
	insts []x86asm.Inst
	bits  int
}

// cacheTag is an instruction's bytes, n of them zero-padded; n is 0 in an
// empty entry.
type cacheTag struct {
	lo, hi uint64
	n      int
}

// The cache holds between 1<<minCacheBits and 1<<maxCacheBits entries
// (224 bytes each), one for every cacheCodePerEntry bytes of code: a
// small driver, scanned alone, must not pay for a table its code would not
// fill (the largest table cost the smallest corpus minifilter 150 more page
// faults and 0.9 ms of its 9 ms).
const (
	minCacheBits      = 9
	maxCacheBits      = 13
	cacheCodePerEntry = 16
)

// fit makes the cache large enough for code bytes of code; it keeps what
// it holds when it already is.
func (c *decodeCache) fit(code int) {
	bits := minCacheBits
	for bits < maxCacheBits && 1<<bits*cacheCodePerEntry < code {
		bits++
	}
	if bits > c.bits {
		c.tags, c.insts, c.bits = make([]cacheTag, 1<<bits), make([]x86asm.Inst, 1<<bits), bits
	}
}

// decode decodes the instruction at the start of src into out, as
// x86asm.Decode(src, 64) does.
func (c *decodeCache) decode(src []byte, out *x86asm.Inst) (err error) {
	n := instLength(src)
	if n == 0 || c.bits == 0 {
		*out, err = x86asm.Decode(src, 64)
		return err
	}
	lo, hi := instBytes(src, n)
	i := ((lo ^ hi*0x2545F4914F6CDD1D ^ uint64(n)) * 0x9E3779B97F4A7C15) >> (64 - c.bits)
	if t := &c.tags[i]; t.n == n && t.lo == lo && t.hi == hi {
		*out = c.insts[i]
		return nil
	}
	*out, err = x86asm.Decode(src, 64)
	if err == nil && out.Op != 0 && out.Len == n {
		c.tags[i], c.insts[i] = cacheTag{lo: lo, hi: hi, n: n}, *out
	}
	return err
}

// instBytes returns the first n (at most 15) bytes of src as two words,
// zero-padded.
func instBytes(src []byte, n int) (lo, hi uint64) {
	var buf [16]byte
	copy(buf[:], src[:n])
	return binary.LittleEndian.Uint64(buf[:8]), binary.LittleEndian.Uint64(buf[8:])
}

// Operand kinds of the one-byte and two-byte (0F) opcode maps, as
// instLength reads them.
const (
	opUnknown uint8 = iota // not handled: x86asm decodes
	opNone                 // no ModRM, no immediate
	opModRM                // ModRM (with SIB and displacement)
	opModRMImm8
	opModRMImmZ // ModRM, then a 16-bit (0x66) or 32-bit immediate
	opImm8
	opImm16
	opImmZ
	opRel32 // no operand-size change in 64-bit mode
	opGroup3Byte
	opGroup3Z // F6/F7: the test forms (/0, /1) take an immediate
	opMovImm  // B8+r: imm64 with REX.W
)

// oneByte and twoByte are the operand kinds of the opcodes instLength
// handles.
var oneByte, twoByte = opcodeKinds()

func opcodeKinds() (one, two [256]uint8) {
	set := func(t *[256]uint8, kind uint8, ops ...int) {
		for _, op := range ops {
			t[op] = kind
		}
	}
	for op := 0x00; op < 0x40; op += 8 { // add, or, adc, sbb, and, sub, xor, cmp
		set(&one, opModRM, op, op+1, op+2, op+3)
		set(&one, opImm8, op+4)
		set(&one, opImmZ, op+5)
	}
	for op := 0x50; op < 0x60; op++ {
		set(&one, opNone, op) // push, pop
	}
	set(&one, opModRM, 0x63, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0xd0, 0xd1, 0xd2, 0xd3, 0xfe, 0xff)
	set(&one, opImmZ, 0x68, 0xa9)
	set(&one, opModRMImmZ, 0x69, 0x81, 0xc7)
	set(&one, opImm8, 0x6a, 0xa8, 0xcd, 0xeb, 0xe0, 0xe1, 0xe2, 0xe3)
	set(&one, opModRMImm8, 0x6b, 0x80, 0x83, 0xc0, 0xc1, 0xc6)
	for op := 0x70; op < 0x80; op++ {
		set(&one, opImm8, op) // jcc rel8
	}
	for op := 0x90; op < 0x9a; op++ {
		set(&one, opNone, op) // nop, xchg, cbw, cwd
	}
	set(&one, opNone, 0x9c, 0x9d, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xc3, 0xc9, 0xcc, 0xf4, 0xf5, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd)
	for op := 0xb0; op < 0xb8; op++ {
		set(&one, opImm8, op)
		set(&one, opMovImm, op+8)
	}
	set(&one, opImm16, 0xc2)
	set(&one, opRel32, 0xe8, 0xe9)
	set(&one, opGroup3Byte, 0xf6)
	set(&one, opGroup3Z, 0xf7)

	set(&two, opNone, 0x05, 0x0b, 0x31, 0xa2)
	for op := 0x10; op < 0x18; op++ {
		set(&two, opModRM, op) // movups, movss, movlps, unpcklps, movhps, ...
	}
	set(&two, opModRM, 0x18, 0x1f, 0x28, 0x29, 0x2a, 0x2c, 0x2d, 0x2e, 0x2f, 0xa3, 0xab, 0xaf, 0xb0, 0xb1, 0xb3, 0xb6, 0xb7, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xc0, 0xc1, 0xd6, 0xef, 0x7e, 0x7f, 0x6e, 0x6f, 0xd4, 0xdb, 0xeb, 0xfb, 0xfe, 0xfa, 0x6c, 0x6d, 0x60, 0x61, 0x62)
	for op := 0x40; op < 0x50; op++ {
		set(&two, opModRM, op) // cmovcc
	}
	for op := 0x50; op < 0x60; op++ {
		set(&two, opModRM, op) // sse arithmetic
	}
	for op := 0x80; op < 0x90; op++ {
		set(&two, opRel32, op) // jcc rel32
	}
	for op := 0x90; op < 0xa0; op++ {
		set(&two, opModRM, op) // setcc
	}
	for op := 0xc8; op < 0xd0; op++ {
		set(&two, opNone, op) // bswap
	}
	set(&two, opModRMImm8, 0x70, 0xa4, 0xac, 0xba, 0xc2, 0xc6)
	return one, two
}

// instLength returns the length of the instruction at the start of src in
// 64-bit code, for the common encodings; 0 when it does not handle the
// encoding or src ends first.
func instLength(src []byte) int {
	i, opsize, rexW := 0, false, false
prefixes:
	for ; i < len(src) && i < 4; i++ {
		switch src[i] {
		case 0x66:
			opsize = true
		case 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65:
		default:
			break prefixes
		}
	}
	if i < len(src) && src[i]&0xf0 == 0x40 {
		rexW = src[i]&8 != 0
		i++
	}
	if i >= len(src) {
		return 0
	}
	kind := oneByte[src[i]]
	if src[i] == 0x0f {
		if i++; i >= len(src) {
			return 0
		}
		kind = twoByte[src[i]]
	}
	i++
	immZ := 4
	if opsize && !rexW { // REX.W overrides 0x66
		immZ = 2
	}
	imm := 0
	switch kind {
	case opNone:
	case opImm8:
		imm = 1
	case opImm16:
		imm = 2
	case opImmZ:
		imm = immZ
	case opRel32:
		imm = 4
	case opMovImm:
		imm = immZ
		if rexW {
			imm = 8
		}
	case opModRM, opModRMImm8, opModRMImmZ, opGroup3Byte, opGroup3Z:
		if i >= len(src) {
			return 0
		}
		modrm := src[i]
		i++
		mod, rm := modrm>>6, modrm&7
		if mod != 3 && rm == 4 {
			if i >= len(src) {
				return 0
			}
			if sib := src[i]; mod == 0 && sib&7 == 5 {
				i += 4
			}
			i++
		}
		switch {
		case mod == 1:
			i++
		case mod == 2, mod == 0 && rm == 5:
			i += 4
		}
		switch {
		case kind == opModRMImm8:
			imm = 1
		case kind == opModRMImmZ:
			imm = immZ
		case kind == opGroup3Byte && modrm>>3&7 < 2:
			imm = 1
		case kind == opGroup3Z && modrm>>3&7 < 2:
			imm = immZ
		}
	default:
		return 0
	}
	if n := i + imm; n <= len(src) && n <= 15 {
		return n
	}
	return 0
}
