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
