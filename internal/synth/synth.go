// Package synth builds minimal x64 PE images around hand-assembled code,
// for tests of forms our toolchains do not emit but real drivers do (MSVC
// jump tables, chained unwind data, code in a packer's section) and for
// exact checks of the analysis. Code starts at RVA 0x1000, data at RVA
// 0x100000; the image base is 0x140000000.
package synth

import "encoding/binary"

// Image wraps code in a minimal x64 PE image: one executable section at
// RVA 0x1000 whose first byte is the entry point, and a data section at
// 0x100000 holding data (for tables) with DIR64 relocations at relocs
// (offsets into data).
func Image(code, data []byte, relocs []uint32) []byte {
	return ImageWith(Spec{Code: code, Data: data, Relocs: relocs})
}

// Spec describes a synthetic image. Pdata entries are (begin, end, unwind
// info) RVAs; the unwind info usually lives in Data.
type Spec struct {
	Code, Data []byte
	Relocs     []uint32
	Pdata      [][3]uint32
	// Code2 is a second executable section, at Code2RVA (packers and PGO
	// put code in sections of their own).
	Code2 []byte
}

// Code2RVA is where Spec.Code2 is mapped.
const Code2RVA = 0x80000

const pdataRVA = 0x300000

// ImageWith builds the image spec describes.
func ImageWith(spec Spec) []byte {
	code, data, relocs := spec.Code, spec.Data, spec.Relocs
	const (
		fileAlign = 0x200
		textRVA   = 0x1000
		dataRVA   = 0x100000
		relocRVA  = 0x200000
	)
	align := func(n, a int) int { return (n + a - 1) / a * a }
	var relocBlk []byte
	if len(relocs) > 0 {
		// One block per 4 KiB page of .data.
		pages := map[uint32][]uint16{}
		var order []uint32
		for _, r := range relocs {
			pg := (dataRVA + r) &^ 0xfff
			if _, ok := pages[pg]; !ok {
				order = append(order, pg)
			}
			pages[pg] = append(pages[pg], uint16(10<<12|(dataRVA+r)&0xfff))
		}
		for _, pg := range order {
			ents := pages[pg]
			if len(ents)%2 == 1 {
				ents = append(ents, 0)
			}
			blk := make([]byte, 8+2*len(ents))
			binary.LittleEndian.PutUint32(blk[0:], pg)
			binary.LittleEndian.PutUint32(blk[4:], uint32(len(blk)))
			for i, e := range ents {
				binary.LittleEndian.PutUint16(blk[8+2*i:], e)
			}
			relocBlk = append(relocBlk, blk...)
		}
	}
	type sec struct {
		name  string
		rva   uint32
		body  []byte
		flags uint32
	}
	secs := []sec{{".text", textRVA, code, 0x60000020}}
	if len(spec.Code2) > 0 {
		secs = append(secs, sec{".vmp0", Code2RVA, spec.Code2, 0x60000020})
	}
	if len(data) > 0 {
		secs = append(secs, sec{".rdata", dataRVA, data, 0x40000040})
	}
	if len(relocBlk) > 0 {
		secs = append(secs, sec{".reloc", relocRVA, relocBlk, 0x42000040})
	}
	var pdata []byte
	for _, e := range spec.Pdata {
		for _, v := range e {
			pdata = binary.LittleEndian.AppendUint32(pdata, v)
		}
	}
	if len(pdata) > 0 {
		secs = append(secs, sec{".pdata", pdataRVA, pdata, 0x40000040})
	}
	hdrSize := fileAlign
	out := make([]byte, hdrSize)
	copy(out, "MZ")
	binary.LittleEndian.PutUint32(out[0x3c:], 0x40)
	copy(out[0x40:], "PE\x00\x00")
	coff := 0x44
	binary.LittleEndian.PutUint16(out[coff:], 0x8664)
	binary.LittleEndian.PutUint16(out[coff+2:], uint16(len(secs)))
	binary.LittleEndian.PutUint16(out[coff+16:], 0xf0)
	binary.LittleEndian.PutUint16(out[coff+18:], 0x22)
	opt := coff + 20
	binary.LittleEndian.PutUint16(out[opt:], 0x20b)
	binary.LittleEndian.PutUint32(out[opt+16:], textRVA)
	binary.LittleEndian.PutUint64(out[opt+24:], 0x140000000)
	binary.LittleEndian.PutUint32(out[opt+32:], 0x1000)
	binary.LittleEndian.PutUint32(out[opt+36:], fileAlign)
	last := secs[len(secs)-1]
	binary.LittleEndian.PutUint32(out[opt+56:], uint32(align(int(last.rva)+len(last.body)+1, 0x1000)))
	binary.LittleEndian.PutUint32(out[opt+60:], uint32(hdrSize))
	binary.LittleEndian.PutUint16(out[opt+68:], 1) // native
	binary.LittleEndian.PutUint32(out[opt+108:], 16)
	if len(relocBlk) > 0 {
		binary.LittleEndian.PutUint32(out[opt+112+5*8:], relocRVA)
		binary.LittleEndian.PutUint32(out[opt+112+5*8+4:], uint32(len(relocBlk)))
	}
	if len(pdata) > 0 {
		binary.LittleEndian.PutUint32(out[opt+112+3*8:], pdataRVA)
		binary.LittleEndian.PutUint32(out[opt+112+3*8+4:], uint32(len(pdata)))
	}
	sh := opt + 0xf0
	for i, s := range secs {
		p := sh + 40*i
		copy(out[p:], s.name)
		raw := align(len(s.body), fileAlign)
		binary.LittleEndian.PutUint32(out[p+8:], uint32(len(s.body)))
		binary.LittleEndian.PutUint32(out[p+12:], s.rva)
		binary.LittleEndian.PutUint32(out[p+16:], uint32(raw))
		binary.LittleEndian.PutUint32(out[p+20:], uint32(len(out)))
		binary.LittleEndian.PutUint32(out[p+36:], s.flags)
		body := make([]byte, raw)
		copy(body, s.body)
		out = append(out, body...)
	}
	return out
}

// LE32 is v little-endian.
func LE32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// LE64 is v little-endian.
func LE64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// At pads code with int3 up to offset off.
func At(code []byte, off int, more ...byte) []byte {
	for len(code) < off {
		code = append(code, 0xcc)
	}
	return append(code, more...)
}

// Cat concatenates parts.
func Cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
