package cfg

import (
	"reflect"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// Instructions of every form a packed instruction must carry whole, or
// refuse: AVX-512 with broadcast, zeroing and rounding, rep and lock
// prefixes, RIP-relative operands, four operands; and more prefixes than it
// keeps.
func TestPackRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes []byte
		fits  bool
	}{
		{"vaddps zmm1{k1}{z},zmm1,zmm2", []byte{0x62, 0xf1, 0x74, 0xc9, 0x58, 0xc2}, true},
		{"vaddps with broadcast", []byte{0x62, 0xf1, 0x74, 0x58, 0x58, 0x00}, true},
		{"vaddps with rounding", []byte{0x62, 0xf1, 0x74, 0x18, 0x58, 0xc2}, true},
		{"rep stosq", []byte{0xf3, 0x48, 0xab}, true},
		{"lock cmpxchg [rcx],edx", []byte{0xf0, 0x0f, 0xb1, 0x11}, true},
		{"mov rax,[rip+0x1234]", []byte{0x48, 0x8b, 0x05, 0x34, 0x12, 0, 0}, true},
		{"vblendvps xmm0,xmm1,xmm2,xmm3", []byte{0xc4, 0xe3, 0x71, 0x4a, 0xc2, 0x30}, true},
		{"five prefixes", []byte{0x66, 0x66, 0x66, 0x66, 0x66, 0x90}, false},
	} {
		in, err := x86asm.Decode(tc.bytes, 64)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := Inst{Inst: in, RVA: 0x1000}
		var p packedInst
		ok := pack(&want, &p)
		if ok != tc.fits {
			t.Errorf("%s: packed %v, want %v", tc.name, ok, tc.fits)
			continue
		}
		var got Inst
		if p.unpack(&got, 0); ok && !reflect.DeepEqual(got, want) {
			t.Errorf("%s: unpacked\n%+v\nwant\n%+v", tc.name, got, want)
		}
	}
}
