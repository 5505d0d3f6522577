package cfg_test

import (
	"testing"
	"time"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/internal/synth"
	"github.com/drvhazard/drvhazard/lift"
	"github.com/drvhazard/drvhazard/loader"
)

func buildCode(t testing.TB, code, data []byte, relocs []uint32) *lift.Program {
	t.Helper()
	img, err := loader.LoadBytes(synth.Image(code, data, relocs))
	if err != nil {
		t.Fatal(err)
	}
	return lift.Build(img)
}

// checkInvariants verifies the structure every Program must have.
func checkInvariants(t testing.TB, p *cfg.Program) {
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
		img, err := loader.LoadBytes(synth.Image(code, nil, nil))
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
		checkInvariants(t, lift.Build(img).Program)
		close(done)
	})
}
