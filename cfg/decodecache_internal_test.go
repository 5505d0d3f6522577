package cfg

import (
	"reflect"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/internal/fixture"
	"github.com/drvhazard/drvhazard/loader"
)

// sweep calls visit with the bytes at each instruction of img's code, one
// after the other as a linear sweep finds them.
func sweep(t *testing.T, visit func(code []byte) int) {
	t.Helper()
	images, err := fixture.Images("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(images) == 0 {
		t.Skip("no fixture images: run testdata/build.sh")
	}
	for _, im := range images {
		img, err := loader.Load(im.Path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range img.Sections {
			if s := &img.Sections[i]; s.Executable() {
				data := img.Data(s)
				for off := 0; off < len(data); off += visit(data[off:]) {
				}
			}
		}
	}
}

// Through one cache shared by every fixture image, so that most
// instructions are found in it, decoding gives what x86asm gives.
func TestDecodeCacheDecodesAsX86asm(t *testing.T) {
	var c decodeCache
	c.fit(1 << 20)
	n := 0
	sweep(t, func(code []byte) int {
		want, wantErr := x86asm.Decode(code, 64)
		var got x86asm.Inst
		err := c.decode(code, &got)
		if !reflect.DeepEqual(got, want) || (err == nil) != (wantErr == nil) {
			t.Fatalf("% x: cached %v (%v), x86asm %v (%v)", code[:min(len(code), 15)], got, err, want, wantErr)
		}
		n++
		return max(want.Len, 1)
	})
	if hits := cachedEntries(&c); hits == 0 || hits >= n {
		t.Errorf("%d instructions cached of %d decoded: the cache is not used", hits, n)
	}
}

// instLength knows the encodings compilers emit most: where it gives a
// length, it is x86asm's, and it gives one for most instructions (each it
// does not know is decoded every time it is met).
func TestInstLengthOfCompiledCode(t *testing.T) {
	known, all := 0, 0
	sweep(t, func(code []byte) int {
		in, err := x86asm.Decode(code, 64)
		if err != nil || in.Op == 0 {
			return 1
		}
		all++
		if n := instLength(code); n != 0 {
			known++
			if n != in.Len {
				t.Errorf("% x (%v): length %d, x86asm %d", code[:in.Len], in, n, in.Len)
			}
		}
		return in.Len
	})
	if known < all*9/10 {
		t.Errorf("instLength knows %d of %d instructions, want 90%%", known, all)
	}
}

// Lengths of encodings whose operand size prefixes interact: 0x66 makes
// an immediate 16-bit, unless REX.W makes the operation 64-bit.
func TestInstLengthOperandSize(t *testing.T) {
	for _, code := range [][]byte{
		{0x66, 0x81, 0xc1, 0x34, 0x12},          // add cx, 0x1234
		{0x66, 0x49, 0x81, 0xeb, 8, 0, 0, 0},    // (66 ignored) sub r11, 8
		{0x66, 0x48, 0x35, 1, 2, 3, 4},          // (66 ignored) xor rax, imm32
		{0x66, 0xb8, 0x34, 0x12},                // mov ax, 0x1234
		{0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8},    // mov rax, imm64
		{0xf6, 0x05, 1, 2, 3, 4, 0x80},          // test byte [rip+x], 0x80
		{0xf7, 0xd8},                            // neg eax: /3 takes no immediate
		{0x42, 0x8b, 0x04, 0x25, 0x10, 0, 0, 0}, // mov eax, [0x10] (SIB, no base)
	} {
		in, err := x86asm.Decode(code, 64)
		if err != nil {
			t.Fatalf("% x: %v", code, err)
		}
		if n := instLength(code); n != in.Len {
			t.Errorf("% x (%v): length %d, x86asm %d", code, in, n, in.Len)
		}
	}
}

// Any bytes: what the cache returns, for the bytes at every offset, hit or
// miss, is what x86asm returns.
func FuzzDecodeCache(f *testing.F) {
	f.Add([]byte{0x48, 0x8b, 0x05, 1, 2, 3, 4, 0x48, 0x8b, 0x05, 1, 2, 3, 4, 0xc3})
	f.Add([]byte{0x66, 0x0f, 0x1f, 0x44, 0, 0, 0xf7, 0x05, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		var c decodeCache
		c.fit(len(data))
		for pass := 0; pass < 2; pass++ {
			for off := range data {
				want, wantErr := x86asm.Decode(data[off:], 64)
				var got x86asm.Inst
				err := c.decode(data[off:], &got)
				if !reflect.DeepEqual(got, want) || (err == nil) != (wantErr == nil) {
					t.Fatalf("% x at %d: cached %v (%v), x86asm %v (%v)", data, off, got, err, want, wantErr)
				}
			}
		}
	})
}

func cachedEntries(c *decodeCache) int {
	n := 0
	for i := range c.tags {
		if c.tags[i].n != 0 {
			n++
		}
	}
	return n
}
