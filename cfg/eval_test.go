package cfg

import (
	"testing"

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
			var site *CallSite
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
			if reg.Kind != StackAddr {
				t.Fatalf("rdx = %v, want a stack address", reg)
			}
			if sz, ver := snap.Read(reg, 0, 2), snap.Read(reg, 2, 2); sz.V != 0x58 || ver.V != 0x200 || sz.Kind != Const {
				t.Errorf("Size/Version = %v/%v, want 0x58/0x200", sz, ver)
			}
			if fl := snap.Read(reg, 4, 4); fl.Kind != Const || fl.V != 1 {
				t.Errorf("Flags = %v, want 1", fl)
			}
			if unload := snap.Read(reg, 0x18, 8); unload.Kind != Address || uint32(unload.V) != syms["FilterUnloadS"] {
				t.Errorf("FilterUnload = %v, want FilterUnloadS %#x", unload, syms["FilterUnloadS"])
			}
			ops := snap.Read(reg, 0x10, 8)
			if ops.Kind != Address {
				t.Fatalf("OperationRegistration = %v", ops)
			}
			want := []struct {
				major     int64
				pre, post string
			}{{0, "PreCreateS", "PostCreateS"}, {3, "PreReadS", ""}, {4, "PreWriteS", ""}, {0x12, "PreCleanupS", ""}, {0x80, "", ""}}
			for i, w := range want {
				off := int64(i * 0x20)
				if m := snap.Read(ops, off, 1); m.Kind != Const || m.V != w.major {
					t.Errorf("op %d major = %v, want %#x", i, m, w.major)
				}
				for _, cb := range []struct {
					off  int64
					name string
				}{{8, w.pre}, {0x10, w.post}} {
					got := snap.Read(ops, off+cb.off, 8)
					if cb.name == "" {
						if got.Kind != Const || got.V != 0 {
							t.Errorf("op %d +%#x = %v, want NULL", i, cb.off, got)
						}
					} else if got.Kind != Address || uint32(got.V) != syms[cb.name] {
						t.Errorf("op %d +%#x = %v, want %s %#x", i, cb.off, got, cb.name, syms[cb.name])
					}
				}
			}
		})
	}
}

func symsByName(t *testing.T, bin string) map[string]uint32 {
	t.Helper()
	name := bin[:len(bin)-len(".sys")]
	m, _ := readSyms(t, "../testdata/bin/"+name+".syms")
	return m
}

// The guard Data->Iopb->IrpFlags & IRP_PAGING_IO (0x2) in PreWriteGuarded
// must surface as a Cond on [[arg0+0x10]+0], in both toolchains' forms.
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
		var conds []string
		found := false
		for _, b := range f.Blocks {
			if b.Cond != nil {
				conds = append(conds, b.Cond.String())
				found = found || b.Cond.Value.IsParamField(0, 0x10, 0) && b.Cond.Mask&0x2 != 0
			}
		}
		if !found {
			t.Errorf("%s: no branch on [[arg0+0x10]+0] & 2; conds %q", name, conds)
		}
	}
}

// A structure zeroed with rep stosb, then partly filled, with one field
// cleared by and qword [m],0: every field reads back.
func TestEvaluateZeroedStruct(t *testing.T) {
	code := cat(
		[]byte{0x57, 0x48, 0x83, 0xec, 0x70},                   // 1000 push rdi ; sub rsp,0x70
		[]byte{0x48, 0x8d, 0x7c, 0x24, 0x20},                   // 1005 lea rdi,[rsp+0x20]
		[]byte{0x31, 0xc0},                                     // 100a xor eax,eax
		[]byte{0xb9, 0x48, 0, 0, 0},                            // 100c mov ecx,0x48
		[]byte{0xf3, 0xaa},                                     // 1011 rep stosb
		[]byte{0xc7, 0x44, 0x24, 0x20, 0x68, 0x00, 0x02, 0x02}, // 1013 mov dword [rsp+0x20],0x02020068
		[]byte{0x48, 0xc7, 0x44, 0x24, 0x30, 0x11, 0, 0, 0},    // 101b mov qword [rsp+0x30],0x11
		[]byte{0x48, 0x83, 0x64, 0x24, 0x30, 0x00},             // 1024 and qword [rsp+0x30],0
		[]byte{0x48, 0x8d, 0x54, 0x24, 0x20},                   // 102a lea rdx,[rsp+0x20]
		[]byte{0xe8}, le32(0x1050-0x1034),                      // 102f call 1050
		[]byte{0x48, 0x83, 0xc4, 0x70, 0x5f, 0xc3}, // 1034 add rsp,0x70 ; pop rdi ; ret
	)
	code = at(code, 0x50, 0xc3)
	p := buildCode(t, code, nil, nil)
	snap := p.Evaluate(p.Func(0x1000)).At(0x102f)
	reg := snap.Arg(1)
	for _, tc := range []struct {
		off  int64
		size int
		want int64
	}{{0, 2, 0x68}, {2, 2, 0x0202}, {4, 4, 0}, {0x10, 8, 0}, {0x40, 8, 0}} {
		if v := snap.Read(reg, tc.off, tc.size); v.Kind != Const || v.V != tc.want {
			t.Errorf("+%#x = %v, want %#x", tc.off, v, tc.want)
		}
	}
	if v := snap.Read(reg, 0x48, 8); v.Kind == Const {
		t.Errorf("+0x48 (past the rep stosb) = %v, want unknown", v)
	}
}

func TestMemoryCells(t *testing.T) {
	m := newMemory()
	m.store(spaceStack, 0, 8, Value{Kind: Const, V: 0})
	m.store(spaceStack, 2, 2, Value{Kind: Const, V: 0xbeef})
	if v, _ := m.load(spaceStack, 0, 8); v.Kind != Const || v.V != 0xbeef0000 {
		t.Errorf("8 bytes across split cells = %v, want 0xbeef0000", v)
	}
	if v, _ := m.load(spaceStack, 4, 4); v.Kind != Const || v.V != 0 {
		t.Errorf("the untouched half = %v, want 0", v)
	}
	m.store(spaceStack, 4, 8, Value{Kind: Address, V: 0x1000})
	if v, found := m.load(spaceStack, 0, 8); v.Kind != Unknown || !found {
		t.Errorf("a range overlapping an address cell = %v (found %v), want unknown", v, found)
	}
	if _, found := m.load(spaceStack, 0x100, 8); found {
		t.Error("an untouched range was found")
	}
}

// A Debug build spills Data->Iopb->MajorFunction to the stack and compares
// the slot: only the memory-tracking evaluation sees the comparison.
func TestEvaluateSpilledCompare(t *testing.T) {
	code := cat(
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
	if f.Blocks[0].Cond != nil {
		t.Logf("Build already sees %v", f.Blocks[0].Cond)
	}
	c := p.Evaluate(f).Conds()[0]
	if c == nil || !c.Cmp || c.Rel != RelEq || c.Imm != 4 || !c.Value.IsParamField(0, 0x10, 4) {
		t.Fatalf("cond %v, want [[arg0+0x10]+0x4] == 4", c)
	}
	if !c.TakenFor(4) || c.TakenFor(3) {
		t.Error("TakenFor disagrees with je")
	}
}
