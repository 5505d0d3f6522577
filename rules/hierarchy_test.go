package rules

import (
	"slices"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
	"github.com/drvhazard/drvhazard/loader/pdb"
)

// mf_vthis calls a virtual method on `this` in StreamInspector::OnRead, on
// an object from its stream context. Without the PDB the call is a blind
// spot (the truth file checks that); with it, its class hierarchy resolves
// the call to the Inspect of the classes derived from StreamInspector, in
// every build (LTO keeps no vtable symbols: the tables are named by their
// methods), and PreReadT reaches NameInspector's PsLookupProcessByProcessId
// on the paging path. FileAuditSink::Inspect, in the same slot of an
// unrelated hierarchy, is never a callee.
func TestClassHierarchyOfPDB(t *testing.T) {
	for _, build := range []string{"clang-O0", "clang", "clang-lto"} {
		t.Run(build, func(t *testing.T) {
			path := "../testdata/bin/mf_vthis." + build
			img, err := loader.Load(path + ".sys")
			if err != nil {
				t.Fatal(err)
			}
			f, err := pdb.Open(path + ".pdb")
			if err != nil {
				t.Fatal(err)
			}
			f.AddTo(img)
			r := Analyze(path+".sys", "", img, Options{})
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			var onRead []string
			for _, fn := range r.Program.Funcs {
				if fn.Name != "StreamInspector::OnRead" {
					continue
				}
				for _, c := range fn.Calls {
					for _, ce := range c.Callees {
						if g := r.Program.Func(ce.Func); g != nil {
							onRead = append(onRead, g.Name)
						}
					}
				}
			}
			slices.Sort(onRead)
			if want := []string{"CountInspector::Inspect", "NameInspector::Inspect"}; !slices.Equal(onRead, want) {
				t.Errorf("OnRead calls %q, want %q", onRead, want)
			}
			found := false
			for _, fd := range r.Findings {
				if fd.Callback != nil && fd.Callback.Name == "PreReadT" {
					if fd.Rule.ID != "MF2001" || fd.Sink != "ntoskrnl.exe!PsLookupProcessByProcessId" {
						t.Errorf("PreReadT: %s %s, want only MF2001 PsLookupProcessByProcessId", fd.Rule.ID, fd.Sink)
					}
					found = true
				}
			}
			if !found {
				t.Error("no MF2001 finding for PreReadT")
			}
			for _, u := range r.Unresolved {
				if u.Callback.Name == "PreReadT" {
					t.Errorf("PreReadT still has an unresolved call at %#x", u.Site)
				}
			}
		})
	}
}
