package lift

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drvhazard/drvhazard/cfg"
	"github.com/drvhazard/drvhazard/internal/fixture"
	"github.com/drvhazard/drvhazard/internal/synth"
	"github.com/drvhazard/drvhazard/ir"
	"github.com/drvhazard/drvhazard/loader"
)

// mf_stack builds its FLT_REGISTRATION on the stack and fills the callbacks
// of a writable operations array in .data before calling FltRegisterFilter;
// gcc stores two callbacks at once with punpcklqdq/movups.
func TestEvaluateStackRegistration(t *testing.T) {
	for _, name := range []string{"mf_stack.gcc.sys", "mf_stack.clang.sys"} {
		t.Run(name, func(t *testing.T) {
			img, err := loader.Load("../testdata/bin/" + name)
			if err != nil {
				t.Fatal(err)
			}
			p := Build(img)
			syms := symsByName(t, name)
			entry := p.Func(img.EntryRVA)
			var site *cfg.CallSite
			for _, c := range entry.Calls {
				for _, ce := range c.Callees {
					if ce.Import != nil && ce.Import.Name == "FltRegisterFilter" {
						site = c
					}
				}
			}
			if site == nil {
				t.Fatal("no FltRegisterFilter call in DriverEntry")
			}
			snap := p.Evaluate(entry).At(site.Site)
			reg := snap.Arg(1)
			if reg.Op != ir.OpStack {
				t.Fatalf("rdx = %v, want a stack address", reg)
			}
			read := func(ptr *ir.Expr, off int64, size int) string { return snap.Read(ptr, off, size).String() }
			if sz, ver, fl := read(reg, 0, 2), read(reg, 2, 2), read(reg, 4, 4); sz != "0x58" || ver != "0x200" || fl != "1" {
				t.Errorf("Size/Version/Flags = %s/%s/%s, want 0x58/0x200/1", sz, ver, fl)
			}
			if unload, want := read(reg, 0x18, 8), fmt.Sprintf("rva:%#x", syms["FilterUnloadS"]); unload != want {
				t.Errorf("FilterUnload = %s, want FilterUnloadS %s", unload, want)
			}
			ops := snap.Read(reg, 0x10, 8)
			if ops == nil || ops.Op != ir.OpAddr {
				t.Fatalf("OperationRegistration = %v", ops)
			}
			want := []struct {
				major     int64
				pre, post string
			}{{0, "PreCreateS", "PostCreateS"}, {3, "PreReadS", ""}, {4, "PreWriteS", ""}, {0x12, "PreCleanupS", ""}, {0x80, "", ""}}
			for i, w := range want {
				off := int64(i * 0x20)
				if m := snap.Read(ops, off, 1); m == nil || m.Op != ir.OpConst || m.V != w.major {
					t.Errorf("op %d major = %v, want %#x", i, m, w.major)
				}
				for _, cb := range []struct {
					off  int64
					name string
				}{{8, w.pre}, {0x10, w.post}} {
					want := "0"
					if cb.name != "" {
						want = fmt.Sprintf("rva:%#x", syms[cb.name])
					}
					if got := read(ops, off+cb.off, 8); got != want {
						t.Errorf("op %d +%#x = %s, want %s %s", i, cb.off, got, cb.name, want)
					}
				}
			}
		})
	}
}

func symsByName(t *testing.T, bin string) map[string]uint32 {
	t.Helper()
	name := bin[:len(bin)-len(".sys")]
	syms, err := fixture.ReadSyms("../testdata/bin/" + name + ".syms")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]uint32{}
	for _, s := range syms.List {
		m[s.Name] = s.RVA
	}
	return m
}

// The guard Data->Iopb->IrpFlags & IRP_PAGING_IO (0x2) in PreWriteGuarded
// is a condition on an edge, in both toolchains' forms.
func TestBranchCondOnParamField(t *testing.T) {
	for _, name := range []string{"mf_variants.gcc.sys", "mf_variants.clang.sys"} {
		img, err := loader.Load("../testdata/bin/" + name)
		if err != nil {
			t.Fatal(err)
		}
		p := Build(img)
		f := p.Func(symsByName(t, name)["PreWriteGuarded"])
		if f == nil {
			t.Fatalf("%s: PreWriteGuarded not found", name)
		}
		p.Lift(f)
		var conds []string
		found := false
		for _, b := range f.Blocks {
			for _, e := range b.Succs {
				if e.Cond != nil {
					conds = append(conds, e.Cond.String())
					found = found || e.Cond.String() == "eq(and(load(load(p0+0x10):8):1, 0x2), 0)"
				}
			}
		}
		if !found {
			t.Errorf("%s: no edge on eq(and(load(load(p0+0x10):8):1, 0x2), 0); conds %q", name, conds)
		}
	}
}

// A structure zeroed with rep stosb, then partly filled, with one field
// cleared by and qword [m],0: every field reads back.
func TestEvaluateZeroedStruct(t *testing.T) {
	code := synth.Cat(
		[]byte{0x57, 0x48, 0x83, 0xec, 0x70},                   // 1000 push rdi ; sub rsp,0x70
		[]byte{0x48, 0x8d, 0x7c, 0x24, 0x20},                   // 1005 lea rdi,[rsp+0x20]
		[]byte{0x31, 0xc0},                                     // 100a xor eax,eax
		[]byte{0xb9, 0x48, 0, 0, 0},                            // 100c mov ecx,0x48
		[]byte{0xf3, 0xaa},                                     // 1011 rep stosb
		[]byte{0xc7, 0x44, 0x24, 0x20, 0x68, 0x00, 0x02, 0x02}, // 1013 mov dword [rsp+0x20],0x02020068
		[]byte{0x48, 0xc7, 0x44, 0x24, 0x30, 0x11, 0, 0, 0},    // 101b mov qword [rsp+0x30],0x11
		[]byte{0x48, 0x83, 0x64, 0x24, 0x30, 0x00},             // 1024 and qword [rsp+0x30],0
		[]byte{0x48, 0x8d, 0x54, 0x24, 0x20},                   // 102a lea rdx,[rsp+0x20]
		[]byte{0xe8}, synth.LE32(0x1050-0x1034),                // 102f call 1050
		[]byte{0x48, 0x83, 0xc4, 0x70, 0x5f, 0xc3}, // 1034 add rsp,0x70 ; pop rdi ; ret
	)
	code = synth.At(code, 0x50, 0xc3)
	p := buildCode(t, code, nil, nil)
	snap := p.Evaluate(p.Func(0x1000)).At(0x102f)
	reg := snap.Arg(1)
	for _, tc := range []struct {
		off  int64
		size int
		want int64
	}{{0, 2, 0x68}, {2, 2, 0x0202}, {4, 4, 0}, {0x10, 8, 0}, {0x40, 8, 0}} {
		if v := snap.Read(reg, tc.off, tc.size); v == nil || v.Op != ir.OpConst || v.V != tc.want {
			t.Errorf("+%#x = %v, want %#x", tc.off, v, tc.want)
		}
	}
	if v := snap.Read(reg, 0x48, 8); v != nil && v.Op == ir.OpConst {
		t.Errorf("+0x48 (past the rep stosb) = %v, want unknown", v)
	}
}

func TestMemoryCells(t *testing.T) {
	b := ir.NewBuilder()
	stack := b.Stack(0)
	var m cells
	m = m.store(b, stack, 0, 8, b.Const(0, 8))
	m = m.store(b, stack, 2, 2, b.Const(0xbeef, 2))
	if v, _ := m.load(b, stack, 0, 8); v.String() != "0xbeef0000" {
		t.Errorf("8 bytes across split cells = %v, want 0xbeef0000", v)
	}
	if v, _ := m.load(b, stack, 4, 4); v.String() != "0" {
		t.Errorf("the untouched half = %v, want 0", v)
	}
	m = m.store(b, stack, 4, 8, b.Param(0))
	if v, overlap := m.load(b, stack, 0, 8); v != nil || !overlap {
		t.Errorf("a range half over a parameter = %v (overlap %v), want unknown", v, overlap)
	}
	if v, _ := m.load(b, stack, 8, 4); v.String() != "trunc(shr(p0, 0x20):4)" {
		t.Errorf("the high half of a stored parameter = %v", v)
	}
	if _, overlap := m.load(b, stack, 0x100, 8); overlap {
		t.Error("an untouched range was found")
	}
}

// A Debug build spills Data->Iopb->MajorFunction to the stack and compares
// the slot: the comparison is of the field.
func TestEvaluateSpilledCompare(t *testing.T) {
	code := synth.Cat(
		[]byte{0x48, 0x83, 0xec, 0x38},       // 1000 sub rsp,0x38
		[]byte{0x48, 0x8b, 0x41, 0x10},       // 1004 mov rax,[rcx+0x10]
		[]byte{0x0f, 0xb6, 0x40, 0x04},       // 1008 movzx eax,byte [rax+4]
		[]byte{0x88, 0x44, 0x24, 0x20},       // 100c mov [rsp+0x20],al
		[]byte{0x80, 0x7c, 0x24, 0x20, 0x04}, // 1010 cmp byte [rsp+0x20],4
		[]byte{0x74, 0x02},                   // 1015 je 1019
		[]byte{0x31, 0xc0},                   // 1017 xor eax,eax
		[]byte{0x48, 0x83, 0xc4, 0x38, 0xc3}, // 1019 add rsp,0x38 ; ret
	)
	p := buildCode(t, code, nil, nil)
	f := p.Func(0x1000)
	p.Lift(f)
	var conds []string
	for _, e := range f.Blocks[0].Succs {
		conds = append(conds, e.Cond.String())
	}
	if got, want := strings.Join(conds, " "), "eq(load(load(p0+0x10):8+0x4):1, 0x4) ne(load(load(p0+0x10):8+0x4):1, 0x4)"; got != want {
		t.Errorf("edge conditions %s, want %s", got, want)
	}
}

// Each lift decodes into and works in memory an earlier lift finished with
// (liftMemory). What a lift leaves on its function must not point into it:
// lifting every other function afterwards, reusing that memory many times
// over, leaves what each lift said as it was.
func TestLiftsLeaveNothingInReusedMemory(t *testing.T) {
	for _, name := range []string{"mf_stack.gcc.sys", "mf_majors.gcc-O0.sys", "mf_guards.gcc-O0.sys", "mf_vthis.clang-lto.sys"} {
		t.Run(name, func(t *testing.T) {
			img, err := loader.Load("../testdata/bin/" + name)
			if err != nil {
				t.Fatal(err)
			}
			p := Build(img)
			said := map[*cfg.Func]string{}
			for _, f := range p.Funcs {
				p.Lift(f)
				// An Evaluation and a block's state alone take memory too.
				for _, c := range f.Calls {
					p.ArgsAt(f, c)
				}
				said[f] = liftedFacts(f)
			}
			if len(said) < 5 {
				t.Fatalf("%d functions lifted, want a program to lift", len(said))
			}
			for _, f := range p.Funcs {
				if now := liftedFacts(f); now != said[f] {
					t.Errorf("function %#x: after the other lifts\n%s\nwas\n%s", f.Entry, now, said[f])
				}
			}
		})
	}
}

// liftedFacts prints what a lift sets on f.
func liftedFacts(f *cfg.Func) string {
	var b strings.Builder
	fmt.Fprintf(&b, "result %v irql %v\n", f.Result, f.ExitIRQL)
	for _, r := range f.Returns {
		fmt.Fprintf(&b, "return %#x %v\n", r.Block.Start, r.Value)
	}
	for _, c := range f.Calls {
		fmt.Fprintf(&b, "call %#x %v %v %v\n", c.Site, c.Args, c.IRQL, c.Target)
	}
	for _, blk := range f.Blocks {
		for _, e := range blk.Succs {
			fmt.Fprintf(&b, "edge %#x->%#x %v\n", blk.Start, e.To, e.Cond)
		}
	}
	fmt.Fprintf(&b, "%d phis\n", len(f.Phis))
	return b.String()
}
