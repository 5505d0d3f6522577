package lift

import (
	"testing"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/internal/synth"
	"github.com/drvhazard/drvhazard/loader"
)

// KeRaiseIrql(DISPATCH_LEVEL) and KeLowerIrql are mov cr8 on x64: the IRQL
// at each call follows them.
func TestIRQLWrites(t *testing.T) {
	code := synth.Cat(
		[]byte{0x44, 0x0f, 0x20, 0xc3},          // 1000 mov rbx,cr8 (KeGetCurrentIrql, saved)
		[]byte{0xb8, 0x02, 0, 0, 0},             // 1004 mov eax,2
		[]byte{0x44, 0x0f, 0x22, 0xc0},          // 1009 mov cr8,rax
		[]byte{0xe8}, synth.LE32(0x1040-0x1012), // 100d call 1040
		[]byte{0x44, 0x0f, 0x22, 0xc3},          // 1012 mov cr8,rbx (restore the saved IRQL)
		[]byte{0xe8}, synth.LE32(0x1040-0x101b), // 1016 call 1040
		[]byte{0xc3}, // 101b ret
	)
	code = synth.At(code, 0x40, 0xc3)
	p := buildCode(t, code, nil, nil)
	p.Lift(p.Func(0x1000))
	calls := callsOf(p, 0x1000)
	if a, b := calls[0x100d], calls[0x1016]; a == nil || b == nil || a.IRQL.String() != "0x2" || b.IRQL.String() != "irql" {
		t.Errorf("IRQL at the calls: %v and %v, want 0x2 (raised) then irql (the entry IRQL restored)", a.IRQL, b.IRQL)
	}
}

// paging = (Data->Iopb->IrpFlags & 0x42) != 0, passed on as a byte.
func TestPagingBoolean(t *testing.T) {
	code := synth.Cat(
		[]byte{0x48, 0x8b, 0x42, 0x10},          // 1000 mov rax,[rdx+0x10]   (Data in rdx)
		[]byte{0x44, 0x8b, 0x00},                // 1004 mov r8d,[rax]
		[]byte{0x41, 0xf6, 0xc0, 0x42},          // 1007 test r8b,0x42
		[]byte{0x40, 0x0f, 0x95, 0xc5},          // 100b setne bpl
		[]byte{0x40, 0x88, 0xea},                // 100f mov dl,bpl
		[]byte{0xe8}, synth.LE32(0x1030-0x1017), // 1012 call 1030
		[]byte{0xc3}, // 1017 ret
	)
	code = synth.At(code, 0x30, 0xc3)
	p := buildCode(t, code, nil, nil)
	p.Lift(p.Func(0x1000))
	c := p.Func(0x1000).Calls[0]
	// A BOOLEAN argument: its low byte.
	if got, want := p.IR.Trunc(c.Args[1], 1).String(), "ne(and(load(load(p1+0x10):8):1, 0x42), 0)"; got != want {
		t.Errorf("dl at the call = %s, want %s (the paging test of arg1's IrpFlags)", got, want)
	}
}

// buildCode builds the program of synth.Image(code, data, relocs).
func buildCode(t testing.TB, code, data []byte, relocs []uint32) *Program {
	t.Helper()
	img, err := loader.LoadBytes(synth.Image(code, data, relocs))
	if err != nil {
		t.Fatal(err)
	}
	return Build(img)
}

// callsOf maps the call sites of the function at entry by address.
func callsOf(p *Program, entry uint32) map[uint32]*cfg.CallSite {
	out := map[uint32]*cfg.CallSite{}
	if f := p.Func(entry); f != nil {
		for _, c := range f.Calls {
			out[c.Site] = c
		}
	}
	return out
}

// setcc and cmovcc skip what lies outside the runs SETA..SETS and
// CMOVA..CMOVS of x86asm's numbering: every condition code they know must
// lie inside, or it would never be read.
func TestConditionCodesInTheirRuns(t *testing.T) {
	for _, c := range condCodes {
		if jcc, ok := setcc(c.set); !ok || jcc != c.jcc {
			t.Errorf("setcc(%v) = %v, %v; want %v", c.set, jcc, ok, c.jcc)
		}
		if jcc, ok := cmovcc(c.cmov); !ok || jcc != c.jcc {
			t.Errorf("cmovcc(%v) = %v, %v; want %v", c.cmov, jcc, ok, c.jcc)
		}
	}
}

// A callee that sets the IRQL from an argument its caller left unknown (a
// register an earlier call clobbered) returns at an unknown IRQL, not at
// the one its caller was entered at.
func TestIRQLFromAClobberedArgument(t *testing.T) {
	code := synth.Cat(
		[]byte{0xe8}, synth.LE32(0x1040-0x1005), // 1000 call 1040 (writes rdx)
		[]byte{0xe8}, synth.LE32(0x1050-0x100a), // 1005 call 1050 (mov cr8,rdx)
		[]byte{0xc3}, // 100a ret
	)
	code = synth.At(code, 0x40, 0x31, 0xd2, 0xc3)             // 1040 xor edx,edx; ret
	code = synth.At(code, 0x50, 0x44, 0x0f, 0x22, 0xc2, 0xc3) // 1050 mov cr8,rdx; ret
	p := buildCode(t, code, nil, nil)
	f := p.Func(0x1000)
	p.Lift(f)
	if f.ExitIRQL == nil || f.ExitIRQL == p.IR.IRQL() {
		t.Errorf("exit IRQL %v, want an unknown value (the callee set it from a clobbered rdx)", f.ExitIRQL)
	}
}
