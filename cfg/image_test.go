package cfg

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/drvhazard/drvhazard/loader"
)

// makeImage wraps code in a minimal x64 PE image: one executable section at
// RVA 0x1000 whose first byte is the entry point, and a data section at
// 0x100000 holding data (for tables) with DIR64 relocations at relocs
// (offsets into data).
func makeImage(code, data []byte, relocs []uint32) []byte {
	return makeImageWith(imageSpec{code: code, data: data, relocs: relocs})
}

// imageSpec describes a synthetic image. pdata entries are (begin, end,
// unwind info) RVAs; the unwind info usually lives in data.
type imageSpec struct {
	code, data []byte
	relocs     []uint32
	pdata      [][3]uint32
	// code2 is a second executable section, at code2RVA (packers and PGO
	// put code in sections of their own).
	code2 []byte
}

const code2RVA = 0x80000

const pdataRVA = 0x300000

func makeImageWith(spec imageSpec) []byte {
	code, data, relocs := spec.code, spec.data, spec.relocs
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
	if len(spec.code2) > 0 {
		secs = append(secs, sec{".vmp0", code2RVA, spec.code2, 0x60000020})
	}
	if len(data) > 0 {
		secs = append(secs, sec{".rdata", dataRVA, data, 0x40000040})
	}
	if len(relocBlk) > 0 {
		secs = append(secs, sec{".reloc", relocRVA, relocBlk, 0x42000040})
	}
	var pdata []byte
	for _, e := range spec.pdata {
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

func buildCode(t testing.TB, code, data []byte, relocs []uint32) *Program {
	t.Helper()
	img, err := loader.LoadBytes(makeImage(code, data, relocs))
	if err != nil {
		t.Fatal(err)
	}
	return Build(img)
}

// checkInvariants verifies the structure every Program must have.
func checkInvariants(t testing.TB, p *Program) {
	t.Helper()
	for _, f := range p.Funcs {
		starts := map[uint32]bool{}
		for _, b := range f.Blocks {
			if b.Start >= b.End {
				t.Fatalf("%s: empty block at %#x", f.DisplayName(), b.Start)
			}
			if !p.Image.Executable(b.Start) {
				t.Fatalf("%s: block %#x outside executable sections", f.DisplayName(), b.Start)
			}
			starts[b.Start] = true
		}
		for _, b := range f.Blocks {
			for _, e := range b.Succs {
				if !starts[e.To] {
					t.Fatalf("%s: edge %#x -> %#x to no block", f.DisplayName(), b.Start, e.To)
				}
			}
		}
		for i := 1; i < len(f.Calls); i++ {
			if f.Calls[i-1].Site > f.Calls[i].Site {
				t.Fatalf("%s: call sites not sorted", f.DisplayName())
			}
		}
	}
	for i := 1; i < len(p.Funcs); i++ {
		if p.Funcs[i-1].Entry >= p.Funcs[i].Entry {
			t.Fatal("functions not sorted by entry")
		}
	}
}

// FuzzBuild runs the whole decoder loop over arbitrary code bytes.
func FuzzBuild(f *testing.F) {
	f.Add([]byte{0xc3})
	f.Add([]byte{0xe8, 0x00, 0x00, 0x00, 0x00, 0xc3})                   // call next; ret
	f.Add([]byte{0xeb, 0xfe})                                           // jmp self
	f.Add([]byte{0x0f, 0x78, 0xc1, 0xc3})                               // vmread (x86asm does not know it)
	f.Add([]byte{0x48, 0x8d, 0x15, 0xf9, 0xff, 0xff, 0xff, 0xff, 0xe2}) // lea rdx,[rip-7]; jmp rdx
	f.Add([]byte{0x83, 0xf9, 0x03, 0x77, 0x10, 0x48, 0x8d, 0x05, 0x00, 0x00, 0x00, 0x00,
		0x48, 0x63, 0x0c, 0x88, 0x48, 0x01, 0xc1, 0xff, 0xe1, 0xc3}) // a jump table over itself
	f.Fuzz(func(t *testing.T, code []byte) {
		if len(code) == 0 || len(code) > 4096 { // larger inputs only slow minimisation
			return
		}
		img, err := loader.LoadBytes(makeImage(code, nil, nil))
		if err != nil {
			t.Fatalf("synthetic image rejected: %v", err)
		}
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				// A panic kills the worker; the fuzzer keeps the input.
				panic("Build ran for over 3s on a 4 KiB input")
			}
		}()
		checkInvariants(t, Build(img))
		close(done)
	})
}
