package cfg_test

import (
	"testing"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/internal/synth"
	"github.com/drvhazard/drvhazard/lift"
	"github.com/drvhazard/drvhazard/loader"
)

// Patterns found in real MSVC-built drivers (see the closing notes of the
// Foundation I issue), rebuilt here as hand-assembled code.

func buildSpec(t *testing.T, spec synth.Spec) *cfg.Program {
	t.Helper()
	img, err := loader.LoadBytes(synth.ImageWith(spec))
	if err != nil {
		t.Fatal(err)
	}
	p := lift.Build(img).Program
	checkInvariants(t, p)
	return p
}

func entries(p *cfg.Program) map[uint32]bool {
	m := map[uint32]bool{}
	for _, f := range p.Funcs {
		m[f.Entry] = true
	}
	return m
}

func calleeSet(p *cfg.Program, f *cfg.Func) map[uint32]cfg.CallKind {
	m := map[uint32]cfg.CallKind{}
	for _, c := range f.Calls {
		for _, ce := range c.Callees {
			m[ce.Func] = c.Kind
		}
	}
	return m
}

// MSVC places string literals in .text right after the code using them; a
// lea of one is not a function (ASCII and UTF-16).
func TestStringInTextIsNotAFunction(t *testing.T) {
	code := synth.Cat(
		[]byte{0x48, 0x83, 0xec, 0x28},                      // 1000 sub rsp,0x28
		[]byte{0x4c, 0x8d, 0x05}, synth.LE32(0x1030-0x100b), // 1004 lea r8,[rip+"DriverRegister"]
		[]byte{0x4c, 0x8d, 0x0d}, synth.LE32(0x1040-0x1012), // 100b lea r9,[rip+L"\\Dev"]
		[]byte{0x33, 0xd2, 0x33, 0xc9},          // 1012 xor edx,edx ; xor ecx,ecx
		[]byte{0xe8}, synth.LE32(0x1050-0x101b), // 1016 call 1050
		[]byte{0x48, 0x83, 0xc4, 0x28, 0xc3}, // 101b add rsp,0x28 ; ret
	)
	code = synth.At(code, 0x30, []byte("DriverRegister\x00")...)
	code = synth.At(code, 0x40, 0x5c, 0, 0x44, 0, 0x65, 0, 0x76, 0, 0, 0)
	code = synth.At(code, 0x50, 0xc3)
	p := buildSpec(t, synth.Spec{Code: code})
	got := entries(p)
	if len(got) != 2 || !got[0x1000] || !got[0x1050] {
		t.Errorf("functions %v, want 0x1000 and 0x1050 only", got)
	}
}

// The x64 CRT memset jumps into its own unrolled stores:
// lea r11,[rip+6]; lea r11,[r11+r9*4]; jmp r11.
func TestMemsetComputedJump(t *testing.T) {
	code := synth.Cat(
		[]byte{0x4c, 0x8d, 0x1d, 0x06, 0, 0, 0}, // 1000 lea r11,[rip+6] (0x100d, inside the jmp)
		[]byte{0x4f, 0x8d, 0x1c, 0x8b},          // 1007 lea r11,[r11+r9*4]
		[]byte{0x41, 0xff, 0xe3},                // 100b jmp r11
		[]byte{0x48, 0x89, 0x11},                // 100e mov [rcx],rdx
		[]byte{0x48, 0x89, 0x51, 0x08},          // 1011 mov [rcx+8],rdx
		[]byte{0xc3},                            // 1015 ret
	)
	p := buildSpec(t, synth.Spec{Code: code})
	if got := entries(p); len(got) != 1 {
		t.Errorf("functions %v, want only memset", got)
	}
	f := p.Func(0x1000)
	for _, c := range f.Calls {
		t.Errorf("call site %#x (%v): jmp r11 is not a call", c.Site, c.Kind)
	}
	if last := f.Blocks[len(f.Blocks)-1]; last.Term != cfg.TermIndirect {
		t.Errorf("jmp r11 ends its block with %v, want cfg.TermIndirect", last.Term)
	}
}

// MSVC loads __ImageBase into a register in the prologue and uses it for a
// switch in a block entered by a branch, far from the lea.
func TestJumpTableWithDistantBase(t *testing.T) {
	code := synth.Cat(
		[]byte{0x41, 0x54},                               // 1000 push r12
		[]byte{0x4c, 0x8d, 0x25}, synth.LE32(0xffffeff7), // 1002 lea r12,[rip-0x1009] (__ImageBase)
		[]byte{0x85, 0xc9, 0x74, 0x05},                       // 1009 test ecx,ecx ; je 1012
		[]byte{0x31, 0xc0, 0x41, 0x5c, 0xc3},                 // 100d xor eax,eax ; pop r12 ; ret
		[]byte{0x83, 0xf9, 0x02, 0x77, 0xf6},                 // 1012 cmp ecx,2 ; ja 100d
		[]byte{0x89, 0xc8},                                   // 1017 mov eax,ecx
		[]byte{0x41, 0x8b, 0x8c, 0x84}, synth.LE32(0x100000), // 1019 mov ecx,[r12+rax*4+0x100000]
		[]byte{0x4c, 0x01, 0xe1},                                    // 1021 add rcx,r12
		[]byte{0xff, 0xe1},                                          // 1024 jmp rcx
		[]byte{0xe8}, synth.LE32(0x1050-0x102b), []byte{0xeb, 0xe0}, // 1026 call 1050 ; jmp 100d
		[]byte{0xe8}, synth.LE32(0x1060-0x1032), []byte{0xeb, 0xd9}, // 102d call 1060 ; jmp 100d
		[]byte{0xeb, 0xd7}, // 1034 jmp 100d
	)
	code = synth.At(code, 0x50, 0xc3)
	code = synth.At(code, 0x60, 0xc3)
	table := synth.Cat(synth.LE32(0x1026), synth.LE32(0x102d), synth.LE32(0x1034), synth.LE32(0x1000))
	p := buildSpec(t, synth.Spec{Code: code, Data: table})
	f := p.Func(0x1000)
	got := calleeSet(p, f)
	if _, ok := got[0x1050]; !ok {
		t.Errorf("case 0 callee 0x1050 missing: %v", got)
	}
	if _, ok := got[0x1060]; !ok {
		t.Errorf("case 1 callee 0x1060 missing: %v", got)
	}
	for _, c := range f.Calls {
		if c.Kind == cfg.CallUnresolved {
			t.Errorf("unresolved site %#x", c.Site)
		}
	}
}

// unwind builds an UNWIND_INFO with no codes: flags, then (for handlers) the
// handler RVA and its data, or (chained) the parent RUNTIME_FUNCTION.
func unwind(flags byte, tail ...[]byte) []byte {
	return synth.Cat(append([][]byte{{1 | flags<<3, 0, 0, 0}}, tail...)...)
}

// PGO moves cold blocks of a function far away, described by a chained
// .pdata entry; jumps there and back are internal.
func TestChainedColdFragment(t *testing.T) {
	code := synth.Cat(
		[]byte{0x48, 0x83, 0xec, 0x28},                // 1000 sub rsp,0x28
		[]byte{0x85, 0xc9},                            // 1004 test ecx,ecx
		[]byte{0x0f, 0x85}, synth.LE32(0x1100-0x100c), // 1006 jne 1100 (cold part)
		[]byte{0x48, 0x83, 0xc4, 0x28, 0xc3}, // 100c add rsp,0x28 ; ret
	)
	code = synth.At(code, 0x40, 0xc3) // 1040: another function between
	code = synth.At(code, 0x50, 0xc3) // 1050: called from the cold part
	code = synth.At(code, 0x100,
		0xe8, 0x4b, 0xff, 0xff, 0xff, // 1100 call 1050
		0xe9, 0x02, 0xff, 0xff, 0xff) // 1105 jmp 100c (back into the parent)
	data := synth.Cat(
		unwind(0), // 100000 parent
		unwind(0), // 100004 other
		unwind(4, synth.LE32(0x1000), synth.LE32(0x1011), synth.LE32(0x100000)), // 100008 chained to the parent
	)
	p := buildSpec(t, synth.Spec{Code: code, Data: data, Pdata: [][3]uint32{
		{0x1000, 0x1011, 0x100000}, {0x1040, 0x1041, 0x100004}, {0x1100, 0x110a, 0x100008},
	}})
	got := entries(p)
	if got[0x1100] || got[0x100c] || !got[0x1040] || !got[0x1050] {
		t.Errorf("functions %v: the cold part and the jump back must not be functions", got)
	}
	f := p.Func(0x1000)
	if _, ok := calleeSet(p, f)[0x1050]; !ok || f.NoReturn {
		t.Errorf("parent: callees %v, noreturn %v; want the cold part's call to 0x1050 and a return", calleeSet(p, f), f.NoReturn)
	}
}

// A packer's chained .pdata entry can put a function's fragment in another
// section (mhyprot3.sys, VMProtect): its bytes are decoded from that
// section, not sliced out of the entry's (which panicked the whole scan).
func TestFragmentInAnotherSection(t *testing.T) {
	code := synth.Cat(
		[]byte{0x85, 0xc9},                                         // 1000 test ecx,ecx
		[]byte{0x0f, 0x85}, synth.LE32(synth.Code2RVA+0x10-0x1008), // 1002 jne 80010 (fragment in .vmp0)
		[]byte{0xc3}, // 1008 ret
	)
	code2 := synth.At(nil, 0x10,
		0xe8, 0xeb, 0x0f, 0xf8, 0xff, // 80010 call 1000 (back into the parent: recursion)
		0xe9, 0xee, 0x0f, 0xf8, 0xff) // 80015 jmp 1008
	data := synth.Cat(
		unwind(0), // 100000 parent
		unwind(4, synth.LE32(0x1000), synth.LE32(0x1009), synth.LE32(0x100000)), // 100004 chained to the parent
	)
	p := buildSpec(t, synth.Spec{Code: code, Code2: code2, Data: data, Pdata: [][3]uint32{
		{0x1000, 0x1009, 0x100000}, {synth.Code2RVA + 0x10, synth.Code2RVA + 0x1a, 0x100004},
	}})
	checkInvariants(t, p)
	f := p.Func(0x1000)
	if f == nil {
		t.Fatal("no function at the entry")
	}
	var inFrag bool
	for _, b := range f.Blocks {
		inFrag = inFrag || b.Start == synth.Code2RVA+0x10
	}
	if _, ok := calleeSet(p, f)[0x1000]; !inFrag || !ok {
		t.Errorf("blocks %v, callees %v: want the fragment at %#x decoded from its own section, with its call", f.Blocks, calleeSet(p, f), synth.Code2RVA+0x10)
	}
}

// __C_specific_handler's scope table is the only reference to an __except
// block (JumpTarget) and to filters and __finally funclets (HandlerAddress).
func TestScopeTable(t *testing.T) {
	code := synth.Cat(
		[]byte{0x53, 0x48, 0x83, 0xec, 0x20},    // 1000 push rbx ; sub rsp,0x20
		[]byte{0xe8}, synth.LE32(0x1080-0x100a), // 1005 call 1080 (__try body)
		[]byte{0x33, 0xc0, 0xeb, 0x08},          // 100a xor eax,eax ; jmp 1016
		[]byte{0x8b, 0xd8},                      // 100e mov ebx,eax (__except body)
		[]byte{0xe8}, synth.LE32(0x1090-0x1015), // 1010 call 1090
		[]byte{0x90}, // 1015 nop
		[]byte{0x48, 0x83, 0xc4, 0x20, 0x5b, 0xc3}, // 1016 add rsp,0x20 ; pop rbx ; ret
	)
	code = synth.At(code, 0x60, 0xe8, 0x3b, 0, 0, 0, 0xc3) // 1060 __finally funclet: call 10a0 ; ret
	code = synth.At(code, 0x70, 0xc3)                      // 1070 the language handler
	code = synth.At(code, 0x80, 0xc3)
	code = synth.At(code, 0x90, 0xc3)
	code = synth.At(code, 0xa0, 0xc3)
	data := synth.Cat(
		unwind(1, synth.LE32(0x1070), synth.LE32(2),
			synth.LE32(0x1005), synth.LE32(0x100a), synth.LE32(1), synth.LE32(0x100e), // __except(EXCEPTION_EXECUTE_HANDLER)
			synth.LE32(0x1005), synth.LE32(0x100c), synth.LE32(0x1060), synth.LE32(0)), // __finally
		unwind(0),
	)
	p := buildSpec(t, synth.Spec{Code: code, Data: data, Pdata: [][3]uint32{
		{0x1000, 0x101c, 0x100000}, {0x1060, 0x1066, 0x100000 + uint32(len(data)) - 4}, {0x1070, 0x1071, 0x100000 + uint32(len(data)) - 4},
	}})
	f := p.Func(0x1000)
	got := calleeSet(p, f)
	if _, ok := got[0x1090]; !ok {
		t.Errorf("the __except block's call to 0x1090 is missing: %v", got)
	}
	if k, ok := got[0x1060]; !ok || k != cfg.CallHandler {
		t.Errorf("no handler edge to the __finally funclet 0x1060: %v", got)
	}
	if p.Func(0x10a0) == nil {
		t.Error("0x10a0, called from the funclet, not found")
	}
}
