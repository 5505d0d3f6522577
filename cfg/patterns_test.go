package cfg_test

import (
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/internal/synth"
	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/lift"
)

// Hand-assembled code for forms our two toolchains do not emit but real
// drivers do (MSVC jump tables), and for exact checks of the forward pass.
// Code starts at RVA 0x1000; data at RVA 0x100000; image base 0x140000000.

func callsOf(p *lift.Program, entry uint32) map[uint32]*cfg.CallSite {
	out := map[uint32]*cfg.CallSite{}
	if f := p.Func(entry); f != nil {
		for _, c := range f.Calls {
			out[c.Site] = c
		}
	}
	return out
}

func TestMSVCJumpTable(t *testing.T) {
	code := synth.Cat(
		[]byte{0x83, 0xf9, 0x03},                         // 1000 cmp ecx,3
		[]byte{0x77, 0x1f},                               // 1003 ja 1024
		[]byte{0x48, 0x8d, 0x15}, synth.LE32(0xffffeff4), // 1005 lea rdx,[rip-0x100c] (__ImageBase)
		[]byte{0x8b, 0x84, 0x8a}, synth.LE32(0x100000), // 100c mov eax,[rdx+rcx*4+0x100000]
		[]byte{0x48, 0x01, 0xd0},                     // 1013 add rax,rdx
		[]byte{0xff, 0xe0},                           // 1016 jmp rax
		[]byte{0xe8}, synth.LE32(0x13), []byte{0xc3}, // 1018 call 1030 ; ret
		[]byte{0xe8}, synth.LE32(0x1d), []byte{0xc3}, // 101e call 1040 ; ret
		[]byte{0xc3}, // 1024 ret (default)
	)
	code = synth.At(code, 0x30, 0x31, 0xc0, 0xc3) // 1030
	code = synth.At(code, 0x40, 0xc3)             // 1040
	table := synth.Cat(synth.LE32(0x1018), synth.LE32(0x101e), synth.LE32(0x1024), synth.LE32(0x1018), synth.LE32(0xdeadbeef))
	p := buildCode(t, code, table, nil)
	checkInvariants(t, p.Program)
	f := p.Func(0x1000)
	if f == nil {
		t.Fatal("no function at the entry")
	}
	var sw *cfg.Block
	for _, b := range f.Blocks {
		if b.Term == cfg.TermSwitch {
			sw = b
		}
	}
	if sw == nil {
		t.Fatalf("no switch block; blocks %+v", f.Blocks)
	}
	got := map[uint32]bool{}
	for _, e := range sw.Succs {
		got[e.To] = true
	}
	// The bound from cmp ecx,3 / ja stops the read before 0xdeadbeef.
	if len(got) != 3 || !got[0x1018] || !got[0x101e] || !got[0x1024] {
		t.Errorf("switch targets %v, want 0x1018 0x101e 0x1024", got)
	}
	for _, want := range []uint32{0x1030, 0x1040} {
		if p.Func(want) == nil {
			t.Errorf("case callee %#x not discovered", want)
		}
	}
	if p.Func(0x100000) != nil || len(p.Funcs) != 3 {
		t.Errorf("%d functions, want 3", len(p.Funcs))
	}
}

func TestHandlerTable(t *testing.T) {
	code := synth.Cat(
		[]byte{0x48, 0x8d, 0x05}, synth.LE32(0x100000-0x1007), // 1000 lea rax,[rip+table]
		[]byte{0xff, 0x14, 0xc8}, // 1007 call [rax+rcx*8]
		[]byte{0xc3},             // 100a ret
	)
	code = synth.At(code, 0x10, 0xc3)             // 1010 handler 0
	code = synth.At(code, 0x20, 0x31, 0xc0, 0xc3) // 1020 handler 1
	table := synth.Cat(synth.LE64(0x140001010), synth.LE64(0x140001020), synth.LE64(0))
	p := buildCode(t, code, table, []uint32{0, 8})
	checkInvariants(t, p.Program)
	c := callsOf(p, 0x1000)[0x1007]
	if c == nil || c.Kind != cfg.CallTable || len(c.Callees) != 2 || c.Callees[0].Func != 0x1010 || c.Callees[1].Func != 0x1020 {
		t.Fatalf("call [rax+rcx*8] = %+v, want a table call to 0x1010 and 0x1020", c)
	}
	if f := p.Func(0x1010); f == nil || f.Source&cfg.FromDataPtr == 0 {
		t.Errorf("handler 0x1010 not found as a data pointer: %+v", f)
	}
}

func TestFrameAndTailCall(t *testing.T) {
	code := synth.Cat(
		[]byte{0x53},                   // 1000 push rbx
		[]byte{0x48, 0x83, 0xec, 0x20}, // 1001 sub rsp,0x20
		[]byte{0xe8}, synth.LE32(0x26), // 1005 call 1030
		[]byte{0x48, 0x83, 0xc4, 0x20}, // 100a add rsp,0x20
		[]byte{0x5b},                   // 100e pop rbx
		[]byte{0xe9}, synth.LE32(0x2c), // 100f jmp 1040
	)
	code = synth.At(code, 0x30, 0xc3)
	code = synth.At(code, 0x40, 0xc3)
	p := buildCode(t, code, nil, nil)
	f := p.Func(0x1000)
	if f.FrameSize != 0x28 {
		t.Errorf("frame size %#x, want 0x28", f.FrameSize)
	}
	calls := callsOf(p, 0x1000)
	if c := calls[0x1005]; c == nil || c.Tail || c.Callees[0].Func != 0x1030 {
		t.Errorf("call at 0x1005 = %+v", c)
	}
	if c := calls[0x100f]; c == nil || !c.Tail || c.Callees[0].Func != 0x1040 {
		t.Errorf("tail jump at 0x100f = %+v", c)
	}
}

func TestChkstkFrame(t *testing.T) {
	code := synth.Cat(
		[]byte{0xb8}, synth.LE32(0x10028), // 1000 mov eax,0x10028
		[]byte{0xe8}, synth.LE32(0x26), // 1005 call 1030 (__chkstk)
		[]byte{0x48, 0x29, 0xc4},                      // 100a sub rsp,rax
		[]byte{0x48, 0x81, 0xc4}, synth.LE32(0x10028), // 100d add rsp,0x10028
		[]byte{0xc3}, // 1014 ret
	)
	code = synth.At(code, 0x30, 0xc3)
	p := buildCode(t, code, nil, nil)
	if got := p.Func(0x1000).FrameSize; got != 0x10028 {
		t.Errorf("frame size %#x, want 0x10028", got)
	}
}

func TestCallArguments(t *testing.T) {
	code := synth.Cat(
		[]byte{0x48, 0x8d, 0x15}, synth.LE32(0x100000-0x1007), // 1000 lea rdx,[rip+0x100000]
		[]byte{0x41, 0xb8}, synth.LE32(0x6b61654c), // 1007 mov r8d,'kaeL'
		[]byte{0x31, 0xc9},                      // 100d xor ecx,ecx
		[]byte{0x4c, 0x8d, 0x4c, 0x24, 0x08},    // 100f lea r9,[rsp+8]
		[]byte{0xe8}, synth.LE32(0x1030-0x1019), // 1014 call 1030
		[]byte{0x48, 0x8d, 0x05}, synth.LE32(0x1040-0x1020), // 1019 lea rax,[rip+1040]
		[]byte{0xff, 0xd0}, // 1020 call rax
		[]byte{0xc3},       // 1022 ret
	)
	code = synth.At(code, 0x30, 0xc3)
	code = synth.At(code, 0x40, 0xc3)
	p := buildCode(t, code, []byte{1, 2, 3, 4}, nil)
	calls := callsOf(p, 0x1000)
	c := calls[0x1014]
	if c == nil {
		t.Fatal("no call at 0x1014")
	}
	if got := exprs(c.Args[:4]); got != "0 rva:0x100000 0x6b61654c stack+0x8" {
		t.Errorf("args %s, want 0 rva:0x100000 0x6b61654c stack+0x8", got)
	}
	if c := calls[0x1020]; c == nil || c.Kind != cfg.CallPointer || c.Callees[0].Func != 0x1040 {
		t.Errorf("call rax = %+v, want a pointer call to 0x1040", c)
	}
	if f := p.Func(0x1040); f == nil || f.Source&cfg.FromJumpTarget == 0 {
		t.Errorf("0x1040 not discovered through the register call: %+v", f)
	}
	// The values after a call are forgotten: rcx is volatile (unknown, nil),
	// r8 too.
	if c := calls[0x1020]; c.Args[0] != nil || c.Args[2] != nil {
		t.Errorf("rcx, r8 after a call = %v, %v, want unknown (nil)", c.Args[0], c.Args[2])
	}
}

func TestUndecodableBytesEndTheBlock(t *testing.T) {
	// vmread rax,rcx (0f 78 c8) is not known to x86asm: the block ends with
	// a note, and the function is still there.
	code := []byte{0x48, 0x89, 0xc8, 0x0f, 0x78, 0xc8, 0xc3}
	p := buildCode(t, code, nil, nil)
	f := p.Func(0x1000)
	if f == nil || len(f.Blocks) == 0 || f.Blocks[len(f.Blocks)-1].Term != cfg.TermInvalid {
		t.Fatalf("function %+v, want one ending in an invalid block", f)
	}
	if len(p.Notes) != 1 {
		t.Errorf("notes %q, want one", p.Notes)
	}
}

// A table of 24-byte rows {id, handler, other} whose first row is empty,
// called through [table + row*8 + 8] with row = 3*index.
func TestStructHandlerTable(t *testing.T) {
	code := synth.Cat(
		[]byte{0x48, 0x8d, 0x05}, synth.LE32(0x100000-0x1007), // 1000 lea rax,[rip+table]
		[]byte{0x4a, 0x8b, 0x44, 0xe8, 0x08}, // 1007 mov rax,[rax+r13*8+8]
		[]byte{0xff, 0xd0},                   // 100c call rax
		[]byte{0xc3},                         // 100e ret
	)
	code = synth.At(code, 0x20, 0xc3) // 1020 handler 1
	code = synth.At(code, 0x30, 0xc3) // 1030 handler 2
	table := synth.Cat(
		synth.LE64(0), synth.LE64(0), synth.LE64(0), // row 0: empty
		synth.LE64(1), synth.LE64(0x140001020), synth.LE64(0), // row 1
		synth.LE64(2), synth.LE64(0x140001030), synth.LE64(0), // row 2
		synth.LE64(0xffffffffffffffff), // not a table any more
	)
	p := buildCode(t, code, table, []uint32{32, 56})
	c := callsOf(p, 0x1000)[0x100c]
	if c == nil || c.Kind != cfg.CallTable || len(c.Callees) != 2 || c.Callees[0].Func != 0x1020 || c.Callees[1].Func != 0x1030 {
		t.Errorf("call through the row table = %+v, want a table call to 0x1020 and 0x1030", c)
	}
}

// exprs prints expressions separated by spaces, for comparisons.
func exprs(es []*ir.Expr) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.String()
	}
	return strings.Join(s, " ")
}
